"""Pure-Python metrics that reproduce the reference scorers behind the paper's numbers (one module per metric).

Two families of generation metrics (metrics-spec.md): ``dstc7`` (mteval-v14c corpus BLEU/NIST, METEOR 1.5 exact,
as DSTC7/DialoGPT) and ``paper`` (NLTK sentence-level BLEU/NIST/METEOR averaged, as the UCSD MedDialog scripts behind
the paper's Table 4), plus Entropy/Dist, perplexity, classification metrics, bootstrap intervals and paired tests
between systems (`significance`: paired bootstrap, approximate randomization, McNemar).
Every value is raw (never ×100) and comes with a signature saying how it was computed.

Entry points: `generation.evaluate_generation`, `generation.format_table4`,
`classification.classification_scores`, `classification.format_classification_table`,
`perplexity.perplexity`, `generation.compare_generation` / `classification.compare_classification`.
"""

from .score import Score, make_signature

__all__ = ["Score", "make_signature"]

"""Choosing the rerank weights on the validation split: score thousands of candidate choices quickly.

A rerank configuration (one weight per feature) picks one candidate per validation context. Scoring each choice
with `rmd_baselines.metrics.generation.evaluate_generation` would recompute every n-gram statistic for every
configuration; instead `SelectionScorer` computes, once per (context, candidate) pair, the sufficient statistics
of the four scores the issue's targets name -- BLEU-4 and NIST-4 of both families -- and the character bigrams
for Dist-2. A choice of one candidate per context is then scored by adding rows, exactly as the metrics package
would score those responses (`tests/respond/test_rerank.py` checks the equality):

- ``paper`` family: sentence-level BLEU-4 and NIST-4 against the reference, averaged (per-pair values);
- ``dstc7`` family: corpus BLEU-4 and NIST-4 from summed matches, totals and lengths, on mteval-normalised tokens;
  NIST's information weights come from the pooled references, which are the same for every choice (every
  context's reference counts once);
- Dist-2 of the chosen responses (character bigrams, pooled).

`grid_search` tries every weight combination of a small grid and keeps the one with the best objective:

    mean over the four scores of (score / best value any configuration reached)     -- they count equally
    - 2 * sum over the four scores of the relative loss against the first candidate  -- never trade one away
    - 10 * (dist_target - Dist-2 / references' Dist-2), when positive                 -- nor diversity

The first candidate is what plain retrieval answers, so the chosen weights improve on retrieval without giving up
any of the four scores when some configuration can; and a choice that repeats the same few responses (retrieval's
usual failure, which Dist-2 measures) must pay for it. Ties keep the first configuration in grid order.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Mapping, Sequence

import numpy as np

from ..metrics.bleu import mteval_bleu, sentence_bleu
from ..metrics.ngrams import all_ngram_counts, all_ngrams, clip_by_order
from ..metrics.nist import mteval_nist, sentence_nist
from ..metrics.normalize import MtevalNormalizer
from ..text import get_tokenizer

ORDER = 4
SCORES = ("paper_bleu4", "paper_nist4", "dstc7_bleu4", "dstc7_nist4")
LOSS_PENALTY = 2.0
DIST_SHORTFALL_PENALTY = 10.0
COMBINED_CELLS = 4_000_000  # combined scores computed at once in grid_search (32 MB of float64)


def _log2_ratio(context: float, count: float) -> float:
    return math.log(context / count, 2)


class SelectionScorer:
    """Per-(context, candidate) statistics; `score(choice)` scores one candidate per context.

    ``candidates[i]`` are the candidate responses of context i (at least one) and ``references[i]`` its reference.
    """

    def __init__(self, candidates: Sequence[Sequence[str]], references: Sequence[str], tokenize: str = "char"):
        if len(candidates) != len(references) or not references:
            raise ValueError("one list of candidates per reference is needed")
        tokenizer = get_tokenizer(tokenize)
        mteval = MtevalNormalizer()
        ref_tokens = tokenizer.tokenize_many(list(references))
        ref_norm = [list(mteval(tokens)) for tokens in ref_tokens]
        ref_counts = [all_ngram_counts(tokens, ORDER) for tokens in ref_norm]
        pool = Counter()
        for tokens in ref_norm:
            pool.update(all_ngrams(tokens, ORDER))
        self.ref_words = float(sum(len(tokens) for tokens in ref_norm))
        self.n_contexts = len(references)
        self.offsets = np.zeros(len(candidates) + 1, dtype=np.int64)
        self.offsets[1:] = np.cumsum([len(c) for c in candidates])
        n_pairs = int(self.offsets[-1])
        self.paper = np.zeros((n_pairs, 2))  # sentence BLEU-4, sentence NIST-4
        self.dstc7 = np.zeros((n_pairs, 3 * ORDER + 1))  # matches, totals, info sums per order; reference length
        bigram_ids: dict[tuple[str, str], int] = {}
        bigram_rows: list[np.ndarray] = []
        text_cache: dict[str, tuple] = {}
        row = 0
        for context, texts in enumerate(candidates):
            if not texts:
                raise ValueError(f"context {context} has no candidates")
            reference, reference_norm = ref_tokens[context], ref_norm[context]
            for text in texts:
                cached = text_cache.get(text)
                if cached is None:
                    tokens = tokenizer.tokenize(text)
                    norm = list(mteval(tokens))
                    bigrams = np.array([bigram_ids.setdefault(g, len(bigram_ids)) for g in zip(tokens, tokens[1:])],
                                       dtype=np.int64)
                    cached = text_cache[text] = (tokens, norm, all_ngram_counts(norm, ORDER), bigrams)
                tokens, norm, counts, bigrams = cached
                self.paper[row] = (sentence_bleu(tokens, reference, ORDER), sentence_nist(tokens, reference, ORDER))
                matched, per_order = clip_by_order(counts, ref_counts[context], ORDER)
                info = [0.0] * ORDER
                for gram, count in matched.items():
                    context_count = pool[gram[:-1]] if len(gram) > 1 else self.ref_words
                    info[len(gram) - 1] += _log2_ratio(context_count, pool[gram]) * count
                totals = [max(0, len(norm) - k) for k in range(ORDER)]
                self.dstc7[row] = per_order + totals + info + [len(reference_norm)]
                bigram_rows.append(bigrams)
                row += 1
        self.n_bigrams = len(bigram_ids)
        self.bigram_pair = np.repeat(np.arange(n_pairs), [len(b) for b in bigram_rows])
        self.bigram_id = np.concatenate(bigram_rows) if bigram_rows else np.zeros(0, dtype=np.int64)
        self.reference_dist2 = _dist2(ref_tokens)

    def pair_index(self, choice: np.ndarray) -> np.ndarray:
        """Row numbers of the chosen pairs (``choice[i]`` = the candidate number chosen for context i)."""
        choice = np.asarray(choice, dtype=np.int64)
        if choice.shape != (self.n_contexts,) or np.any(choice < 0) or np.any(
                choice >= np.diff(self.offsets)):
            raise ValueError("choice needs one valid candidate number per context")
        return self.offsets[:-1] + choice

    def score(self, choice: np.ndarray) -> dict[str, float]:
        """The four scores (raw) and Dist-2 of the chosen candidates."""
        pairs = self.pair_index(choice)
        paper = self.paper[pairs].mean(axis=0)
        sums = self.dstc7[pairs].sum(axis=0)
        matches, totals, info = sums[:ORDER], sums[ORDER:2 * ORDER], sums[2 * ORDER:3 * ORDER]
        bleu = mteval_bleu(list(matches), list(totals), float(sums[3 * ORDER]), ORDER)[ORDER - 1]
        nist = mteval_nist(list(info), list(totals), float(totals[0]), self.ref_words, 1, ORDER)[ORDER - 1]
        chosen = np.zeros(int(self.offsets[-1]), dtype=bool)
        chosen[pairs] = True
        used = chosen[self.bigram_pair]
        counts = np.bincount(self.bigram_id[used], minlength=self.n_bigrams)
        total = counts.sum()
        dist2 = float(np.count_nonzero(counts) / total) if total else 0.0
        return {"paper_bleu4": float(paper[0]), "paper_nist4": float(paper[1]), "dstc7_bleu4": float(bleu),
                "dstc7_nist4": float(nist), "dist2": dist2}


def _dist2(token_lists: Sequence[Sequence[str]]) -> float:
    counts = Counter(itertools.chain.from_iterable(zip(tokens, tokens[1:]) for tokens in token_lists))
    total = sum(counts.values())
    return len(counts) / total if total else 0.0


def grid_configurations(grid: Mapping[str, Sequence[float]]) -> list[dict[str, float]]:
    """Every combination of the grid's values, in a fixed order (first value of every feature first)."""
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[name] for name in names))]


def grid_search(features: np.ndarray, valid_mask: np.ndarray, feature_names: Sequence[str],
                grid: Mapping[str, Sequence[float]], fixed: Mapping[str, float], scorer: SelectionScorer,
                dist_target: float, forced: np.ndarray | None = None) -> dict:
    """The best weights of ``grid`` for choosing among candidates.

    ``features`` has shape (contexts, candidates, features) (padding where ``valid_mask`` is False), ``fixed``
    gives the weights not searched (e.g. the retrieval score's weight 1), ``forced[i]`` (or -1) a candidate that
    is chosen whatever the weights (an exact context match). Returns the chosen weights, their scores and the
    scores of the first candidate (plain retrieval).
    """
    configurations = grid_configurations(grid)
    weights = np.zeros((len(feature_names), len(configurations)))
    for column, configuration in enumerate(configurations):
        for row, name in enumerate(feature_names):
            weights[row, column] = configuration.get(name, fixed.get(name, 0.0))
    # contexts x configurations x candidates, a slice of contexts at a time (bounded memory on a large valid split)
    n_contexts, n_candidates = valid_mask.shape
    step = max(1, COMBINED_CELLS // max(1, len(configurations) * n_candidates))
    choices = np.zeros((n_contexts, len(configurations)), dtype=np.int64)
    for start in range(0, n_contexts, step):
        combined = np.einsum("icf,fk->ikc", features[start:start + step], weights)
        combined = np.where(valid_mask[start:start + step, None, :], combined, -np.inf)
        choices[start:start + step] = np.argmax(combined, axis=2)  # first best candidate on ties
    if forced is not None:
        choices = np.where(forced[:, None] >= 0, forced[:, None], choices)
    results = [scorer.score(choices[:, column]) for column in range(len(configurations))]
    first = np.zeros(scorer.n_contexts, dtype=np.int64)
    if forced is not None:
        first = np.where(forced >= 0, forced, first)
    baseline = scorer.score(first)
    best_values = {name: max(r[name] for r in results) for name in SCORES}
    reference_dist2 = max(scorer.reference_dist2, 1e-12)
    objectives = []
    for r in results:
        quality = np.mean([r[name] / best_values[name] if best_values[name] > 0 else 0.0 for name in SCORES])
        loss = sum(max(0.0, 1.0 - r[name] / baseline[name]) for name in SCORES if baseline[name] > 0)
        shortfall = max(0.0, dist_target - r["dist2"] / reference_dist2)
        objectives.append(float(quality - LOSS_PENALTY * loss - DIST_SHORTFALL_PENALTY * shortfall))
    best = int(np.argmax(objectives))
    return {
        "weights": {name: float(weights[row, best]) for row, name in enumerate(feature_names)},
        "objective": objectives[best],
        "valid_scores": results[best],
        "valid_scores_first_candidate": baseline,
        "reference_dist2": scorer.reference_dist2,
        "configurations": len(configurations),
    }

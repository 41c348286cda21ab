"""BLEU-n in the two families (metrics-spec.md section 2).

``dstc7`` -- mteval-v14c corpus BLEU, as DSTC7 and DialoGPT report it: clipped n-gram matches (clipped against the
largest count in any reference of the segment) and hypothesis n-gram totals are summed over the corpus; the
effective reference length of a segment is the reference length closest to the hypothesis length (ties: the
shorter); BP = exp(min(0, 1 - R/H)), 0 when H = 0; mteval smoothing walks the orders upward with a factor s = 1: an
order without hypothesis n-grams contributes log-precision 0, an order with no match doubles s and uses 1/(s·t_k);
BLEU-n is cumulative with uniform weights. An empty hypothesis is zero tokens. Equals sacreBLEU with
``tokenize='none'`` on the same tokens (÷100).

``paper`` -- the UCSD MedDialog scripts: NLTK ``sentence_bleu`` per segment against the first reference, averaged
over segments. ``smoothing="none"`` is ``bertGPT/validate.py`` (NLTK's method0: a zero count of some order becomes
the smallest positive float, a segment without any unigram match scores 0); ``smoothing="method1"`` is
``gpt2/gpt2_test.py`` (0.1 added to zero numerators, and 0 for a segment whose hypothesis or reference is shorter
than n tokens).
"""

from __future__ import annotations

import math
import sys
from typing import Sequence

import numpy as np

from .ngrams import all_ngram_counts, clip_by_order, closest_length, max_counts

MAX_ORDER = 4
SMOOTHINGS = ("none", "method1")


def mteval_bleu(matches: Sequence[float], totals: Sequence[float], ref_length: float,
                max_order: int = MAX_ORDER) -> list[float]:
    """Cumulative BLEU-1..``max_order`` (raw, 0-1) from corpus sums, with mteval-v14c's smoothing."""
    hyp_length = totals[0]
    brevity = math.exp(min(0.0, 1.0 - ref_length / hyp_length)) if hyp_length > 0 else 0.0
    smooth = 1.0
    log_sum = 0.0
    cumulative = []
    for k in range(max_order):
        if totals[k] == 0:
            log_precision = 0.0
        elif matches[k] == 0:
            smooth *= 2.0
            log_precision = math.log(1.0 / (smooth * totals[k]))
        else:
            log_precision = math.log(matches[k] / totals[k])
        log_sum += log_precision
        cumulative.append(math.exp(log_sum / (k + 1)) * brevity)
    return cumulative


def nltk_sentence_bleu(matches: Sequence[int], hyp_len: int, ref_len: int, order: int,
                       smoothing: str = "none") -> float:
    """NLTK ``sentence_bleu`` with uniform weights from one segment's clipped match counts (single reference)."""
    if smoothing == "method1" and (hyp_len < order or ref_len < order):
        return 0.0
    if matches[0] == 0:
        return 0.0
    weight = 1.0 / order
    terms = []
    for k in range(order):
        denominator = max(1, hyp_len - k)
        if matches[k]:
            precision = matches[k] / denominator
        elif smoothing == "method1":
            precision = 0.1 / denominator
        else:
            precision = sys.float_info.min
        terms.append(weight * math.log(precision))
    brevity = 1.0 if hyp_len > ref_len else math.exp(1.0 - ref_len / hyp_len)
    return brevity * math.exp(math.fsum(terms))


class BleuStats:
    """Per-segment sufficient statistics of mteval BLEU: matches m_1..m_N, totals t_1..t_N, effective ref length.

    ``scores(weights)`` recomputes the corpus score for a multiset of segments (weights = how many times each
    segment is drawn), which is what the bootstrap needs; ``weights=None`` is the corpus itself.
    """

    def __init__(self, rows: np.ndarray, max_order: int = MAX_ORDER):
        self.rows = np.asarray(rows, dtype=np.float64).reshape(-1, 2 * max_order + 1)
        self.max_order = max_order

    def scores(self, weights: np.ndarray | None = None) -> list[float]:
        sums = self.rows.sum(axis=0) if weights is None else weights @ self.rows
        n = self.max_order
        return mteval_bleu(sums[:n], sums[n:2 * n], sums[2 * n], n)


def corpus_bleu(hyps: Sequence[Sequence[str]], refs: Sequence[Sequence[Sequence[str]]],
                max_order: int = MAX_ORDER) -> list[float]:
    """mteval-v14c cumulative BLEU-1..N on token lists as given (no further normalisation)."""
    rows = []
    for hyp, ref_set in zip(hyps, refs):
        ceiling = max_counts([all_ngram_counts(ref, max_order) for ref in ref_set])
        _, matches = clip_by_order(all_ngram_counts(hyp, max_order), ceiling, max_order)
        totals = [max(0, len(hyp) - k) for k in range(max_order)]
        rows.append(matches + totals + [closest_length(len(hyp), [len(r) for r in ref_set])])
    return BleuStats(np.array(rows, dtype=np.float64), max_order).scores()


def sentence_bleu(hyp: Sequence[str], ref: Sequence[str], order: int = MAX_ORDER, smoothing: str = "none") -> float:
    """NLTK ``sentence_bleu([ref], hyp)`` with weights (1/n, ..., 1/n)."""
    _, matches = clip_by_order(all_ngram_counts(hyp, order), all_ngram_counts(ref, order), order)
    return nltk_sentence_bleu(matches, len(hyp), len(ref), order, smoothing)

"""Dist-n of the generated responses (metrics-spec.md section 5).

Dist-n = (number of distinct n-grams) / (number of n-grams) over the pool of all hypotheses' n-grams -- a corpus
ratio, not a mean of per-response ratios. References are not used. An empty pool (e.g. every hypothesis shorter
than n tokens) gives 0 (DSTC7's code divides by zero there; UCSD's +1e-10 guard gives 0 too).
"""

from __future__ import annotations

from typing import Iterable, Sequence

from .ngrams import pooled_counts


def dist_from_counts(counts: Iterable[float]) -> float:
    """Distinct / total of a pool given by its n-gram counts (an empty pool gives 0)."""
    values = [c for c in counts if c > 0]
    total = sum(values)
    return len(values) / total if total > 0 else 0.0


def dist(hyps: Sequence[Sequence[str]], order: int = 1) -> float:
    """Dist-``order`` of tokenized hypotheses."""
    return dist_from_counts(pooled_counts(hyps, order).values())


def dist_from_array(counts) -> float:
    """`dist_from_counts` for a numpy count vector (the bootstrap path)."""
    total = counts.sum()
    return float((counts > 0).sum() / total) if total > 0 else 0.0

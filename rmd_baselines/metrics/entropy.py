"""Entropy-n of the generated responses (metrics-spec.md section 5; identical in DSTC7, DialoGPT and UCSD).

All n-grams (contiguous, within one hypothesis) of all hypotheses are pooled; with c(g) the count of n-gram g and
T the pool size, Entropy-n = -Σ_g (c(g)/T) · ln(c(g)/T), in nats. References are not used; tokens are taken as
tokenized (no lowercasing, punctuation counts). An empty pool gives 0. We use DSTC7's arithmetic; UCSD adds 1e-10
to T, which moves the value by less than 1.3e-11 on the golden vectors.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

from .ngrams import pooled_counts


def entropy_from_counts(counts: Iterable[float]) -> float:
    """Entropy in nats of a pool given by its n-gram counts (zeros are ignored; an empty pool gives 0)."""
    values = [c for c in counts if c > 0]
    total = sum(values)
    if total <= 0:
        return 0.0
    log_total = math.log(total)
    return -sum(c / total * (math.log(c) - log_total) for c in values)


def entropy(hyps: Sequence[Sequence[str]], order: int = 4) -> float:
    """Entropy-``order`` of tokenized hypotheses."""
    return entropy_from_counts(pooled_counts(hyps, order).values())


def entropy_from_array(counts) -> float:
    """`entropy_from_counts` for a numpy count vector (the bootstrap path)."""
    import numpy as np

    values = counts[counts > 0]
    total = values.sum()
    if total <= 0:
        return 0.0
    return float(-np.sum(values / total * (np.log(values) - np.log(total))))

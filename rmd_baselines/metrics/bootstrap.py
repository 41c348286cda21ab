"""Seeded bootstrap over segments: 95 % confidence intervals and the paired test between two systems.

Every corpus metric here is computed from per-segment sufficient statistics (BLEU matches and totals, NIST's
reference and match counts, METEOR's lengths/matches/chunks, pooled n-gram counts for Entropy/Dist, per-segment
scores for sentence-averaged metrics, per-sample labels for classification). A bootstrap replicate draws n segments
with replacement; it is represented by the multiplicity of each segment (a weight vector), and each metric is
recomputed *exactly* on that multiset from the statistics computed once -- no text is re-tokenized or re-aligned.

Replicates come from ``numpy.random.default_rng(seed)``: the same seed and data give the same intervals.
Intervals are percentile intervals (2.5th and 97.5th percentiles of the replicates). One exception: the pooled
diversity metrics (Entropy-n, Dist-n) count *distinct* n-grams, and a replicate that repeats segments has fewer
distinct n-grams than any real corpus of the same size, so their replicates sit systematically below the estimate
(on 10,000 real pairs, every Dist-2 replicate was below it). For those keys the percentile interval is shifted by
the estimated bias (estimate - mean of the replicates), so its width reflects the sampling variability and it is
centred where the estimate is.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np

from ..errors import UsageError


def resample_weights(n: int, n_boot: int, seed: int = 0) -> Iterator[np.ndarray]:
    """``n_boot`` multiplicity vectors of ``n`` segments drawn with replacement (deterministic for a seed)."""
    if n <= 0:
        raise UsageError("bootstrap needs at least one segment")
    if n_boot <= 0:
        raise UsageError(f"n_boot must be positive, got {n_boot}")
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        yield np.bincount(rng.integers(0, n, size=n), minlength=n).astype(np.float64)


def percentile_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` percentile interval of replicate values (NaN replicates ignored)."""
    data = np.asarray(values, dtype=np.float64)
    data = data[~np.isnan(data)]
    if data.size == 0:
        return (math.nan, math.nan)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(data, [tail, 100.0 - tail])
    return (float(low), float(high))


def bootstrap_ci(statistic: Callable[[np.ndarray], Mapping[str, float]], n: int, n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95, bias_shift: Mapping[str, float] | None = None,
                 limits: Mapping[str, tuple[float, float]] | None = None) -> dict[str, tuple[float, float]]:
    """Percentile intervals of every value ``statistic(weights)`` returns, over ``n_boot`` replicates.

    ``bias_shift`` maps keys to their full-data estimates; those intervals are shifted by estimate - mean of the
    replicates (see the module docstring). ``limits`` maps keys to the metric's range (low, high); a shifted
    interval is clipped to it (on a few segments the shift can otherwise push Dist-n above 1).
    """
    replicates: dict[str, list[float]] = {}
    for weights in resample_weights(n, n_boot, seed):
        for key, value in statistic(weights).items():
            replicates.setdefault(key, []).append(value)
    intervals = {}
    for key, values in replicates.items():
        low, high = percentile_interval(values, level)
        if bias_shift and key in bias_shift:
            shift = bias_shift[key] - float(np.nanmean(values))
            low, high = low + shift, high + shift
        if limits and key in limits:
            floor, ceiling = limits[key]
            low, high = min(max(low, floor), ceiling), min(max(high, floor), ceiling)
        intervals[key] = (low, high)
    return intervals


def paired_bootstrap(sys_a: Sequence[str], sys_b: Sequence[str], refs: Sequence[Sequence[str]], metric: str,
                     family: str = "dstc7", tokenize: str = "char", n_boot: int = 1000, seed: int = 0) -> dict:
    """Paired bootstrap test of system B against system A on the same references (Koehn 2004).

    ``metric`` is a report key (``bleu2``, ``bleu4``, ``nist4``, ``meteor``, ``entropy4``, ``dist1``, ``dist2``) of
    ``family``. Both systems are scored on the same replicates. Returns the full-corpus scores ``a`` and ``b``,
    ``delta`` = b - a, ``win_rate_b``/``win_rate_a`` (fraction of replicates where that system scores strictly
    higher) and ``p_value``: the two-sided p-value of "no difference", estimated by centring the replicate deltas
    (p = (1 + #{|δ* - mean δ*| ≥ |δ|}) / (1 + n_boot)).
    """
    from .generation import REPORT_KEYS, generation_statistic

    if metric not in REPORT_KEYS:
        raise UsageError(f"unknown metric {metric!r} (choose from {', '.join(REPORT_KEYS)})")
    if len(sys_a) != len(sys_b):
        raise UsageError(f"system A has {len(sys_a)} segments but system B has {len(sys_b)}")
    stat_a = generation_statistic(sys_a, refs, tokenize=tokenize, family=family)
    stat_b = generation_statistic(sys_b, refs, tokenize=tokenize, family=family)
    score_a = stat_a(None)[f"{family}.{metric}"]
    score_b = stat_b(None)[f"{family}.{metric}"]
    deltas, wins_a, wins_b = [], 0, 0
    for weights in resample_weights(len(sys_a), n_boot, seed):
        a = stat_a(weights, keys=(metric,))[f"{family}.{metric}"]
        b = stat_b(weights, keys=(metric,))[f"{family}.{metric}"]
        deltas.append(b - a)
        wins_b += b > a
        wins_a += a > b
    observed = score_b - score_a
    centred = np.abs(np.asarray(deltas) - np.mean(deltas))
    p_value = (1 + int(np.sum(centred >= abs(observed)))) / (1 + n_boot)
    return {
        "metric": f"{family}.{metric}", "a": score_a, "b": score_b, "delta": observed,
        "win_rate_a": wins_a / n_boot, "win_rate_b": wins_b / n_boot, "p_value": p_value,
        "n_boot": n_boot, "seed": seed,
    }

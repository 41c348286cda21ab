"""Seeded bootstrap over segments: 95 % confidence intervals of one system's scores.

Every corpus metric here is computed from per-segment sufficient statistics (BLEU matches and totals, NIST's
reference and match counts, METEOR's lengths/matches/chunks, pooled n-gram counts for Entropy/Dist, per-segment
scores for sentence-averaged metrics, per-sample labels for classification). A bootstrap replicate draws n segments
with replacement; it is represented by the multiplicity of each segment (a weight vector), and each metric is
recomputed *exactly* on that multiset from the statistics computed once -- no text is re-tokenized or re-aligned.

Replicates come from ``numpy.random.default_rng(seed).integers(0, n, size=(n_boot, n))`` (drawn in chunks of rows,
which gives the same numbers): the same seed and data give the same intervals, and the paired tests of
`rmd_baselines.metrics.significance` use the very same replicates (also sacrebleu's ``--paired-bs`` draw).
Intervals are percentile intervals (2.5th and 97.5th percentiles of the replicates). Exceptions: metrics that count
how often n-grams occur in the pooled corpus. Entropy-n and Dist-n count *distinct* n-grams, and a replicate that
repeats segments has fewer distinct n-grams than any real corpus of the same size, so their replicates sit
systematically below the estimate (on 10,000 real pairs, every Dist-2 replicate was below it). The dstc7 family's
NIST weighs a match by the rarity of its n-gram among the pooled references, and a repeated segment makes its
rare n-grams look less rare (in ``test_dstc7_nist_interval_is_shifted_by_its_bias``, six segments, the percentile
interval [3.46, 4.87] lies below the estimate 5.12). For those keys the percentile interval is shifted by the estimated bias (estimate - mean of the
replicates), so its width reflects the sampling variability and it is centred where the estimate is.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np

from ..errors import UsageError

# Rows of weights drawn and scored at a time: bounds memory (rows x segments) whatever n_boot is.
_CHUNK_CELLS = 4_000_000


def check_seed(seed) -> int:
    """A seed numpy accepts (a non-negative integer), or a `UsageError`."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def chunk_rows(n: int, multiple: int = 1) -> int:
    """How many replicate rows of ``n`` segments to hold at once (a multiple of ``multiple``)."""
    rows = max(1, _CHUNK_CELLS // max(n, 1))
    return max(multiple, rows // multiple * multiple)


def resample_weight_chunks(n: int, n_boot: int, seed: int = 0) -> Iterator[np.ndarray]:
    """The ``n_boot`` multiplicity vectors of ``n`` segments drawn with replacement, as (rows x n) float blocks."""
    if n <= 0:
        raise UsageError("bootstrap needs at least one segment")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot <= 0:
        raise UsageError(f"n_boot must be a positive integer, got {n_boot!r}")
    rng = np.random.default_rng(check_seed(seed))
    step = chunk_rows(n)
    for start in range(0, n_boot, step):
        rows = min(step, n_boot - start)
        draws = rng.integers(0, n, size=(rows, n))
        offsets = (np.arange(rows) * n)[:, None]
        yield np.bincount((draws + offsets).ravel(), minlength=rows * n).reshape(rows, n).astype(np.float64)


def resample_weights(n: int, n_boot: int, seed: int = 0) -> Iterator[np.ndarray]:
    """``n_boot`` multiplicity vectors of ``n`` segments drawn with replacement (deterministic for a seed)."""
    for block in resample_weight_chunks(n, n_boot, seed):
        yield from block


def percentile_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` percentile interval of replicate values (NaN replicates ignored)."""
    data = np.asarray(values, dtype=np.float64)
    data = data[~np.isnan(data)]
    if data.size == 0:
        return (math.nan, math.nan)
    tail = (1.0 - level) / 2.0 * 100.0
    with np.errstate(invalid="ignore"):  # infinite replicates (e.g. an overflowing perplexity): inf - inf
        low, high = np.percentile(data, [tail, 100.0 - tail])
    return (float(low), float(high))


def shifted_interval(values: np.ndarray, estimate: float, level: float = 0.95) -> tuple[float, float]:
    """The percentile interval moved by the bootstrap bias (estimate - mean of the replicates)."""
    low, high = percentile_interval(values, level)
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[~np.isnan(finite)]
    if finite.size == 0:
        return (low, high)
    shift = estimate - float(np.mean(finite))
    return (low + shift, high + shift)


def intervals(replicates: Mapping[str, Sequence[float]], level: float = 0.95,
              bias_shift: Mapping[str, float] | None = None,
              limits: Mapping[str, tuple[float, float]] | None = None) -> dict[str, tuple[float, float]]:
    """Percentile intervals of replicate values per key (see `bootstrap_ci` for ``bias_shift`` and ``limits``)."""
    out = {}
    for key, values in replicates.items():
        if bias_shift and key in bias_shift:
            low, high = shifted_interval(np.asarray(values, dtype=np.float64), bias_shift[key], level)
        else:
            low, high = percentile_interval(values, level)
        if limits and key in limits:
            floor, ceiling = limits[key]
            low, high = min(max(low, floor), ceiling), min(max(high, floor), ceiling)
        out[key] = (low, high)
    return out


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
    return intervals(replicates, level, bias_shift, limits)

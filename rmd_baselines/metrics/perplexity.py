"""Perplexity from per-token negative log-likelihoods (metrics-spec.md section 6).

Convention: the input is, per sample (a reference response), the list of its tokens' **negative** log-likelihoods
(each ≥ 0), in the unit given by ``unit``: ``nat`` (natural log), ``bit`` (log2) or ``log10``. Log-probabilities
(≤ 0, e.g. the ``--logprobs`` file of ``evaluate generate``) go through `perplexity_from_logprobs`, which negates
them. Whether the end-of-sequence token is included is the caller's choice; say it in the report.

Variants:
- ``token`` (canonical): exp(total NLL in nats / total tokens) over every token of every sample.
- ``sample_mean``: the mean over samples of each sample's exp(mean NLL) -- the MedDialog scripts with batch size 1;
  never smaller than the token variant (Jensen). Samples without tokens are skipped.

Both return a `Score` (value = the perplexity, raw).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..errors import DataError, UsageError
from .score import Score, make_signature

UNITS = {"nat": 1.0, "bit": math.log(2.0), "log10": math.log(10.0)}
VARIANTS = ("token", "sample_mean")


def _check(unit: str, variant: str) -> float:
    if unit not in UNITS:
        raise UsageError(f"perplexity: unknown unit {unit!r} (choose from {', '.join(UNITS)})")
    if variant not in VARIANTS:
        raise UsageError(f"perplexity: unknown variant {variant!r} (choose from {', '.join(VARIANTS)})")
    return UNITS[unit]


class PerplexityStats:
    """Per-sample (NLL sum in nats, token count); recomputable for bootstrap weights."""

    def __init__(self, nll_per_sample: Sequence[Sequence[float]], unit: str = "nat"):
        scale = _check(unit, "token")
        sums, lengths = [], []
        for index, values in enumerate(nll_per_sample):
            total = 0.0
            for value in values:
                if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                    raise DataError(f"sample {index + 1}: nll: {value!r} is not a finite number")
                if value < 0:
                    raise DataError(
                        f"sample {index + 1}: nll: {value!r} is negative (a negative log-likelihood is >= 0; "
                        "log-probabilities go through perplexity_from_logprobs)")
                total += value * scale
            sums.append(total)
            lengths.append(len(values))
        self.sums = np.asarray(sums, dtype=np.float64)
        self.lengths = np.asarray(lengths, dtype=np.float64)
        if self.lengths.sum() == 0:
            raise DataError("perplexity: no tokens in any sample")

    def value(self, variant: str = "token", weights: np.ndarray | None = None) -> float:
        w = np.ones_like(self.sums) if weights is None else np.asarray(weights, dtype=np.float64)
        if variant == "token":
            tokens = float(w @ self.lengths)
            return _exp(float(w @ self.sums) / tokens) if tokens > 0 else math.nan
        present = self.lengths > 0
        with np.errstate(over="ignore"):  # a mean NLL above ~709 nats: perplexity +inf (JSON: null, named)
            per_sample = np.exp(self.sums[present] / self.lengths[present])
        weight = w[present]
        return float(weight @ per_sample / weight.sum()) if weight.sum() > 0 else math.nan


def _exp(x: float) -> float:
    """``exp(x)``, or +inf where a float cannot hold it (a mean NLL above ~709.78 nats)."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def perplexity(nll_per_sample: Sequence[Sequence[float]], unit: str = "nat", variant: str = "token") -> Score:
    """Perplexity of per-sample, per-token negative log-likelihoods (see the module docstring)."""
    _check(unit, variant)
    value = PerplexityStats(nll_per_sample, unit).value(variant)
    return Score("PPL", value, "any", make_signature("PPL", variant=variant, unit=unit))


def perplexity_from_logprobs(logprobs_per_sample: Sequence[Sequence[float]], unit: str = "nat",
                             variant: str = "token") -> Score:
    """Perplexity of per-token log-probabilities (each ≤ 0), e.g. a ``--logprobs`` file."""
    negated = []
    for index, values in enumerate(logprobs_per_sample):
        row = []
        for value in values:
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise DataError(f"sample {index + 1}: logprob: {value!r} is not a finite number")
            if value > 0:
                raise DataError(f"sample {index + 1}: logprob: {value!r} is positive (a log-probability is <= 0)")
            row.append(-value)
        negated.append(row)
    return perplexity(negated, unit=unit, variant=variant)

"""Is a difference between two systems real? Paired bootstrap, approximate randomization and McNemar's exact test.

Systems are compared on the same segments (responses to the same contexts against the same references, or labels
of the same samples); the first system is the baseline and every other one is tested against it. No test re-scores
text: each system's metrics are recomputed exactly from its per-segment sufficient statistics (see
`generation.SystemStatistics` and `classification.ClassificationStats`) for a weight vector over segments.
δ = score(system) - score(baseline) on the whole set; every p-value is two-sided ("no difference").

**Paired bootstrap resampling** (Koehn 2004). Replicate r draws n segments with replacement, the same draw for
every system: ``numpy.random.default_rng(seed).integers(0, n, size=(B, n))`` -- the draw of sacrebleu's
``--paired-bs`` (its ``rng.choice``) and of the ``--ci`` intervals of `bootstrap`. δ*_r is the difference on
replicate r.
- 95 % interval of δ: the 2.5th and 97.5th percentiles of δ*_r. For Entropy/Dist and dstc7 NIST, whose resamples
  are biased (a resample repeats segments, so it has fewer distinct n-grams and less rare ones), the interval is
  shifted by δ - mean(δ*), as `bootstrap` does for one system's intervals.
- p-value: the replicates are shifted to the null hypothesis (mean 0) and compared with the observed difference,
  p = (1 + #{r : |δ*_r - mean δ*| ≥ |δ|}) / (1 + B) (Efron & Tibshirani 1993, ch. 16; the +1 counts the observed
  set among the resamples). ``win_rate`` is Koehn's reading of the same replicates: the share of resamples where
  the system scores strictly higher than the baseline.
- sacrebleu centres the absolute differences instead: p = (1 + #{r : |δ*_r| - mean|δ*| > |δ|}) / (1 + B) (Moses'
  ``bootstrap-hypothesis-difference-significance.pl``). On the same replicates it is computed from the same δ*_r;
  the two agree closely when the δ*_r keep one sign, and ours stays two-sided when they do not.

**Approximate randomization** (Noreen 1989; Riezler & Maxwell 2005). Trial t flips a fair coin per segment --
``numpy.random.default_rng(seed).integers(2, size=(T, n), dtype=bool)``, sacrebleu's ``--paired-ar`` draw (drawn in
blocks of a multiple of 32 rows, which gives the same bits) -- and builds two pseudo-systems: A' takes the
baseline's output where the coin is True and the system's elsewhere, B' the other way round. Under the null
hypothesis the two labels are exchangeable on every segment. p = (1 + #{t : |score(A'_t) - score(B'_t)| ≥ |δ|}) /
(1 + T), Riezler & Maxwell's ≥ and +1. sacrebleu counts ``>`` instead; the two differ by the trials that tie with
the observed difference, which are not rare (a swap of segments with equal statistics, e.g. the same response,
changes nothing), and with ``>`` a system compared with itself would get p = 1/(T + 1) instead of 1.

**Ties.** "≥ |δ|" is evaluated with a tolerance of 1e-9 × max(1, |score(baseline)|, |score(system)|), so that the
same number summed in another order (the whole set rebuilt from swapped rows) still counts as equal.

**McNemar's exact test** for accuracy (McNemar 1947; the exact form of Edwards 1948 / Fagerland et al. 2013):
b = samples the baseline gets right and the system wrong, c = the reverse; p = min(1, 2 · P(X ≤ min(b, c))) with
X ~ Binomial(b + c, 1/2), computed with exact integer arithmetic; p = 1 when b + c = 0.

**Marks.** A difference is marked ``*`` when every p-value computed for it is below 0.05 and ``**`` below 0.01
(bootstrap and randomization, and McNemar's for accuracy).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable, Collection, Iterator, Mapping, Protocol, Sequence

import numpy as np

from ..errors import UsageError
from .bootstrap import check_seed, chunk_rows, percentile_interval, resample_weight_chunks, shifted_interval

DEFAULT_RESAMPLES = 1000
DEFAULT_TRIALS = 10000
MARKS = (("**", 0.01), ("*", 0.05))
TIE_TOLERANCE = 1e-9
# Rows of coin flips drawn per block: a multiple of 32 keeps numpy's stream of bits identical to one big draw.
_MASK_ROW_MULTIPLE = 32


class Comparable(Protocol):
    """What the paired tests need from one system's statistics."""

    n: int

    def observed(self) -> dict[str, float]:
        """Every metric on the whole set."""

    def replicates(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric for each row of a (replicates x n) matrix of segment multiplicities."""

    def randomization(self, other) -> Callable[[np.ndarray], tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
        """A function of a (trials x n) boolean mask: every metric of the two pseudo-systems, self' taking self's
        segment where the mask is True and other's elsewhere, other' the reverse."""


def check_count(value, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise UsageError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def randomization_masks(n: int, n_trials: int, seed: int = 0) -> Iterator[np.ndarray]:
    """The coin flips of ``n_trials`` trials over ``n`` segments, as (rows x n) boolean blocks (see the module)."""
    if n <= 0:
        raise UsageError("approximate randomization needs at least one segment")
    check_count(n_trials, "n_trials", 1)
    rng = np.random.default_rng(check_seed(seed))
    step = chunk_rows(n, _MASK_ROW_MULTIPLE)
    for start in range(0, n_trials, step):
        yield rng.integers(2, size=(min(step, n_trials - start), n), dtype=bool)


def tie_tolerance(baseline: float, system: float) -> float:
    return TIE_TOLERANCE * max(1.0, abs(baseline), abs(system))


def bootstrap_p_value(deltas: np.ndarray, observed: float, tolerance: float = 0.0) -> float:
    """(1 + #{|δ* - mean δ*| ≥ |δ|}) / (1 + B) over the finite replicate differences."""
    deltas = np.asarray(deltas, dtype=np.float64)
    deltas = deltas[np.isfinite(deltas)]
    if deltas.size == 0:
        return math.nan
    extreme = np.abs(deltas - deltas.mean()) >= abs(observed) - tolerance
    return (1 + int(np.count_nonzero(extreme))) / (1 + deltas.size)


def mark(p_values: Sequence[float | None]) -> str:
    """``**`` / ``*`` when every given p-value is below 0.01 / 0.05, else the empty string."""
    present = [p for p in p_values if p is not None]
    if not present or any(math.isnan(p) for p in present):
        return ""
    for symbol, level in MARKS:
        if max(present) < level:
            return symbol
    return ""


def finite_or_none(value):
    """A float for JSON: None instead of NaN or an infinity."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _interval(values: np.ndarray, estimate: float, shifted: bool, level: float) -> list | None:
    low, high = shifted_interval(values, estimate, level) if shifted else percentile_interval(values, level)
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return [low, high]


def paired_tests(systems: Sequence[Comparable], n_boot: int = DEFAULT_RESAMPLES, n_trials: int = DEFAULT_TRIALS,
                 seed: int = 0, bias_shifted: Collection[str] = (), level: float = 0.95) -> dict:
    """Test every system against the first on every metric (see the module docstring for the definitions).

    Returns ``{"observed": [values per system], "replicates": [{key: bootstrap values} per system],
    "comparisons": [{key: result} for each system after the first]}``, where a result holds ``baseline``,
    ``system``, ``difference``, ``ci95`` ([low, high], or None), ``p_bootstrap``, ``win_rate``,
    ``p_randomization`` (None when ``n_trials`` is 0) and ``significance`` (the mark). Keys in ``bias_shifted``
    get the bias-shifted interval. ``n_boot`` = 0 skips the bootstrap (no interval, p_bootstrap None).
    """
    if not systems:
        raise UsageError("no systems to compare")
    n = systems[0].n
    if any(system.n != n for system in systems):
        raise UsageError("the systems to compare must have the same number of segments")
    n_boot = check_count(n_boot, "n_boot")
    n_trials = check_count(n_trials, "n_trials")
    check_seed(seed)
    observed = [system.observed() for system in systems]
    keys = list(observed[0])
    replicates: list[dict[str, np.ndarray]] = [{} for _ in systems]
    if n_boot:
        blocks: list[dict[str, list]] = [{key: [] for key in keys} for _ in systems]
        for weights in resample_weight_chunks(n, n_boot, seed):
            for system, store in zip(systems, blocks):
                values = system.replicates(weights)
                for key in keys:
                    store[key].append(np.asarray(values[key], dtype=np.float64))
        replicates = [{key: np.concatenate(parts) for key, parts in store.items()} for store in blocks]
    comparisons = []
    for index in range(1, len(systems)):
        baseline, system = observed[0], observed[index]
        at_least = {key: 0 for key in keys}
        if n_trials:
            pseudo = systems[0].randomization(systems[index])
            for masks in randomization_masks(n, n_trials, seed):
                first, second = pseudo(masks)
                for key in keys:
                    gap = np.abs(np.asarray(first[key]) - np.asarray(second[key]))
                    threshold = abs(system[key] - baseline[key]) - tie_tolerance(baseline[key], system[key])
                    at_least[key] += int(np.count_nonzero(gap >= threshold))
        results = {}
        for key in keys:
            difference = system[key] - baseline[key]
            tolerance = tie_tolerance(baseline[key], system[key])
            result = {"baseline": finite_or_none(baseline[key]), "system": finite_or_none(system[key]),
                      "difference": finite_or_none(difference), "ci95": None, "p_bootstrap": None, "win_rate": None, "p_randomization": None}
            if n_boot:
                deltas = replicates[index][key] - replicates[0][key]
                result["ci95"] = _interval(deltas, difference, key in bias_shifted, level)
                result["p_bootstrap"] = finite_or_none(bootstrap_p_value(deltas, difference, tolerance))
                finite = deltas[np.isfinite(deltas)]
                result["win_rate"] = float(np.mean(finite > 0)) if finite.size else None
            if n_trials:
                result["p_randomization"] = (1 + at_least[key]) / (1 + n_trials)
            result["significance"] = mark([result["p_bootstrap"], result["p_randomization"]])
            results[key] = result
        comparisons.append(results)
    return {"observed": observed, "replicates": replicates, "comparisons": comparisons}


def method_description(n_boot: int, n_trials: int, seed: int, shifted: str = "") -> dict:
    """The settings and definitions of `paired_tests`, for a JSON result (``shifted``: the metrics whose
    intervals are shifted by their bootstrap bias)."""
    return {
        "baseline": "the first system; every other system is tested against it",
        "seed": seed,
        "bootstrap": {"resamples": n_boot, "draw": "numpy default_rng(seed).integers(0, n, size=(resamples, n))",
                      "p_value": "two-sided, replicates shifted to the null: (1 + #{|d* - mean d*| >= |d|}) / "
                                 "(1 + resamples)",
                      "interval": "95% percentile interval of d*"
                                  + (f" ({shifted} shifted by d - mean d*)" if shifted else ""),
                      "win_rate": "share of resamples where the system scores strictly higher"},
        "randomization": {"trials": n_trials,
                          "draw": "numpy default_rng(seed).integers(2, size=(trials, n), dtype=bool): swap per "
                                  "segment",
                          "p_value": "(1 + #{|a' - b'| >= |d|}) / (1 + trials)"},
        "ties": f"|x| >= |d| within {TIE_TOLERANCE:g} x max(1, |baseline|, |system|)",
        "significance": "'*': every p-value of the difference < 0.05, '**': < 0.01",
    }


def mcnemar_exact(baseline_correct: Sequence[bool], system_correct: Sequence[bool]) -> dict:
    """McNemar's exact test of two classifiers' accuracy on the same samples (see the module docstring).

    Returns ``{"baseline_only": b, "system_only": c, "p_value": p}``.
    """
    if len(baseline_correct) != len(system_correct):
        raise UsageError(f"{len(baseline_correct)} baseline outcomes but {len(system_correct)} system outcomes")
    first = np.asarray(baseline_correct, dtype=bool)
    second = np.asarray(system_correct, dtype=bool)
    only_first = int(np.count_nonzero(first & ~second))
    only_second = int(np.count_nonzero(second & ~first))
    return {"baseline_only": only_first, "system_only": only_second,
            "p_value": binomial_two_sided(min(only_first, only_second), only_first + only_second)}


def binomial_two_sided(smaller: int, trials: int) -> float:
    """min(1, 2 · P(X ≤ smaller)) for X ~ Binomial(trials, 1/2), exactly (1 when there are no trials)."""
    if trials == 0:
        return 1.0
    term, tail = 1, 1  # C(trials, 0)
    for k in range(smaller):
        term = term * (trials - k) // (k + 1)
        tail += term
    return min(1.0, float(Fraction(2 * tail, 2 ** trials)))


# --- tables ----------------------------------------------------------------------------------------------------------

COMPARISON_HEADER = ("Metric", "System", "Score", "Δ vs baseline", "95% CI of Δ")
P_COLUMNS = (("p (bootstrap)", "p_bootstrap"), ("p (AR)", "p_randomization"))


def _p_cell(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if value >= 5e-5 else f"{value:.1e}"


def comparison_rows(label: str, names: Sequence[str], scores: Sequence[float | None],
                    results: Sequence[Mapping | None], digits: int, scale: float = 1.0,
                    p_columns: Sequence[tuple[str, str]] = P_COLUMNS) -> list[list[str]]:
    """Rows of one metric in a comparison table: the baseline's score, then per system its score, Δ with its mark,
    the interval of Δ and the p-values (``scale`` multiplies scores, Δ and intervals; Δ gets one more decimal)."""

    def number(value, places, signed=False):
        if value is None:
            return "—"
        return f"{value * scale:+.{places}f}" if signed else f"{value * scale:.{places}f}"

    rows = [[label, f"{names[0]} (baseline)", number(scores[0], digits), "", "", *([""] * len(p_columns))]]
    for name, score, result in zip(names[1:], scores[1:], results):
        if result is None:
            rows.append(["", name, number(score, digits), "—", "—", *(["—"] * len(p_columns))])
            continue
        interval = result.get("ci95")
        span = "—" if interval is None else (f"[{number(interval[0], digits + 1, True)}, "
                                             f"{number(interval[1], digits + 1, True)}]")
        rows.append(["", name, number(score, digits),
                     number(result["difference"], digits + 1, True) + result.get("significance", ""), span,
                     *(_p_cell(result.get(key)) for _, key in p_columns)])
    return rows


def comparison_notes(result: Mapping, shifted: str = "") -> list[str]:
    """The lines under a comparison table: baseline, resamples, trials, seed and what the columns mean (``shifted``
    names the metrics whose intervals are shifted by their bootstrap bias)."""
    method = result["method"]
    boot, trials = method["bootstrap"]["resamples"], method["randomization"]["trials"]
    return [
        f"Baseline: {result['baseline']}. Paired bootstrap: {boot} resamples; approximate randomization: "
        f"{trials} trials; seed {method['seed']}.",
        "Δ = system - baseline. 95% CI of Δ: percentile interval of the bootstrap differences"
        f"{f' ({shifted} shifted by their bias)' if shifted else ''}. p (bootstrap): two-sided, differences shifted "
        f"to the null, (1 + #{{|Δ* - mean Δ*| >= |Δ|}}) / (1 + {boot}). p (AR): approximate randomization, "
        f"(1 + #{{trials with |Δ'| >= |Δ|}}) / (1 + {trials}).",
        "* every p-value of the difference < 0.05; ** < 0.01.",
    ]


def named(names: Sequence[str]) -> list[str]:
    """The systems' display names, made unique (a name given twice gets ``#2``, ``#3``...)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out


def comparison_names(systems: Mapping[str, object] | Sequence) -> list[str]:
    """Names of systems given as a mapping (its keys) or a sequence (``system1``, ``system2``...)."""
    if isinstance(systems, Mapping):
        return [str(name) for name in systems]
    return [f"system{index + 1}" for index in range(len(systems))]

"""Fuzz the generation metrics (rmd_baselines/metrics/generation.py and the modules behind it: bleu, nist, meteor,
entropy, dist, pooled, perplexity, bootstrap, significance) on random token sequences, empty and whitespace-only
segments and several references.

Invariants: every value is finite and within its bounds (BLEU, METEOR, Dist in [0, 1]; NIST, Entropy >= 0; a
perplexity >= 1); the report is strict JSON (no NaN/Infinity); a hypothesis equal to its reference scores BLEU 1;
the paths the code has twice agree: unweighted vs unit-weight statistics, per-segment rows summed vs corpus
statistics, one segment's corpus score vs its segment score, one system evaluated alone vs inside a comparison,
the pooled Entropy/Dist vs the plain functions.
"""

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from rmd_baselines.errors import DataError, UsageError
from rmd_baselines.metrics.dist import dist
from rmd_baselines.metrics.entropy import entropy
from rmd_baselines.metrics.generation import (
    FAMILIES,
    GenerationStats,
    compare_generation,
    evaluate_generation,
    format_table4,
)
from rmd_baselines.metrics.perplexity import perplexity, perplexity_from_logprobs
from rmd_baselines.text import get_tokenizer

from ..support import check_comparisons, finite_json, fuzz, strict_json

ALPHABET = "好的多喝水注意休息建议复查，。？ab"
SEGMENT = st.text(alphabet=ALPHABET + " \t\u3000", min_size=0, max_size=14)
WORDS = st.lists(st.sampled_from(["好", "的", "多", "喝水", "a", "B", "，", "复查"]), min_size=0, max_size=10)

KEYS = ("bleu2", "bleu4", "nist4", "meteor", "entropy4", "dist1", "dist2")
UNIT = ("bleu2", "bleu4", "meteor", "dist1", "dist2")


@st.composite
def corpus(draw, min_segments=1, max_segments=6):
    n = draw(st.integers(min_segments, max_segments))
    n_refs = draw(st.integers(1, 3))
    hyps = [draw(SEGMENT) for _ in range(n)]
    refs = [[draw(SEGMENT) for _ in range(n_refs)] for _ in range(n)]
    return hyps, refs


def check_report(report, families=FAMILIES):
    assert finite_json(report), f"report is not strict JSON: {report}"
    for family in families:
        values = report[family]
        for key in KEYS:
            value = values[key]
            assert value is None or math.isfinite(value), (family, key, value)
            if value is None:
                continue
            assert value >= 0, (family, key, value)
            if key in UNIT:
                assert value <= 1 + 1e-9, (family, key, value)
        for key, (low, high) in values.get("ci", {}).items():
            assert low is None or high is None or low <= high + 1e-9, (family, key, low, high)


def _evaluate(hyps, refs, **kw):
    try:
        return evaluate_generation(hyps, refs, **kw)
    except (DataError, UsageError) as exc:
        assert "\n" not in str(exc)
        return None


@fuzz(80)
@given(corpus(), st.sampled_from(["char", "none"]), st.sampled_from(["jar", "optimal"]),
       st.sampled_from(["mteval", "corrected"]), st.booleans())
def test_scores_are_bounded_finite_and_json(data, tokenize, align, nist, normalize):
    hyps, refs = data
    report = _evaluate(hyps, refs, tokenize=tokenize, meteor_align=align, nist_variant=nist,
                       dstc7_normalize=normalize)
    if report is not None:
        check_report(report)


@fuzz(25)
@given(corpus(max_segments=5), st.integers(0, 2**31 - 1))
def test_bootstrap_intervals_are_finite_json(data, seed):
    hyps, refs = data
    report = _evaluate(hyps, refs, ci=True, n_boot=30, seed=seed)
    if report is not None:
        check_report(report)
        for family in FAMILIES:
            assert set(report[family]["ci"]) >= set(KEYS) - {"perplexity"}


@fuzz(60)
@given(st.lists(st.text(alphabet=ALPHABET.replace(" ", ""), min_size=4, max_size=12), min_size=1, max_size=5),
       st.integers(1, 3))
def test_identical_hypothesis_scores_bleu_one(refs, n_refs):
    report = evaluate_generation(refs, [[r] * n_refs for r in refs])
    for family in FAMILIES:
        assert math.isclose(report[family]["bleu2"], 1.0), (family, report[family])
        assert math.isclose(report[family]["bleu4"], 1.0), (family, report[family])
        assert report[family]["meteor"] > 0.9, (family, report[family])
        assert report[family]["nist4"] > 0


@fuzz(60)
@given(corpus(), st.sampled_from(["jar", "optimal"]))
def test_weighted_paths_equal_unweighted(data, align):
    """``weights=None`` (the direct computation) and unit weights (the bootstrap's path) give one value."""
    hyps, refs = data
    tokenize = get_tokenizer("char")
    hyp_tokens = [tokenize(h) for h in hyps]
    ref_tokens = [[tokenize(r) for r in ref_set] for ref_set in refs]
    stats = GenerationStats(hyp_tokens, ref_tokens, meteor_align=align)
    direct = stats.statistic()
    weighted = stats.statistic(np.ones(len(hyps)))
    assert direct.keys() == weighted.keys()
    for key in direct:
        assert math.isclose(direct[key], weighted[key], rel_tol=1e-9, abs_tol=1e-12), (key, direct[key], weighted[key])
    # per-segment rows summed over every segment give the corpus statistics again
    rows = stats.linear_rows()
    sums = {name: value.sum(axis=0, keepdims=True) for name, value in rows.items()}
    from_sums = stats.scores_from_sums(sums, np.array([len(hyps)]))
    for key, values in from_sums.items():
        assert math.isclose(float(values[0]), direct[key], rel_tol=1e-9, abs_tol=1e-12), (key, values, direct[key])


@fuzz(60)
@given(SEGMENT, st.lists(SEGMENT, min_size=1, max_size=3))
def test_one_segment_corpus_equals_its_segment_score(hyp, ref_set):
    tokenize = get_tokenizer("char")
    stats = GenerationStats([tokenize(hyp)], [[tokenize(r) for r in ref_set]])
    corpus_scores = stats.statistic()
    segment = stats.segment_scores()
    for family, values in segment.items():
        for key, column in values.items():
            value = float(column[0])
            assert math.isfinite(value)
            assert math.isclose(value, corpus_scores[f"{family}.{key}"], rel_tol=1e-9, abs_tol=1e-12), \
                (family, key, value, corpus_scores[f"{family}.{key}"])


@fuzz(20)
@given(corpus(max_segments=4), st.lists(SEGMENT, min_size=4, max_size=4), st.integers(0, 1000))
def test_a_system_scores_alike_alone_and_in_a_comparison(data, other, seed):
    hyps, refs = data
    other = other[:len(hyps)]
    alone = _evaluate(hyps, refs)
    if alone is None:
        return
    result = compare_generation({"a": hyps, "b": other}, refs, n_boot=20, n_trials=20, seed=seed)
    assert finite_json(result), result
    check_comparisons(result)
    together = result["scores"]["a"]
    for family in FAMILIES:
        for key in KEYS:
            assert math.isclose(alone[family][key], together[family][key], rel_tol=1e-12, abs_tol=1e-15), \
                (family, key)
    format_table4(alone)


@fuzz(60)
@given(st.lists(WORDS, min_size=1, max_size=6))
def test_pooled_diversity_equals_the_plain_functions(hyps):
    stats = GenerationStats(hyps, [[["好"]] for _ in hyps], families=("paper",))
    diversity = stats.diversity()
    weighted = stats.diversity(np.ones(len(hyps)))
    assert math.isclose(diversity["entropy4"], entropy(hyps, 4), rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(diversity["dist1"], dist(hyps, 1), rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(diversity["dist2"], dist(hyps, 2), rel_tol=1e-9, abs_tol=1e-12)
    for key in diversity:
        assert math.isclose(diversity[key], weighted[key], rel_tol=1e-9, abs_tol=1e-12)
        assert math.isfinite(diversity[key]) and diversity[key] >= 0


LOGPROB = st.floats(min_value=-1000.0, max_value=0.0, allow_nan=False)


# Beyond this mean negative log-likelihood (nats) a perplexity does not fit a float: exp(709.79) overflows.
OVERFLOW_NATS = math.log(np.finfo(np.float64).max)
UNIT_NATS = {"nat": 1.0, "bit": math.log(2.0), "log10": math.log(10.0)}


@fuzz(60)
@given(st.lists(st.lists(LOGPROB, max_size=6), min_size=1, max_size=5),
       st.sampled_from(["nat", "bit", "log10"]), st.sampled_from(["token", "sample_mean"]))
def test_perplexity_is_at_least_one_and_never_crashes(rows, unit, variant):
    """Issue 13 D17: very negative log-probabilities never raise OverflowError. A perplexity is >= 1, never NaN,
    +inf only where exp() of the mean negative log-likelihood really exceeds a float (JSON writes it as null, see
    the next test), and the NLL path equals the log-probability path."""
    try:
        score = perplexity_from_logprobs(rows, unit=unit, variant=variant)
    except (DataError, UsageError) as exc:
        assert "\n" not in str(exc)
        return
    value = score.value
    assert value is not None and not math.isnan(value) and value >= 1 - 1e-12, value
    if math.isinf(value):
        means = [-sum(row) * UNIT_NATS[unit] / len(row) for row in rows if row]
        total = -sum(sum(row) for row in rows) * UNIT_NATS[unit] / sum(len(row) for row in rows)
        assert (max(means) if variant == "sample_mean" else total) > OVERFLOW_NATS * (1 - 1e-9), (value, rows)
    assert perplexity([[-v for v in row] for row in rows], unit=unit, variant=variant).value == value


@fuzz(30)
@given(corpus(max_segments=4), st.data())
def test_logprobs_in_the_report_are_json(data, draw):
    """Every score but the perplexity is finite; the report as written (`writer.json_text`, what ``--json`` and
    result files use) is strict JSON and names a perplexity too large for a float instead of writing Infinity."""
    from rmd_baselines.corpus.writer import json_text

    hyps, refs = data
    rows = [draw.draw(st.lists(LOGPROB, min_size=1, max_size=4)) for _ in hyps]
    report = _evaluate(hyps, refs, logprobs=rows, ci=draw.draw(st.booleans()), n_boot=20)
    if report is None:
        return
    without_perplexity = {family: {key: value for key, value in values.items() if "perplexity" not in key}
                          for family, values in report.items() if isinstance(values, dict)}
    for family in without_perplexity.values():
        family.get("ci", {}).pop("perplexity", None)
    assert finite_json(without_perplexity), report
    written = strict_json(json_text(report))
    for family in FAMILIES:
        value = report[family]["perplexity"]
        assert value >= 1 and not math.isnan(value)
        if math.isinf(value):
            assert written[family]["perplexity"] is None and f"{family}.perplexity" in written["non_finite"]

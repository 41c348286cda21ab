"""Both families through `evaluate_generation` against every golden vector, and the Table 4 layout."""

import json
import warnings

import numpy as np

import pytest
from hypothesis import given, settings, strategies as st

from rmd_baselines.errors import UsageError
from rmd_baselines.metrics.generation import LatinScriptWarning, evaluate_generation, format_table4
from tests.metrics import vectors

TOL = 1e-9

# Copied from ../shared/metrics-vectors/zh_char_edge.json (mteval-v14c DialoGPT XML full precision, NLTK 3.10
# ucsd_bertgpt / ucsd_gpt2, DSTC7 entropy/dist): identical pair, hypotheses shorter than 4 and 2, no overlap,
# repeated tokens, empty hypothesis last.
EDGE_HYPS = ["多 喝 水 注 意 休 息", "好 的", "嗯", "今 天 天 气 晴 朗", "好 好 好 好 好 好", ""]
EDGE_REFS = [["多 喝 水 注 意 休 息"], ["好 的 ， 明 天 复 诊"], ["建 议 复 查 血 常 规"], ["建 议 复 查 血 常 规"],
             ["好 的 好 的"], ["请 描 述 一 下 症 状"]]
EDGE_EXPECTED = [
    ("dstc7", "bleu2", 0.20951656772908794), ("dstc7", "bleu4", 0.19479833971319907),
    ("dstc7", "nist4", 0.5911825480779745), ("dstc7", "entropy4", 1.9730014063936128),
    ("dstc7", "dist1", 0.6818181818181818), ("dstc7", "dist2", 0.7647058823529411),
    ("paper", "bleu2", 0.1803474997706498), ("paper", "bleu4", 0.16666666666666666),
    ("paper", "nist4", 0.5234480425651563), ("paper", "meteor", 0.2541831751015424),
]


@pytest.mark.parametrize("family, key, expected", EDGE_EXPECTED)
def test_embedded_zh_char_edge(family, key, expected):
    report = evaluate_generation(EDGE_HYPS, EDGE_REFS, tokenize="none")
    assert report[family][key] == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize("key, expected", [("bleu2", 0.19395577611944523), ("bleu4", 0.17475819619512203)])
def test_embedded_zh_char_edge_gpt2_script_smoothing(key, expected):
    report = evaluate_generation(EDGE_HYPS, EDGE_REFS, tokenize="none", family="paper", paper_smoothing="method1")
    assert report["paper"][key] == pytest.approx(expected, abs=TOL)


def _cases():
    for name in vectors.available():
        for key, index in (("bleu2", 1), ("bleu4", 3), ("nist4", 3)):
            yield name, "mteval", key, index
        yield name, "meteor", "meteor", None
        for key, index in (("entropy4", 3), ("dist1", 0), ("dist2", 1)):
            yield name, "diversity", key, index
        for key in ("bleu2", "bleu4", "nist4", "meteor"):
            yield name, "nltk_bertgpt", key, None
        for key in ("bleu2", "bleu4"):
            yield name, "nltk_gpt2", key, None


_REPORTS: dict = {}


def _report(name, **options):
    key = (name, tuple(sorted(options.items())))
    if key not in _REPORTS:
        data = vectors.load(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LatinScriptWarning)
            _REPORTS[key] = evaluate_generation(data["hyps"], data["refs"], tokenize="none", **options)
    return _REPORTS[key]


@pytest.mark.parametrize("name, source, key, index", list(_cases()))
def test_golden_vector(name, source, key, index):
    scores = vectors.load(name)["scores"]
    if source == "mteval":
        expected = scores["mteval_v14c_dialogpt_xml"]["fullprec"]["nist" if key == "nist4" else "bleu"][index]
        got = _report(name)["dstc7"][key]
    elif source == "meteor":
        # English vectors too: METEOR 1.5 with the exact module only (stem/synonym/paraphrase are out of scope).
        exact = scores["meteor15_en_norm_exact_only"]
        if "final" not in exact:
            pytest.skip(f"the METEOR jar produced no score here: {exact.get('error', '').strip()}")
        expected, got = exact["final"], _report(name)["dstc7"]["meteor"]
    elif source == "diversity":
        table = scores["dstc7_entropy_1to4" if key == "entropy4" else "dstc7_dist_1to2"]
        expected, got = table[index], _report(name)["dstc7"][key]
        assert got == pytest.approx(expected, abs=1e-12)
        assert _report(name)["paper"][key] == got
        return
    elif source == "nltk_bertgpt":
        if key == "meteor" and not name.startswith("zh_"):
            pytest.skip("NLTK's stem and WordNet stages (English) are out of scope")
        expected, got = scores["nltk_3_10"]["ucsd_bertgpt"][key], _report(name)["paper"][key]
    else:
        expected = scores["nltk_3_10"]["ucsd_gpt2"][key]
        got = _report(name, family="paper", paper_smoothing="method1")["paper"][key]
    assert got == pytest.approx(expected, abs=TOL)


def test_report_shape_and_raw_values():
    report = evaluate_generation(["多喝水"], [["多喝水，注意休息"]])
    for family in ("paper", "dstc7"):
        assert set(report[family]) == {"bleu2", "bleu4", "nist4", "meteor", "entropy4", "dist1", "dist2", "signature"}
        assert 0 <= report[family]["bleu4"] <= 1
        assert f"family:{family}" not in report[family]["signature"]  # the family name leads the signature
        assert report[family]["signature"].startswith(family + "|tok:char|")
    json.dumps(report, ensure_ascii=False)


def test_single_family_and_perplexity():
    report = evaluate_generation(["好的"], [["好的"]], family="dstc7", logprobs=[[-1.0, -2.0]])
    assert set(report) == {"dstc7"}
    assert report["dstc7"]["perplexity"] == pytest.approx(2.718281828459045 ** 1.5)
    assert "ppl:token" in report["dstc7"]["signature"]


def test_ci_is_seeded_and_brackets_the_value():
    hyps = ["多喝水注意休息", "好的", "建议复查", "发烧几天了", "注意饮食清淡"]
    refs = [["多喝水，注意休息"], ["好的，明天复诊"], ["建议复查血常规"], ["发烧几天了？"], ["饮食清淡"]]
    first = evaluate_generation(hyps, refs, ci=True, n_boot=60, seed=3)
    again = evaluate_generation(hyps, refs, ci=True, n_boot=60, seed=3)
    assert first == again
    for family in ("paper", "dstc7"):
        for key, (low, high) in first[family]["ci"].items():
            assert low <= first[family][key] <= high, (family, key)
        assert set(first[family]["ci"]) == {"bleu2", "bleu4", "nist4", "meteor", "entropy4", "dist1", "dist2"}


def test_latin_hypotheses_warn():
    with pytest.warns(LatinScriptWarning):
        evaluate_generation(["the cat sat"], [["the cat sat on the mat"]])


@pytest.mark.parametrize("hyps, refs, message", [
    ([], [], "no segments"),
    (["a"], [], "1 hypotheses but 0"),
    (["a"], ["a"], "list of reference strings"),
    (["a", "b"], [["a"], ["b", "c"]], "same number"),
    (["a"], [[]], "at least one reference"),
])
def test_bad_inputs_are_usage_errors(hyps, refs, message):
    with pytest.raises(UsageError, match=message):
        evaluate_generation(hyps, refs)


def test_unknown_family_and_tokenizer():
    with pytest.raises(UsageError):
        evaluate_generation(["a"], [["a"]], family="sacre")
    with pytest.raises(UsageError):
        evaluate_generation(["a"], [["a"]], tokenize="bpe")


def test_table4_layout_with_paper_columns_and_signatures():
    report = evaluate_generation(EDGE_HYPS, EDGE_REFS, tokenize="none", logprobs=[[-0.5]] * 6)
    table = format_table4(report)
    lines = table.splitlines()
    assert [line.split()[0] for line in lines[2:10]] == ["Perplexity", "NIST-4", "BLEU-2", "BLEU-4", "METEOR",
                                                          "Entropy-4", "Dist-1", "Dist-2"]
    assert "CDial-GPT*" in lines[0] and "BERT-GPT*" in lines[0]
    assert "paper's figures on RealMedDial" in table
    bleu4_row = lines[5].split()
    assert bleu4_row[1] == f"{report['paper']['bleu4'] * 100:.3f}"  # paper family ×100
    assert bleu4_row[2] == f"{report['dstc7']['bleu4']:.4f}"  # dstc7 raw
    assert bleu4_row[3:] == ["0.481", "0.439", "0.028"]
    assert report["paper"]["signature"] in table and report["dstc7"]["signature"] in table


def test_table4_several_systems_without_paper_columns():
    a = evaluate_generation(["好的"], [["好的"]])
    b = evaluate_generation(["不好"], [["好的"]])
    table = format_table4({"bm25": a, "kenlm": b}, paper=False)
    header = table.splitlines()[0]
    assert "bm25 paper" in header and "kenlm dstc7" in header and "CDial-GPT" not in header
    with pytest.raises(UsageError):
        format_table4({"x": {"nothing": 1}})


def test_scores_from_report():
    from rmd_baselines.metrics.generation import scores_from_report

    report = evaluate_generation(["好的"], [["好的，明天复诊"]], ci=True, n_boot=20)
    scores = scores_from_report(report)
    assert len(scores) == 14
    bleu4 = next(s for s in scores if s.family == "dstc7" and s.name == "BLEU-4")
    assert bleu4.value == report["dstc7"]["bleu4"] and bleu4.signature.startswith("BLEU-4|dstc7|tok:char")
    assert bleu4.ci == tuple(report["dstc7"]["ci"]["bleu4"])


_text = st.text(alphabet=list("好的多喝水注意休息，。？ \u3000\tAb"), max_size=15)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(_text, _text.filter(lambda t: t.strip())), min_size=1, max_size=6))
def test_any_text_scores_in_range_and_permutation_invariant(pairs):
    hyps = [h for h, _ in pairs]  # empty and whitespace-only hypotheses included
    refs = [[r] for _, r in pairs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LatinScriptWarning)
        report = evaluate_generation(hyps, refs)
        shuffled = evaluate_generation(hyps[::-1], refs[::-1])
        identical = evaluate_generation([r[0] for r in refs], refs, family="dstc7")
    for family in ("paper", "dstc7"):
        values = report[family]
        assert all(0.0 <= values[k] <= 1.0 + 1e-12 for k in ("bleu2", "bleu4", "meteor", "dist1", "dist2"))
        assert values["nist4"] >= 0.0 and values["entropy4"] >= 0.0
        for key in ("bleu2", "bleu4", "nist4", "meteor", "entropy4", "dist1", "dist2"):
            assert shuffled[family][key] == pytest.approx(values[key], abs=1e-12)
    assert identical["dstc7"]["bleu4"] == pytest.approx(1.0, abs=1e-12)
    assert identical["dstc7"]["meteor"] == pytest.approx(1.0, abs=1e-12)


# --- comparing systems -------------------------------------------------------------------------------------------

from rmd_baselines.metrics.generation import (  # noqa: E402
    GenerationStats, SystemStatistics, compare_generation, format_comparison, segment_records)
from rmd_baselines.text import get_tokenizer  # noqa: E402

_KEYS = ("bleu2", "bleu4", "nist4", "meteor", "entropy4", "dist1", "dist2", "perplexity")


def _small_corpus(seed, n=9):
    """Two references per segment, mixed ASCII (mteval and METEOR normalisation), repeats, an empty hypothesis."""
    import random

    rng = random.Random(seed)
    vocabulary = list("好的多喝水注意休息复查血常规0度") + ["AB", "ok.", "(a)"]
    text = lambda low, high: "".join(rng.choice(vocabulary) for _ in range(rng.randint(low, high)))  # noqa: E731
    refs = [[text(3, 12), text(3, 12)] for _ in range(n)]
    first = [text(0, 10) for _ in range(n)]
    second = [ref[0][: rng.randint(0, 8)] + text(0, 4) for ref in refs]
    first[2] = ""
    logprobs = [[-rng.random() for _ in range(rng.randint(0, 4))] for _ in range(n)]
    logprobs[0] = [-0.5]
    return refs, first, second, logprobs


def _system(hyps, refs, logprobs, variant="token"):
    tokenizer = get_tokenizer("char")
    stats = GenerationStats(tokenizer.tokenize_many(hyps), [tokenizer.tokenize_many(r) for r in refs])
    return SystemStatistics(stats, [[-v for v in row] for row in logprobs], variant)


def _flat(report):
    return {f"{family}.{key}": report[family][key] for family in ("paper", "dstc7") for key in _KEYS}


@pytest.mark.parametrize("variant", ["token", "sample_mean"])
def test_bootstrap_replicates_equal_scoring_the_resampled_corpus(variant):
    refs, hyps, _, logprobs = _small_corpus(1)
    system = _system(hyps, refs, logprobs, variant)
    weights = np.array([[2, 0, 1, 0, 3, 1, 0, 1, 1], [0, 1, 1, 1, 1, 1, 1, 1, 2]], dtype=float)
    replicates = system.replicates(weights)
    for row, multiplicities in enumerate(weights.astype(int)):
        picked = [index for index, count in enumerate(multiplicities) for _ in range(count)]
        expected = _flat(evaluate_generation([hyps[i] for i in picked], [refs[i] for i in picked],
                                             logprobs=[logprobs[i] for i in picked], ppl_variant=variant))
        for key, value in expected.items():
            assert replicates[key][row] == pytest.approx(value, abs=1e-9), key


def test_swapped_systems_equal_scoring_the_swapped_outputs():
    refs, first, second, logprobs = _small_corpus(2)
    other_logprobs = [row[::-1] + [-0.25] for row in logprobs]
    pseudo = _system(first, refs, logprobs).randomization(_system(second, refs, other_logprobs))
    masks = np.random.default_rng(0).integers(2, size=(3, len(first)), dtype=bool)
    taken, mirrored = pseudo(masks)
    for row, mask in enumerate(masks):
        for values, keep in ((taken, mask), (mirrored, ~mask)):
            hyps = [a if k else b for a, b, k in zip(first, second, keep)]
            probabilities = [a if k else b for a, b, k in zip(logprobs, other_logprobs, keep)]
            expected = _flat(evaluate_generation(hyps, refs, logprobs=probabilities))
            for key, value in expected.items():
                assert values[key][row] == pytest.approx(value, abs=1e-9), key


def test_segment_scores_are_each_segment_scored_alone():
    refs, hyps, _, _ = _small_corpus(3)
    record_set = list(segment_records(["sys"], [hyps], refs, [_system(hyps, refs, [[-1.0]] * len(hyps))]))
    assert [r["segment"] for r in record_set] == list(range(1, len(hyps) + 1))
    for record, hyp, ref_set in zip(record_set, hyps, refs):
        alone = evaluate_generation([hyp], [ref_set])
        assert record["hyp"] == hyp and record["refs"] == ref_set and record["system"] == "sys"
        for family in ("paper", "dstc7"):
            for key in ("bleu2", "bleu4", "nist4", "meteor"):
                assert record[family][key] == pytest.approx(alone[family][key], abs=1e-12), (family, key)


GOOD = ["多喝水注意休息", "好的明天复诊", "建议复查血常规", "发烧几天了", "饮食清淡一点", "按时吃药"] * 4
BAD = ["你好", "谢谢", "再见", "嗯嗯", "是吗", "对的"] * 4
REFS = [[ref] for ref in ("多喝水，注意休息", "好的，明天复诊", "建议复查血常规", "发烧几天了？", "饮食清淡一点",
                          "按时吃药")] * 4


def test_compare_a_system_with_itself():
    result = compare_generation({"a": GOOD, "b": list(GOOD)}, REFS, n_boot=100, n_trials=200)
    for family in ("paper", "dstc7"):
        for key, comparison in result["comparisons"]["b"][family].items():
            assert comparison["difference"] == 0.0 and comparison["ci95"] == [0.0, 0.0], key
            assert comparison["p_bootstrap"] == 1.0 and comparison["p_randomization"] == 1.0, key


def test_compare_a_certain_difference():
    # BAD shares no character with the references: every overlap metric is ~0 on any resample or swap that keeps
    # its segments, so every test finds the difference.
    result = compare_generation({"bad": BAD, "good": GOOD}, REFS, n_boot=200, n_trials=400, seed=1)
    for family in ("paper", "dstc7"):
        for key in ("bleu2", "bleu4", "nist4", "meteor"):
            comparison = result["comparisons"]["good"][family][key]
            assert comparison["difference"] > 0 and comparison["ci95"][0] > 0, (family, key)
            assert comparison["p_bootstrap"] == pytest.approx(1 / 201), (family, key)
            assert comparison["p_randomization"] == pytest.approx(1 / 401), (family, key)
            assert comparison["significance"] == "**"
    assert result["method"]["bootstrap"]["resamples"] == 200 and result["method"]["seed"] == 1
    assert compare_generation({"bad": BAD, "good": GOOD}, REFS, n_boot=200, n_trials=400, seed=1) == result


def test_comparison_report_json_and_table():
    logprobs = [[-0.5, -1.0]] * len(GOOD)
    result = compare_generation([BAD, GOOD, GOOD[::-1]], REFS, logprobs=[logprobs] * 3, n_boot=50, n_trials=100,
                                ci=True)
    assert result["systems"] == ["system1", "system2", "system3"] and result["baseline"] == "system1"
    assert result["scores"]["system2"] == evaluate_generation(GOOD, REFS, logprobs=logprobs, ci=True, n_boot=50)
    assert result["comparisons"]["system3"]["dstc7"]["perplexity"]["difference"] == 0.0
    json.dumps(result, allow_nan=False)
    table = format_comparison(result)
    assert "paper family (BLEU/NIST/METEOR ×100)" in table and "dstc7 family (raw)" in table
    assert "system1 (baseline)" in table and "Paired bootstrap: 50 resamples" in table
    bleu4 = result["comparisons"]["system2"]["paper"]["bleu4"]
    assert f"{bleu4['difference'] * 100:+.4f}{bleu4['significance']}" in table and bleu4["significance"] == "*"


def test_compare_needs_logprobs_for_all_or_none():
    with pytest.raises(UsageError, match="every system or for none"):
        compare_generation([BAD, GOOD], REFS, logprobs=[[[-1.0]] * len(GOOD), None])
    with pytest.raises(UsageError, match="1 hypotheses but"):
        compare_generation([BAD, GOOD[:1]], REFS)


def test_dstc7_nist_interval_is_shifted_by_its_bias():
    # On six segments a resample that repeats a segment makes its n-grams look half as rare: without the shift
    # the percentile interval of dstc7 NIST-4 here is [3.46, 4.87], below the estimate 5.12.
    hyps, refs = GOOD[:6], REFS[:6]
    report = evaluate_generation(hyps, refs, family="dstc7", ci=True, n_boot=200, seed=0)
    low, high = report["dstc7"]["ci"]["nist4"]
    assert low <= report["dstc7"]["nist4"] <= high
    assert report["dstc7"]["ci_method"].endswith("entropy/dist/nist:bias-shifted")


def test_variants_are_named_in_the_signature_and_change_the_numbers():
    hyps, refs = ["宝，宝宝查一下", "体温30度"], [["，宝宝一下，查一下"], ["体温30度"]]
    default = evaluate_generation(hyps, refs, family="dstc7")["dstc7"]
    clean = evaluate_generation(hyps, refs, family="dstc7", meteor_align="optimal", nist_variant="corrected")["dstc7"]
    assert "|nist:mteval-v14c,corpus,lp:avgref|" in default["signature"]
    assert "|meteor:1.5-jar,exact,rank:a0.85-b0.20-g0.60-d0.75,corpus|" in default["signature"]
    assert "|nist:corrected,corpus,lp:avgref|" in clean["signature"]
    assert "|meteor:optimal,exact,rank:a0.85-b0.20-g0.60-d0.75,corpus|" in clean["signature"]
    assert clean["meteor"] > default["meteor"] and clean["nist4"] < default["nist4"]
    assert clean["bleu4"] == default["bleu4"]
    for key, value in (("meteor_align", "beam"), ("nist_variant", "nltk")):
        with pytest.raises(UsageError, match="unknown"):
            evaluate_generation(hyps, refs, **{key: value})


def test_resampling_uses_the_variants():
    tokenizer = get_tokenizer("char")
    hyps, refs = ["体温30度", "好的——"], [["体温30度"], ["好的"]]
    for options in ({}, {"meteor_align": "optimal", "nist_variant": "corrected"}):
        stats = GenerationStats(tokenizer.tokenize_many(hyps), [tokenizer.tokenize_many(r) for r in refs],
                                ("dstc7",), **options)
        report = evaluate_generation(hyps, refs, family="dstc7", **options)["dstc7"]
        replicate = SystemStatistics(stats).replicates(np.ones((1, len(hyps))))
        for key in ("nist4", "meteor"):
            assert stats.statistic()[f"dstc7.{key}"] == pytest.approx(report[key], abs=1e-12)
            assert replicate[f"dstc7.{key}"][0] == pytest.approx(report[key], abs=1e-12)

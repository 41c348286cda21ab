"""Both families through `evaluate_generation` against every golden vector, and the Table 4 layout."""

import json
import warnings

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


def test_bootstrap_statistic_uses_the_variants():
    from rmd_baselines.metrics.generation import generation_statistic

    hyps, refs = ["体温30度", "好的——"], [["体温30度"], ["好的"]]
    for options in ({}, {"meteor_align": "optimal", "nist_variant": "corrected"}):
        statistic = generation_statistic(hyps, refs, family="dstc7", **options)
        report = evaluate_generation(hyps, refs, family="dstc7", **options)["dstc7"]
        values = statistic(None)
        assert values["dstc7.nist4"] == pytest.approx(report["nist4"], abs=1e-12)
        assert values["dstc7.meteor"] == pytest.approx(report["meteor"], abs=1e-12)

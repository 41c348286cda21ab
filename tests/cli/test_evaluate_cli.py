"""`rmd-baseline evaluate generate|classify` through click's CliRunner: numbers, layout, exit statuses, errors."""

import json

import pytest

from tests.metrics import vectors

from .invoke import run_streams as run

# Copied from ../shared/metrics-vectors/zh_char_edge.json (segments written as files, tokens space-separated).
EDGE_HYPS = ["多 喝 水 注 意 休 息", "好 的", "嗯", "今 天 天 气 晴 朗", "好 好 好 好 好 好", ""]
EDGE_REFS = ["多 喝 水 注 意 休 息", "好 的 ， 明 天 复 诊", "建 议 复 查 血 常 规", "建 议 复 查 血 常 规", "好 的 好 的",
             "请 描 述 一 下 症 状"]


def write(tmp_path, name, lines, raw=None):
    path = tmp_path / name
    path.write_bytes(raw if raw is not None else ("\n".join(lines) + "\n").encode("utf-8"))
    return path


def test_generate_json_reproduces_golden_values_with_trailing_empty_hypothesis(tmp_path):
    hyp = write(tmp_path, "hyp.txt", EDGE_HYPS)
    ref = write(tmp_path, "ref.txt", EDGE_REFS)
    code, out, err = run("evaluate", "generate", "--hyp", hyp, "--ref", ref, "--tokenize", "none", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["dstc7"]["bleu4"] == pytest.approx(0.19479833971319907, abs=1e-9)
    assert report["dstc7"]["nist4"] == pytest.approx(0.5911825480779745, abs=1e-9)
    assert report["paper"]["nist4"] == pytest.approx(0.5234480425651563, abs=1e-9)
    assert report["paper"]["signature"].startswith("paper|tok:none|")


@pytest.mark.parametrize("name", vectors.ZH_VECTORS)
def test_generate_golden_vectors_through_the_cli(tmp_path, name):
    data = vectors.load(name)
    hyp = write(tmp_path, "hyp.jsonl", [json.dumps({"text": h}, ensure_ascii=False) for h in data["hyps"]])
    refs = []
    for k in range(len(data["refs"][0])):
        refs += ["--ref", write(tmp_path, f"ref{k}.txt", [r[k] for r in data["refs"]])]
    code, out, err = run("evaluate", "generate", "--hyp", hyp, *refs, "--tokenize", "none", "--json")
    assert code == 0, err
    report = json.loads(out)
    mteval = data["scores"]["mteval_v14c_dialogpt_xml"]["fullprec"]
    assert report["dstc7"]["bleu2"] == pytest.approx(mteval["bleu"][1], abs=1e-9)
    assert report["dstc7"]["nist4"] == pytest.approx(mteval["nist"][3], abs=1e-9)
    meteor = data["scores"]["meteor15_en_norm_exact_only"]
    if "final" in meteor:
        assert report["dstc7"]["meteor"] == pytest.approx(meteor["final"], abs=1e-9)
    assert report["paper"]["bleu4"] == pytest.approx(data["scores"]["nltk_3_10"]["ucsd_bertgpt"]["bleu4"], abs=1e-9)


def test_generate_table_ci_and_logprobs(tmp_path):
    hyp = write(tmp_path, "hyp.txt", ["多喝水注意休息", "好的", "建议复查"])
    ref = write(tmp_path, "ref.txt", ["多喝水，注意休息", "好的，明天复诊", "建议复查血常规"])
    logprobs = write(tmp_path, "lp.jsonl", ["[-1.0, -2.0]", "[-0.5]", "[]"])
    code, out, err = run("evaluate", "generate", "--hyp", hyp, "--ref", ref, "--logprobs", logprobs, "--ci",
                         "--n-boot", "30", "--seed", "1")
    assert code == 0, err
    assert out.splitlines()[0].split()[:3] == ["Metric", "ours", "paper"]
    assert "paper's figures on RealMedDial" in out and "95% CI" in out
    perplexity_row = out.splitlines()[2].split()
    assert perplexity_row[0] == "Perplexity" and perplexity_row[1] == f"{pow(2.718281828459045, 3.5 / 3):.2f}"
    code, again, _ = run("evaluate", "generate", "--hyp", hyp, "--ref", ref, "--logprobs", logprobs, "--ci",
                         "--n-boot", "30", "--seed", "1")
    assert again == out


def test_generate_family_and_latin_warning(tmp_path):
    hyp = write(tmp_path, "hyp.txt", ["the cat sat"])
    ref = write(tmp_path, "ref.txt", ["the cat sat on the mat"])
    code, out, err = run("evaluate", "generate", "--hyp", hyp, "--ref", ref, "--family", "dstc7", "--json")
    assert code == 0
    assert set(json.loads(out)) == {"dstc7"}
    assert err.count("\n") == 1 and "warning: hypotheses are mostly Latin script" in err


@pytest.mark.parametrize("case, message", [
    ("count", "ref.txt: 2 segments but"),
    ("empty", "empty.txt: empty file"),
    ("utf8", "bad.txt:2: line: invalid UTF-8"),
    ("missing", "missing.txt: no such file"),
    ("logprobs", "lp.jsonl: 1 rows but"),
])
def test_generate_bad_input_is_one_line_exit_2(tmp_path, case, message):
    hyp = write(tmp_path, "hyp.txt", ["好的", "多喝水", ""])
    ref = write(tmp_path, "ref.txt", ["好的", "多喝水", "请描述"])
    args = ["evaluate", "generate", "--hyp", hyp, "--ref", ref]
    if case == "count":
        args[-1] = write(tmp_path, "ref.txt", ["好的", "多喝水"])
    elif case == "empty":
        args[3] = write(tmp_path, "empty.txt", [], raw=b"")
    elif case == "utf8":
        args += ["--ref", write(tmp_path, "bad.txt", [], raw="好的\n".encode() + b"\xff\xfe\n\n")]
    elif case == "missing":
        args += ["--ref", tmp_path / "missing.txt"]
    else:
        args += ["--logprobs", write(tmp_path, "lp.jsonl", ["[-1.0]"])]
    code, out, err = run(*args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_classify_json_table_and_scores(tmp_path):
    gold = write(tmp_path, "gold.txt", ["内科", "外科", "儿科", "内科"])
    pred = write(tmp_path, "pred.txt", ["内科", "内科", "儿科", "外科"])
    scores = write(tmp_path, "scores.jsonl", [json.dumps(s, ensure_ascii=False) for s in [
        {"内科": 0.8, "外科": 0.2}, {"内科": 0.6, "外科": 0.4}, {"儿科": 0.9}, {"外科": 0.5, "内科": 0.4}]])
    code, out, err = run("evaluate", "classify", "--gold", gold, "--pred", pred, "--scores", scores, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["accuracy"] == 0.5 and result["top3_accuracy"] == 1.0
    assert result["mrr"] == pytest.approx((1 + 0.5 + 1 + 0.5) / 4)
    assert {"macro_f1", "weighted_f1", "macro_precision", "weighted_recall"} <= set(result)
    code, out, err = run("evaluate", "classify", "--gold", gold, "--pred", pred, "--task", "recommend")
    assert code == 0 and "Table 6" in out and out.splitlines()[0].split()[1] == "ours"


def test_classify_bad_input(tmp_path):
    gold = write(tmp_path, "gold.txt", ["内科", "外科"])
    pred = write(tmp_path, "pred.txt", ["内科"])
    code, out, err = run("evaluate", "classify", "--gold", gold, "--pred", pred)
    assert code == 2 and "pred.txt: 1 labels but" in err and err.count("\n") == 1


@pytest.mark.parametrize("command", ["generate", "classify"])
def test_help_has_an_example(command):
    code, out, _ = run("evaluate", command, "--help")
    assert code == 0 and "Example:" in out and f"rmd-baseline evaluate {command}" in out


def test_classify_ci(tmp_path):
    gold = write(tmp_path, "gold.txt", ["内科", "外科", "儿科", "内科"] * 3)
    pred = write(tmp_path, "pred.txt", ["内科", "内科", "儿科", "外科"] * 3)
    code, out, err = run("evaluate", "classify", "--gold", gold, "--pred", pred, "--ci", "--n-boot", "40", "--json")
    assert code == 0, err
    assert set(json.loads(out)["ci"]) >= {"accuracy", "macro_f1", "weighted_f1"}


# --- comparing systems -------------------------------------------------------------------------------------------

GOOD = ["多喝水注意休息", "好的明天复诊", "建议复查血常规", "发烧几天了", "饮食清淡一点", "按时吃药"] * 3
BAD = ["你好", "谢谢", "再见", "嗯嗯", "是吗", "对的"] * 3
REFS = ["多喝水，注意休息", "好的，明天复诊", "建议复查血常规", "发烧几天了？", "饮食清淡一点", "按时吃药"] * 3


def _strict_json(text):
    def refuse(constant):
        raise AssertionError(f"{constant} in JSON output")

    return json.loads(text, parse_constant=refuse)


def test_generate_one_hyp_keeps_the_plain_output(tmp_path):
    from rmd_baselines.metrics.generation import evaluate_generation, format_table4

    hyp, ref = write(tmp_path, "hyp.txt", GOOD), write(tmp_path, "ref.txt", REFS)
    code, out, err = run("evaluate", "generate", "--hyp", hyp, "--ref", ref)
    assert code == 0, err
    assert out == format_table4(evaluate_generation(GOOD, [[r] for r in REFS]), paper=True) + "\n"
    code, out, _ = run("evaluate", "generate", "--hyp", hyp, "--ref", ref, "--json")
    assert set(_strict_json(out)) == {"paper", "dstc7"}


def test_generate_compares_systems(tmp_path):
    bad, good, same = (write(tmp_path, name, lines) for name, lines in
                       (("bad.txt", BAD), ("good.txt", GOOD), ("same.txt", BAD)))
    ref = write(tmp_path, "ref.txt", REFS)
    args = ["evaluate", "generate", "--hyp", bad, "--hyp", good, "--hyp", same, "--ref", ref, "--n-boot", "100",
            "--n-trials", "200", "--seed", "4"]
    code, out, err = run(*args, "--json")
    assert code == 0, err
    result = _strict_json(out)
    assert result["systems"] == [str(bad), str(good), str(same)] and result["baseline"] == str(bad)
    assert result["method"]["bootstrap"]["resamples"] == 100 and result["method"]["randomization"]["trials"] == 200
    assert result["method"]["seed"] == 4
    better = result["comparisons"][str(good)]["dstc7"]["bleu4"]
    assert better["p_bootstrap"] == pytest.approx(1 / 101) and better["p_randomization"] == pytest.approx(1 / 201)
    assert better["significance"] == "**" and better["ci95"][0] > 0
    itself = result["comparisons"][str(same)]["paper"]["meteor"]
    assert itself["difference"] == 0 and itself["p_bootstrap"] == itself["p_randomization"] == 1.0
    code, table, _ = run(*args)
    assert code == 0 and "bad.txt (baseline)" in table and "p (AR)" in table and "seed 4" in table
    assert f"{better['difference']:+.5f}**" in table  # dstc7 raw, one decimal more than the score
    assert run(*args)[1] == table  # deterministic for a seed


def test_generate_segments_file(tmp_path):
    bad, good, ref = write(tmp_path, "bad.txt", BAD[:4]), write(tmp_path, "good.txt", GOOD[:4]), \
        write(tmp_path, "ref.txt", REFS[:4])
    segments = tmp_path / "out" / "segments.jsonl"
    segments.parent.mkdir()
    code, _, err = run("evaluate", "generate", "--hyp", bad, "--hyp", good, "--ref", ref, "--n-boot", "10",
                       "--n-trials", "10", "--segments", segments)
    assert code == 0, err
    records = [_strict_json(line) for line in segments.read_text("utf-8").splitlines()]
    assert [(r["system"], r["segment"]) for r in records] == [(str(p), i) for p in (bad, good) for i in range(1, 5)]
    assert records[4]["hyp"] == GOOD[0] and records[4]["refs"] == [REFS[0]]
    assert set(records[0]) == {"system", "segment", "hyp", "refs", "paper", "dstc7"}
    assert set(records[0]["dstc7"]) == {"bleu2", "bleu4", "nist4", "meteor"}
    assert records[4]["dstc7"]["bleu4"] > records[0]["dstc7"]["bleu4"]
    assert [p.name for p in segments.parent.iterdir()] == ["segments.jsonl"]  # no temporary file left
    code, _, err = run("evaluate", "generate", "--hyp", good, "--ref", ref, "--segments", segments, "--family", "paper")
    assert code == 0, err
    records = [_strict_json(line) for line in segments.read_text("utf-8").splitlines()]
    assert len(records) == 4 and set(records[0]) == {"system", "segment", "hyp", "refs", "paper"}


@pytest.mark.parametrize("case, message", [
    ("short", "short.txt: 2 segments but"),
    ("logprobs", "1 --logprobs files for 2 --hyp files"),
])
def test_generate_comparison_bad_input_is_one_line_exit_2(tmp_path, case, message):
    hyp = write(tmp_path, "hyp.txt", ["好的", "多喝水", ""])
    ref = write(tmp_path, "ref.txt", ["好的", "多喝水", "请描述"])
    if case == "short":
        args = ["--hyp", write(tmp_path, "short.txt", ["好的", "多喝水"])]
    else:
        args = ["--hyp", hyp, "--logprobs", write(tmp_path, "lp.jsonl", ["[-1.0]", "[-1.0]", "[-1.0]"])]
    code, out, err = run("evaluate", "generate", "--hyp", hyp, *args, "--ref", ref)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_classify_compares_systems(tmp_path):
    gold_labels = ["内科", "外科", "儿科", "内科", "眼科"] * 6
    gold = write(tmp_path, "gold.txt", gold_labels)
    base = write(tmp_path, "base.txt", ["内科"] * len(gold_labels))
    good = write(tmp_path, "good.txt", gold_labels)
    args = ["evaluate", "classify", "--gold", gold, "--pred", base, "--pred", good, "--n-boot", "50",
            "--n-trials", "100"]
    code, out, err = run(*args, "--json")
    assert code == 0, err
    accuracy = _strict_json(out)["comparisons"][str(good)]["accuracy"]
    assert accuracy["difference"] == pytest.approx(0.6) and accuracy["system_only"] == 18
    assert accuracy["p_mcnemar"] == pytest.approx(2 / 2 ** 18)
    code, out, err = run(*args)
    assert code == 0 and "p (McNemar)" in out and "base.txt (baseline)" in out


@pytest.mark.parametrize("extra, message", [
    (["--task", "route"], "--task prints the paper's columns beside one system"),
    (["--scores", "SCORES"], "1 --scores files for 2 --pred files"),
    (["--pred", "SHORT"], "short.txt: 1 labels but"),
])
def test_classify_comparison_bad_input(tmp_path, extra, message):
    gold = write(tmp_path, "gold.txt", ["内科", "外科"])
    pred = write(tmp_path, "pred.txt", ["内科", "内科"])
    replacements = {"SCORES": write(tmp_path, "s.jsonl", ['{"内科": 1}', '{"外科": 1}']),
                    "SHORT": write(tmp_path, "short.txt", ["内科"])}
    extra = [replacements.get(arg, arg) for arg in extra]
    code, out, err = run("evaluate", "classify", "--gold", gold, "--pred", pred, "--pred", pred, *extra)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err


def test_generate_metric_variants(tmp_path):
    hyp = write(tmp_path, "hyp.txt", ["宝，宝宝查一下", "体温30度"])
    ref = write(tmp_path, "ref.txt", ["，宝宝一下，查一下", "体温30度"])
    reports = {}
    for options in ((), ("--meteor-align", "optimal", "--nist-variant", "corrected")):
        code, out, err = run("evaluate", "generate", "--hyp", hyp, "--ref", ref, "--family", "dstc7", "--json",
                             *options)
        assert code == 0, err
        reports[options] = json.loads(out)["dstc7"]
    default, clean = reports[()], reports[("--meteor-align", "optimal", "--nist-variant", "corrected")]
    assert "nist:mteval-v14c," in default["signature"] and "meteor:1.5-jar," in default["signature"]
    assert "nist:corrected," in clean["signature"] and "meteor:optimal," in clean["signature"]
    assert clean["meteor"] > default["meteor"] and clean["nist4"] < default["nist4"]
    code, _, err = run("evaluate", "generate", "--hyp", hyp, "--ref", ref, "--meteor-align", "beam")
    assert code == 2 and "beam" in err


def test_a_perplexity_too_large_for_a_float_is_infinite_not_a_crash(tmp_path):
    """Issue 13 D17: logprobs like -800 gave 'internal error: OverflowError'."""
    hyp = write(tmp_path, "h.txt", ["一 二 三", "四 五"])
    logprobs = write(tmp_path, "lp.jsonl", ["[-800, -900, -1000]", "[-800, -2000]"])
    code, out, err = run("evaluate", "generate", "--hyp", hyp, "--ref", hyp, "--logprobs", logprobs,
                         "--tokenize", "none")
    assert code == 0, err
    assert [line for line in out.splitlines() if line.startswith("Perplexity")][0].split()[1:3] == ["inf", "inf"]


@pytest.mark.parametrize("options, message", [
    (["--n-trials", "50"], "--n-trials is only used when comparing systems"),
    (["--n-boot", "50"], "--n-boot is only used with --ci"),
    (["--seed", "4"], "--seed is only used with --ci"),
    (["--family", "paper", "--nist-variant", "corrected"], "--nist-variant is only used by the dstc7 family"),
    (["--family", "paper", "--meteor-align", "optimal"], "--meteor-align is only used by the dstc7 family"),
])
def test_an_option_evaluate_generate_would_ignore_is_refused(tmp_path, options, message):
    """Issue 13: options that a command silently ignores are refused (exit 2, one line)."""
    hyp = write(tmp_path, "h.txt", ["一 二 三"])
    code, out, err = run("evaluate", "generate", "--hyp", hyp, "--ref", hyp, *options)
    assert code == 2 and message in err and err.count("\n") == 1 and out == ""
    assert run("evaluate", "generate", "--hyp", hyp, "--ref", hyp, "--ci", "--n-boot", "20", "--seed", "4")[0] == 0

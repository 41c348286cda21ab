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

"""``rmd-baseline explain route|recommend|respond|lm``: text and JSON output on models saved from the bundled
sample, ANSI colours only on a terminal, and the one-line exit-2 errors."""

import json
import math

import pytest

from rmd_baselines.classify import load_model
from rmd_baselines.classify.explain import explain_classification, leaf_parts

from ..conftest import SAMPLE
from ..sample_models import classifier_dir, responder_dir
from .invoke import run_streams

pytestmark = pytest.mark.skipif(not SAMPLE.is_file(), reason=f"bundled sample {SAMPLE} not generated")
TEXT = "最近胸口闷，爬楼梯就喘不上气，血压也有点高"
CONTEXT = "病人：孩子发烧两天了\\n医生：最高多少度？\\n病人：38度5，还有点咳嗽"


def test_route_text_and_json(tmp_path_factory):
    model = classifier_dir(tmp_path_factory, "route", "svm-char")
    code, stdout, stderr = run_streams("explain", "route", TEXT, "--model", model, "--top", "4")
    assert code == 0 and stderr == ""
    expected = explain_classification(load_model(model), TEXT)
    lines = stdout.splitlines()
    assert lines[0].startswith(expected["label"] + "  (probability")
    assert "top 4 for:" in stdout and "top 4 against:" in stdout and "\x1b[" not in stdout
    assert lines[-1] == "text: " + TEXT
    code, stdout, _ = run_streams("explain", "route", TEXT, "--model", model, "--json")
    assert code == 0 and json.loads(stdout) == expected
    total = math.fsum([expected["intercept"], *(c for _, c in expected["contributions"])])
    assert abs(total - expected["score"]) < 1e-6


def test_recommend_label_option(tmp_path_factory):
    model = classifier_dir(tmp_path_factory, "recommend", "hier-logreg-char12")
    code, stdout, _ = run_streams("explain", "recommend", TEXT, "--model", model, "--label", "医生-儿科-01", "--json")
    explanation = json.loads(stdout)
    assert code == 0 and explanation["label"] == "医生-儿科-01" and explanation["contributions"] is None
    assert [part["part"] for part in explanation["parts"]] == ["department stage", "doctor stage"]
    for part in leaf_parts(explanation):
        assert abs(math.fsum([part["intercept"], *(c for _, c in part["contributions"])]) - part["score"]) < 1e-6


def test_colours_only_on_a_terminal(tmp_path_factory, monkeypatch):
    from click.testing import CliRunner

    from rmd_baselines.cli import explain as explain_cli
    from rmd_baselines.cli.main import cli

    model = str(classifier_dir(tmp_path_factory, "route", "svm-char"))
    monkeypatch.setattr(explain_cli, "_ansi", lambda: True)
    result = CliRunner().invoke(cli, ["explain", "route", TEXT, "--model", model], color=True)
    assert result.exit_code == 0 and "text: " in result.output and "\x1b[30;48;5;" in result.output
    monkeypatch.undo()
    assert explain_cli._ansi() is False  # the test runner's stdout is not a terminal

    class Terminal:
        def isatty(self):
            return True

    monkeypatch.setattr(explain_cli.sys, "stdout", Terminal())
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert explain_cli._ansi() is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert explain_cli._ansi() is False


@pytest.mark.parametrize("model, expected", [
    ("retrieval", "retrieved: dialogue"), ("ngram", "kenlm's score"), ("rerank", "rerank score"),
])
def test_respond(tmp_path_factory, model, expected):
    directory = responder_dir(tmp_path_factory, model)
    code, stdout, stderr = run_streams("explain", "respond", CONTEXT, "--model", directory, "--top", "3")
    assert code == 0 and stderr == "" and expected in stdout
    code, stdout, _ = run_streams("explain", "respond", CONTEXT, "--model", directory, "--json")
    explanation = json.loads(stdout)
    code_respond, response, _ = run_streams("respond", CONTEXT, "--model", directory)
    assert code == code_respond == 0 and explanation["response"] == response.rstrip("\n")
    if model == "ngram":
        total = math.fsum(row["log10_prob"] for row in explanation["tokens"])
        assert total == pytest.approx(explanation["sentence_log10"], abs=1e-9)
    else:
        total = math.fsum([explanation["intercept"], *(c for _, c in explanation["contributions"])])
        assert abs(total - explanation["score"]) < 1e-6


def test_lm(tmp_path_factory):
    directory = responder_dir(tmp_path_factory, "retrieval")
    code, stdout, _ = run_streams("explain", "lm", "多喝水，注意休息", "--model", directory)
    assert code == 0 and "perplexity" in stdout and "log10 p" in stdout
    code, stdout, _ = run_streams("explain", "lm", "多喝水，注意休息", "--model", directory, "--json")
    table = json.loads(stdout)
    assert code == 0 and table["arpa"] == "retrieval_ngram_lm.arpa" and len(table["tokens"]) == 10


@pytest.mark.parametrize("args, message", [
    (["route", "  ", "--model", "ROUTE"], "text: empty text (nothing to explain)"),
    (["route", TEXT, "--model", "ROUTE", "--label", "外星科"], "unknown label '外星科'"),
    (["recommend", TEXT, "--model", "ROUTE"], "this is a 'route' model, expected 'recommend'"),
    (["respond", TEXT, "--model", "ROUTE"], "this is a 'route' model, expected 'respond'"),
    (["respond", "病人：", "--model", "RESPOND"], "empty context"),
    (["lm", " ", "--model", "RESPOND"], "sentence: empty sentence"),
    (["route", TEXT, "--model", "NOWHERE"], "no such model directory"),
])
def test_errors_are_one_line_exit_2(tmp_path_factory, args, message):
    replace = {"ROUTE": classifier_dir(tmp_path_factory, "route", "svm-char"),
               "RESPOND": responder_dir(tmp_path_factory, "ngram"),
               "NOWHERE": tmp_path_factory.getbasetemp() / "no-model"}
    code, stdout, stderr = run_streams("explain", *[replace.get(a, a) for a in args])
    assert code == 2 and stdout == "" and stderr.count("\n") == 1 and message in stderr

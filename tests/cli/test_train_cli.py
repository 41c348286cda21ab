"""`rmd-baseline train route|recommend --scale/--memory-budget` through click's CliRunner."""

import json
import os

import pytest

from tests.classify.toy_corpus import write_toy_corpus

from .invoke import run_streams as run


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_toy_corpus(tmp_path_factory.mktemp("train-cli") / "toy.jsonl", per_doctor=15)


@pytest.mark.parametrize("args", [["--memory-budget", "4Q"], ["--memory-budget", "12"], ["--memory-budget", ""],
                                  ["--scale", "huge"], ["--scale", "stream", "--model", "svm-char"],
                                  ["--scale", "stream", "--cv", "3"]])
def test_bad_scale_options_exit_2_with_one_line(corpus, tmp_path, args):
    code, stdout, stderr = run("train", "route", "--data", corpus, "--out", tmp_path / "m", *args)
    assert code == 2 and stdout == "" and len(stderr.strip().splitlines()) == 1, stderr
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("task", ["route", "recommend"])
def test_stream_trains_evaluates_and_reports_stages(corpus, tmp_path, task):
    out = tmp_path / task
    code, stdout, stderr = run("train", task, "--data", corpus, "--scale", "stream", "--memory-budget", "256M",
                               "--out", out, "--json")
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["scale"] == "stream" and summary["memory_budget_bytes"] == 256 * 1024 ** 2
    assert {"scan", "split", "fit", "save"} <= {s["stage"] for s in summary["stages"]}
    assert all({"seconds", "cpu_seconds", "peak_rss_mib"} <= set(s) for s in summary["stages"])
    code, stdout, _ = run("evaluate", "model", out, "--json", "--max-test", "5")
    report = json.loads(stdout)
    assert code == 0 and report["n"] == 5 and report["max_test"] == 5 and report["stages"]
    code, stdout, _ = run("evaluate", "model", out)
    assert code == 0 and "--max-test" not in stdout
    code, stdout, _ = run("evaluate", "model", out, "--max-test", "3")
    assert code == 0 and "sample of 3 of the" in stdout
    assert run(task, "--model", out, "胸闷，心慌")[0] == 0
    assert run("explain", task, "--model", out, "胸闷，心慌")[0] == 0


@pytest.mark.parametrize("value", ["0", "-3", "x"])
def test_bad_max_test_exits_2_with_one_line(corpus, tmp_path, value):
    out = tmp_path / "m"
    assert run("train", "route", "--data", corpus, "--model", "cnb", "--out", out)[0] == 0
    code, stdout, stderr = run("evaluate", "model", out, "--max-test", value)
    assert code == 2 and len(stderr.strip().splitlines()) == 1


def test_auto_picks_memory_for_a_small_corpus(corpus, tmp_path):
    code, stdout, _ = run("train", "route", "--data", corpus, "--out", tmp_path / "m", "--json")
    summary = json.loads(stdout)
    assert code == 0 and summary["scale"] == "memory" and summary["stages"]
    code, stdout, _ = run("train", "route", "--data", corpus, "--out", tmp_path / "m2")
    assert code == 0 and "--scale memory" in stdout


def test_train_failing_leaves_no_parent_folder_behind(corpus, tmp_path, monkeypatch):
    """Fuzz F9: `train --out a/b/model` that fails (bad data, or interrupted while saving) leaves no folder."""
    from rmd_baselines import persist

    bad = tmp_path / "bad.jsonl"
    with open(corpus, encoding="utf-8") as source:
        bad.write_text(source.read() + "{oops\n", "utf-8")
    code, _, stderr = run("train", "route", "--data", bad, "--out", tmp_path / "a" / "b" / "m")
    assert code == 2 and stderr.count("\n") == 1 and sorted(os.listdir(tmp_path)) == ["bad.jsonl"]

    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(persist, "file_sha256", interrupted)
    code, _, _ = run("train", "route", "--data", corpus, "--out", tmp_path / "c" / "d" / "m")
    assert code == 130 and sorted(os.listdir(tmp_path)) == ["bad.jsonl"]

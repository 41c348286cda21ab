"""`reproduce`: the three tables for one corpus, skipped tasks with reasons, reproducible results.json."""

import errno
import json
import os

import pytest
from click.testing import CliRunner

from rmd_baselines import reproduce as reproduce_module
from rmd_baselines.cli.main import cli
from rmd_baselines.corpus import Dialogue, Turn, write_dialogues
from rmd_baselines.errors import RmdError
from rmd_baselines.reproduce import example_indices, reproduce
from tests.output_checks import folder_names, tree_bytes
from tests.respond.dialogue_fixtures import write_tiny_corpus


def test_all_three_tasks_with_signatures_and_intervals(small_reproduce_run):
    results = small_reproduce_run["results"]
    assert set(results["tasks"]) == {"respond", "route", "recommend"}
    assert all(task["status"] == "ok" for task in results["tasks"].values())
    route = results["tasks"]["route"]
    accuracy = route["scores"]["accuracy"]
    assert accuracy["ci"][0] <= accuracy["value"] <= accuracy["ci"][1]
    assert accuracy["signature"].startswith("classification|")
    assert sum(map(sum, route["confusion"]["matrix"])) == route["test_records"]
    respond = results["tasks"]["respond"]
    assert set(respond["systems"]) == {"retrieval", "ngram", "rerank"}
    for system in respond["systems"].values():
        assert system["paper"]["bleu4"]["signature"].startswith("paper|tok:char")
        assert system["dstc7"]["nist4"]["signature"].startswith("dstc7|tok:char")
        assert system["perplexity"]["value"] > 1
    assert len(respond["examples"]) == 6
    assert {"sha256", "records", "statistics"} <= set(results["data"])
    assert {"numpy", "scikit-learn", "kenlm", "lightgbm"} <= set(results["packages"])


def test_files_and_tables(small_reproduce_run):
    out = small_reproduce_run["out"]
    on_disk = json.loads((out / "results.json").read_text("utf-8"))
    assert on_disk["tasks"]["route"]["scores"] == small_reproduce_run["results"]["tasks"]["route"]["scores"]
    markdown = (out / "results.md").read_text("utf-8")
    for title in ("Table 4", "Table 5", "Table 6", "CPT*", "CDial-GPT*"):
        assert title in markdown
    assert (out / "models" / "route" / "manifest.json").is_file()


def test_same_seed_same_results_apart_from_timings(small_reproduce_run, tmp_path):
    again, _ = reproduce(str(small_reproduce_run["corpus"]), str(tmp_path / "again"), seed=0, n_boot=50,
                         save_models=False)
    first = (small_reproduce_run["out"] / "results.json").read_text("utf-8")
    second = (tmp_path / "again" / "results.json").read_text("utf-8")
    assert first.split('"timings"')[0] == second.split('"timings"')[0]


def test_tasks_a_corpus_cannot_serve_are_skipped_with_a_reason(tmp_path):
    corpus = [Dialogue(f"q{i}", (Turn("patient", f"头疼第{i}天怎么办"),), department=("神经内科", "内科")[i % 2])
              for i in range(40)]
    path = tmp_path / "single-turn.jsonl"
    write_dialogues(path, corpus)
    result = CliRunner().invoke(cli, ["reproduce", "--data", str(path), "--out", str(tmp_path / "o"),
                                      "--n-boot", "20", "--json"])
    assert result.exit_code == 0, result.stderr
    tasks = json.loads(result.stdout)["tasks"]
    assert tasks["route"]["status"] == "ok"
    assert tasks["recommend"]["status"] == "skipped" and "no record has a doctor" in tasks["recommend"]["reason"]
    assert tasks["respond"]["status"] == "skipped" and "multi-turn" in tasks["respond"]["reason"]


def test_a_task_with_an_empty_test_split_is_skipped_and_the_others_still_written(tmp_path):
    # Two records per doctor: the 4:1 split puts none of them in test.
    corpus = [Dialogue(f"d{i}", (Turn("patient", f"胃疼第{i}天"), Turn("doctor", "做个胃镜看看")),
                       department=("消化内科", "内科")[i % 2], doctor=f"医生{i // 2}") for i in range(40)]
    path = tmp_path / "two-per-doctor.jsonl"
    write_dialogues(path, corpus)
    result = CliRunner().invoke(cli, ["reproduce", "--data", str(path), "--out", str(tmp_path / "o"),
                                      "--n-boot", "20", "--no-models", "--json"])
    assert result.exit_code == 0, result.stderr
    tasks = json.loads(result.stdout)["tasks"]
    assert tasks["route"]["status"] == "ok"
    assert tasks["recommend"]["status"] == "skipped" and "test split is empty" in tasks["recommend"]["reason"]
    assert (tmp_path / "o" / "results.json").is_file()


def test_bad_data_is_exit_2(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("{not json\n", "utf-8")
    result = CliRunner().invoke(cli, ["reproduce", "--data", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "bad.jsonl:1: json" in result.stderr
    assert not (tmp_path / "o" / "results.json").exists()


def test_example_indices_spread_over_the_split():
    assert example_indices(100, 6) == [0, 20, 40, 59, 79, 99]
    assert example_indices(3, 6) == [0, 1, 2]


# ---- issue 13 D7 and "data is never lost": the output folder is replaced as a whole, or not at all ----

@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory):
    """A tiny corpus and an earlier reproduce run of it, with models."""
    base = tmp_path_factory.mktemp("earlier")
    corpus = write_tiny_corpus(base / "tiny.jsonl")
    reproduce(str(corpus), str(base / "run"), n_boot=10)
    return corpus, base / "run"


def copy_of(tmp_path, run):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(run, out)
    return out


def test_reproduce_replaces_an_earlier_run_as_a_whole(earlier_run, tmp_path):
    corpus, run = earlier_run
    out = copy_of(tmp_path, run)
    (out / "models" / "respond-old").mkdir()
    (out / "models" / "respond-old" / "manifest.json").write_text("{}")
    reproduce(str(corpus), str(out), n_boot=10, save_models=False)
    assert sorted(os.listdir(out)) == ["results.json", "results.md"]  # no stale models beside the new results
    assert folder_names(tmp_path) == ["run"]


@pytest.mark.parametrize("error, expected", [
    (RuntimeError("boom"), RuntimeError),
    (KeyboardInterrupt(), KeyboardInterrupt),
    (OSError(errno.ENOSPC, "No space left on device"), RmdError),  # named: "OUT: cannot write (No space ...)"
])
def test_a_failure_midway_leaves_the_earlier_run_intact(earlier_run, tmp_path, monkeypatch, error, expected):
    corpus, run = earlier_run
    out = copy_of(tmp_path, run)
    before = tree_bytes(out)

    def fail(*args, **kwargs):  # after the responders were trained and saved
        raise error

    monkeypatch.setattr(reproduce_module, "run_classification", fail)
    with pytest.raises(expected):
        reproduce(str(corpus), str(out), seed=1, n_boot=10)  # another seed: other models, were they written
    assert tree_bytes(out) == before
    assert folder_names(tmp_path) == ["run"]


def test_reproduce_cli_interrupted_is_130_and_keeps_the_earlier_run(earlier_run, tmp_path, monkeypatch):
    corpus, run = earlier_run
    out = copy_of(tmp_path, run)
    before = tree_bytes(out)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt()

    monkeypatch.setattr(reproduce_module, "run_classification", interrupt)
    result = CliRunner().invoke(cli, ["reproduce", "--data", str(corpus), "--out", str(out), "--n-boot", "10",
                                      "--seed", "1"])
    assert result.exit_code == 130 and result.stderr == "rmd-baseline: interrupted\n"
    assert tree_bytes(out) == before and folder_names(tmp_path) == ["run"]


def test_a_second_reproduce_on_the_same_out_fails_cleanly(earlier_run, tmp_path):
    corpus, run = earlier_run
    out = copy_of(tmp_path, run)
    before = tree_bytes(out)
    from rmd_baselines.corpus.writer import OutputLock

    lock = OutputLock(str(out))  # as a first run holds it while it works
    try:
        result = CliRunner().invoke(cli, ["reproduce", "--data", str(corpus), "--out", str(out), "--n-boot", "10"])
    finally:
        lock.release()
    assert result.exit_code == 2 and "another run is writing this output" in result.stderr
    assert result.stderr.count("\n") == 1
    assert tree_bytes(out) == before and folder_names(tmp_path) == ["run"]


def test_reproduce_refuses_a_folder_of_other_files(earlier_run, tmp_path):
    corpus, _ = earlier_run
    out = tmp_path / "notes"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    result = CliRunner().invoke(cli, ["reproduce", "--data", str(corpus), "--out", str(out), "--n-boot", "10"])
    assert result.exit_code == 2 and "not a reproduce results directory" in result.stderr
    assert folder_names(out) == ["mine.txt"]


def test_streamed_reproduce_holds_only_test_splits_and_samples_with_max_test(tmp_path):
    from tests.classify.toy_corpus import write_toy_corpus

    corpus = write_toy_corpus(tmp_path / "toy.jsonl", per_doctor=20)
    result = CliRunner().invoke(cli, ["reproduce", "--data", corpus, "--out", str(tmp_path / "o"), "--n-boot", "20",
                                      "--scale", "stream", "--max-test", "10", "--json"])
    assert result.exit_code == 0, result.stderr
    results = json.loads(result.stdout)
    assert results["scale"] == "stream" and results["max_test"] == 10 and results["data"]["records"] == 120
    for task in ("route", "recommend"):
        entry = results["tasks"][task]
        assert entry["status"] == "ok" and entry["scale"] == "stream"
        assert entry["scored_records"] == 10 < entry["test_records"]
        assert sum(map(sum, entry["confusion"]["matrix"])) == 10
        assert any("sample of 10" in note for note in entry["notes"])
    assert results["tasks"]["respond"]["status"] == "skipped"
    assert {s["stage"] for s in results["timings"]["stages"]} >= {"route: train", "scan", "fit"}
    assert (tmp_path / "o" / "models" / "route" / "manifest.json").is_file()
    memory = CliRunner().invoke(cli, ["reproduce", "--data", corpus, "--out", str(tmp_path / "m"), "--n-boot", "20",
                                      "--no-models", "--max-test", "10", "--json"])
    route = json.loads(memory.stdout)["tasks"]["route"]
    assert route["scale"] == "memory" and route["scored_records"] == 10


def test_bad_reproduce_scale_options_exit_2(tmp_path):
    for args in (["--memory-budget", "lots"], ["--max-test", "0"], ["--scale", "huge"]):
        result = CliRunner().invoke(cli, ["reproduce", "--out", str(tmp_path / "o"), *args])
        assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1


def test_reproduce_failing_leaves_no_parent_folder_behind(tmp_path):
    """Fuzz F9: `reproduce --out out/sub/deeper/x` on a bad corpus exits 2 and leaves no folder it created."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "turns": []}\n', "utf-8")
    result = CliRunner().invoke(cli, ["reproduce", "--data", str(bad), "--out", str(tmp_path / "out" / "sub" / "x")])
    assert result.exit_code == 2 and folder_names(tmp_path) == ["bad.jsonl"]


@pytest.mark.parametrize("args, message", [(["--data", ""], "--data: an empty path names no file"),
                                           (["--out", ""], "--out: an empty path names no folder")])
def test_reproduce_refuses_an_empty_path(tmp_path, monkeypatch, args, message):
    """Fuzz deep run: `reproduce --data ''` ran the whole bundled sample (as if --data were left out)."""
    def no_sample(*_):
        raise AssertionError("the bundled sample was used")

    monkeypatch.setattr(reproduce_module, "bundled_sample", no_sample)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["reproduce", *args])
    assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1
    assert folder_names(tmp_path) == []

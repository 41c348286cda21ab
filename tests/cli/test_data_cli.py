"""`rmd-baseline data …` through click's CliRunner: outputs, exit statuses, one-line errors."""

import json

import pytest

from tests.conftest import shared_corpus

from .invoke import run_streams as run

RECORD = {"id": "d1", "title": "胃疼", "department": "消化内科", "doctor": "甲",
          "diseases": [], "symptoms": [],
          "turns": [{"speaker": "patient", "text": "胃疼三天"}, {"speaker": "doctor", "text": "做胃镜"}]}


def corpus_file(tmp_path, n=20, departments=("消化内科", "皮肤科")):
    lines = []
    for i in range(n):
        dept = departments[i % len(departments)]
        record = {**RECORD, "id": f"d{i}", "department": dept, "doctor": f"{dept}医生{i % 4}"}
        record["turns"] = [{"speaker": "patient", "text": f"{dept}问题{i}"}, {"speaker": "doctor", "text": "回答"},
                           {"speaker": "patient", "text": "谢谢"}, {"speaker": "doctor", "text": f"不客气{i}"}]
        lines.append(json.dumps(record, ensure_ascii=False))
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


BAD_LINES = {
    "invalid_json": "{oops",
    "missing_field": json.dumps({k: v for k, v in RECORD.items() if k != "turns"}),
    "wrong_type": json.dumps({**RECORD, "title": 3}),
    "unknown_speaker": json.dumps({**RECORD, "turns": [{"speaker": "nurse", "text": "x"}]}),
    "empty_text": json.dumps({**RECORD, "turns": [{"speaker": "doctor", "text": ""}]}),
    "duplicate_id": json.dumps(RECORD),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
@pytest.mark.parametrize("command", ["validate", "stats", "split"])
def test_bad_record_exit_2_one_line_no_partial_output(tmp_path, case, command):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(RECORD) + "\n" + BAD_LINES[case] + "\n", "utf-8")
    out_dir = tmp_path / "split"
    extra = ["--task", "route", "--out", out_dir] if command == "split" else []
    code, stdout, stderr = run("data", command, path, *extra)
    assert code == 2
    assert stderr.count("\n") == 1 and f"{path}:2: " in stderr and "Traceback" not in stderr
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_invalid_utf8_exit_2(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(json.dumps(RECORD).encode() + b"\n\xff\xfe\n")
    code, _, stderr = run("data", "validate", path)
    assert code == 2 and "bad.jsonl:2: line: invalid UTF-8" in stderr


def test_validate_skip_invalid_counts(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(RECORD) + "\n{oops\n", "utf-8")
    code, stdout, stderr = run("data", "validate", path, "--skip-invalid")
    assert code == 2 and "1 invalid records skipped" in stdout
    code, stdout, _ = run("data", "validate", corpus_file(tmp_path))
    assert code == 0 and stdout.startswith("ok: ") and "20 valid records" in stdout


def test_stats_json_keys(tmp_path):
    code, stdout, _ = run("data", "stats", corpus_file(tmp_path), "--json")
    stats = json.loads(stdout)
    assert code == 0
    for key in ("dialogues", "utterances", "doctors", "departments", "utterances_mean", "utterances_median",
                "per_department", "duplicate_dialogues"):
        assert key in stats
    assert stats["dialogues"] == 20 and stats["departments"] == 2


def test_stats_with_task_reports_leakage(tmp_path):
    code, stdout, _ = run("data", "stats", corpus_file(tmp_path), "--task", "respond", "--json")
    assert code == 0 and json.loads(stdout)["leakage"]["task"] == "respond"


@pytest.mark.parametrize("task, parts", [("route", {"train", "test"}), ("respond", {"train", "valid", "test"})])
def test_split_writes_parts(tmp_path, task, parts):
    out = tmp_path / "out"
    code, stdout, _ = run("data", "split", corpus_file(tmp_path), "--task", task, "--out", out)
    assert code == 0, stdout
    for part in parts:
        assert (out / f"{part}.jsonl").is_file()
    summary = json.loads((out / "split.json").read_text("utf-8"))
    assert summary["settings"]["seed"] == 0
    if task == "respond":
        first = json.loads((out / "test.instances.jsonl").read_text("utf-8").splitlines()[0])
        assert {"context", "text", "dialogue_id"} <= set(first)


def test_split_replaces_an_earlier_split_as_a_whole(tmp_path):
    out = tmp_path / "out"
    assert run("data", "split", corpus_file(tmp_path), "--task", "respond", "--out", out)[0] == 0
    assert run("data", "split", corpus_file(tmp_path), "--task", "route", "--out", out)[0] == 0
    assert sorted(p.name for p in out.iterdir()) == ["split.json", "test.jsonl", "train.jsonl"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.jsonl", "out"]  # no temporary directory left


def test_split_refuses_a_folder_of_other_files_and_an_unusable_out(tmp_path):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "mine.txt").write_text("keep me", "utf-8")
    code, _, stderr = run("data", "split", corpus_file(tmp_path), "--task", "route", "--out", out)
    assert code == 2 and "not a split directory" in stderr and stderr.count("\n") == 1
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    code, _, stderr = run("data", "split", corpus_file(tmp_path), "--task", "route",
                          "--out", tmp_path / "corpus.jsonl" / "sub")
    assert code == 2 and "cannot create the output directory" in stderr


def test_split_singleton_label_under_min_count_1(tmp_path):
    path = corpus_file(tmp_path, n=9, departments=("甲", "乙", "丙", "甲", "乙", "丙", "甲", "乙", "丁"))
    code, _, stderr = run("data", "split", path, "--task", "route", "--min-count", "1", "--out", tmp_path / "o")
    assert code == 2 and "single record" in stderr and stderr.count("\n") == 1


def test_convert_and_usage_errors(tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("department,title,ask,answer\n内科,头疼,头疼怎么办,多休息\n", "utf-8")
    out = tmp_path / "t.jsonl"
    code, stdout, _ = run("data", "convert", src, out, "--from", "csv")
    assert code == 0 and "1 dialogues written" in stdout
    assert json.loads(out.read_text("utf-8"))["id"] == "t-0"
    code, _, stderr = run("data", "convert", src, out, "--from", "xml")
    assert code == 2 and stderr.count("\n") == 1
    code, _, stderr = run("data", "stats", tmp_path / "absent.jsonl")
    assert code == 2 and "no such file" in stderr


def test_unknown_command_is_one_line_exit_2():
    code, _, stderr = run("data", "bogus")
    assert code == 2 and stderr.count("\n") == 1


def test_omc100k_stats_as_documented():
    code, stdout, _ = run("data", "stats", shared_corpus("omc100k"), "--json")
    stats = json.loads(stdout)
    assert (stats["dialogues"], stats["departments"], stats["doctors"]) == (2936, 12, 352)


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf\n"])
def test_validate_an_empty_corpus_exits_2(tmp_path, content):
    """Issue 13 D13: an empty corpus (0 records) passed `data validate`."""
    path = tmp_path / "empty.jsonl"
    path.write_bytes(content)
    code, out, err = run("data", "validate", path)
    assert code == 2 and "no records" in err and len(err.strip().splitlines()) == 1 and "ok" not in out


def test_convert_names_a_big5_encoding(tmp_path):
    """Issue 13 D11 through the command line: auto refuses Big5 (exit 2, one line); --encoding big5 reads it."""
    src = tmp_path / "toy.csv"
    src.write_bytes("department,title,ask,answer\n兒科,發燒,孩子發燒兩天了，體溫三十八度五，應該怎麼辦？,建議去醫院檢查。\n"
                    .encode("big5"))
    code, _, err = run("data", "convert", src, tmp_path / "out.jsonl", "--from", "csv")
    assert code == 2 and "neither UTF-8 nor recognisably GB18030" in err and err.count("\n") == 1
    assert not (tmp_path / "out.jsonl").exists()
    code, out, err = run("data", "convert", src, tmp_path / "out.jsonl", "--from", "csv", "--encoding", "big5")
    assert code == 0 and "encoding big5" in out
    assert "孩子發燒兩天了" in (tmp_path / "out.jsonl").read_text("utf-8")


# ---- issue 13 "data is never lost": split --out and convert, failing midway ----

def _fail_on_call(monkeypatch, owner, name, number, error):
    real = getattr(owner, name)
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == number:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)


@pytest.mark.parametrize("error, code, message", [
    (KeyboardInterrupt(), 130, "rmd-baseline: interrupted\n"),
    (OSError(28, "No space left on device"), 1, "cannot write (No space left on device)"),
    (RuntimeError("boom"), 1, "internal error: RuntimeError: boom"),
])
def test_split_failing_midway_keeps_the_previous_split(tmp_path, monkeypatch, error, code, message):
    from rmd_baselines.tasks import export

    from ..output_checks import folder_names, tree_bytes

    corpus = corpus_file(tmp_path)
    out = tmp_path / "out"
    assert run("data", "split", corpus, "--task", "respond", "--out", out)[0] == 0
    before = tree_bytes(out)
    _fail_on_call(monkeypatch, export, "write_dialogues", 2, error)
    result = run("data", "split", corpus, "--task", "route", "--seed", "3", "--out", out)
    assert result[0] == code and message in result[2] and result[2].count("\n") == 1
    assert tree_bytes(out) == before and folder_names(tmp_path) == ["corpus.jsonl", "out"]


@pytest.mark.parametrize("error, code, message", [
    (KeyboardInterrupt(), 130, "rmd-baseline: interrupted\n"),
    (OSError(28, "No space left on device"), 1, "out.jsonl: cannot write (No space left on device)"),
])
def test_convert_failing_midway_keeps_the_previous_output(tmp_path, monkeypatch, error, code, message):
    from rmd_baselines.corpus import writer

    from ..output_checks import folder_names

    src = tmp_path / "toy.csv"
    src.write_text("department,title,ask,answer\n" + "".join(f"内科,t{i},问题{i},回答{i}\n" for i in range(5)), "utf-8")
    out = tmp_path / "out.jsonl"
    out.write_text("previous output\n", "utf-8")
    _fail_on_call(monkeypatch, writer, "json_text", 3, error)
    result = run("data", "convert", src, out, "--from", "csv")
    assert result[0] == code and message in result[2] and result[2].count("\n") == 1
    assert out.read_text("utf-8") == "previous output\n" and folder_names(tmp_path) == ["out.jsonl", "toy.csv"]


@pytest.mark.parametrize("args, message", [
    (["stats", "{corpus}", "--min-count", "3"], "--min-count is only used with --task"),
    (["stats", "{corpus}", "--seed", "3"], "--seed is only used with --task"),
    (["stats", "{corpus}", "--task", "respond", "--min-count", "3"], "--min-count is only used with --task route"),
    (["split", "{corpus}", "--task", "respond", "--view", "patient", "--out", "{tmp}/s"], "--view is only used"),
    (["split", "{corpus}", "--task", "respond", "--min-count", "2", "--out", "{tmp}/s"], "--min-count is only"),
])
def test_an_option_the_command_would_ignore_is_refused(tmp_path, args, message):
    """Issue 13: options that a command silently ignores are refused (exit 2, one line)."""
    corpus = corpus_file(tmp_path)
    code, out, err = run("data", *[a.format(corpus=corpus, tmp=tmp_path) for a in args])
    assert code == 2 and message in err and err.count("\n") == 1 and out == ""
    assert not (tmp_path / "s").exists()


def test_a_missing_choice_option_is_one_line(tmp_path):
    """Fuzz finding F1: click listed the choices of a missing option on several lines."""
    code, out, err = run("data", "split", corpus_file(tmp_path))
    assert code == 2 and err.count("\n") == 1 and "Missing option '--task'" in err and "route, recommend" in err


def test_validate_skip_invalid_lists_problems_on_stdout_and_fails_in_one_line(tmp_path):
    """Fuzz finding F5: the problems went to stderr, one line each, without the rmd-baseline: prefix."""
    path = tmp_path / "twobad.jsonl"
    path.write_text('{"id":"a","turns":[]}\nnot json\n', "utf-8")
    code, stdout, stderr = run("data", "validate", path, "--skip-invalid")
    assert code == 2 and stderr == f"rmd-baseline: error: {path}: 2 invalid records (listed above)\n"
    assert stdout.splitlines()[0].startswith(f"{path}:1: turns: ") and stdout.splitlines()[1].startswith(f"{path}:2: ")
    assert stdout.splitlines()[2] == f"invalid: {path}: 0 valid records, 2 invalid records skipped"


def test_split_shuffle_is_seeded_and_keeps_the_parts(tmp_path):
    from rmd_baselines.tasks.shuffle import shuffle_key

    source = corpus_file(tmp_path, n=40)

    def ids(out, part):
        return [json.loads(line)["id"] for line in (out / f"{part}.jsonl").read_text("utf-8").splitlines()]

    assert run("data", "split", source, "--task", "route", "--seed", "2", "--out", tmp_path / "plain")[0] == 0
    assert run("data", "split", source, "--task", "route", "--seed", "2", "--shuffle", "--out", tmp_path / "a")[0] == 0
    assert run("data", "split", source, "--task", "route", "--seed", "2", "--shuffle", "--out", tmp_path / "b")[0] == 0
    for part in ("train", "test"):
        plain, shuffled = ids(tmp_path / "plain", part), ids(tmp_path / "a", part)
        assert sorted(plain) == sorted(shuffled) and (tmp_path / "a" / f"{part}.jsonl").read_bytes() == (
            tmp_path / "b" / f"{part}.jsonl").read_bytes()
        assert shuffled == sorted(plain, key=lambda i: shuffle_key(i, 2))
    labels = [json.loads(line)["department"] for line in (tmp_path / "a" / "train.jsonl").read_text("utf-8").splitlines()]
    assert labels != sorted(labels)  # no longer grouped by label
    assert json.loads((tmp_path / "a" / "split.json").read_text("utf-8"))["order"].startswith("shuffled")
    code, _, stderr = run("data", "split", source, "--task", "respond", "--shuffle", "--out", tmp_path / "r")
    assert code == 2 and len(stderr.strip().splitlines()) == 1


def test_split_and_convert_failing_leave_no_parent_folder_behind(tmp_path, monkeypatch):
    """Fuzz F9: missing parents of --out are created by the run and removed again when it fails."""
    from rmd_baselines.corpus import writer
    from rmd_baselines.tasks import export

    from ..output_checks import folder_names

    corpus = corpus_file(tmp_path)
    _fail_on_call(monkeypatch, export, "write_dialogues", 2, KeyboardInterrupt())
    result = run("data", "split", corpus, "--task", "route", "--seed", "3", "--out", tmp_path / "a" / "b" / "out")
    assert result[0] == 130 and folder_names(tmp_path) == ["corpus.jsonl"]
    _fail_on_call(monkeypatch, writer, "json_text", 3, OSError(28, "No space left on device"))
    result = run("data", "convert", corpus, tmp_path / "c" / "d" / "out.jsonl", "--from", "json")
    assert result[0] != 0 and folder_names(tmp_path) == ["corpus.jsonl"]
    bad = tmp_path / "corpus.jsonl"
    bad.write_text(bad.read_text("utf-8") + "{oops\n", "utf-8")
    result = run("data", "split", bad, "--task", "route", "--out", tmp_path / "e" / "f" / "out")
    assert result[0] == 2 and folder_names(tmp_path) == ["corpus.jsonl"]


def test_skipped_records_are_a_warning_line_beside_the_one_error_line(tmp_path):
    # Deep fuzz run: `data stats --task recommend --skip-invalid` printed the skip report as a second plain line
    # before its one-line error.
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(RECORD) + "\n{oops\n", "utf-8")
    code, _, stderr = run("data", "stats", "--task", "recommend", "--skip-invalid", path)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 2
    assert lines[0].startswith("rmd-baseline: warning: ") and "1 invalid records skipped" in lines[0]
    assert lines[1].startswith("rmd-baseline: error: ")

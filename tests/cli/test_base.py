"""What every command shares (``cli/base.py``): one seed range everywhere, valid JSON whatever the numbers, a
one-line Ctrl-C message, and SIGTERM handled like Ctrl-C (issue 13: D3, D6, D16 and SIGTERM)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from rmd_baselines.cli.base import echo_json
from rmd_baselines.corpus.writer import json_text, write_json

from ..respond.dialogue_fixtures import write_tiny_corpus
from .invoke import run, run_streams


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_tiny_corpus(tmp_path_factory.mktemp("base") / "tiny.jsonl")


# ------------------------------------------------------------------------------------------------ D3: seeds

@pytest.mark.parametrize("seed", ["-1", str(2**32)])
@pytest.mark.parametrize("command", [
    ["train", "route", "--data", "{corpus}", "--out", "{tmp}/m"],
    ["train", "recommend", "--data", "{corpus}", "--out", "{tmp}/m"],
    ["data", "split", "{corpus}", "--task", "route", "--out", "{tmp}/s"],
    ["data", "synth", "--dialogues", "3", "--out", "{tmp}/s.jsonl"],
    ["reproduce", "--data", "{corpus}", "--out", "{tmp}/r", "--no-models", "--n-boot", "10"],
])
def test_a_seed_out_of_range_is_refused_alike_by_every_command(command, seed, corpus, tmp_path):
    args = [a.format(corpus=corpus, tmp=tmp_path) for a in command] + ["--seed", seed]
    code, out, err = run_streams(*args)
    assert code == 2, (out, err)
    assert "--seed" in err and "internal error" not in err and len(err.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == []


def test_the_largest_seed_is_accepted(tmp_path):
    code, out = run("data", "synth", "--dialogues", "3", "--seed", str(2**32 - 1), "--out", tmp_path / "s.jsonl")
    assert code == 0, out


# ------------------------------------------------------------------------------------------ D6: valid JSON

def test_json_text_replaces_non_finite_numbers_and_names_them():
    text = json_text({"a": 1.5, "b": {"ppl": float("inf")}, "c": [float("nan"), -float("inf")]})
    doc = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert doc["a"] == 1.5 and doc["b"]["ppl"] is None and doc["c"] == [None, None]
    assert set(doc["non_finite"]) == {"b.ppl", "c.0", "c.1"}
    assert doc["non_finite"]["b.ppl"].startswith("inf") and doc["non_finite"]["c.0"].startswith("nan")


def test_echo_json_and_write_json_never_print_infinity(capsys, tmp_path):
    echo_json({"perplexity": float("inf")})
    printed = capsys.readouterr().out
    assert "Infinity" not in printed and json.loads(printed)["perplexity"] is None
    write_json(tmp_path / "r.json", {"x": float("nan")})
    assert "NaN" not in (tmp_path / "r.json").read_text()


def test_evaluate_generate_json_with_an_infinite_perplexity_is_valid_json(tmp_path):
    (tmp_path / "h.txt").write_text("一 二 三\n四 五\n", encoding="utf-8")
    (tmp_path / "lp.jsonl").write_text("[-2000, -2000, -2000]\n[-1, -2]\n")
    code, out, err = run_streams("evaluate", "generate", "--hyp", tmp_path / "h.txt", "--ref", tmp_path / "h.txt",
                                 "--logprobs", tmp_path / "lp.jsonl", "--tokenize", "none", "--ci", "--n-boot", "20",
                                 "--json")
    assert code == 0, err
    doc = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert doc["dstc7"]["perplexity"] is None and "dstc7.perplexity" in doc["non_finite"]
    assert err == ""


# ------------------------------------------------------------------------------- D16 and SIGTERM: signals

def test_ctrl_c_is_one_line(capsys):
    from rmd_baselines.cli.main import RmdGroup

    group = RmdGroup("rmd-baseline")

    @group.command("boom")
    def boom():
        raise KeyboardInterrupt()

    assert group.main(["boom"], standalone_mode=False) == 130
    assert capsys.readouterr().err == "rmd-baseline: interrupted\n"


def _interrupt_synth(tmp_path, sig):
    """Start a long `data synth` over an existing output, send ``sig`` once it is writing, return (code, stderr)."""
    out = tmp_path / "corpus.jsonl"
    out.write_text("previous\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "rmd_baselines.cli.main", "data", "synth", "--dialogues", "500000", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]:
        assert process.poll() is None and time.monotonic() < deadline, "the command never started writing"
        time.sleep(0.05)
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    return process.returncode, err.decode("utf-8"), out


@pytest.mark.parametrize("sig, message", [(signal.SIGINT, "rmd-baseline: interrupted\n"),
                                          (signal.SIGTERM, "rmd-baseline: terminated (SIGTERM)\n")])
def test_a_signal_leaves_the_previous_output_and_no_temporary_file(tmp_path, sig, message):
    code, err, out = _interrupt_synth(tmp_path, sig)
    assert (code, err) == (130, message)
    assert out.read_text() == "previous\n"
    assert os.listdir(tmp_path) == ["corpus.jsonl"]


# ------------------------------------------------------------------------------ D5: arguments not UTF-8

@pytest.mark.parametrize("args", [
    ["route", "头疼\udcb2\udcbb", "--model", "{tmp}/m"],
    ["respond", "\udcff\udcfe", "--model", "{tmp}/m"],
    ["respond", "你好", "--department", "内科\udcff", "--model", "{tmp}/m"],
])
def test_an_argument_that_is_not_utf8_is_refused_naming_it(tmp_path, args):
    code, out, err = run_streams(*[a.format(tmp=tmp_path) for a in args])
    assert code == 2 and "is not valid UTF-8 text" in err and len(err.strip().splitlines()) == 1 and out == ""
    number = next(i for i, a in enumerate(args, 1) if "\udc00" <= max(a) <= "\udcff")
    assert f"argument {number} " in err


def test_bytes_on_the_real_command_line(tmp_path):
    result = subprocess.run([sys.executable.encode(), b"-m", b"rmd_baselines.cli.main", b"respond", b"\xff\xfe abc",
                             b"--model", os.fsencode(tmp_path / "m")], capture_output=True)
    assert result.returncode == 2 and result.stdout == b""
    assert result.stderr == b"rmd-baseline: error: argument 2 (\\xff\\xfe abc) is not valid UTF-8 text " \
                            b"(invalid byte at position 0)\n"


def test_an_existing_file_whose_name_is_not_utf8_is_accepted(tmp_path):
    path = os.path.join(os.fsencode(tmp_path), b"corpus-\xff.jsonl")
    with open(path, "wb") as handle:
        handle.write(b"")
    code, out, err = run_streams("data", "validate", os.fsdecode(path))
    assert code == 2 and "no records" in err  # read (and found empty), not refused as an argument


# ------------------------------------------------------------------ D15 and fuzz F2: library warnings

def _group_warning(message, category, fail=False):
    import warnings

    from rmd_baselines.cli.main import RmdGroup
    from rmd_baselines.errors import DataError

    group = RmdGroup("rmd-baseline")

    @group.command("warn")
    def warn():
        warnings.warn(message, category)
        warnings.warn(message, category)  # the same warning twice: one line
        if fail:
            raise DataError("bad data")

    return group


def test_a_library_warning_is_one_line_of_ours(capsys, monkeypatch):
    from rmd_baselines.cli.main import _DEBUG

    monkeypatch.setitem(_DEBUG, "on", False)
    group = _group_warning("The number of unique classes is greater than\n50% of the number of samples.", UserWarning)
    assert group.main(["warn"], standalone_mode=False) == 0
    assert capsys.readouterr().err == ("rmd-baseline: warning: The number of unique classes is greater than 50% of "
                                       "the number of samples.\n")
    group = _group_warning("ignored", UserWarning, fail=True)
    assert group.main(["warn"], standalone_mode=False) == 2
    assert capsys.readouterr().err == "rmd-baseline: error: bad data\n"  # a failure is its one line only


def test_a_group_without_a_command_prints_its_help_and_fails_in_one_line():
    code, out, err = run_streams("data")
    assert code == 2 and "Commands:" in out and "validate" in out
    assert err.count("\n") == 1 and err.startswith("rmd-baseline: error: '")  # (in-process the program is 'cli')
    assert err.endswith(" data' needs a command (listed above)\n")

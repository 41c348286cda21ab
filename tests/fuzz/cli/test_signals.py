"""Fuzz interruptions of the commands that write outputs (rmd_baselines/cli/: data split/convert/synth, train,
reproduce): Ctrl-C (SIGINT) or SIGTERM at a random moment of a real ``rmd-baseline`` process whose output folder
already holds an earlier output.

Invariants: exit status 130 (or that of the command when it finished first); one line on stderr on failure; after
an interruption or a failure the output folder holds exactly what it held before (the earlier output intact, no
temporary file); after a success no temporary file either. The process signals when it is about to enter the command line's ``main`` (a pipe of its
own, written from click's ``Command.main`` inside the toolkit's handlers), so that the signal never lands in
Python's start-up, which is not ours to handle.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ..support import fuzz, listing, run_cli

# Says "ready" from click's own Command.main, which the toolkit's group calls once its handlers are in place.
LAUNCHER = """
import os, sys
import click
from rmd_baselines.cli.main import cli
command_main = click.Command.main
def ready_then_main(self, *args, **kwargs):
    os.write(int(sys.argv[1]), b"ready"); os.close(int(sys.argv[1]))
    return command_main(self, *args, **kwargs)
click.Command.main = ready_then_main
cli.main(sys.argv[2:], prog_name="rmd-baseline")
"""


def commands(inputs):
    small, corpus = str(inputs["small.jsonl"]), str(inputs["corpus.jsonl"])
    return {
        "split": ["data", "split", corpus, "--task", "respond", "--out", "out/split"],
        "convert": ["data", "convert", str(inputs["records.json"]), "out/converted.jsonl", "--from", "json"],
        "synth": ["data", "synth", "--dialogues", "3000", "--seed", "1", "--out", "out/synth.jsonl.gz"],
        "train-route": ["train", "route", "--data", corpus, "--model", "logreg", "--out", "out/model"],
        "train-respond": ["train", "respond", "--data", corpus, "--model", "rerank", "--out", "out/model"],
        "reproduce": ["reproduce", "--data", small, "--out", "out/run", "--n-boot", "10", "--no-models"],
    }


EARLIER = {"split": "split", "convert": "converted.jsonl", "synth": "synth.jsonl.gz", "train-route": "model",
           "train-respond": "model", "reproduce": "run"}


@pytest.fixture(scope="session")
def earlier(inputs, tmp_path_factory) -> dict:
    """What an earlier run of each command leaves behind (made by the commands themselves, once per session)."""
    base = tmp_path_factory.mktemp("earlier-outputs")
    for argv in (["data", "split", inputs["small.jsonl"], "--task", "respond", "--out", base / "split"],
                 ["data", "convert", inputs["toyhom.csv"], base / "converted.jsonl", "--from", "csv"],
                 ["data", "synth", "--dialogues", "20", "--out", base / "synth.jsonl.gz"]):
        run = run_cli(["--quiet", *argv])
        assert run.code == 0, run.describe()
    return {"split": base / "split", "convert": base / "converted.jsonl", "synth": base / "synth.jsonl.gz",
            "train-route": inputs["model-route"], "train-respond": inputs["model-rerank"],
            "reproduce": inputs["results"]}


def _earlier_output(name: str, folder: Path, earlier: dict) -> None:
    target = folder / "out" / EARLIER[name]
    source = earlier[name]
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy(source, target)


def _run(argv, cwd, delay, signum):
    read_end, write_end = os.pipe()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(write_end), *argv], cwd=cwd,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(write_end,), env=env)
    os.close(write_end)
    try:
        os.read(read_end, 5)  # returns once the process is about to call main (or has died)
    finally:
        os.close(read_end)
    time.sleep(delay)
    if process.poll() is None:
        process.send_signal(signum)
    try:
        stdout, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        raise AssertionError(f"{argv}: still running 120 s after {signal.Signals(signum).name}") from None
    return process.returncode, stdout, stderr


@fuzz(4)
@given(st.sampled_from(sorted(EARLIER)), st.floats(0.0, 2.5), st.sampled_from([signal.SIGINT, signal.SIGTERM]),
       st.booleans())
def test_an_interrupted_command_leaves_the_earlier_output_intact(inputs, earlier, name, delay, signum, keep):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "out").mkdir()
        if keep:
            _earlier_output(name, folder, earlier)
        before = listing(folder / "out")
        argv = commands(inputs)[name]
        code, stdout, stderr = _run(argv, folder, delay, signum)
        what = f"{argv} after {delay:.2f} s {signal.Signals(signum).name}: exit {code}, stderr {stderr[-800:]!r}"
        if code == -signum:
            # killed by the signal: acceptable only once the command had finished and reported (the signal landed
            # in the interpreter's shutdown, after the toolkit's own handlers)
            assert stdout or stderr, f"{what}: killed before the command reported anything (signal not handled)"
        else:
            assert code in (0, 1, 2, 130), what
        err = stderr.decode("utf-8")
        stdout.decode("utf-8")
        assert "Traceback" not in err, what
        after = listing(folder / "out")
        if code in (1, 2, 130):
            lines = [line for line in err.splitlines() if line.strip() and ": warning:" not in line]
            assert len(lines) == 1 and lines[0].startswith("rmd-baseline: "), what
            assert after == before, f"{what}\nchanged: {sorted(set(after) ^ set(before))}"
        added = sorted(set(after) - set(before))
        temporary = [n for n in added if any(p.startswith(".") or ".old-" in p or p.endswith(".tmp")
                                             for p in Path(n).parts)]
        assert not temporary, f"{what}\ntemporary files left: {temporary}"

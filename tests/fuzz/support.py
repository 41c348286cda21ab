"""What every fuzz test shares: its example budget (`fuzz`), running the console entry point in-process on an argv
(`run_cli`) and the invariants every run must keep (`check_run`).

Budget. In CI (the default profile) each test draws a small, fixed number of examples from a fixed seed
(``derandomize``), so ``pytest tests/fuzz`` is deterministic and takes well under two minutes. Under the deep
profile (``--hypothesis-profile=long`` or ``RMD_FUZZ=long``) each test draws ``RMD_FUZZ_FACTOR`` (default 40)
times as many examples from a new random seed each run; hypothesis prints the seed and the minimal example of any
failure (rerun it with ``--hypothesis-seed=N``).
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, settings

EXIT_STATUSES = {0, 1, 2, 130}
# What Python's warnings module prints ("/path/x.py:323: UserWarning: ..."): our warnings are one line of ours.
PYTHON_WARNING = re.compile(r"\.py:\d+: \w*Warning: ")
PROG = "rmd-baseline"


def deep() -> bool:
    """True under the deep profile (``--hypothesis-profile=long`` or ``RMD_FUZZ=long``)."""
    getter = getattr(settings, "get_current_profile_name", None)
    name = getter() if getter else getattr(settings, "_current_profile", None)
    return name == "long" or os.environ.get("RMD_FUZZ", "").strip().lower() == "long"


def factor() -> int:
    return max(1, int(os.environ.get("RMD_FUZZ_FACTOR", "40")))


def fuzz(examples: int):
    """The settings of one fuzz test: ``examples`` from a fixed seed in CI, ``examples * factor()`` random ones
    in a deep run. No deadline (the 2-core CI machine is shared), no example database."""
    if deep():
        return settings(max_examples=examples * factor(), derandomize=False, deadline=None, database=None,
                        suppress_health_check=list(HealthCheck), print_blob=True)
    return settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


# ------------------------------------------------------------------------------------------------ strict JSON


def _no_constant(name):
    raise ValueError(f"not JSON: {name}")


def strict_json(text: str):
    """``json.loads`` that refuses ``NaN``/``Infinity``/``-Infinity`` (Python writes them; JSON has none)."""
    return json.loads(text, parse_constant=_no_constant)


def finite_json(obj) -> bool:
    """True when ``json.dumps(obj, allow_nan=False)`` succeeds, i.e. no NaN or infinity anywhere in ``obj``."""
    try:
        json.dumps(obj, allow_nan=False)
    except ValueError:
        return False
    return True


def check_comparisons(result) -> None:
    """The paired tests of a ``compare_*`` result: p-values in (0, 1], win rates in [0, 1], the difference is system
    minus baseline, each side is that system's own score, intervals are ordered."""
    scores = result["scores"]
    baseline_name = result["baseline"]
    for name, tests in result["comparisons"].items():
        flat = {}
        for key, value in tests.items():
            if isinstance(value, dict) and "difference" not in value:  # generation: {family: {metric: result}}
                flat.update({(key, metric): test for metric, test in value.items()})
            else:
                flat[(None, key)] = value
        for (family, metric), test in flat.items():
            where = (name, family, metric, test)
            for p in ("p_bootstrap", "p_randomization", "p_mcnemar"):
                if test.get(p) is not None:
                    assert 0 < test[p] <= 1, where
            if test.get("win_rate") is not None:
                assert 0 <= test["win_rate"] <= 1, where
            if None not in (test.get("baseline"), test.get("system"), test.get("difference")):
                assert math.isclose(test["difference"], test["system"] - test["baseline"], rel_tol=1e-9,
                                    abs_tol=1e-12), where
                own = scores[name][family] if family else scores[name]
                base = scores[baseline_name][family] if family else scores[baseline_name]
                if metric in own:
                    assert math.isclose(test["system"], own[metric], rel_tol=1e-9, abs_tol=1e-12), where
                    assert math.isclose(test["baseline"], base[metric], rel_tol=1e-9, abs_tol=1e-12), where
            ci = test.get("ci95")
            if ci and None not in ci:
                assert ci[0] <= ci[1] + 1e-12, where


# ------------------------------------------------------------------------------------------------ the CLI


@dataclass
class Run:
    argv: list
    code: int
    stdout: bytes
    stderr: bytes
    exception: BaseException | None
    leaked: list = field(default_factory=list)  # Python warnings the command let through to stderr

    def describe(self) -> str:
        return (f"argv={self.argv!r}\nexit={self.code}\nstdout={self.stdout[:2000]!r}\n"
                f"stderr={self.stderr[:2000]!r}\nexception={self.exception!r}\n"
                f"warnings={[f'{w.category.__name__}: {w.message}' for w in self.leaked]!r}")


class FuzzTimeout(BaseException):
    """A command ran past the fuzz suite's time limit (not an ``Exception``: no handler of the CLI catches it)."""


def _alarm(signum, frame):
    raise FuzzTimeout(f"the command did not finish within {TIME_LIMIT} s")


TIME_LIMIT = int(os.environ.get("RMD_FUZZ_TIME_LIMIT", "60"))


def run_cli(argv, stdin: bytes | None = None, cwd: str | os.PathLike | None = None) -> Run:
    """Run ``rmd-baseline ARGV`` in-process through the console entry point's own ``main`` (standalone mode, so
    its exit status is the ``SystemExit`` a shell would see), with stdin/stdout/stderr as bytes.

    ``argv`` items may be ``str`` or ``bytes``; bytes are turned into ``str`` the way Python builds ``sys.argv``
    (``os.fsdecode``: undecodable bytes become surrogate escapes). A run longer than ``TIME_LIMIT`` seconds
    (``RMD_FUZZ_TIME_LIMIT``, default 60) is stopped and reported as a failure instead of hanging the suite."""
    from click.testing import CliRunner

    from rmd_baselines import progress
    from rmd_baselines.cli import base
    from rmd_baselines.cli.main import cli

    args = [os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in argv]
    debug_before = base._DEBUG["on"]
    quiet_before = getattr(progress, "_QUIET", None)
    old_cwd = os.getcwd()
    previous = signal.signal(signal.SIGALRM, _alarm)
    timed_out = None
    try:
        if cwd is not None:
            os.chdir(cwd)
        signal.alarm(TIME_LIMIT)
        try:
            with warnings.catch_warnings(record=True) as leaked:
                # a terminal's defaults: what is not caught by the command itself reaches the user's stderr
                warnings.resetwarnings()
                warnings.simplefilter("always")
                for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
                    warnings.simplefilter("ignore", category)
                result = CliRunner().invoke(cli, args, input=stdin, prog_name=PROG)
        except FuzzTimeout as exc:
            timed_out = exc
        finally:
            signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, previous)
        os.chdir(old_cwd)
        base._DEBUG["on"] = debug_before  # --debug / --quiet are process-wide switches: undo them
        if quiet_before is not None:
            progress._QUIET = quiet_before
    if timed_out is not None:
        return Run(args, -1, b"", b"", timed_out)
    exception = result.exception
    code = result.exit_code
    if isinstance(exception, SystemExit):
        exception = None
    return Run(args, code, result.stdout_bytes, result.stderr_bytes, exception, list(leaked))


def listing(folder: str | os.PathLike) -> dict[str, tuple]:
    """Every entry under ``folder`` (recursively, symlinks not followed) with its type and size and mtime."""
    folder = Path(folder)
    if not folder.exists():
        return {}
    entries = {}
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            path = Path(root) / name
            st = path.lstat()
            entries[str(path.relative_to(folder))] = (st.st_mode, st.st_size if path.is_file() else 0,
                                                      st.st_mtime_ns if path.is_file() else 0)
    return entries


def check_run(run: Run, *, debug: bool = False, json_out: bool | None = None,
              out_dir: str | os.PathLike | None = None, before: dict | None = None) -> None:
    """The invariants of every command-line run.

    - the exit status is 0, 1, 2 or 130, and nothing but ``SystemExit`` left ``main``;
    - no traceback and no raw Python warning on stderr unless ``--debug`` (which shows both in full);
    - on failure, stderr holds exactly one line (besides ``warning:`` lines), ``rmd-baseline: …`` (a bare command
      group, ``rmd-baseline data``, prints its help on stdout);
    - stdout and stderr are valid UTF-8; with ``--json`` and success, stdout is one strict JSON document;
    - after a failure, ``out_dir`` holds exactly what it held before (``before``, from `listing`).
    """
    assert run.exception is None, f"an exception escaped the entry point\n{run.describe()}"
    assert run.code in EXIT_STATUSES, f"exit status {run.code}\n{run.describe()}"
    try:
        err = run.stderr.decode("utf-8")
    except UnicodeDecodeError:
        raise AssertionError(f"stderr is not valid UTF-8\n{run.describe()}") from None
    try:
        out = run.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise AssertionError(f"stdout is not valid UTF-8\n{run.describe()}") from None
    if not debug:
        assert "Traceback (most recent call last)" not in err, f"traceback without --debug\n{run.describe()}"
        assert "Traceback (most recent call last)" not in out, f"traceback on stdout\n{run.describe()}"
        # Under --debug a library's warning is shown in full (issue 13 D15: "the detail under --debug").
        assert not PYTHON_WARNING.search(err), f"a raw Python warning on stderr\n{run.describe()}"
    assert not run.leaked, f"a Python warning escaped the command line's handling\n{run.describe()}"
    if run.code != 0:
        lines = [line for line in err.splitlines() if line.strip()]
        if not debug:
            errors = [line for line in lines if not line.startswith(f"{PROG}: warning:")]
            assert len(errors) == 1, f"failure message is not one line\n{run.describe()}"
            assert errors[0].startswith(f"{PROG}: "), f"failure message not prefixed\n{run.describe()}"
        else:
            assert lines, f"failure without a message\n{run.describe()}"
    if json_out and run.code == 0 and not {"--help", "-h", "--version"} & set(run.argv):
        try:
            strict_json(out)
        except ValueError as exc:
            raise AssertionError(f"--json output is not JSON ({exc})\n{run.describe()}") from None
    if out_dir is not None and run.code != 0:
        after = listing(out_dir)
        assert after == (before or {}), (f"files left in the output folder after a failure: "
                                        f"{sorted(set(after) ^ set(before or {}))}\n{run.describe()}")


def check_outputs(folder: str | os.PathLike) -> None:
    """Every text output under ``folder`` is valid UTF-8 and every ``.json``/``.jsonl`` is strict JSON."""
    for path in Path(folder).rglob("*"):
        if not path.is_file() or path.suffix not in (".json", ".jsonl", ".md", ".html", ".txt", ".arpa"):
            continue
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise AssertionError(f"{path}: output is not valid UTF-8") from None
        try:
            if path.suffix == ".json":
                strict_json(text)
            elif path.suffix == ".jsonl":
                for line in text.splitlines():
                    if line.strip():
                        strict_json(line)
        except ValueError as exc:
            raise AssertionError(f"{path}: output is not strict JSON ({exc})") from None


__all__ = ["EXIT_STATUSES", "Run", "check_comparisons", "check_outputs", "check_run", "deep", "finite_json", "fuzz",
           "listing", "run_cli", "strict_json"]

"""Timing helpers shared by the benchmark scripts: the median of several runs on a noisy shared machine, and a child
process measured on its own (wall and CPU seconds, peak resident memory)."""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def median_time(function, runs: int) -> tuple[float, list[float], object]:
    """(median seconds, every run's seconds rounded to 0.1 ms, the last run's result)."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), [round(t, 4) for t in times], result


def run_child(command: list[str], cwd: str | os.PathLike = ROOT, stdout_path: str | os.PathLike | None = None) -> dict:
    """Run a child process to its end: its wall time, CPU time and peak RSS (its own rusage, via wait4) and its
    standard output (written to ``stdout_path`` when given, else returned). Output goes to files, never to pipes,
    so a child that prints a lot cannot block; a failing child stops the benchmark with its error."""
    with tempfile.TemporaryFile() as errors, \
            (open(stdout_path, "wb") if stdout_path else tempfile.TemporaryFile()) as output:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, stdout=output, stderr=errors)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{' '.join(map(str, command))} failed ({proc.returncode}): "
                             f"{errors.read().decode('utf-8', 'replace')}")
        stdout = ""
        if not stdout_path:
            output.seek(0)
            stdout = output.read().decode("utf-8")
    return {"wall_seconds": wall, "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "peak_rss_bytes": usage.ru_maxrss * 1024, "stdout": stdout}

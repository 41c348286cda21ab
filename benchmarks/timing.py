"""Timing helper shared by the benchmark scripts: the median of several runs on a noisy shared machine."""

from __future__ import annotations

import statistics
import time


def median_time(function, runs: int) -> tuple[float, list[float], object]:
    """(median seconds, every run's seconds rounded to 0.1 ms, the last run's result)."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), [round(t, 4) for t in times], result

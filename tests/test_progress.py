"""Stage records: what a command's --json summary reports per stage (seconds, CPU seconds, peak memory)."""

import pytest

from rmd_baselines import progress


def test_stages_are_recorded_in_order_with_time_and_memory():
    with progress.recording() as stages:
        with progress.stage("reading corpus", name="read"):
            blob = bytearray(8 * 1024 * 1024)  # 8 MiB touched, so the peak is at least that
        with progress.stage("fitting"):
            sum(range(200_000))
    del blob
    assert [s["stage"] for s in stages] == ["read", "fitting"]
    assert all(s["seconds"] >= 0 and s["cpu_seconds"] >= 0 for s in stages)
    assert stages[0]["peak_rss_mib"] >= 8 and stages[1]["peak_rss_mib"] >= stages[0]["peak_rss_mib"]


def test_a_failed_stage_is_not_recorded_and_nothing_is_recorded_outside_a_block():
    with progress.recording() as stages:
        with pytest.raises(ValueError):
            with progress.stage("bad"):
                raise ValueError("boom")
    with progress.stage("unrecorded"):
        pass
    assert stages == []

"""Bootstrap: seeded replicates, percentile intervals (paired tests: test_significance.py)."""

import numpy as np
import pytest

from rmd_baselines.errors import UsageError
from rmd_baselines.metrics import bootstrap
from rmd_baselines.metrics.bootstrap import bootstrap_ci, percentile_interval, resample_weights

REFS = [["多喝水，注意休息"], ["好的，明天复诊"], ["建议复查血常规"], ["发烧几天了？"], ["饮食清淡"], ["按时吃药"]]
GOOD = ["多喝水注意休息", "好的明天复诊", "建议复查血常规", "发烧几天了", "饮食清淡", "按时吃药"]


def test_replicates_are_seeded_multiplicities():
    first = [w.tolist() for w in resample_weights(5, 4, seed=7)]
    assert first == [w.tolist() for w in resample_weights(5, 4, seed=7)]
    assert first != [w.tolist() for w in resample_weights(5, 4, seed=8)]
    assert all(sum(w) == 5 for w in first)


def test_interval_of_a_mean():
    values = np.arange(10.0)
    ci = bootstrap_ci(lambda w: {"mean": float(w @ values / w.sum())}, 10, n_boot=400, seed=1)
    low, high = ci["mean"]
    assert low < 4.5 < high and high - low < 5
    assert percentile_interval([1.0, float("nan"), 3.0]) == (pytest.approx(1.05), pytest.approx(2.95))


def test_bad_arguments():
    with pytest.raises(UsageError):
        list(resample_weights(0, 3))
    with pytest.raises(UsageError, match="n_boot"):
        list(resample_weights(3, 0))
    with pytest.raises(UsageError, match="seed"):
        list(resample_weights(3, 2, seed=-1))


def test_chunked_replicates_are_the_row_by_row_draw(monkeypatch):
    monkeypatch.setattr(bootstrap, "_CHUNK_CELLS", 20)  # blocks of 4 replicates of 5 segments
    rows = [w.tolist() for w in resample_weights(5, 11, seed=3)]
    rng = np.random.default_rng(3)
    assert rows == [np.bincount(rng.integers(0, 5, size=5), minlength=5).tolist() for _ in range(11)]


def test_bias_shift_recentres_an_interval():
    values = np.arange(10.0)
    plain = bootstrap_ci(lambda w: {"m": float(w @ values / w.sum()) - 1.0}, 10, n_boot=200, seed=2)["m"]
    shifted = bootstrap_ci(lambda w: {"m": float(w @ values / w.sum()) - 1.0}, 10, n_boot=200, seed=2,
                           bias_shift={"m": 4.5})["m"]
    assert shifted[1] - shifted[0] == pytest.approx(plain[1] - plain[0])  # same width ...
    assert shifted[0] - plain[0] == pytest.approx(1.0, abs=0.3)  # ... moved by estimate - mean of replicates
    assert shifted[0] < 4.5 < shifted[1]


def test_diversity_intervals_contain_the_estimate():
    from rmd_baselines.metrics.generation import evaluate_generation

    report = evaluate_generation(GOOD * 3, REFS * 3, family="dstc7", ci=True, n_boot=80, seed=0)
    for key in ("entropy4", "dist1", "dist2"):
        low, high = report["dstc7"]["ci"][key]
        assert low <= report["dstc7"][key] <= high
    assert "bias-shifted" in report["dstc7"]["ci_method"]


def test_diversity_intervals_stay_inside_the_metric_range():
    from rmd_baselines.metrics.generation import evaluate_generation

    # Two one-character hypotheses: Dist-1 is 1, and the bias shift alone would push the interval above 1.
    report = evaluate_generation(["好", "嗯"], [["好的"], ["嗯嗯"]], family="both", ci=True, n_boot=50, seed=0)
    for family in ("paper", "dstc7"):
        for key in ("dist1", "dist2"):
            low, high = report[family]["ci"][key]
            assert 0.0 <= low <= high <= 1.0
        assert report[family]["ci"]["entropy4"][0] >= 0.0

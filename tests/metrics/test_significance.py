"""Paired tests: sacrebleu's draws and p-values on BLEU, the definitions, self comparison, McNemar by hand."""

import random

import numpy as np
import pytest

from rmd_baselines.errors import UsageError
from rmd_baselines.metrics import bootstrap, significance
from rmd_baselines.metrics.generation import GenerationStats, SystemStatistics


class MeanScore:
    """The smallest `significance.Comparable`: the mean of one number per segment."""

    def __init__(self, values):
        self.values = np.asarray(values, dtype=np.float64)
        self.n = len(self.values)

    def observed(self):
        return {"mean": float(self.values.mean())}

    def replicates(self, weights):
        return {"mean": weights @ self.values / weights.sum(axis=1)}

    def randomization(self, other):
        def pseudo(masks):
            taken = masks.astype(np.float64)
            first = taken @ self.values + (1 - taken) @ other.values
            second = taken @ other.values + (1 - taken) @ self.values
            return {"mean": first / self.n}, {"mean": second / self.n}
        return pseudo


def test_draws_are_sacrebleus_whatever_the_block_size(monkeypatch):
    monkeypatch.setattr(bootstrap, "_CHUNK_CELLS", 7 * 41)  # blocks of 7 replicate rows, 32 mask rows
    blocks = list(significance.randomization_masks(41, 100, seed=5))
    assert len(blocks) > 1
    assert np.array_equal(np.vstack(blocks), np.random.default_rng(5).integers(2, size=(100, 41), dtype=bool))
    weights = np.vstack(list(bootstrap.resample_weight_chunks(41, 30, seed=5)))
    draws = np.random.default_rng(5).choice(41, size=(30, 41), replace=True)
    assert np.array_equal(weights, np.array([np.bincount(row, minlength=41) for row in draws]))


def test_p_value_definitions_by_hand():
    # Replicate differences 0.1, 0.2, 0.3 (mean 0.2) and an observed difference of 0.05: |0.1 - 0.2| and
    # |0.3 - 0.2| reach 0.05, |0.2 - 0.2| does not, so p = (1 + 2) / (1 + 3).
    assert significance.bootstrap_p_value(np.array([0.1, 0.2, 0.3]), 0.05) == pytest.approx(0.75)
    assert significance.bootstrap_p_value(np.array([0.1, 0.2, 0.3]), 0.5) == pytest.approx(0.25)
    assert significance.mark([0.001, 0.02]) == "*"
    assert significance.mark([0.001, 0.009, None]) == "**"
    assert significance.mark([0.2, 0.001]) == ""


def test_a_system_against_itself_gets_p_1_and_no_difference():
    values = np.random.default_rng(0).random(30)
    tests = significance.paired_tests([MeanScore(values), MeanScore(values.copy())], n_boot=200, n_trials=300)
    (result,) = [comparison["mean"] for comparison in tests["comparisons"]]
    assert result["difference"] == 0 and result["ci95"] == [0.0, 0.0]
    assert result["p_bootstrap"] == 1.0 and result["p_randomization"] == 1.0 and result["significance"] == ""


def test_a_certain_difference_is_significant_and_seeded():
    low = np.random.default_rng(1).random(40)
    tests = significance.paired_tests([MeanScore(low), MeanScore(low + 2.0)], n_boot=300, n_trials=500, seed=3)
    result = tests["comparisons"][0]["mean"]
    # Every resample keeps the difference at 2 (up to rounding), so no centred resample comes near it; every
    # trial but the two identity swaps (chance 2 / 2^40) shrinks it.
    assert result["difference"] == pytest.approx(2.0) and result["win_rate"] == 1.0
    assert result["p_bootstrap"] == pytest.approx(1 / 301)
    assert result["p_randomization"] == pytest.approx(1 / 501)
    again = significance.paired_tests([MeanScore(low), MeanScore(low + 2.0)], n_boot=300, n_trials=500, seed=3)
    assert again["comparisons"] == tests["comparisons"]


def test_a_noisy_difference_is_not_significant():
    rng = np.random.default_rng(2)
    first, second = rng.normal(size=50), rng.normal(size=50)
    result = significance.paired_tests([MeanScore(first), MeanScore(second)], n_boot=500, n_trials=1000,
                                       seed=0)["comparisons"][0]["mean"]
    low, high = result["ci95"]
    assert low < result["difference"] < high
    # The randomization null is symmetric: its p-value is the share of trials at least as extreme, here large.
    assert result["p_randomization"] > 0.05 and result["significance"] == ""


def test_bad_settings_are_usage_errors():
    values = MeanScore([1.0, 2.0])
    with pytest.raises(UsageError, match="seed"):
        significance.paired_tests([values, values], seed=-1)
    with pytest.raises(UsageError, match="n_trials"):
        significance.paired_tests([values, values], n_trials=-5)
    with pytest.raises(UsageError, match="same number of segments"):
        significance.paired_tests([values, MeanScore([1.0])])


@pytest.mark.parametrize("first, second, expected", [
    ((1, 1, 1, 1, 1), (0, 0, 0, 0, 0), 2 / 32),  # b = 5, c = 0: 2 * (1/2)^5
    ((1, 0, 1, 1), (0, 1, 1, 1), 1.0),  # b = c = 1
    ((1,) * 10 + (0, 0, 1), (0,) * 10 + (1, 1, 1), 2 * (1 + 12 + 66) / 4096),  # b = 10, c = 2
    ((1, 0), (1, 0), 1.0),  # no discordant sample
])
def test_mcnemar_by_hand(first, second, expected):
    result = significance.mcnemar_exact(first, second)
    assert result["p_value"] == pytest.approx(expected, rel=1e-12)
    assert result["baseline_only"] == sum(a and not b for a, b in zip(first, second))


def test_mcnemar_equals_scipys_binomial_test():
    from scipy.stats import binomtest

    for discordant in (1, 7, 40, 333):
        for smaller in range(0, discordant // 2 + 1, max(1, discordant // 9)):
            ours = significance.binomial_two_sided(smaller, discordant)
            assert ours == pytest.approx(binomtest(smaller, discordant, 0.5).pvalue, rel=1e-9, abs=1e-300)


def _bleu_systems():
    """Forty space-tokenized segments: a reference, and two systems that each copy about half of it, so that
    neither p-value is at an extreme and agreement means the same resamples were scored the same way."""
    rng = random.Random(4)
    vocabulary = list("的是了我你在有不这个医生建议多喝水注意休息复查血常规发烧咳嗽")
    refs, base, close = [], [], []
    for _ in range(40):
        ref = [rng.choice(vocabulary) for _ in range(rng.randint(8, 20))]
        refs.append(ref)
        base.append(ref[: len(ref) // 2] + [rng.choice(vocabulary) for _ in range(5)])
        close.append(ref[: len(ref) // 2 + rng.choice((-1, 0, 1))] + [rng.choice(vocabulary) for _ in range(5)])
    return refs, base, close


def test_agrees_with_sacrebleu_paired_bs_and_ar_on_bleu(monkeypatch):
    pytest.importorskip("sacrebleu")
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import PairedTest, estimate_ci

    monkeypatch.delenv("SACREBLEU_SEED", raising=False)  # sacrebleu's default seed, 12345
    refs, base, close = _bleu_systems()
    joined = lambda segments: [" ".join(tokens) for tokens in segments]  # noqa: E731
    named = [("base", joined(base)), ("close", joined(close))]
    _, ar = PairedTest(named, {"BLEU": BLEU(tokenize="none")}, [joined(refs)], test_type="ar", n_samples=2000)()
    _, bs = PairedTest(named, {"BLEU": BLEU(tokenize="none")}, [joined(refs)], test_type="bs", n_samples=500)()
    systems = [SystemStatistics(GenerationStats(hyps, [[r] for r in refs], ("dstc7",), dstc7_normalize=False))
               for hyps in (base, close)]
    tests = significance.paired_tests(systems, n_boot=500, n_trials=2000, seed=12345)
    ours = tests["comparisons"][0]["dstc7.bleu4"]
    assert ours["system"] * 100 == pytest.approx(bs["BLEU"][1].score, abs=1e-9)
    # Approximate randomization: the same coin flips. Swaps that only trade segments with equal statistics leave
    # the difference exactly as observed: sacrebleu counts trials strictly beyond |δ|, we count those ties too.
    pseudo, observed = systems[0].randomization(systems[1]), abs(ours["difference"])
    beyond = ties = 0
    for masks in significance.randomization_masks(40, 2000, seed=12345):
        first, second = pseudo(masks)
        gaps = np.abs(first["dstc7.bleu4"] - second["dstc7.bleu4"])
        ties += int(np.sum(np.abs(gaps - observed) <= 1e-12))
        beyond += int(np.sum(gaps > observed + 1e-12))
    assert ties > 0
    assert ar["BLEU"][1].p_value == pytest.approx((1 + beyond) / 2001, abs=1e-15)
    assert ours["p_randomization"] == pytest.approx((1 + beyond + ties) / 2001, abs=1e-15)
    # Paired bootstrap: the same resamples, hence sacrebleu's mean and interval of the system's scores (it scores
    # resamples from float32 statistics: agreement to float32 precision), and its p-value (|d*| centred, counted
    # with >) computed from our replicate differences.
    replicates = [tests["replicates"][k]["dstc7.bleu4"] * 100 for k in (0, 1)]
    mean, half_width = estimate_ci(replicates[1])
    assert (mean, half_width) == pytest.approx((bs["BLEU"][1].mean, bs["BLEU"][1].ci), rel=1e-5)
    absolute = np.abs(replicates[1] - replicates[0])
    sacrebleu_p = (1 + np.sum(absolute - absolute.mean() > abs(ours["difference"] * 100))) / 501
    assert sacrebleu_p == pytest.approx(bs["BLEU"][1].p_value)
    assert 0.05 < ours["p_bootstrap"] < 0.95 and 0.05 < ours["p_randomization"] < 0.95
    # Ours is two-sided around the centred differences, sacrebleu's one tail of the absolute ones.
    assert ours["p_bootstrap"] != pytest.approx(sacrebleu_p)

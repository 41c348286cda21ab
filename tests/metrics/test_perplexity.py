"""Perplexity: both variants against perplexity.json, units, sign convention, errors."""

import math

import pytest

from rmd_baselines.errors import DataError, UsageError
from rmd_baselines.metrics.perplexity import perplexity, perplexity_from_logprobs
from rmd_baselines.metrics.score import Score
from tests.metrics import vectors

# Copied from ../shared/metrics-vectors/perplexity.json.
NLL = [[2.0, 3.0, 1.0], [4.0, 0.5], [1.5, 2.5, 3.5, 0.5, 1.0]]
TOKEN = 7.028687580589293
SAMPLE_MEAN = 7.642146466567374


@pytest.mark.parametrize("variant, expected", [("token", TOKEN), ("sample_mean", SAMPLE_MEAN)])
def test_embedded_variants(variant, expected):
    score = perplexity(NLL, variant=variant)
    assert isinstance(score, Score) and score.value == pytest.approx(expected, rel=1e-12)
    assert f"variant:{variant}" in score.signature


def test_shared_vector_file():
    data = vectors.load("perplexity")
    assert perplexity(data["per_token_nll"]).value == pytest.approx(data["token_weighted_exp_mean_nll"], rel=1e-12)
    key = "mean_of_per_sample_ppl (UCSD bertGPT/gpt2_ppl with batch_size=1)"
    assert perplexity(data["per_token_nll"], variant="sample_mean").value == pytest.approx(data[key], rel=1e-12)


@pytest.mark.parametrize("unit, scale", [("bit", math.log(2)), ("log10", math.log(10))])
def test_units(unit, scale):
    converted = [[v / scale for v in row] for row in NLL]
    assert perplexity(converted, unit=unit).value == pytest.approx(TOKEN, rel=1e-12)


def test_logprobs_are_negated_and_empty_samples_skipped():
    logprobs = [[-v for v in row] for row in NLL] + [[]]
    assert perplexity_from_logprobs(logprobs).value == pytest.approx(TOKEN, rel=1e-12)
    assert perplexity_from_logprobs(logprobs, variant="sample_mean").value == pytest.approx(SAMPLE_MEAN, rel=1e-12)


@pytest.mark.parametrize("call, error", [
    (lambda: perplexity([[-1.0]]), DataError),
    (lambda: perplexity([[float("nan")]]), DataError),
    (lambda: perplexity([[]]), DataError),
    (lambda: perplexity_from_logprobs([[0.5]]), DataError),
    (lambda: perplexity([[1.0]], unit="dB"), UsageError),
    (lambda: perplexity([[1.0]], variant="mean"), UsageError),
])
def test_bad_input(call, error):
    with pytest.raises(error):
        call()

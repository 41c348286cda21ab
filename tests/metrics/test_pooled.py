"""Pooled n-gram counts under many weightings: equal to pooling the counts directly, for bootstrap and swaps."""

import random
from collections import Counter

import numpy as np
import pytest

from rmd_baselines.metrics.dist import dist_from_counts
from rmd_baselines.metrics.entropy import entropy_from_counts
from rmd_baselines.metrics.ngrams import ngrams
from rmd_baselines.metrics.pooled import PooledCounts, WeightBlock, dist, entropy, ngram_rows


def _corpus(seed, n=25, vocabulary="好的多喝水注意休息"):
    rng = random.Random(seed)
    return [[rng.choice(vocabulary) for _ in range(rng.randint(0, 9))] for _ in range(n)]


def _direct(segments, weights, order):
    pool = Counter()
    for tokens, weight in zip(segments, weights):
        for gram, count in Counter(ngrams(tokens, order)).items():
            pool[gram] += count * weight
    return entropy_from_counts(pool.values()), dist_from_counts(pool.values()), sum(pool.values())


def _values(result, row):
    return (entropy(result["total"][row:row + 1], result["xlogx"][row:row + 1])[0],
            dist(result["total"][row:row + 1], result["distinct"][row:row + 1])[0], result["total"][row])


def test_ngram_rows_share_columns_and_stay_inside_segments():
    first, second = ngram_rows([[["a", "b"], ["b", "c"]], [["b", "c", "a", "b"]]], 2)
    assert first.shape == (2, 3) and second.shape == (1, 3)  # ab, bc, ca; no "bb" across the two segments
    assert first.sum() == 2 and second.sum() == 3
    # "ab" (segment 0 of the first) and "bc" (segment 1) each share one column with the second system's "bcab".
    assert (first.toarray() @ second.toarray()[0]).tolist() == [1.0, 1.0]


@pytest.mark.parametrize("order", [1, 2, 4])
def test_bootstrap_weights_equal_direct_pooling(order):
    segments = _corpus(order)
    pools = PooledCounts(ngram_rows([segments], order)[0])
    weights = np.random.default_rng(order).multinomial(len(segments), [1 / len(segments)] * len(segments), size=15)
    (result,) = pools.evaluate(weights)
    for row, multiplicities in enumerate(weights):
        assert _values(result, row) == pytest.approx(_direct(segments, multiplicities, order), abs=1e-12)


@pytest.mark.parametrize("order", [1, 2, 4])
def test_swaps_and_their_mirror_equal_direct_pooling(order):
    first, second = _corpus(10 + order), _corpus(20 + order)
    second[3] = first[3]  # a segment both systems answer alike cancels out of the difference
    mine, theirs = ngram_rows([first, second], order)
    pooled_mine, pooled_theirs = np.asarray(mine.sum(axis=0)).ravel(), np.asarray(theirs.sum(axis=0)).ravel()
    pools = PooledCounts(mine - theirs, pooled_theirs, pooled_mine + pooled_theirs, max_weight=1)
    masks = np.random.default_rng(order).integers(2, size=(15, len(first)), dtype=bool)
    taken, other = pools.evaluate(WeightBlock(masks))
    for row, mask in enumerate(masks):
        swapped = [a if keep else b for a, b, keep in zip(first, second, mask)]
        mirrored = [b if keep else a for a, b, keep in zip(first, second, mask)]
        ones = [1] * len(first)
        assert _values(taken, row) == pytest.approx(_direct(swapped, ones, order), abs=1e-12)
        assert _values(other, row) == pytest.approx(_direct(mirrored, ones, order), abs=1e-12)


def test_empty_pool_scores_zero():
    pools = PooledCounts(ngram_rows([[["好"], []]], 2)[0])
    (result,) = pools.evaluate(np.array([[1, 1], [0, 2]]))
    assert result["total"].tolist() == [0.0, 0.0]
    assert entropy(result["total"], result["xlogx"]).tolist() == [0.0, 0.0]
    assert dist(result["total"], result["distinct"]).tolist() == [0.0, 0.0]

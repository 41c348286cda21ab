"""Dist-n: golden values, corpus ratio (not a mean of sentence ratios), empty pools."""

import numpy as np
import pytest

from rmd_baselines.metrics.dist import dist, dist_from_array
from rmd_baselines.metrics.ngrams import PooledNgrams

# Copied from ../shared/metrics-vectors/zh_char_edge.json (DSTC7 Dist-1, Dist-2).
EDGE_HYPS = ["多 喝 水 注 意 休 息", "好 的", "嗯", "今 天 天 气 晴 朗", "好 好 好 好 好 好", ""]


@pytest.mark.parametrize("order, expected", [(1, 0.6818181818181818), (2, 0.7647058823529411)])
def test_embedded_zh_char_edge(order, expected):
    assert dist([h.split() for h in EDGE_HYPS], order) == pytest.approx(expected, abs=1e-12)


def test_corpus_ratio_not_sentence_mean():
    # pool: a b a c -> 3 distinct of 4; the mean of sentence ratios would be 1.0
    assert dist([["a", "b"], ["a", "c"]], 1) == 0.75


def test_empty_pool_is_zero():
    assert dist([["a"], ["b"]], 2) == 0.0
    assert dist_from_array(np.zeros(3)) == 0.0


def test_weighted_counts_duplicate_segments():
    pool = PooledNgrams([["a", "b"], ["a", "c"]], (1,))
    assert dist_from_array(pool.weighted_counts(1, np.array([2.0, 0.0]))) == 0.5

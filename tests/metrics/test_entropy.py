"""Entropy-n: golden values (DSTC7 arithmetic), empty pools, the numpy path."""

import math

import numpy as np
import pytest

from rmd_baselines.metrics.entropy import entropy, entropy_from_array, entropy_from_counts
from rmd_baselines.metrics.ngrams import PooledNgrams

# Copied from ../shared/metrics-vectors/zh_char_edge.json (DSTC7 calc_entropy, orders 1-4).
EDGE_HYPS = ["多 喝 水 注 意 休 息", "好 的", "嗯", "今 天 天 气 晴 朗", "好 好 好 好 好 好", ""]
EDGE_ENTROPY = [2.4088758440625395, 2.3598492521638343, 2.1383972463477248, 1.9730014063936128]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_embedded_zh_char_edge(order):
    hyps = [h.split() for h in EDGE_HYPS]
    assert entropy(hyps, order) == pytest.approx(EDGE_ENTROPY[order - 1], abs=1e-12)


def test_natural_log_and_empty_pool():
    assert entropy([["a", "b"]], 1) == pytest.approx(math.log(2))
    assert entropy([["a"], []], 2) == 0.0
    assert entropy_from_counts([]) == 0.0


def test_numpy_path_matches():
    hyps = [h.split() for h in EDGE_HYPS]
    pool = PooledNgrams(hyps, (4,))
    assert entropy_from_array(pool.weighted_counts(4, np.ones(len(hyps)))) == pytest.approx(EDGE_ENTROPY[3], abs=1e-12)

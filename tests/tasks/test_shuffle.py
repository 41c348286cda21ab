"""Tests of rmd_baselines/tasks/shuffle.py: seeded, order-independent, bounded-memory shuffles."""

import numpy as np
import scipy.sparse as sp

from rmd_baselines.tasks.shuffle import SparseRowBuckets, shuffle_key, shuffled


def test_shuffled_is_seeded_and_ignores_the_input_order():
    records = [f"id-{i}" for i in range(500)]
    once = shuffled(records, lambda r: r, seed=3)
    assert sorted(once) == sorted(records) and once != records
    assert shuffled(records[::-1], lambda r: r, seed=3) == once
    assert shuffled(records, lambda r: r, seed=4) != once
    assert shuffle_key("a", 0) == shuffle_key("a", 0) != shuffle_key("a", 1)


def bucket_rows(order, seed=0, n_buckets=8):
    n = 1000
    matrix = sp.csr_matrix(np.arange(n, dtype=np.float32)[:, None] + 1)
    labels = (np.arange(n) // 100).astype(np.int32)  # grouped by label, as split files are
    keys = np.array([shuffle_key(str(i), seed) for i in range(n)], dtype=np.uint64)
    with SparseRowBuckets(1, n_buckets=n_buckets, seed=seed, buffer_entries=300) as buckets:
        for start in range(0, n, 128):
            rows = order[start:start + 128]
            buckets.add(keys[rows], matrix[rows], labels[rows])
        epochs = []
        for epoch in range(2):
            seen = []
            for rows, row_labels in buckets.epoch(epoch):
                values = rows.toarray()[:, 0].astype(int) - 1
                assert np.array_equal(row_labels, values // 100)
                seen.extend(values.tolist())
            epochs.append(seen)
        return epochs, buckets.max_rows_held


def test_bucket_shuffle_is_seeded_bounded_and_order_independent():
    order = np.arange(1000)
    (first, second), held = bucket_rows(order)
    assert sorted(first) == list(range(1000)) and sorted(second) == list(range(1000))
    assert first != second  # each pass has its own order
    assert held < 250  # one bucket of about 1000 / 8 rows at a time, never the whole set
    labels = np.array(first[:100]) // 100
    assert len(set(labels.tolist())) >= 8  # the first hundred rows mix the label groups
    again, _ = bucket_rows(np.random.default_rng(5).permutation(1000))
    assert again == [first, second]
    other, _ = bucket_rows(order, seed=1)
    assert other[0] != first

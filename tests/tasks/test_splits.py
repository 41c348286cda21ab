"""The protocol's hash-ordered, per-group splits (benchmark-protocol.md section 1)."""

import hashlib
from collections import Counter

import pytest

from rmd_baselines.corpus import load_dialogues
from rmd_baselines.tasks import (
    ClassificationSettings,
    build_classification_task,
    classification_split,
    generation_split,
    order_key,
    round_half_up,
)
from tests.conftest import shared_corpus


@pytest.mark.parametrize("x, expected", [(0.5, 1), (1.5, 2), (2.5, 3), (2.4, 2), (0.2, 0), (58.6, 59)])
def test_round_half_up_is_not_bankers_rounding(x, expected):
    assert round_half_up(x) == expected


def test_order_key_is_sha256_of_seed_and_id():
    assert order_key("omc100k-1", 0) == hashlib.sha256(b"0:omc100k-1").hexdigest()
    assert order_key("omc100k-1", 1) != order_key("omc100k-1", 0)


def records(label_sizes):
    return [(f"{label}-{i}", label) for label, n in label_sizes.items() for i in range(n)]


@pytest.mark.parametrize("n, n_test", [(1, 0), (2, 0), (3, 1), (7, 1), (8, 2), (12, 2), (13, 3), (424, 85)])
def test_classification_test_size_per_group(n, n_test):
    split = classification_split(records({"a": n}), lambda r: r[1], lambda r: r[0])
    assert len(split.test) == n_test and len(split.train) == n - n_test


@pytest.mark.parametrize("n, n_test", [(4, 0), (5, 1), (15, 2), (26, 3), (110, 11)])
def test_generation_split_8_1_1(n, n_test):
    split = generation_split(records({"a": n}), lambda r: r[1], lambda r: r[0])
    assert len(split.test) == n_test and len(split.valid) == n_test and len(split.train) == n - 2 * n_test


def test_groups_in_label_order_unlabelled_first_each_in_key_order():
    data = records({"b": 6, "a": 6}) + [(f"none-{i}", None) for i in range(6)]
    split = generation_split(data, lambda r: r[1], lambda r: r[0], seed=3)
    labels = [r[1] for r in split.train]
    assert labels == sorted(labels, key=lambda l: (l is not None, l or ""))
    for label in (None, "a", "b"):
        group = [r[0] for r in split.train if r[1] == label]
        assert group == sorted(group, key=lambda i: order_key(i, 3))
    test_ids = [r[0] for r in split.test]
    first = {label: min((r for r in data if r[1] == label), key=lambda r: order_key(r[0], 3))[0]
             for label in (None, "a", "b")}
    assert test_ids == [first[None], first["a"], first["b"]]


def test_seed_changes_membership_not_sizes():
    data = records({"a": 50})
    one = classification_split(data, lambda r: r[1], lambda r: r[0], seed=0)
    two = classification_split(data, lambda r: r[1], lambda r: r[0], seed=1)
    assert len(one.test) == len(two.test) == 10 and one.test != two.test


def test_route_omc100k_has_10_classes_and_rounded_test_sizes():
    dialogues, _ = load_dialogues(shared_corpus("omc100k"))
    data = build_classification_task(dialogues, ClassificationSettings("route", min_count=10))
    assert len(data.labels) == 10
    sizes = Counter(d.department for d in data.train + data.test)
    assert sum(sizes.values()) == 2930
    test_sizes = Counter(data.test_labels)
    assert all(test_sizes[label] == int(n / 5 + 0.5) for label, n in sizes.items())


def test_recommend_omc100k_has_57_doctors():
    dialogues, _ = load_dialogues(shared_corpus("omc100k"))
    data = build_classification_task(dialogues, ClassificationSettings("recommend", min_count=15))
    assert len(data.labels) == 57 and len(data.train) + len(data.test) == 1510


def test_sample_by_order_key_is_seeded_keeps_order_and_ignores_input_order():
    from rmd_baselines.tasks.splits import sample_by_order_key

    records = [f"id-{i}" for i in range(500)]
    sample = sample_by_order_key(records, 50, lambda r: r, seed=4)
    assert len(sample) == 50 and sample == [r for r in records if r in set(sample)]
    assert set(sample_by_order_key(records[::-1], 50, lambda r: r, seed=4)) == set(sample)
    assert set(sample_by_order_key(records, 50, lambda r: r, seed=5)) != set(sample)
    assert sample_by_order_key(records, None, lambda r: r) == records
    assert sample_by_order_key(records, 10_000, lambda r: r) == records

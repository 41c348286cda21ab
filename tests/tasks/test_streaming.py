"""The streamed split equals the in-memory split (same ids in every part, same protocol order), for classification
and generation, on the bundled sample, a small synthetic corpus and the real corpora when present."""

import gzip
import json

import numpy as np
import pytest

from rmd_baselines.corpus import load_dialogues
from rmd_baselines.corpus.reader import read_numbered_dialogues
from rmd_baselines.corpus.synth import write_synthetic_corpus
from rmd_baselines.errors import DataError, RmdError
from rmd_baselines.tasks.classification import ClassificationSettings, build_classification_task, label_of
from rmd_baselines.tasks.generation import GenerationSettings, build_generation_task
from rmd_baselines.tasks.splits import order_key
from rmd_baselines.tasks.streaming import (DROPPED, TEST, TRAIN, assign_parts, order_key_prefix, protocol_order,
                                           scan_corpus, split_scan)
from tests.conftest import SAMPLE, SHARED_DATA


def department(d):
    return d.department if d.department and d.department.strip() else None


def corpora():
    out = [pytest.param(SAMPLE, id="sample")]
    for name in ("omc100k", "toyhom_im", "covid_zh", "imcs_v2_dev"):
        path = SHARED_DATA / name / "dialogues.jsonl"
        out.append(pytest.param(path, id=name, marks=pytest.mark.skipif(not path.is_file(),
                                                                      reason=f"shared corpus {name} not found")))
    return out


def ids_by_line(path):
    return {number: d.id for number, d in read_numbered_dialogues(path)}


@pytest.mark.parametrize("path", corpora())
@pytest.mark.parametrize("task,min_count,seed", [("route", 2, 0), ("recommend", 15, 0), ("route", 10, 7)])
def test_streamed_classification_split_equals_the_in_memory_split(path, task, min_count, seed):
    dialogues, _ = load_dialogues(path)
    settings = ClassificationSettings(task=task, min_count=min_count, seed=seed)
    try:
        data = build_classification_task(dialogues, settings)
    except DataError as exc:  # a corpus without this label: nothing to compare
        pytest.skip(f"in-memory split refused: {exc}")
    field = settings.label_field
    scan = scan_corpus(path, lambda d: label_of(d, field), seed)
    split = split_scan(scan, test_fraction=1 / 5, drop_unlabelled=True, min_count=min_count)
    ids = ids_by_line(path)
    for part in ("train", "test"):
        expected = [d.id for d in getattr(data, part)]
        assert [ids[n] for n in split.protocol_order(part)] == expected
        assert [d.id for d in split.iter_part(part)] == [d.id for d in dialogues if d.id in set(expected)]
    assert split.dropped_rare == data.dropped_rare


@pytest.mark.parametrize("path", corpora())
@pytest.mark.parametrize("seed", [0, 3])
def test_streamed_generation_split_equals_the_in_memory_split(path, seed):
    dialogues, _ = load_dialogues(path)
    try:
        data = build_generation_task(dialogues, GenerationSettings(seed=seed))
    except DataError as exc:  # no multi-turn dialogues: nothing to compare
        pytest.skip(f"in-memory split refused: {exc}")
    split = split_scan(scan_corpus(path, department, seed), test_fraction=1 / 10, valid_fraction=1 / 10)
    ids = ids_by_line(path)
    for part in ("train", "valid", "test"):
        assert [ids[n] for n in split.protocol_order(part)] == [d.id for d in getattr(data.dialogues, part)]
    assert split.count("train") + split.count("valid") + split.count("test") == len(dialogues)


def test_the_128_bit_prefix_orders_like_the_hex_digest():
    ids = [f"rec-{i}" for i in range(2000)]
    by_prefix = sorted(ids, key=lambda i: order_key_prefix(i, 5))
    assert by_prefix == sorted(ids, key=lambda i: order_key(i, 5))


def test_parts_follow_the_rounding_rule_per_group():
    # Groups of 1, 2, 3 and 7 records: r(n/5) = 0, 0, 1, 1 test records; r(n/10) = 0, 0, 0, 1 valid.
    codes = np.repeat(np.arange(4, dtype=np.int32), [1, 2, 3, 7])
    rng = np.random.default_rng(0)
    hi = rng.integers(0, 2**63, size=len(codes), dtype=np.uint64)
    lo = rng.integers(0, 2**63, size=len(codes), dtype=np.uint64)
    parts = assign_parts(codes, hi, lo, test_fraction=1 / 5)
    assert [int((parts[codes == g] == TEST).sum()) for g in range(4)] == [0, 0, 1, 1]
    keep = codes != 1
    parts = assign_parts(codes, hi, lo, test_fraction=1 / 5, keep=keep)
    assert (parts[codes == 1] == DROPPED).all() and (parts[codes == 0] == TRAIN).all()


def test_a_shared_key_prefix_inside_a_group_is_refused():
    codes = np.zeros(3, dtype=np.int32)
    hi = np.array([5, 5, 9], dtype=np.uint64)
    lo = np.array([1, 1, 2], dtype=np.uint64)
    with pytest.raises(RmdError, match="128 bits"):
        protocol_order(codes, hi, lo)
    assert protocol_order(np.array([0, 1, 0], dtype=np.int32), hi, lo).tolist() == [0, 2, 1]


def test_scan_keeps_line_numbers_and_skips_invalid_records(tmp_path):
    corpus = tmp_path / "c.jsonl.gz"
    write_synthetic_corpus(corpus, 60, seed=1)
    with gzip.open(corpus, "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    lines.insert(5, "{not json")
    lines.insert(9, "")
    messy = tmp_path / "messy.jsonl"
    messy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    scan = scan_corpus(messy, department, 0, skip_invalid=True)
    assert len(scan) == 60 and scan.report.skipped == 1
    assert 6 not in scan.lines.tolist() and 10 not in scan.lines.tolist()
    split = split_scan(scan, 1 / 10, 1 / 10)
    train = list(split.iter_part("train"))
    assert [json.loads(lines[n - 1])["id"] for n in split.part_lines("train")] == [d.id for d in train]

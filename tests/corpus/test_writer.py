"""Atomic writers: a failure part-way leaves no partial file and the old file untouched."""

import gzip
import os

import pytest

from rmd_baselines.corpus import Dialogue, Turn, atomic_open, load_dialogues, write_dialogues, write_jsonl


def dialogues(n):
    return [Dialogue(id=f"d{i}", turns=(Turn("patient", "头疼"), Turn("doctor", "多休息"))) for i in range(n)]


def test_write_then_read_back(tmp_path):
    path = tmp_path / "out.jsonl"
    assert write_dialogues(path, dialogues(3)) == 3
    assert [d.id for d in load_dialogues(path)[0]] == ["d0", "d1", "d2"]
    assert "头疼" in path.read_text("utf-8")  # Chinese kept readable, not \\u-escaped


def failing_records():
    yield {"id": "a"}
    raise RuntimeError("disk full")


def test_failure_leaves_no_partial_file(tmp_path):
    path = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError):
        write_jsonl(path, failing_records())
    assert not path.exists()
    assert os.listdir(tmp_path) == []


def test_failure_keeps_previous_file(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("previous\n", "utf-8")
    with pytest.raises(RuntimeError):
        write_jsonl(path, failing_records())
    assert path.read_text("utf-8") == "previous\n"
    assert os.listdir(tmp_path) == ["out.jsonl"]


def test_gzip_output_is_reproducible(tmp_path):
    first, second = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    write_dialogues(first, dialogues(5))
    write_dialogues(second, dialogues(5))
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes()[4:8] == b"\0\0\0\0"  # the gzip header's timestamp: always zero
    assert gzip.decompress(first.read_bytes()).count(b"\n") == 5


def test_atomic_open_binary(tmp_path):
    path = tmp_path / "blob.bin"
    with atomic_open(path, "wb") as out:
        out.write(b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"


def test_output_gets_ordinary_permissions(tmp_path):
    path = tmp_path / "out.jsonl"
    write_jsonl(path, [{"id": "a"}])
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask

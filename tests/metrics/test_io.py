"""Reading segment, label, score and log-probability files."""

import gzip

import pytest

from rmd_baselines.errors import DataError
from rmd_baselines.metrics.io import read_labels, read_logprobs, read_score_maps, read_segments


def _write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_plain_text_keeps_empty_lines_and_crlf(tmp_path):
    path = _write(tmp_path, "h.txt", "\ufeff好的\r\n\n多喝水".encode("utf-8"))
    assert read_segments(path) == ["好的", "", "多喝水"]


def test_jsonl_detected_by_first_line(tmp_path):
    path = _write(tmp_path, "h.jsonl", '{"text": "好的"}\n{"text": ""}\n'.encode())
    assert read_segments(path) == ["好的", ""]
    bad = _write(tmp_path, "b.jsonl", '{"text": "好的"}\n\n'.encode())
    with pytest.raises(DataError, match=r"b.jsonl:2: line: blank line"):
        read_segments(bad)
    not_jsonl = _write(tmp_path, "n.txt", '{"other": 1}\n'.encode())
    assert read_segments(not_jsonl) == ['{"other": 1}']


def test_gzip(tmp_path):
    path = tmp_path / "h.txt.gz"
    with gzip.open(path, "wb") as out:
        out.write("好的\n".encode())
    assert read_segments(str(path)) == ["好的"]


@pytest.mark.parametrize("data, message", [
    (b"", "empty file"),
    (b"\xff\n", "invalid UTF-8"),
])
def test_bad_files(tmp_path, data, message):
    with pytest.raises(DataError, match=message):
        read_segments(_write(tmp_path, "x.txt", data))
    with pytest.raises(DataError, match="no such file"):
        read_segments(str(tmp_path / "missing.txt"))


def test_labels(tmp_path):
    assert read_labels(_write(tmp_path, "g.txt", " 内科 \n外科\n".encode())) == ["内科", "外科"]
    with pytest.raises(DataError, match=r"g2.txt:2: label: empty"):
        read_labels(_write(tmp_path, "g2.txt", "内科\n \n".encode()))


def test_score_maps_and_logprobs(tmp_path):
    assert read_score_maps(_write(tmp_path, "s.jsonl", '{"内科": 0.7, "外科": 0.3}\n'.encode())) == [
        {"内科": 0.7, "外科": 0.3}]
    with pytest.raises(DataError, match="not a finite number"):
        read_score_maps(_write(tmp_path, "s2.jsonl", b'{"a": "x"}\n'))
    assert read_logprobs(_write(tmp_path, "l.jsonl", b"[-0.5, -1]\n[]\n")) == [[-0.5, -1.0], []]
    with pytest.raises(DataError, match="positive"):
        read_logprobs(_write(tmp_path, "l2.jsonl", b"[0.5]\n"))
    with pytest.raises(DataError, match="l3.jsonl:1: line: invalid JSON"):
        read_logprobs(_write(tmp_path, "l3.jsonl", b"[-0.5\n"))

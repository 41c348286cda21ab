"""Fuzz the JSONL reader (rmd_baselines/corpus/reader.py): generated files of valid, damaged and foreign lines,
plain or gzip-compressed, with or without a byte-order mark.

Invariants: a read either returns the dialogues or raises one `DataError` whose message is one line starting with
the file name; valid records come back exactly as written (written by our writer or by hand); with
``skip_invalid`` every valid record is kept and every other non-blank line is counted as skipped.
"""

import gzip
import json
import os
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from rmd_baselines.corpus import load_dialogues, write_dialogues
from rmd_baselines.corpus.model import Dialogue
from rmd_baselines.corpus.reader import read_dialogues
from rmd_baselines.errors import DataError

from ..strategies import expected_record, jsonl_lines, records
from ..support import fuzz


def _write(path: Path, data: bytes) -> None:
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)


def check_data_error(exc: DataError, path) -> None:
    message = str(exc)
    assert "\n" not in message and "\r" not in message, f"multi-line error: {message!r}"
    assert message.startswith(os.fspath(path)), f"error does not name the file: {message!r}"


@fuzz(60)
@given(records(), st.sampled_from(["c.jsonl", "c.jsonl.gz"]))
def test_written_records_read_back_unchanged(objs, name):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        write_dialogues(path, [Dialogue.from_json(o) for o in objs])
        dialogues, report = load_dialogues(path)
        assert [d.to_json() for d in dialogues] == [expected_record(o) for o in objs]
        assert report.records == len(objs) and report.skipped == 0
        # the writer's output is UTF-8 JSON lines, one per record
        raw = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
        lines = raw.decode("utf-8").split("\n")
        assert [json.loads(line)["id"] for line in lines if line.strip()] == [o["id"] for o in objs]


@fuzz(150)
@given(jsonl_lines(), st.booleans(), st.booleans(), st.sampled_from(["c.jsonl", "c.jsonl.gz"]),
       st.sampled_from([b"\n", b"\r\n"]))
def test_any_file_reads_or_fails_with_one_line(content, bom, skip_invalid, name, newline):
    lines, valid = content
    data = (b"\xef\xbb\xbf" if bom else b"") + newline.join(lines) + (newline if lines else b"")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        _write(path, data)
        try:
            dialogues, report = load_dialogues(path, skip_invalid=skip_invalid)
        except DataError as exc:
            check_data_error(exc, path)
            if skip_invalid:
                assert not valid, f"valid records {[o['id'] for o in valid]} lost: {exc}"
            return
        got = {d.id: d.to_json() for d in dialogues}
        if skip_invalid:
            for obj in valid:
                assert got.get(obj["id"]) == expected_record(obj)
            # the reader removes the BOM it was given and ignores lines blank after decoding: at most this many
            non_blank = sum(1 for line in lines if line.strip())
            assert report.records + report.skipped <= non_blank
            assert report.records == len(dialogues)
        else:
            assert report.skipped == 0


@fuzz(40)
@given(st.binary(max_size=300), st.sampled_from(["c.jsonl", "c.jsonl.gz", "c.gz"]), st.booleans())
def test_random_bytes_never_crash(data, name, compress):
    """Random bytes, optionally not gzip at all under a .gz name (a corrupt download)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        if compress and name.endswith(".gz"):
            _write(path, data)
        else:
            path.write_bytes(data)
        for skip in (False, True):
            try:
                list(read_dialogues(path, skip_invalid=skip))
            except DataError as exc:
                check_data_error(exc, path)

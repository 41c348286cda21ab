"""Streaming, validating reader for RealMedDial-format JSONL (optionally gzip-compressed).

Every problem is reported as ``FILE:LINE: field: what is wrong``. By default the first problem raises
`DataError`; with ``skip_invalid=True`` bad records are skipped and counted in `ReadReport`.
A UTF-8 byte-order mark on the first line is accepted; invalid UTF-8 is reported for its line, not crashed on.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

from ..errors import DataError
from .model import Dialogue, RecordError

BOM = b"\xef\xbb\xbf"


@dataclass
class ReadReport:
    """What a read saw: records accepted and the problems of the records skipped."""

    path: str
    records: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.path}: {self.records} valid records"
        if self.skipped:
            text += f", {self.skipped} invalid records skipped"
        return text


def open_binary(path: str | os.PathLike) -> BinaryIO:
    """Open a file for reading bytes, transparently decompressing ``.gz``; a missing file is a `DataError`."""
    path = os.fspath(path)
    try:
        if path.endswith(".gz"):
            return gzip.open(path, "rb")
        return open(path, "rb")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a file") from None
    except PermissionError:
        raise DataError(f"{path}: permission denied") from None


def iter_stream_lines(handle: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, raw_bytes)`` of an open binary stream (e.g. stdin), BOM removed from line 1."""
    for number, raw in enumerate(handle, start=1):
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM):]
        yield number, raw


def iter_lines(path: str | os.PathLike) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, raw_bytes)`` of a (possibly gzipped) file, BOM removed from line 1."""
    path = os.fspath(path)
    with open_binary(path) as handle:
        try:
            yield from iter_stream_lines(handle)
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise DataError(f"{path}: cannot read compressed file ({exc})") from None


def decode_line(path: str, number: int, raw: bytes) -> str:
    """Decode one line as UTF-8 or raise `DataError` naming the file, line and byte offset."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}:{number}: line: invalid UTF-8 at byte {exc.start}") from None


# A lone surrogate can only come from a JSON escape; lines without one skip the (slower) per-field search.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse_record(where: str, text: str) -> Dialogue:
    """One JSON line as a validated `Dialogue`; problems are `DataError` prefixed with ``where`` (``FILE:LINE``)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: json: invalid JSON ({exc.msg} at column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of over 4,300 digits, or nesting too deep
        raise DataError(f"{where}: json: unreadable JSON ({type(exc).__name__}: {str(exc)[:80]})") from None
    try:
        return Dialogue.from_json(obj, check_surrogates=_SURROGATE_ESCAPE.search(text) is not None)
    except RecordError as exc:
        raise DataError(f"{where}: {exc.field}: {exc.problem}") from None


def read_dialogues(
    path: str | os.PathLike, skip_invalid: bool = False, report: ReadReport | None = None
) -> Iterator[Dialogue]:
    """Stream the valid dialogues of a JSONL file, validating every record.

    Blank lines are ignored. Duplicate ids are errors (the second occurrence is the bad record).
    Pass a `ReadReport` to learn how many records were skipped and why.
    """
    for _, dialogue in read_numbered_dialogues(path, skip_invalid=skip_invalid, report=report):
        yield dialogue


def read_numbered_dialogues(
    path: str | os.PathLike, skip_invalid: bool = False, report: ReadReport | None = None
) -> Iterator[tuple[int, Dialogue]]:
    """`read_dialogues` with each dialogue's line number: ``(line_number, dialogue)``."""
    path = os.fspath(path)
    report = report if report is not None else ReadReport(path)
    seen_ids: set[str] = set()
    for number, raw in iter_lines(path):
        try:
            text = decode_line(path, number, raw)
            if not text.strip():
                continue
            dialogue = parse_record(f"{path}:{number}", text)
            if dialogue.id in seen_ids:
                raise DataError(f"{path}:{number}: id: duplicate id {dialogue.id!r}")
            seen_ids.add(dialogue.id)
        except DataError as exc:
            if not skip_invalid:
                raise
            report.skipped += 1
            report.problems.append(str(exc))
            continue
        report.records += 1
        yield number, dialogue


def load_dialogues(path: str | os.PathLike, skip_invalid: bool = False) -> tuple[list[Dialogue], ReadReport]:
    """Read a whole corpus into memory; an empty corpus is a `DataError`."""
    report = ReadReport(os.fspath(path))
    dialogues = list(read_dialogues(path, skip_invalid=skip_invalid, report=report))
    if not dialogues:
        detail = f" ({report.skipped} invalid records skipped)" if report.skipped else ""
        raise DataError(f"{report.path}: no valid records{detail}")
    return dialogues, report

"""Reading the files `rmd-baseline evaluate` scores: segments, labels, score maps, log-probabilities.

Segment and label files (detected per file):
- **JSONL** when the first line is a JSON object with a string ``text`` field (``label`` for label files); every
  line must then be such an object, and an empty segment is written ``{"text": ""}``;
- **plain text** otherwise: one segment per line, the line without its ``\\n`` / ``\\r\\n``; an empty line is an
  empty segment (a valid, empty hypothesis). Label lines are stripped and must not be empty.

Score files: JSONL, one object per line mapping label → number. Log-probability files: JSONL, one JSON array per
line with the natural-log probabilities (≤ 0) of that segment's reference tokens.
All files are UTF-8 (a BOM is accepted), optionally gzip-compressed (``.gz``). Every problem is a `DataError`
naming the file and line; an empty file is an error.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from ..corpus.reader import decode_line, iter_lines
from ..errors import DataError, UsageError


def _lines(path: str) -> list[str]:
    lines = []
    for number, raw in iter_lines(path):
        text = decode_line(path, number, raw)
        if text.endswith("\n"):
            text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
        lines.append(text)
    if not lines:
        raise DataError(f"{path}: empty file (no lines)")
    return lines


def _jsonl_field(first_line: str, field: str) -> bool:
    if not first_line.lstrip().startswith("{"):
        return False
    try:
        record = json.loads(first_line)
    except ValueError:
        return False
    return isinstance(record, dict) and isinstance(record.get(field), str)


def _read_field(path: str, field: str) -> list[str]:
    lines = _lines(path)
    if not _jsonl_field(lines[0], field):
        return lines
    values = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataError(f'{path}:{number}: line: blank line in a JSONL file (write {{"{field}": ""}} instead)')
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise DataError(f"{path}:{number}: line: invalid JSON ({exc.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get(field), str):
            raise DataError(f"{path}:{number}: {field}: missing or not a string")
        values.append(record[field])
    return values


def read_segments(path: str | os.PathLike) -> list[str]:
    """One segment per line (plain text or JSONL with ``text``); empty segments are kept."""
    return _read_field(os.fspath(path), "text")


def read_labels(path: str | os.PathLike) -> list[str]:
    """One label per line (plain text or JSONL with ``label``), stripped; an empty label is an error."""
    path = os.fspath(path)
    labels = []
    for number, value in enumerate(_read_field(path, "label"), start=1):
        label = value.strip()
        if not label:
            raise DataError(f"{path}:{number}: label: empty")
        labels.append(label)
    return labels


def _jsonl(path: str) -> list[tuple[int, Any]]:
    records = []
    for number, line in enumerate(_lines(path), start=1):
        if not line.strip():
            raise DataError(f"{path}:{number}: line: blank line in a JSONL file")
        try:
            records.append((number, json.loads(line)))
        except ValueError as exc:
            raise DataError(f"{path}:{number}: line: invalid JSON ({exc.msg})") from None
    return records


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_score_maps(path: str | os.PathLike) -> list[dict[str, float]]:
    """One ``{label: score}`` object per line."""
    path = os.fspath(path)
    maps = []
    for number, record in _jsonl(path):
        if not isinstance(record, dict) or not record:
            raise DataError(f"{path}:{number}: scores: expected a non-empty object of label → score")
        for label, value in record.items():
            if not _number(value):
                raise DataError(f"{path}:{number}: scores[{label!r}]: {value!r} is not a finite number")
        maps.append({str(label).strip(): float(value) for label, value in record.items()})
    return maps


def read_logprobs(path: str | os.PathLike) -> list[list[float]]:
    """One JSON array of per-token natural-log probabilities (each ≤ 0) per line."""
    path = os.fspath(path)
    rows = []
    for number, record in _jsonl(path):
        if not isinstance(record, list):
            raise DataError(f"{path}:{number}: logprobs: expected a JSON array of numbers")
        for value in record:
            if not _number(value):
                raise DataError(f"{path}:{number}: logprobs: {value!r} is not a finite number")
            if value > 0:
                raise DataError(f"{path}:{number}: logprobs: {value!r} is positive (log-probabilities are <= 0)")
        rows.append([float(v) for v in record])
    return rows


def check_same_length(reference_path: str, reference_count: int, path: str, count: int, what: str = "lines") -> None:
    """A one-line error when two parallel files differ in length."""
    if count != reference_count:
        raise DataError(f"{path}: {count} {what} but {reference_path} has {reference_count} "
                        "(the files must be parallel, one segment per line)")


def check_one_per_system(option: str, given: int, system_option: str, systems: int) -> None:
    """Per-system files (``--logprobs``, ``--scores``) come one per system file, in the same order, or not at all."""
    if given and given != systems:
        raise UsageError(f"{given} {option} files for {systems} {system_option} files: give one {option} per "
                         f"{system_option}, in the same order, or none")

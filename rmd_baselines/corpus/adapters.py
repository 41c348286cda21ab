"""Format adapters: turn published corpus formats into canonical RealMedDial JSONL.

- ``csv``: a CSV file with a header naming at least ``department,title,ask,answer`` (the Toyhom Chinese
  medical dialogue data); each row becomes a two-turn dialogue (patient asks, doctor answers) with id
  ``{prefix}-{row}``, rows counted from 0. Encoding: UTF-8 (a BOM is fine) or GB18030, detected with ``auto``
  (a file that decodes as GB18030 only to rare characters, as Big5 or Shift-JIS does, is refused: name its
  encoding with ``encoding="big5"``/``"shift_jis"``).
- ``meddialog``: the raw text layout of MedDialog-CN and COVID-Dialogue-Dataset-Chinese: records start at
  ``id=N``, then the URL, an optional ``Doctor faculty`` line (MedDialog-CN: the department, kept as
  ``department``), one or more ``Description`` blocks of ``key： value`` lines, ``Dialogue`` blocks of
  ``病人：``/``医生：`` speaker lines each followed by the text, and an optional ``Diagnosis and suggestions`` block
  (not a turn; dropped). The ``疾病`` (or ``疾病/症状``) value becomes the title and the single disease; the
  intake form's ``病情描述`` and ``希望获得的帮助`` values are folded, joined by ``；``, into a first patient turn
  placed before the dialogue (as in the shared ``covid_zh`` corpus). Text spanning several lines is joined with
  single spaces, and runs of whitespace are collapsed (in the department and title too, so ``内  科`` and
  ``内 科`` are one label).
- ``json``: a JSON array of canonical records (the JSONL fields), validated like the JSONL reader. With ``auto``,
  valid UTF-8 is always read as UTF-8 (the JSON standard's encoding), even without any Chinese character.

Every problem is reported as ``FILE:LINE: field: problem``; with ``skip_invalid`` bad records are skipped and
counted instead.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import zlib
from dataclasses import dataclass
from typing import Iterator

from ..errors import DataError, UsageError
from .model import Dialogue, RecordError
from .reader import BOM, open_binary
from .writer import write_dialogues

FORMATS = ("csv", "meddialog", "json")
ENCODINGS = ("auto", "utf-8", "gb18030", "big5", "shift_jis")
# Below this share of Chinese characters among the 3,755 most common (GB2312 level 1), text decoded as GB18030
# is taken for another encoding read wrongly (Big5 or Shift-JIS bytes decode as GB18030 without an error, to
# rare characters: a Big5 corpus gives about 12 %, Shift-JIS 0 %, real GB18030 corpora 96-99 %).
GB_COMMON_SHARE = 0.6
GB_MIN_HAN = 8
CSV_COLUMNS = ("department", "title", "ask", "answer")

SPEAKER_LINES = {"病人：": "patient", "病人:": "patient", "患者：": "patient", "患者:": "patient",
                 "医生：": "doctor", "医生:": "doctor"}
SECTION_LINES = ("Description", "Dialogue", "Diagnosis and suggestions")
INTAKE_KEYS = ("病情描述", "希望获得的帮助")
DISEASE_KEYS = ("疾病", "疾病/症状")


@dataclass
class ConvertReport:
    """What a conversion produced."""

    source: str
    written: int = 0
    skipped: int = 0
    encoding: str = "utf-8"

    def summary(self) -> str:
        text = f"{self.source}: {self.written} dialogues written"
        if self.skipped:
            text += f", {self.skipped} invalid records skipped"
        return text


def squash(text: str) -> str:
    """Collapse runs of whitespace (including newlines) to single spaces and strip the ends."""
    return " ".join(text.split())


def read_text(path: str, encoding: str = "auto", utf8_when_valid: bool = False) -> tuple[str, str]:
    """Decode a whole file; ``auto`` tries UTF-8 (BOM allowed) then GB18030 (`detect_encoding`); with
    ``utf8_when_valid`` valid UTF-8 is always read as UTF-8, never refused as ambiguous (JSON, whose standard
    encoding is UTF-8). Returns (text, encoding used)."""
    if encoding not in ENCODINGS:
        raise UsageError(f"unknown encoding {encoding!r} (choose from {', '.join(ENCODINGS)})")
    with open_binary(path) as handle:
        try:
            raw = handle.read()
        except (OSError, EOFError, zlib.error) as exc:  # a truncated or corrupt .gz, or not gzip at all
            raise DataError(f"{path}: cannot read compressed file ({exc})") from None
    if raw.startswith(BOM):
        raw = raw[len(BOM):]
        if encoding == "auto":
            encoding = "utf-8"  # a BOM always means UTF-8, strictly: never refused as ambiguous
    if encoding != "auto":
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            line = raw[:exc.start].count(b"\n") + 1
            raise DataError(f"{path}:{line}: encoding: not valid {encoding} (byte offset {exc.start})") from None
    if utf8_when_valid:
        try:
            return raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    verdict, text = detect_encoding(raw)
    if verdict is not None:
        return text, verdict
    raise DataError(f"{path}:{text}")


def detect_encoding(raw: bytes) -> tuple[str | None, str]:
    """The ``auto`` rule, applied to the bytes after any UTF-8 BOM (a BOM always means UTF-8, strictly).

    1. Valid UTF-8 is read as UTF-8 -- unless its non-ASCII characters are all below U+2E80 (no CJK character,
       kana or full-width form at all) and the bytes are valid GB18030 too: GB18030 Chinese is often valid
       UTF-8 by accident, decoding to Greek, Cyrillic or Arabic letters (痛 ``CD B4`` reads as U+0374), so such a
       file is refused as ambiguous.
    2. Other bytes are read as GB18030 only when that reading is recognisably Chinese (`looks_like_gb18030`:
       at least `GB_MIN_HAN` Han characters, no private-use character, and at least `GB_COMMON_SHARE` of them
       GB2312 level-1); otherwise refused (Big5 or Shift-JIS, or too little text to tell).

    A refusal always names ``--encoding``. Returns (encoding, text), or (None, "LINE: encoding: reason") when
    refused. Known
    limit: a Big5 file whose every character happens to be one of the few Big5 codes that are also common
    GB2312 characters (Big5 kana, for one) reads as GB18030; name ``--encoding big5`` for Big5 files."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        failure = exc
    else:
        if text.isascii() or any(char >= "\u2e80" for char in text) or not _decodes(raw, "gb18030"):
            return "utf-8", text
        return None, ("1: encoding: ambiguous: valid UTF-8 without any Chinese character, and valid GB18030 too; name it "
                      "with --encoding utf-8 or --encoding gb18030")
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        line = raw[:failure.start].count(b"\n") + 1
        return None, (f"{line}: encoding: not valid utf-8 or gb18030 (byte offset {failure.start}); name it "
                      "with --encoding big5|shift_jis")
    if looks_like_gb18030(text):
        return "gb18030", text
    return None, ("1: encoding: neither UTF-8 nor recognisably GB18030 (too little common Chinese text to tell it from "
                  "Big5 or Shift-JIS); name it with --encoding gb18030|big5|shift_jis")


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def looks_like_gb18030(text: str, sample: int = 200_000) -> bool:
    """Whether text decoded as GB18030 reads as Chinese: at least `GB_MIN_HAN` Han characters, no private-use
    character (Big5 punctuation and many Big5 characters decode to the private-use area), and at least
    `GB_COMMON_SHARE` of the Han characters common ones (GB2312 level 1). With fewer, GB18030 cannot be told from
    Big5 or Shift-JIS (a couple of bytes decode in each), so ``auto`` does not guess."""
    han = common = 0
    for char in text[:sample]:
        if "\ue000" <= char <= "\uf8ff":
            return False
        if "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf":
            han += 1
            try:
                encoded = char.encode("gb2312")
            except UnicodeEncodeError:
                continue
            common += 0xB0 <= encoded[0] <= 0xD7
    return han >= GB_MIN_HAN and common >= GB_COMMON_SHARE * han


def _checked(path: str, line: int, dialogue_fields: dict) -> Dialogue:
    try:
        return Dialogue.from_json(dialogue_fields)
    except RecordError as exc:
        raise DataError(f"{path}:{line}: {exc.field}: {exc.problem}") from None


# ----------------------------------------------------------------------------------------------------------- csv


def iter_csv(path: str, encoding: str = "auto", id_prefix: str | None = None,
             report: ConvertReport | None = None) -> Iterator[tuple[int, Dialogue | DataError]]:
    """Yield ``(line, dialogue or error)`` for each data row of a Toyhom-style CSV."""
    text, used = read_text(path, encoding)
    if report is not None:
        report.encoding = used
    prefix = id_prefix or _default_prefix(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{path}:1: header: empty file, expected a header {','.join(CSV_COLUMNS)}") from None
    except csv.Error as exc:
        raise DataError(f"{path}:1: header: {exc}") from None
    names = [h.strip().lower() for h in header]
    missing = [c for c in CSV_COLUMNS if c not in names]
    if missing:
        raise DataError(f"{path}:1: header: missing column(s) {', '.join(missing)} "
                        f"(expected {','.join(CSV_COLUMNS)})")
    index = {c: names.index(c) for c in CSV_COLUMNS}
    row_number = 0
    while True:
        start_line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # the reader carries on with the next row
            yield start_line, DataError(f"{path}:{start_line}: row: {exc}")
            row_number += 1
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(names):
            yield start_line, DataError(f"{path}:{start_line}: row: {len(row)} columns, header has {len(names)}")
            row_number += 1
            continue
        cell = {c: row[i].strip() for c, i in index.items()}
        fields = {
            "id": f"{prefix}-{row_number}",
            "title": cell["title"] or None,
            "department": cell["department"] or None,
            "doctor": None,
            "diseases": [],
            "symptoms": [],
            "turns": [{"speaker": "patient", "text": cell["ask"]}, {"speaker": "doctor", "text": cell["answer"]}],
        }
        row_number += 1
        try:
            yield start_line, _checked(path, start_line, fields)
        except DataError as exc:
            yield start_line, exc


# ----------------------------------------------------------------------------------------------------- meddialog


@dataclass
class _RawRecord:
    raw_id: str
    line: int
    department: str | None = None
    title: str | None = None
    intake: list[str] | None = None
    turns: list[list] | None = None
    error: DataError | None = None  # the record's first problem; the rest of it is skipped


def _parse_meddialog(path: str, text: str) -> Iterator[_RawRecord]:
    record: _RawRecord | None = None
    section = None
    current_key_values: list[list[str]] = []  # [key, value] pairs of the current Description block
    expect_faculty = False

    def close_description():
        nonlocal current_key_values
        if record is None:
            return
        # A consultation may carry several Description blocks (follow-up visits); as in the published
        # conversions, the last block that has a disease / an intake form is the one kept.
        intake = []
        for key, value in current_key_values:
            value = squash(value)
            if key in DISEASE_KEYS and value:
                record.title = value
            if any(key.startswith(k) for k in INTAKE_KEYS) and value:
                intake.append(value)
        if intake:
            record.intake = intake
        current_key_values = []

    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        match = re.fullmatch(r"id\s*=\s*(\S+)", stripped)
        if match:
            close_description()
            if record is not None:
                yield record
            record = _RawRecord(match.group(1), number, intake=[], turns=[])
            section, expect_faculty = "header", False
            continue
        if record is None:
            if stripped:
                raise DataError(f"{path}:{number}: id: text before the first 'id=' line")
            continue
        if stripped in SECTION_LINES:
            close_description()
            section = stripped
            continue
        if section == "header":
            if stripped.startswith("Doctor faculty"):
                value = " ".join(stripped[len("Doctor faculty"):].strip(" :：").split())
                if value:
                    record.department = value
                else:
                    expect_faculty = True
            elif expect_faculty and stripped:
                record.department, expect_faculty = " ".join(stripped.split()), False
            continue
        if section == "Description":
            if not stripped:
                continue
            match = re.match(r"^([^：:]{1,40})[：:]\s*(.*)$", stripped)
            if match and not (current_key_values and match.group(1).strip().isdigit()):
                current_key_values.append([match.group(1).strip(), match.group(2)])
            elif current_key_values:
                current_key_values[-1][1] += " " + stripped
            continue
        if section == "Dialogue":
            if stripped in SPEAKER_LINES:
                record.turns.append([SPEAKER_LINES[stripped], [], number])
            elif stripped and record.error is None:
                if not record.turns:
                    record.error = DataError(f"{path}:{number}: turns: dialogue text before a 病人：/医生： "
                                             "speaker line")
                    continue
                record.turns[-1][1].append(stripped)
            continue
        # "Diagnosis and suggestions" is a summary, not an utterance: dropped.
    close_description()
    if record is not None:
        yield record


def iter_meddialog(path: str, encoding: str = "auto", id_prefix: str | None = None,
                   report: ConvertReport | None = None) -> Iterator[tuple[int, Dialogue | DataError]]:
    """Yield ``(line, dialogue or error)`` for each ``id=`` record of a MedDialog-CN / COVID-Dialogue text file."""
    text, used = read_text(path, encoding)
    if report is not None:
        report.encoding = used
    prefix = id_prefix or _default_prefix(path)
    found = False
    for raw in _parse_meddialog(path, text):
        found = True
        if raw.error is not None:
            yield raw.line, raw.error
            continue
        turns = []
        if raw.intake:
            turns.append({"speaker": "patient", "text": "；".join(raw.intake)})
        turns.extend({"speaker": speaker, "text": squash(" ".join(lines))}
                     for speaker, lines, _ in raw.turns if squash(" ".join(lines)))
        fields = {
            "id": f"{prefix}-{raw.raw_id}",
            "title": raw.title,
            "department": raw.department,
            "doctor": None,
            "diseases": [raw.title] if raw.title else [],
            "symptoms": [],
            "turns": turns,
        }
        try:
            yield raw.line, _checked(path, raw.line, fields)
        except DataError as exc:
            yield raw.line, exc
    if not found:
        raise DataError(f"{path}:1: id: no 'id=' record found (is this the MedDialog raw text layout?)")


# ---------------------------------------------------------------------------------------------------------- json


def iter_json_list(path: str, encoding: str = "auto", id_prefix: str | None = None,
                   report: ConvertReport | None = None) -> Iterator[tuple[int, Dialogue | DataError]]:
    """Yield ``(line, dialogue or error)`` for each element of a JSON array of canonical records (``auto``: valid
    UTF-8 is UTF-8, as the JSON standard says; other bytes follow `detect_encoding`)."""
    text, used = read_text(path, encoding, utf8_when_valid=True)
    if report is not None:
        report.encoding = used
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if position >= len(text) or text[position] != "[":
        raise DataError(f"{path}:{_line_at(text, position)}: json: expected a JSON array of records")
    position = _skip_space(text, position + 1)
    index = 0
    if position < len(text) and text[position] == "]":
        _check_end(path, text, position + 1)
        return
    while position < len(text):
        line = _line_at(text, position)
        try:
            obj, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{exc.lineno}: json: invalid JSON ({exc.msg} at column {exc.colno})") from None
        except (ValueError, RecursionError) as exc:  # e.g. an integer of over 4,300 digits, or nesting too deep
            raise DataError(f"{path}:{line}: json: unreadable JSON ({type(exc).__name__}: {str(exc)[:80]})") \
                from None
        if isinstance(obj, dict) and id_prefix and "id" not in obj:
            obj = {**obj, "id": f"{id_prefix}-{index}"}
        try:
            yield line, _checked(path, line, obj)
        except DataError as exc:
            yield line, exc
        index += 1
        position = _skip_space(text, position)
        if position < len(text) and text[position] == ",":
            position = _skip_space(text, position + 1)
            if position < len(text) and text[position] == "]":
                raise DataError(f"{path}:{_line_at(text, position)}: json: ',' after the last record (trailing "
                                "comma is not JSON)")
        elif position < len(text) and text[position] == "]":
            _check_end(path, text, position + 1)
            return
        elif position < len(text):
            raise DataError(f"{path}:{_line_at(text, position)}: json: expected ',' or ']' after record {index}")
    raise DataError(f"{path}:{_line_at(text, position)}: json: unterminated array")


def _check_end(path: str, text: str, position: int) -> None:
    """Nothing but whitespace may follow the array's closing ``]``."""
    position = _skip_space(text, position)
    if position < len(text):
        raise DataError(f"{path}:{_line_at(text, position)}: json: unexpected data after the array's closing ']' "
                        f"(column {position - text.rfind(chr(10), 0, position)})")


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _line_at(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _default_prefix(path: str) -> str:
    name = os.path.basename(path)
    return name.split(".", 1)[0] or "record"


READERS = {"csv": iter_csv, "meddialog": iter_meddialog, "json": iter_json_list}


def read_foreign(path: str | os.PathLike, fmt: str, encoding: str = "auto", id_prefix: str | None = None,
                 skip_invalid: bool = False, report: ConvertReport | None = None) -> Iterator[Dialogue]:
    """Stream the dialogues of a file in a foreign format (duplicate ids are errors, as in the JSONL reader)."""
    if fmt not in READERS:
        raise UsageError(f"unknown input format {fmt!r} (choose from {', '.join(FORMATS)})")
    path = os.fspath(path)
    report = report if report is not None else ConvertReport(path)
    seen: set[str] = set()
    for line, item in READERS[fmt](path, encoding=encoding, id_prefix=id_prefix, report=report):
        if isinstance(item, Dialogue) and item.id in seen:
            item = DataError(f"{path}:{line}: id: duplicate id {item.id!r}")
        if isinstance(item, DataError):
            if not skip_invalid:
                raise item
            report.skipped += 1
            continue
        seen.add(item.id)
        report.written += 1
        yield item


def convert(in_path: str | os.PathLike, out_path: str | os.PathLike, fmt: str, encoding: str = "auto",
            id_prefix: str | None = None, skip_invalid: bool = False) -> ConvertReport:
    """Convert a foreign-format file to canonical JSONL, atomically (a failure leaves no output file)."""
    report = ConvertReport(os.fspath(in_path))
    dialogues = list(read_foreign(in_path, fmt, encoding, id_prefix, skip_invalid, report))
    if not dialogues:
        raise DataError(f"{in_path}: no valid records to convert")
    write_dialogues(out_path, dialogues)
    return report

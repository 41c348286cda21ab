"""Fuzz the format adapters (rmd_baselines/corpus/adapters.py): Toyhom CSV in UTF-8, GB18030, Big5 and
Shift-JIS bytes, the MedDialog raw text layout, JSON arrays; each generated from known records, and damaged.

Invariants: a conversion either gives back exactly the records the file holds (no mojibake: text decoded in the
wrong encoding is never accepted silently) or raises one `DataError` whose message is one line naming the file;
``--encoding auto`` follows its documented rule exactly (`auto_rule`); random bytes never crash an adapter.
"""

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import assume, given
from hypothesis import strategies as st

from rmd_baselines.corpus.adapters import GB_COMMON_SHARE, GB_MIN_HAN, read_foreign
from rmd_baselines.errors import DataError

from ..strategies import CHINESE, LATIN, PUNCTUATION, expected_record, records
from ..support import fuzz
from .test_reader import check_data_error

# Simplified and traditional Chinese and kana: every encoding below has some of them and lacks others.
POOL = CHINESE + "醫師發燒咳嗽頭痛這個問題們會診斷てにをはアイウエオ科病気薬" + LATIN + PUNCTUATION + " \n\u3000"
ENCODINGS = ["utf-8", "utf-8-sig", "gb18030", "big5", "shift_jis"]


def _alphabet(encoding: str) -> str:
    chars = []
    for ch in POOL:
        try:
            ch.encode(encoding)
        except UnicodeEncodeError:
            continue
        chars.append(ch)
    return "".join(dict.fromkeys(chars))


def cell(encoding: str, blank_ok: bool):
    return st.text(alphabet=_alphabet(encoding), min_size=0 if blank_ok else 1, max_size=16).filter(
        lambda s: blank_ok or s.strip())


@st.composite
def csv_file(draw):
    """(encoding, bytes, expected records) of a Toyhom-style CSV."""
    encoding = draw(st.sampled_from(ENCODINGS))
    header = ["department", "title", "ask", "answer"]
    extra = draw(st.booleans())
    if extra:
        header.insert(draw(st.integers(0, 4)), "extra")
    order = draw(st.permutations(header))
    rows, expected = [], []
    for i in range(draw(st.integers(1, 5))):
        values = {"department": draw(cell(encoding, True)), "title": draw(cell(encoding, True)),
                  "ask": draw(cell(encoding, False)), "answer": draw(cell(encoding, False)),
                  "extra": draw(cell(encoding, True))}
        rows.append([values[name] for name in order])
        expected.append({"title": values["title"].strip() or None,
                         "department": values["department"].strip() or None,
                         "turns": [{"speaker": "patient", "text": values["ask"].strip()},
                                   {"speaker": "doctor", "text": values["answer"].strip()}]})
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
                        lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(order)
    writer.writerows(rows)
    return encoding, buffer.getvalue().encode(encoding), expected


def _read(path, fmt, encoding="auto", skip_invalid=False):
    try:
        return [d.to_json() for d in read_foreign(path, fmt, encoding=encoding, skip_invalid=skip_invalid)], None
    except DataError as exc:
        check_data_error(exc, path)
        return None, exc


def _named(encoding: str) -> str:
    return "utf-8" if encoding.startswith("utf-8") else encoding


def auto_rule(raw: bytes):
    """The documented ``--encoding auto`` rule (README, adapters.detect_encoding), restated here as the spec the
    adapter must follow exactly: the encoding it reads the bytes in, or None when it must refuse."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        # valid UTF-8 wins, unless it has non-ASCII text but no CJK at all and is valid GB18030 as well
        ambiguous = not text.isascii() and max(text) < "\u2e80" and _valid(raw, "gb18030")
        return None if ambiguous else "utf-8"
    if not _valid(raw, "gb18030"):
        return None
    text = raw.decode("gb18030")
    if any("\ue000" <= ch <= "\uf8ff" for ch in text):  # private use: what Big5 punctuation decodes to
        return None
    han = [ch for ch in text if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"]
    common = [ch for ch in han if _valid_encode(ch, "gb2312") and 0xB0 <= ch.encode("gb2312")[0] <= 0xD7]
    return "gb18030" if len(han) >= GB_MIN_HAN and len(common) >= GB_COMMON_SHARE * len(han) else None


def _valid(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _valid_encode(ch: str, encoding: str) -> bool:
    try:
        ch.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


@fuzz(120)
@given(csv_file())
def test_csv_in_any_encoding_converts_exactly_or_is_refused(spec):
    """Issue 13 D11, fuzz F6-F8. The encoding named with ``--encoding`` is always read exactly. ``auto`` follows
    `auto_rule` exactly: it refuses (one line naming ``--encoding``) when the rule refuses, and otherwise reads
    the file exactly as the chosen encoding does -- which is the encoding it was written in. The one documented
    exception: a Big5 file made only of the few Big5 codes that are common GB2312 characters too (Big5 kana,
    問 醫 嗽) reads as GB18030 (cannot be told apart without a language model)."""
    encoding, data, expected = spec
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "toyhom.csv"
        path.write_bytes(data)
        named, error = _read(path, "csv", encoding=_named(encoding))
        assert error is None, f"{encoding} CSV refused with --encoding {_named(encoding)}: {error}"
        assert [{k: d[k] for k in ("title", "department", "turns")} for d in named] == expected, \
            f"{encoding} CSV read as something else with --encoding {_named(encoding)}"
        assert [d["id"] for d in named] == [f"toyhom-{i}" for i in range(len(expected))]
        verdict = auto_rule(data)
        got, error = _read(path, "csv", encoding="auto")
        if verdict is None:
            assert got is None and "--encoding" in str(error), f"auto should refuse, got {got!r} / {error}"
            return
        assert error is None, f"auto should read it as {verdict}: {error}"
        assert got == _read(path, "csv", encoding=verdict)[0]
        if got != named:  # read in another encoding than it was written in, and the text differs
            assert (encoding, verdict) == ("big5", "gb18030"), f"{encoding} CSV read as {verdict} in auto: {got!r}"


@fuzz(40)
@given(st.binary(max_size=300), st.sampled_from(["csv", "meddialog", "json"]),
       st.sampled_from(["auto", "utf-8", "gb18030"]), st.booleans())
def test_random_bytes_never_crash_an_adapter(data, fmt, encoding, skip_invalid):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input.{fmt}"
        path.write_bytes(data)
        _read(path, fmt, encoding, skip_invalid)


@fuzz(60)
@given(csv_file(), st.data())
def test_damaged_csv_never_crashes(spec, data):
    _, raw, _ = spec
    cut = data.draw(st.integers(0, len(raw)))
    junk = data.draw(st.binary(max_size=20))
    damaged = data.draw(st.sampled_from([raw[:cut], raw[:cut] + junk + raw[cut:], raw.replace(b",", b"", 1),
                                         raw.replace(b'"', b"", 1), b"\x00" + raw]))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "toyhom.csv"
        path.write_bytes(damaged)
        _read(path, "csv", skip_invalid=data.draw(st.booleans()))


# ------------------------------------------------------------------------------------------------- MedDialog

MD_TEXT = st.text(alphabet=CHINESE + LATIN + "，。？ ", min_size=1, max_size=16).filter(
    lambda s: s.strip() and not s.strip().startswith("id") and s.strip() not in ("Description", "Dialogue"))


@st.composite
def meddialog_file(draw):
    """(text, expected records) in the MedDialog-CN raw layout."""
    lines, expected = [], []
    for i in range(draw(st.integers(1, 4))):
        rid = str(draw(st.integers(0, 10**6)))
        assume(rid not in {e["rid"] for e in expected})
        department = draw(st.none() | MD_TEXT)
        disease = draw(st.none() | MD_TEXT)
        intake = draw(st.lists(MD_TEXT, max_size=2))
        turns = draw(st.lists(st.tuples(st.sampled_from(["病人：", "医生：", "患者：", "病人:"]),
                                        st.lists(MD_TEXT, min_size=1, max_size=2)), min_size=1, max_size=4))
        lines += [f"id={rid}", f"https://www.haodf.com/doctorteam/flow_team_{rid}.htm"]
        if department is not None:
            lines += ["Doctor faculty", department]
        lines.append("Description")
        if disease is not None:
            lines.append(f"疾病：{disease}")
        keys = ["病情描述（发病时间、主要症状、症状变化等）", "希望获得的帮助"]
        for key, value in zip(keys, intake):
            lines.append(f"{key}：{value}")
        lines += ["", "Dialogue"]
        for marker, texts in turns:
            lines.append(marker)
            lines += texts
        if draw(st.booleans()):
            lines += ["Diagnosis and suggestions", draw(MD_TEXT)]
        lines.append("")
        want = [{"speaker": "patient", "text": "；".join(" ".join(v.split()) for v in intake)}] if intake else []
        want += [{"speaker": "doctor" if marker == "医生：" else "patient", "text": " ".join(" ".join(texts).split())}
                 for marker, texts in turns]
        expected.append({"rid": rid, "department": " ".join(department.split()) if department else None,
                         "title": " ".join(disease.split()) if disease else None, "turns": want})
    return "\n".join(lines), expected


@fuzz(80)
@given(meddialog_file(), st.sampled_from(["utf-8", "gb18030"]), st.booleans())
def test_meddialog_converts_exactly(spec, encoding, auto):
    """Read exactly; in ``auto`` a GB18030 file with very little Chinese may be refused (see the CSV test)."""
    text, expected = spec
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "meddialog.txt"
        path.write_bytes(text.encode(encoding))
        got, error = _read(path, "meddialog", encoding="auto" if auto else encoding)
        if error is not None and auto and encoding == "gb18030" and "encoding" in str(error):
            return
        assert error is None, error
        assert len(got) == len(expected)
        for dialogue, want in zip(got, expected):
            assert dialogue["id"] == f"meddialog-{want['rid']}"
            assert dialogue["title"] == want["title"]
            assert dialogue["department"] == want["department"]
            assert dialogue["turns"] == want["turns"]


@fuzz(60)
@given(meddialog_file(), st.data())
def test_damaged_meddialog_never_crashes(spec, data):
    lines = spec[0].split("\n")
    for _ in range(data.draw(st.integers(1, 4))):
        how = data.draw(st.sampled_from(["drop", "dup", "swap", "junk"]))
        i = data.draw(st.integers(0, len(lines) - 1))
        if how == "drop" and len(lines) > 1:
            del lines[i]
        elif how == "dup":
            lines.insert(i, lines[i])
        elif how == "swap":
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines.insert(i, data.draw(st.sampled_from(["id=", "id= ", "Doctor faculty：", "病人：", "Dialogue",
                                                       "Description", "疾病：", "：", "\x00", "\ufeff"])))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "meddialog.txt"
        path.write_text("\n".join(lines), encoding="utf-8")
        _read(path, "meddialog", skip_invalid=data.draw(st.booleans()))


# ------------------------------------------------------------------------------------------------------ JSON


@st.composite
def json_array(draw):
    objs = draw(records(max_size=4))
    indent = draw(st.sampled_from([None, 0, 1, 2, "\t"]))
    text = json.dumps(objs, ensure_ascii=draw(st.booleans()), indent=indent)
    return text, objs


@fuzz(60)
@given(json_array())
def test_json_array_converts_exactly(spec):
    text, objs = spec
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.json"
        path.write_text(text, encoding="utf-8")
        got, error = _read(path, "json")
        assert error is None, error
        assert got == [expected_record(o) for o in objs]


@fuzz(80)
@given(json_array(), st.text(alphabet="]},[{\"x1 \n:", min_size=1, max_size=6).filter(lambda s: s.strip()))
def test_json_array_with_trailing_text_is_refused(spec, tail):
    """Issue 13 D1: whatever follows the array's closing bracket is an error, not ignored."""
    text, _ = spec
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.json"
        path.write_text(text + tail, encoding="utf-8")
        got, error = _read(path, "json")
        assert error is not None, f"trailing {tail!r} after the array was accepted ({len(got)} records)"


@fuzz(60)
@given(json_array(), st.data())
def test_truncated_or_spliced_json_never_crashes(spec, data):
    text, _ = spec
    cut = data.draw(st.integers(0, len(text)))
    how = data.draw(st.sampled_from(["truncate", "nest", "insert"]))
    if how == "truncate":
        damaged = text[:cut]
    elif how == "nest":
        damaged = text[:cut] + "[" * 5000 + text[cut:]
    else:
        damaged = text[:cut] + data.draw(st.text(max_size=8)) + text[cut:]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.json"
        path.write_text(damaged, encoding="utf-8", errors="surrogatepass")
        _, error = _read(path, "json", skip_invalid=data.draw(st.booleans()))
        if damaged.rstrip() != text.rstrip() and error is None and cut < len(text.rstrip()):
            # text was lost or added: only acceptable if the result is still a well-formed array
            try:
                json.loads(damaged)
            except ValueError:
                raise AssertionError(f"a damaged JSON array was accepted: {damaged!r}") from None

"""Hypothesis strategies shared by the fuzz tests: hostile text, canonical records and their mutations."""

from __future__ import annotations

import json

from hypothesis import strategies as st

from rmd_baselines.corpus.model import normalize_label, visible_text

# Characters a careless or curious user produces: Chinese, Latin, digits, punctuation of both widths, CSV/JSON
# syntax, whitespace of every kind, zero-width and control characters, an emoji beyond the BMP.
CHINESE = "病人医生发烧咳嗽头痛胸闷建议复查多喝水注意休息孩子两天三十八度心内科儿科药"
PUNCTUATION = "，。？！：；、（）“”,.?!:;()\"'[]{}\\/"
WHITESPACE = " \t\n\r\u3000\u00a0\u2028\u0085\x0b\x0c"
ODD = "\u200b\u200d\ufeff\u202e\x00\x01\x1b\x7f\U0001f600\u0301"
LATIN = "abcXYZ019-_=#%&@"

plain_text = st.text(alphabet=CHINESE + LATIN + " ", min_size=1, max_size=20).filter(lambda s: s.strip())
any_text = st.text(alphabet=CHINESE + PUNCTUATION + WHITESPACE + ODD + LATIN, min_size=0, max_size=30)
# Text of the corpus: with at least one visible character (the reader refuses texts of only whitespace, control
# or zero-width characters), anything else allowed.
record_text = st.text(alphabet=CHINESE + PUNCTUATION + WHITESPACE + ODD + LATIN, min_size=1,
                      max_size=30).filter(visible_text)
speakers = st.sampled_from(["patient", "doctor"])


@st.composite
def record(draw, rid: str, text=record_text):
    """One valid canonical record (a dict) with id ``rid``."""
    turns = draw(st.lists(st.fixed_dictionaries({"speaker": speakers, "text": text}), min_size=1, max_size=5))
    obj = {"id": rid,
           "title": draw(st.none() | text),
           "department": draw(st.none() | text),
           "doctor": draw(st.none() | text),
           "diseases": draw(st.lists(text, max_size=2)),
           "symptoms": draw(st.lists(text, max_size=2)),
           "turns": turns}
    # Optional fields may be left out altogether.
    for key in ("title", "department", "doctor", "diseases", "symptoms"):
        if draw(st.booleans()) and draw(st.booleans()):
            del obj[key]
    return obj


def expected_record(obj: dict) -> dict:
    """What the reader gives back for a valid record: every field present, in the documented order, labels
    (department, doctor) without surrounding whitespace."""
    return {"id": obj["id"], "title": obj.get("title"), "department": normalize_label(obj.get("department")),
            "doctor": normalize_label(obj.get("doctor")), "diseases": list(obj.get("diseases") or []),
            "symptoms": list(obj.get("symptoms") or []), "turns": obj["turns"]}


@st.composite
def records(draw, min_size=1, max_size=6, prefix="r"):
    n = draw(st.integers(min_size, max_size))
    return [draw(record(f"{prefix}-{i}")) for i in range(n)]


json_scalars = st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=True) | any_text
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(any_text, inner, max_size=3), max_leaves=8)


@st.composite
def mutated_record(draw, rid: str):
    """A record with one field damaged (removed, retyped, emptied, or a turn broken); may or may not stay valid."""
    obj = draw(record(rid))
    how = draw(st.sampled_from(["drop", "retype", "turn", "speaker", "blank", "extra", "surrogate"]))
    key = draw(st.sampled_from(["id", "title", "department", "doctor", "diseases", "symptoms", "turns"]))
    if how == "drop":
        obj.pop(key, None)
    elif how == "retype":
        obj[key] = draw(json_values)
    elif how == "turn":
        obj["turns"] = draw(st.lists(json_values, max_size=3))
    elif how == "speaker":
        obj["turns"][0]["speaker"] = draw(any_text)
    elif how == "blank":
        obj["turns"][-1]["text"] = draw(st.text(alphabet=WHITESPACE, max_size=4))
    elif how == "extra":
        obj[draw(any_text)] = draw(json_values)
    else:
        obj["title"] = "\ud800" + draw(any_text)
    return obj


def dumps(obj, ensure_ascii: bool) -> str:
    return json.dumps(obj, ensure_ascii=ensure_ascii)


@st.composite
def jsonl_lines(draw):
    """Raw lines of a JSONL file: valid records, damaged ones, JSON of the wrong shape, blank lines, raw bytes.
    Returns (lines as bytes, ids of the valid records in order)."""
    lines, valid = [], []
    for i in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["valid", "valid", "mutated", "json", "blank", "bytes", "truncated"]))
        if kind == "valid":
            obj = draw(record(f"ok-{i}"))
            valid.append(obj)
            line = dumps(obj, draw(st.booleans())).encode("utf-8", "surrogatepass")
        elif kind == "mutated":
            line = dumps(draw(mutated_record(f"bad-{i}")), True).encode("utf-8")
        elif kind == "json":
            line = json.dumps(draw(json_values)).encode("utf-8")
        elif kind == "blank":
            line = draw(st.sampled_from([b"", b"   ", b"\t", b"\r"]))
        elif kind == "bytes":
            line = draw(st.binary(max_size=40)).replace(b"\n", b" ")
        else:
            text = dumps(draw(record(f"cut-{i}")), False).encode("utf-8")
            line = text[:draw(st.integers(0, max(0, len(text) - 1)))].replace(b"\n", b" ")
        lines.append(line)
    return lines, valid

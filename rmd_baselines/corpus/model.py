"""The canonical RealMedDial record: a `Dialogue` of `Turn`s with its title, labels and annotations.

One JSON object per dialogue (see README, "Data format"):
``{"id", "title", "department", "doctor", "diseases", "symptoms", "turns": [{"speaker", "text"}]}``.
`validate_record` checks a decoded JSON object field by field and names the first problem it finds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator

SPEAKERS = ("doctor", "patient")
REQUIRED_FIELDS = ("id", "turns")
OPTIONAL_STRING_FIELDS = ("title", "department", "doctor")
LIST_FIELDS = ("diseases", "symptoms")
# JSON can spell a lone UTF-16 surrogate ("\\ud800"); Python decodes it, but it is not text and cannot be written.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Turn:
    """One utterance: who spoke (`doctor` or `patient`) and what was said."""

    speaker: str
    text: str

    def to_json(self) -> dict[str, str]:
        return {"speaker": self.speaker, "text": self.text}


@dataclass(frozen=True)
class Dialogue:
    """One consultation with its labels (department, doctor) and annotations (diseases, symptoms)."""

    id: str
    turns: tuple[Turn, ...]
    title: str | None = None
    department: str | None = None
    doctor: str | None = None
    diseases: tuple[str, ...] = field(default=())
    symptoms: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """The canonical JSON object, fields in the documented order."""
        return {
            "id": self.id,
            "title": self.title,
            "department": self.department,
            "doctor": self.doctor,
            "diseases": list(self.diseases),
            "symptoms": list(self.symptoms),
            "turns": [turn.to_json() for turn in self.turns],
        }

    @classmethod
    def from_json(cls, obj: Any, check_surrogates: bool = True) -> "Dialogue":
        """Build a dialogue from a decoded JSON object; raises `RecordError` naming the bad field.

        ``check_surrogates=False`` skips the search for lone surrogates, for a caller that knows the JSON text
        had no ``\\ud800``-style escape (the only way one gets into a str decoded from UTF-8).
        """
        validate_record(obj, check_surrogates)
        return cls(
            id=obj["id"],
            title=obj.get("title"),
            department=normalize_label(obj.get("department")),
            doctor=normalize_label(obj.get("doctor")),
            diseases=tuple(obj.get("diseases") or ()),
            symptoms=tuple(obj.get("symptoms") or ()),
            turns=tuple(Turn(t["speaker"], t["text"]) for t in obj["turns"]),
        )


def normalize_label(value: str | None) -> str | None:
    """A label (department, doctor) without surrounding whitespace, so that ``" 内科"`` and ``"内科"`` are one
    class; a label of only whitespace is no label (None)."""
    if value is None:
        return None
    value = value.strip()
    return value or None


# Characters that show nothing on their own: whitespace, control (Cc), format (Cf: zero-width space and joiners,
# BOM, bidi marks), separators, and combining marks with nothing to combine with.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me", "Cs"})


def visible_text(text: str) -> bool:
    """Whether ``text`` has at least one character that shows (not only whitespace, control or zero-width)."""
    import unicodedata

    return any(not char.isspace() and unicodedata.category(char) not in _INVISIBLE_CATEGORIES for char in text)


class RecordError(ValueError):
    """A record that does not have the canonical shape; `field` names where (e.g. ``turns[2].speaker``)."""

    def __init__(self, field_name: str, problem: str):
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name
        self.problem = problem


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number" if isinstance(value, (int, float)) else type(value).__name__
    )


def validate_record(obj: Any, check_surrogates: bool = True) -> None:
    """Raise `RecordError` for the first problem in a decoded record; return None when it is valid."""
    if not isinstance(obj, dict):
        raise RecordError("record", f"expected a JSON object, got {_type_name(obj)}")
    for name in REQUIRED_FIELDS:
        if name not in obj:
            raise RecordError(name, "missing required field")
    if not isinstance(obj["id"], str):
        raise RecordError("id", f"expected a string, got {_type_name(obj['id'])}")
    if not obj["id"].strip():
        raise RecordError("id", "empty id")
    for name in OPTIONAL_STRING_FIELDS:
        value = obj.get(name)
        if value is not None and not isinstance(value, str):
            raise RecordError(name, f"expected a string or null, got {_type_name(value)}")
    for name in LIST_FIELDS:
        value = obj.get(name)
        if value is None:
            continue
        if not isinstance(value, list):
            raise RecordError(name, f"expected an array of strings, got {_type_name(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise RecordError(f"{name}[{i}]", f"expected a string, got {_type_name(item)}")
    turns = obj["turns"]
    if not isinstance(turns, list):
        raise RecordError("turns", f"expected an array of turns, got {_type_name(turns)}")
    if not turns:
        raise RecordError("turns", "a dialogue needs at least one turn")
    for i, turn in enumerate(turns):
        where = f"turns[{i}]"
        if not isinstance(turn, dict):
            raise RecordError(where, f"expected an object, got {_type_name(turn)}")
        for key in ("speaker", "text"):
            if key not in turn:
                raise RecordError(f"{where}.{key}", "missing required field")
            if not isinstance(turn[key], str):
                raise RecordError(f"{where}.{key}", f"expected a string, got {_type_name(turn[key])}")
        if turn["speaker"] not in SPEAKERS:
            raise RecordError(f"{where}.speaker", f"unknown speaker {turn['speaker']!r} (expected doctor or patient)")
        if not turn["text"].strip():
            raise RecordError(f"{where}.text", "empty text")
    for name, value in _strings(obj) if check_surrogates else ():
        if _SURROGATE.search(value):
            raise RecordError(name, "contains a lone UTF-16 surrogate (\\ud800-\\udfff), which is not valid text")


def _strings(obj: dict) -> Iterator[tuple[str, str]]:
    """Every string of a record that has passed the type checks, with its field name."""
    yield "id", obj["id"]
    for name in OPTIONAL_STRING_FIELDS:
        if obj.get(name) is not None:
            yield name, obj[name]
    for name in LIST_FIELDS:
        for i, item in enumerate(obj.get(name) or ()):
            yield f"{name}[{i}]", item
    for i, turn in enumerate(obj["turns"]):
        yield f"turns[{i}].text", turn["text"]

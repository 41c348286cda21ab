"""Corpus I/O: the canonical record types, a validating streaming reader, atomic writers, format adapters,
statistics (the paper's Tables 2-3) and the synthetic RealMedDial-shaped generator."""

from .model import Dialogue, RecordError, Turn, validate_record
from .reader import ReadReport, load_dialogues, read_dialogues
from .writer import atomic_open, write_dialogues, write_json, write_jsonl, write_text

__all__ = [
    "Dialogue",
    "Turn",
    "RecordError",
    "validate_record",
    "ReadReport",
    "read_dialogues",
    "load_dialogues",
    "atomic_open",
    "write_jsonl",
    "write_dialogues",
    "write_json",
    "write_text",
]

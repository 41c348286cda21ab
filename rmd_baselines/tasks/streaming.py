"""The protocol's splits of a corpus file without holding its dialogues in memory.

`splits.split_records` needs every record as a Python object. For corpora of millions of dialogues this module
does the same work in two kinds of pass over the file:

1. `scan_corpus` reads the file once (validating every record as usual) and keeps one small row per record: its line
   number, a code for its stratification label and the first 128 bits of its order key
   ``sha256(f"{seed}:{id}")``, about 28 bytes a record.
2. `assign_parts` decides each record's part with numpy exactly as `splits.split_records` does: within each label
   group, ascending order key, the first ``r(n * test)`` are test, the next ``r(n * valid)`` valid, the rest train.
   Sorting by the 128-bit prefix of the digest is sorting by the hex digest itself unless two ids share those 128
   bits, which is checked (a `RmdError`; no SHA-256 collision of that size is known).
3. `StreamedSplit.iter_part` re-reads the file and yields the dialogues of one part (parsing only its lines), in
   file order, one at a time; `StreamedSplit.protocol_order` lists a part's records group by group in order-key
   order, as split files are written.

The label of a record is the caller's function (`label_of`); records whose label is None form their own group
(generation) or can be dropped with ``drop_unlabelled`` (classification), and `filter_rare` drops the records of
labels with fewer than ``min_count`` records, as `classification.build_classification_task` does.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Callable, Hashable, Iterator

import numpy as np

from ..corpus.model import Dialogue
from ..corpus.reader import ReadReport, decode_line, iter_lines, parse_record, read_numbered_dialogues
from ..errors import RmdError
from .splits import round_half_up

TRAIN, VALID, TEST, DROPPED = 0, 1, 2, 255
PART_CODES = {"train": TRAIN, "valid": VALID, "test": TEST}
NO_LABEL = -1  # the code of records without a label


def order_key_prefix(record_id: str, seed: int) -> tuple[int, int]:
    """The first 128 bits of the order key ``sha256(f"{seed}:{id}")`` as two unsigned 64-bit integers."""
    digest = hashlib.sha256(f"{seed}:{record_id}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:16], "big")


@dataclass
class CorpusScan:
    """One row per valid record of a corpus file, in file order (see the module docstring)."""

    path: str
    seed: int
    lines: np.ndarray        # int64: the record's line number in the file
    label_codes: np.ndarray  # int32: index into ``labels``, or NO_LABEL
    key_hi: np.ndarray       # uint64: bits 0-63 of the order key
    key_lo: np.ndarray       # uint64: bits 64-127
    labels: list[str]        # label names, sorted (so code order is the protocol's group order)
    report: ReadReport

    def __len__(self) -> int:
        return len(self.lines)

    def label_counts(self) -> dict[str, int]:
        counts = np.bincount(self.label_codes[self.label_codes >= 0], minlength=len(self.labels))
        return {label: int(n) for label, n in zip(self.labels, counts)}


def scan_corpus(path: str | os.PathLike, label_of: Callable[[Dialogue], Hashable | None], seed: int,
                skip_invalid: bool = False, on_record: Callable[[int, Dialogue], None] | None = None) -> CorpusScan:
    """Read ``path`` once (validating every record) and keep one row per record; ``on_record(line, dialogue)`` lets a
    caller collect more from the same pass."""
    path = os.fspath(path)
    report = ReadReport(path)
    lines: list[int] = []
    hi: list[int] = []
    lo: list[int] = []
    raw_codes: list[int] = []
    label_index: dict[Hashable, int] = {}
    for number, dialogue in read_numbered_dialogues(path, skip_invalid=skip_invalid, report=report):
        label = label_of(dialogue)
        if label is None:
            raw_codes.append(NO_LABEL)
        else:
            raw_codes.append(label_index.setdefault(label, len(label_index)))
        key_hi, key_lo = order_key_prefix(dialogue.id, seed)
        lines.append(number)
        hi.append(key_hi)
        lo.append(key_lo)
        if on_record is not None:
            on_record(number, dialogue)
    # Recode labels so that code order is sorted label order (the protocol's group order).
    labels = sorted(label_index, key=str)
    recode = np.full(len(label_index) + 1, NO_LABEL, dtype=np.int32)  # the last slot maps NO_LABEL to itself
    for new, label in enumerate(labels):
        recode[label_index[label]] = new
    codes = np.asarray(raw_codes, dtype=np.int64)
    return CorpusScan(path=path, seed=seed, lines=np.asarray(lines, dtype=np.int64),
                      label_codes=recode[codes].astype(np.int32) if len(codes) else np.zeros(0, np.int32),
                      key_hi=np.asarray(hi, dtype=np.uint64), key_lo=np.asarray(lo, dtype=np.uint64),
                      labels=[str(label) for label in labels], report=report)


def protocol_order(label_codes: np.ndarray, key_hi: np.ndarray, key_lo: np.ndarray) -> np.ndarray:
    """Indices of the records group by group (no label first, then labels in code order), each group in ascending
    order-key order; raises if two records of a group share a 128-bit key prefix."""
    order = np.lexsort((key_lo, key_hi, label_codes))
    if len(order) > 1:
        same = ((label_codes[order[1:]] == label_codes[order[:-1]]) & (key_hi[order[1:]] == key_hi[order[:-1]])
                & (key_lo[order[1:]] == key_lo[order[:-1]]))
        if same.any():
            raise RmdError("two record ids share the first 128 bits of their order key; the streamed split cannot "
                           "order them (use the in-memory split)")
    return order


def assign_parts(label_codes: np.ndarray, key_hi: np.ndarray, key_lo: np.ndarray, test_fraction: float,
                 valid_fraction: float = 0.0, keep: np.ndarray | None = None) -> np.ndarray:
    """The part of every record (TRAIN, VALID, TEST, or DROPPED where ``keep`` is False), exactly as
    `splits.split_records` assigns them."""
    n = len(label_codes)
    parts = np.full(n, DROPPED, dtype=np.uint8)
    kept = np.arange(n) if keep is None else np.flatnonzero(keep)
    if not len(kept):
        return parts
    order = kept[protocol_order(label_codes[kept], key_hi[kept], key_lo[kept])]
    groups = label_codes[order]
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    rank = np.arange(len(order)) - np.repeat(starts, sizes)
    n_test = np.array([round_half_up(size * test_fraction) for size in sizes])
    n_valid = np.array([round_half_up(size * valid_fraction) if valid_fraction else 0 for size in sizes])
    test_limit, valid_limit = np.repeat(n_test, sizes), np.repeat(n_test + n_valid, sizes)
    parts[order] = np.where(rank < test_limit, TEST, np.where(rank < valid_limit, VALID, TRAIN)).astype(np.uint8)
    return parts


@dataclass
class StreamedSplit:
    """A corpus scan with the part of every record: the split, read back one part at a time."""

    scan: CorpusScan
    parts: np.ndarray  # uint8 per scanned record
    dropped_rare: dict[str, int] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return self.scan.path

    def count(self, part: str) -> int:
        return int(np.count_nonzero(self.parts == PART_CODES[part]))

    def part_lines(self, part: str) -> np.ndarray:
        """Line numbers of the part's records, ascending."""
        return self.scan.lines[self.parts == PART_CODES[part]]

    def iter_part(self, part: str) -> Iterator[Dialogue]:
        """The part's dialogues in file order, read from the file again. Only the part's lines are parsed (the scan
        validated every record already and left out the invalid ones)."""
        lines = self.part_lines(part)
        if not len(lines):
            return
        wanted = np.zeros(int(lines[-1]) + 1, dtype=bool)
        wanted[lines] = True
        limit, path = len(wanted), self.path
        for number, raw in iter_lines(path):
            if number >= limit:
                break
            if wanted[number]:
                yield parse_record(f"{path}:{number}", decode_line(path, number, raw))

    def protocol_order(self, part: str) -> np.ndarray:
        """Line numbers of the part's records in the order split files list them (group by group, order key)."""
        mask = self.parts == PART_CODES[part]
        scan = self.scan
        order = protocol_order(scan.label_codes[mask], scan.key_hi[mask], scan.key_lo[mask])
        return scan.lines[mask][order]


def split_scan(scan: CorpusScan, test_fraction: float, valid_fraction: float = 0.0,
               drop_unlabelled: bool = False, min_count: int = 1) -> StreamedSplit:
    """Assign every scanned record to its part; with ``drop_unlabelled`` records without a label are dropped, and
    labels with fewer than ``min_count`` records are dropped (reported in ``dropped_rare``)."""
    codes = scan.label_codes
    keep = np.ones(len(codes), dtype=bool)
    if drop_unlabelled:
        keep &= codes != NO_LABEL
    dropped_rare = {}
    if min_count > 1 and len(codes):
        counts = np.bincount(codes[codes >= 0], minlength=len(scan.labels))
        rare = np.flatnonzero(counts < min_count)
        dropped_rare = {scan.labels[i]: int(counts[i]) for i in rare if counts[i]}
        keep &= ~np.isin(codes, rare)
    parts = assign_parts(codes, scan.key_hi, scan.key_lo, test_fraction, valid_fraction, keep=keep)
    return StreamedSplit(scan, parts, dropped_rare)

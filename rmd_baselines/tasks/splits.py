"""The protocol's deterministic splits (benchmark-protocol.md section 1).

A record's order key is ``sha256(f"{seed}:{id}")``; records are grouped by the stratification label, each group
sorted by order key, and the first ``r(n/5)`` of a group are test (classification 4:1), or the first ``r(n/10)``
test and the next ``r(n/10)`` valid (generation 8:1:1), with ``r(x) = floor(x + 0.5)``. Split files list groups in
sorted label order (records without a label first), each group in order-key order.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Generic, Hashable, Iterable, Sequence, TypeVar

T = TypeVar("T")

DEFAULT_SEED = 0


def round_half_up(x: float) -> int:
    """``floor(x + 0.5)``: the protocol's rounding (Python's `round` rounds half to even)."""
    return math.floor(x + 0.5)


def order_key(record_id: str, seed: int = DEFAULT_SEED) -> str:
    """The hash that orders records inside a group."""
    return hashlib.sha256(f"{seed}:{record_id}".encode("utf-8")).hexdigest()


def _group_sort_key(label: Hashable | None) -> tuple[int, str]:
    # Records without a label come first, then labels in sorted order.
    return (0, "") if label is None else (1, str(label))


def group_by_label(
    records: Iterable[T], label_of: Callable[[T], Hashable | None], id_of: Callable[[T], str], seed: int
) -> list[tuple[Hashable | None, list[T]]]:
    """Groups in protocol order (no label first, then sorted labels), each sorted by order key."""
    groups: dict[Hashable | None, list[T]] = defaultdict(list)
    for record in records:
        groups[label_of(record)].append(record)
    ordered = []
    for label in sorted(groups, key=_group_sort_key):
        members = sorted(groups[label], key=lambda r: order_key(id_of(r), seed))
        ordered.append((label, members))
    return ordered


@dataclass
class Split(Generic[T]):
    """Records per part, each part listed group by group in protocol order."""

    train: list[T] = field(default_factory=list)
    test: list[T] = field(default_factory=list)
    valid: list[T] = field(default_factory=list)

    def parts(self) -> dict[str, list[T]]:
        """The non-empty parts by name (``valid`` only for generation splits)."""
        out = {"train": self.train}
        if self.valid:
            out["valid"] = self.valid
        out["test"] = self.test
        return out


def split_records(
    records: Sequence[T],
    label_of: Callable[[T], Hashable | None],
    id_of: Callable[[T], str],
    seed: int = DEFAULT_SEED,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.0,
) -> Split[T]:
    """Per-group split: first ``r(n*test)`` test, next ``r(n*valid)`` valid, rest train."""
    split: Split[T] = Split()
    for _, members in group_by_label(records, label_of, id_of, seed):
        n = len(members)
        n_test = round_half_up(n * test_fraction)
        n_valid = round_half_up(n * valid_fraction) if valid_fraction else 0
        split.test.extend(members[:n_test])
        split.valid.extend(members[n_test:n_test + n_valid])
        split.train.extend(members[n_test + n_valid:])
    return split


def classification_split(records: Sequence[T], label_of: Callable[[T], Hashable], id_of: Callable[[T], str],
                         seed: int = DEFAULT_SEED) -> Split[T]:
    """The paper's 4:1 classification split, stratified by the task's label."""
    return split_records(records, label_of, id_of, seed, test_fraction=1 / 5)


def generation_split(records: Sequence[T], label_of: Callable[[T], Hashable | None], id_of: Callable[[T], str],
                     seed: int = DEFAULT_SEED) -> Split[T]:
    """The paper's 8:1:1 generation split, stratified by department (no department is its own group)."""
    return split_records(records, label_of, id_of, seed, test_fraction=1 / 10, valid_fraction=1 / 10)


def sample_by_order_key(records: Sequence[T], n: int | None, id_of: Callable[[T], str],
                        seed: int = DEFAULT_SEED) -> list[T]:
    """A seeded sample of ``n`` records (all of them when ``n`` is None or not smaller), kept in their given order:
    those whose key ``sha256(f"{seed}:sample:{id}")`` is among the ``n`` smallest. Used for ``--max-test``, so the
    sample of a test split never depends on how the split was read."""
    if n is None or n >= len(records):
        return list(records)
    if n < 1:
        raise ValueError(f"sample size must be at least 1, got {n}")
    chosen = set(heapq.nsmallest(n, range(len(records)), key=lambda i: order_key(f"sample:{id_of(records[i])}", seed)))
    return [record for i, record in enumerate(records) if i in chosen]

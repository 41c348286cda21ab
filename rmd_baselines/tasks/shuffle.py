"""Seeded shuffles that never need the whole corpus in memory.

Online learners trained on records grouped by label (as split files list them) collapse, so every streamed
learner and ``data split --shuffle`` use the orders of this module:

- `shuffle_key`: a record's shuffle key ``sha256(f"{seed}:shuffle:{id}")`` (its first 64 bits). Sorting records by
  it is a seeded shuffle that depends only on the ids and the seed, never on the file order; ``data split
  --shuffle`` writes each part in this order (a sort of keys, 8 bytes a record).
- `SparseRowBuckets`: an external bucketed shuffle of sparse feature rows for several passes (epochs). Rows go to
  one of ``n_buckets`` files on disk by their shuffle key; a pass visits the buckets in a seeded order and each
  bucket's rows in a seeded permutation (after sorting them by key, so the order does not depend on the order
  rows were added). Memory: the write buffer plus one bucket (about ``1 / n_buckets`` of the rows).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from typing import Callable, Iterator, Sequence, TypeVar

import numpy as np
import scipy.sparse as sp

T = TypeVar("T")


def shuffle_key(record_id: str, seed: int, salt: str = "shuffle") -> int:
    """The first 64 bits of ``sha256(f"{seed}:{salt}:{id}")`` as an unsigned integer."""
    digest = hashlib.sha256(f"{seed}:{salt}:{record_id}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def shuffle_keys(record_ids: Sequence[str], seed: int, salt: str = "shuffle") -> np.ndarray:
    """`shuffle_key` of every id, as uint64."""
    return np.fromiter((shuffle_key(i, seed, salt) for i in record_ids), dtype=np.uint64, count=len(record_ids))


def shuffled(records: Sequence[T], id_of: Callable[[T], str], seed: int) -> list[T]:
    """The records in shuffle-key order (ties, i.e. equal ids, keep their given order)."""
    keys = shuffle_keys([id_of(r) for r in records], seed)
    return [records[i] for i in np.argsort(keys, kind="stable")]


class SparseRowBuckets:
    """Rows of a sparse matrix (``n_features`` columns, float32 values) with an int32 label each, spread over
    ``n_buckets`` files under a temporary directory and read back in a seeded shuffled order, pass after pass.

    Use as a context manager (the directory is removed on exit). ``add(keys, matrix, labels)`` appends rows
    (``keys`` are their `shuffle_key`s); `epoch` yields ``(matrix, labels)`` one bucket at a time.
    """

    def __init__(self, n_features: int, n_buckets: int = 64, seed: int = 0, directory: str | None = None,
                 buffer_entries: int = 2_000_000):
        if n_buckets < 1:
            raise ValueError("n_buckets must be at least 1")
        self.n_features = int(n_features)
        self.n_buckets = int(n_buckets)
        self.seed = int(seed)
        self.buffer_entries = int(buffer_entries)
        self.directory = tempfile.mkdtemp(prefix="rmd-shuffle-", dir=directory)
        self.rows = np.zeros(self.n_buckets, dtype=np.int64)
        self._buffer: list[list[tuple]] = [[] for _ in range(self.n_buckets)]
        self._buffered = 0
        self.max_rows_held = 0  # the most rows one `epoch` step held in memory (a bound the tests check)

    def __enter__(self) -> "SparseRowBuckets":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def _path(self, bucket: int, what: str) -> str:
        return os.path.join(self.directory, f"{bucket:04d}.{what}")

    def add(self, keys: np.ndarray, matrix: sp.csr_matrix, labels: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.uint64)
        labels = np.asarray(labels, dtype=np.int32)
        matrix = sp.csr_matrix(matrix)
        buckets = (keys % np.uint64(self.n_buckets)).astype(np.int64)
        for bucket in np.unique(buckets):
            rows = np.flatnonzero(buckets == bucket)
            part = matrix[rows]
            self._buffer[bucket].append((keys[rows], np.diff(part.indptr).astype(np.int32),
                                         part.indices.astype(np.int32), part.data.astype(np.float32),
                                         labels[rows]))
            self.rows[bucket] += len(rows)
            self._buffered += part.nnz + len(rows)
        if self._buffered >= self.buffer_entries:
            self.flush()

    def flush(self) -> None:
        for bucket, chunks in enumerate(self._buffer):
            if not chunks:
                continue
            for i, what in enumerate(("keys", "lengths", "indices", "data", "labels")):
                with open(self._path(bucket, what), "ab") as handle:
                    for chunk in chunks:
                        handle.write(np.ascontiguousarray(chunk[i]).tobytes())
            self._buffer[bucket] = []
        self._buffered = 0

    def read_bucket(self, bucket: int) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray]:
        """A bucket's keys, rows and labels, sorted by key."""
        if not self.rows[bucket]:
            return (np.zeros(0, np.uint64), sp.csr_matrix((0, self.n_features), dtype=np.float32),
                    np.zeros(0, np.int32))
        keys = np.fromfile(self._path(bucket, "keys"), dtype=np.uint64)
        lengths = np.fromfile(self._path(bucket, "lengths"), dtype=np.int32)
        indices = np.fromfile(self._path(bucket, "indices"), dtype=np.int32)
        data = np.fromfile(self._path(bucket, "data"), dtype=np.float32)
        labels = np.fromfile(self._path(bucket, "labels"), dtype=np.int32)
        indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        matrix = sp.csr_matrix((data, indices, indptr), shape=(len(lengths), self.n_features))
        order = np.argsort(keys, kind="stable")
        return keys[order], matrix[order], labels[order]

    def epoch(self, number: int) -> Iterator[tuple[sp.csr_matrix, np.ndarray]]:
        """One pass over every row: buckets in a seeded order, each bucket's rows in a seeded permutation."""
        self.flush()
        rng = np.random.default_rng([self.seed, number])
        for bucket in rng.permutation(self.n_buckets):
            _, matrix, labels = self.read_bucket(int(bucket))
            if not len(labels):
                continue
            self.max_rows_held = max(self.max_rows_held, len(labels))
            order = np.random.default_rng([self.seed, number, int(bucket)]).permutation(len(labels))
            yield matrix[order], labels[order]

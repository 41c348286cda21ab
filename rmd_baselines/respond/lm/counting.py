"""Counting n-grams for the Kneser-Ney estimator in bounded memory (issue 11 §4).

`KneserNeyLM` needs, for every order k, the distinct k-grams of the training sequences sorted by ``(row of the
first k-1 words in the order-(k-1) table, last word)``, with raw counts and the row of each k-gram's suffix. The
in-memory counter (`kneser_ney.KneserNeyLM._count`) builds that from one int64 array of the whole token stream and
a few arrays of the same length per order: about 60 bytes a token, plus the Python token lists. For millions of
dialogues that is many GiB. This module computes exactly the same tables while holding only one chunk of the stream
at a time:

1. `encode_sequences` reads the sequences once, lazily (an iterator is never materialised), numbers every token
   by first appearance and appends ``<s> ids </s>`` to an int32 file on disk, ``chunk_tokens`` ids at a time. Bad
   tokens are refused with the message the in-memory path gives (sequence and position of the first one).
2. The vocabulary is sorted (the estimator's code-point order) and a remapping array turns provisional ids into
   final ones as chunks are read back.
3. Order by order (k = 2 .. N), chunk by chunk: the k-gram ending at position t is the pair ``(row of the
   (k-1)-gram ending at t-1, word at t)``; it exists when t is not a ``<s>`` and that (k-1)-gram exists. Each
   chunk's keys ``row * |V| + word`` are sorted and counted (`numpy.unique`), and the sorted chunk runs are merged
   like a log-structured merge (runs of similar size merged pairwise, so every key takes part in O(log chunks)
   merges; numpy's stable sort (timsort) merges two sorted runs in linear time). The merged keys are the order's
   table. A second pass turns every chunk's keys into table rows (the "window" the next order reads), written to
   a file: the stream and one window file (int32 while the table has fewer than 2**31 rows) plus the chunks'
   distinct keys and int32 positions of the current order are all that is on disk (in the system's temporary
   folder, ``TMPDIR``; about 16 bytes a token at the peak), read back with plain file reads (not memory-mapped,
   so they never count as resident memory).
4. The suffix row of every k-gram is found by one vectorised ``searchsorted`` over the distinct k-grams (the
   suffix of ``(prefix, w)`` is ``(suffix of prefix, w)``), never per token.

Memory is then O(chunk_tokens + distinct n-grams): the distinct n-grams are what the model is made of, so no
counter can hold less without pruning, and `KneserNeyLM`'s ``prune`` thresholds shrink what is kept after
counting (see there).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ...errors import DataError

DEFAULT_CHUNK_TOKENS = 1 << 21  # 2M positions: about 100 MB of working arrays per chunk


@dataclass
class EncodedStream:
    """Sequences as ``<s> ids </s>`` in an int32 file, with provisional ids (first appearance order)."""

    path: str
    length: int            # positions in the file
    n_sequences: int
    n_tokens: int          # training tokens plus one </s> per sequence (KneserNeyLM.n_tokens_)
    tokens: list[str]      # provisional id -> token (ids 0-2: <unk>, <s>, </s>)


def encode_sequences(sequences: Iterable[Sequence[str]], path: str, chunk_tokens: int, special_tokens: Sequence[str],
                     token_problem) -> EncodedStream:
    """Write every sequence as ``<s> ids </s>`` (int32) to ``path``; see the module docstring."""
    bos, eos = 1, 2
    index: dict[str, int] = {}  # ordinary tokens only: a special one misses the fast path and is refused below
    tokens: list[str] = list(special_tokens)
    get = index.get
    buffer: list[int] = []
    length = n_sequences = n_tokens = 0
    with open(path, "wb") as out:
        for number, sequence in enumerate(sequences):
            try:
                ids = [get(token, -1) for token in sequence]
            except TypeError:  # an unhashable "token": take the slow path, which names the first bad one
                ids = None
            if ids is None or -1 in ids:
                ids = []
                for position, token in enumerate(sequence):
                    try:
                        known = get(token)
                    except TypeError:
                        known = None
                    if known is None:
                        problem = token_problem(token)
                        if problem:
                            raise DataError(f"sequence {number}: token {position}: {problem}")
                        known = index[token] = len(tokens)
                        tokens.append(token)
                    ids.append(known)
            buffer.append(bos)
            buffer.extend(ids)
            buffer.append(eos)
            n_sequences += 1
            n_tokens += len(ids) + 1
            if len(buffer) >= chunk_tokens:
                np.asarray(buffer, dtype=np.int32).tofile(out)
                length += len(buffer)
                buffer = []
        if buffer:
            np.asarray(buffer, dtype=np.int32).tofile(out)
            length += len(buffer)
    if n_sequences == 0:
        raise DataError("no training sequences for the language model")
    return EncodedStream(path, length, n_sequences, n_tokens, tokens)


def _read(path: str, dtype, start: int, count: int) -> np.ndarray:
    """``count`` items of a raw array file from item ``start`` (plain reads: page cache, not resident memory)."""
    itemsize = np.dtype(dtype).itemsize
    with open(path, "rb") as handle:
        handle.seek(start * itemsize)
        return np.fromfile(handle, dtype=dtype, count=count)


def _merge_runs(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Two sorted (distinct keys, counts) runs as one."""
    keys = np.concatenate([a[0], b[0]])
    counts = np.concatenate([a[1], b[1]])
    order = np.argsort(keys, kind="stable")  # timsort: two sorted runs merge in linear time
    keys, counts = keys[order], counts[order]
    del order
    if len(keys) == 0:
        return keys, counts
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[starts], np.add.reduceat(counts, starts)


class RunMerger:
    """Sorted (keys, counts) runs merged log-structured: a new run is merged with the last run while that one is
    no more than twice its size, so every key is merged O(log runs) times and at most O(log runs) runs wait."""

    def __init__(self) -> None:
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, keys: np.ndarray, counts: np.ndarray) -> None:
        run = (keys, counts)
        while self.runs and len(self.runs[-1][0]) <= 2 * len(run[0]):
            run = _merge_runs(self.runs.pop(), run)
        self.runs.append(run)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        run = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        while self.runs:
            run = _merge_runs(self.runs.pop(), run)
        return run


def count_chunked(encoded: EncodedStream, remap: np.ndarray, order: int, chunk_tokens: int,
                  workdir: str) -> list[dict[str, np.ndarray]]:
    """The estimator's count tables (what `KneserNeyLM._count` returns) from an encoded stream, one chunk of
    ``chunk_tokens`` positions at a time; ``remap`` maps provisional ids to final (sorted) ones."""
    vocab_size = len(remap)
    bos = 1
    n = encoded.length
    bounds = list(range(0, n, chunk_tokens)) + [n]
    structure = [{"prefix": np.zeros(vocab_size, dtype=np.int64), "word": np.arange(vocab_size, dtype=np.int64),
                  "first_word": np.arange(vocab_size, dtype=np.int64)}]
    previous_window = None  # file of the (k-1)-gram rows per position (None: unigrams = the ids themselves)
    window_dtype = np.int32
    for k in range(2, order + 1):
        merger = RunMerger()
        chunk_files = []
        for c, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
            ids = remap[_read(encoded.path, np.int32, a, b - a)].astype(np.int64)
            if previous_window is None:  # the (k-1)-gram ending at t-1 is the unigram there
                before = remap[_read(encoded.path, np.int32, a - 1, 1)].astype(np.int64) if a else np.array([-1])
                prev = np.concatenate([before, ids[:-1]])
            elif a:
                prev = _read(previous_window, window_dtype, a - 1, b - a).astype(np.int64)
            else:
                prev = np.concatenate([[-1], _read(previous_window, window_dtype, 0, b - 1).astype(np.int64)])
            valid = (ids != bos) & (prev >= 0)
            keys = prev[valid] * vocab_size + ids[valid]
            del ids, prev
            local, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
            del keys
            merger.add(local, counts.astype(np.int64))
            if k < order:  # keep what the window pass needs: the chunk's distinct keys and each position's one
                full = np.full(len(valid), -1, dtype=np.int32)  # a chunk has fewer than 2**31 positions
                full[valid] = inverse.reshape(-1)
                chunk_path = os.path.join(workdir, f"order{k}-chunk{c}.npz")
                np.savez(chunk_path, local=local, inverse=full)
                chunk_files.append(chunk_path)
            del local, inverse, counts, valid
        distinct, raw_count = merger.result()
        del merger
        if k < order:
            window = os.path.join(workdir, f"window{k}.bin")
            window_dtype = np.int32 if len(distinct) < np.iinfo(np.int32).max else np.int64
            with open(window, "wb") as out:
                for chunk_path in chunk_files:
                    with np.load(chunk_path) as saved:
                        local, full = saved["local"], saved["inverse"]
                    rows = np.searchsorted(distinct, local)
                    if len(rows):
                        full = np.where(full >= 0, rows[np.maximum(full, 0)], -1)
                    full.astype(window_dtype).tofile(out)  # (a chunk without k-grams is all -1 already)
                    os.unlink(chunk_path)
                    del local, full, rows
            if previous_window is not None:
                os.unlink(previous_window)
            previous_window = window
        prefix = distinct // vocab_size
        word = distinct % vocab_size
        del distinct
        if k == 2:
            suffix = word.copy()
        else:
            lower = structure[-1]
            suffix_keys = lower["suffix"][prefix] * vocab_size + word
            lower_keys = lower["prefix"] * vocab_size + lower["word"]
            suffix = np.searchsorted(lower_keys, suffix_keys)
            del suffix_keys, lower_keys
        structure.append({"prefix": prefix, "word": word, "suffix": suffix, "raw_count": raw_count,
                          "first_word": structure[-1]["first_word"][prefix]})
    if previous_window is not None:
        os.unlink(previous_window)
    return structure


def chunked_structure(sequences: Iterable[Sequence[str]], order: int, chunk_tokens: int, special_tokens,
                      token_problem, workdir: str | None = None):
    """Encode the sequences and count them in chunks; returns ``(vocab, structure, n_sequences, n_tokens)``."""
    directory = tempfile.mkdtemp(prefix="rmd-lm-counts-", dir=workdir)
    try:
        encoded = encode_sequences(sequences, os.path.join(directory, "stream.bin"), chunk_tokens, special_tokens,
                                   token_problem)
        n_special = len(special_tokens)
        ordinary = sorted(range(n_special, len(encoded.tokens)), key=encoded.tokens.__getitem__)
        vocab = list(special_tokens) + [encoded.tokens[i] for i in ordinary]
        remap = np.empty(len(encoded.tokens), dtype=np.int64)
        remap[:n_special] = np.arange(n_special)
        remap[np.asarray(ordinary, dtype=np.int64)] = np.arange(n_special, len(encoded.tokens))
        structure = count_chunked(encoded, remap, order, chunk_tokens, directory)
        return vocab, structure, encoded.n_sequences, encoded.n_tokens
    finally:
        shutil.rmtree(directory, ignore_errors=True)

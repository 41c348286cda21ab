"""Okapi BM25 over an on-disk index: built in bounded memory, searched with a budgeted first pass.

For a query q and a document d (Robertson & Zaragoza 2009, the form Lucene uses)::

    score(q, d) = sum over terms t of  q_t * idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))

``tf(t, d)`` is the term's (weighted) count in the document, ``|d|`` the document's (weighted) length and ``q_t``
the term's (weighted) count in the query, so a term repeated in the query counts repeatedly. (Lucene since version
8 and bm25s leave out the constant factor ``k1 + 1``, which changes no ranking; bm25s also counts a repeated query
term once.)
Weights let a caller count some tokens more than others (the retrieval responder counts recent turns more).

IDF variants (``idf=``), with N documents and ``df`` the number of documents containing the term:
- ``lucene`` (default): ``ln(1 + (N - df + 0.5) / (df + 0.5))`` -- never negative, so a term shared by most
  documents still adds a little instead of lowering the score;
- ``robertson``: ``ln((N - df + 0.5) / (df + 0.5))`` clipped at 0 (the classic Robertson-Sparck Jones weight);
- ``atire``: ``ln(N / df)``.

The index. Everything query-independent -- idf, length normalisation, saturation -- is folded into one float32
weight per (term, document) posting when the index is built. Two copies of the postings are kept on disk, each as
flat ``.npy`` arrays that a search reads piecemeal -- the compiled loops with ``pread``, the numpy code through a
memory map (``np.load(mmap_mode="r")``) -- so the resident memory of a loaded index is its pointer arrays and what
one search reads, not the index size:

- the inverted index (term-major): for every term its documents (uint32) and weights (float32), **ordered by
  weight, largest first** ("impact-ordered"), so that any prefix of a posting list holds the term's largest
  contributions;
- the forward index (document-major): for every document its terms (uint32, ascending) and weights, used to
  score a candidate document exactly.

Building (`fit_batches`) never holds more than one batch of token lists plus one bounded buffer of postings:
batches are counted into sorted run files (segments) on disk; when every document has been seen (so that idf and
the average length are known), the segments are merged one slice of the vocabulary at a time into the final
impact-ordered inverted index, and the forward index is converted from counts to weights in chunks. The index
files live in a temporary directory (under ``$TMPDIR``) until the index is saved into a model directory.

Search. With ``prefilter=None`` every posting of every query term is read and the scores are exact. With
``prefilter=P`` (default of the retrieval responder) the search is two-pass and the cost of a query is bounded
whatever the index size: the first pass reads at most ``prefilter_budget`` postings -- the query's
``prefilter_terms`` most informative terms (rare terms, document frequency at most ``prefilter_max_df`` of the
documents, first; then by ``q_t * idf(t)``), whole lists in that order while the budget lasts, and of the list
where it runs out the head, i.e. the largest weights -- and keeps the ``P`` best documents by that partial score;
the second pass scores those ``P`` documents exactly with every query term from the forward index. Returned
scores are always exact BM25; a ranking can differ from the exhaustive one only where the first pass missed a
document. When the budget and the term limit cover every posting of the query's terms (and ``P >= k``), the
two-pass search finds what the exhaustive search finds.

The first pass and the exact scoring of the two-pass search run in compiled loops (``_bm25_kernels.c``, built by
``pip install``): in numpy a first pass is a dozen sweeps over its postings, each jumping around an accumulator of
one float per indexed context, while the loop reads each posting once. Both do the same float32/float64
arithmetic in the same order, so they return the same documents and scores bit for bit; the numpy code here is the
reference (tested against the loops) and is used when the module was not built. The loops read the files
with ``pread`` rather than through the memory map because on Linux with large page-cache folios (ext4, xfs) one
touched page of a mapping maps its whole folio, up to 2 MB: the 256 forward lists one query scores then made the
process hold hundreds of MB of the index (measured: 4.5 GiB resident within 64 queries at 1M dialogues, against
0.6 GiB with ``pread``).

What the budget buys (``benchmarks/bench_respond.py --scale-data``, synthetic corpus of 100,000 dialogues,
311,651 contexts, 1,000 test contexts, P = 256): the best context equals the exhaustive search's for 97.5 % of
queries with a budget of 80,000 postings, 97.9 % with 120,000 and 98.4 % with 160,000 (the default); with the
same budget, a larger index spreads each list's postings over more documents, so agreement falls with the index
size while the cost per query stays flat (at 31,000 contexts, 20,000 postings give 98.6 %). On the benchmark's
50,000-context index of the shared real corpora the default agrees on 98.3 % of 1,000 queries. Stop-character
postings are kept (no static pruning): the exhaustive search and the exact second pass need them, and the first
pass never reads them anyway.
"""

from __future__ import annotations

import itertools
import mmap
import os
import shutil
import tempfile
import threading
import weakref
from typing import Callable, Iterable, NamedTuple, Sequence

import numpy as np
import scipy.sparse as sp

from ..errors import ModelFormatError, UsageError
from ..persist import ARRAY_FILE_ERRORS

try:  # the compiled inner loops (setup.py builds them); without them the numpy reference below does the same
    from . import _bm25_kernels as kernels
except ImportError:  # pragma: no cover - a source tree that was not built
    kernels = None

IDF_VARIANTS = ("lucene", "robertson", "atire")
FORMAT_NAME = "rmd_baselines-bm25"
FORMAT_VERSION = 2
# Index files (besides {prefix}.json and {prefix}.npz): name suffix -> dtype.
INDEX_FILES = {"inv_ptr": np.int64, "inv_docs": np.uint32, "inv_weights": np.float32,
               "fwd_ptr": np.int64, "fwd_terms": np.uint32, "fwd_weights": np.float32}
SEGMENT_POSTINGS = 4_000_000   # postings buffered in memory before a sorted segment is written
MERGE_POSTINGS = 4_000_000     # postings merged at once (one slice of the vocabulary)
CHUNK = 4_000_000              # elements per chunk when streaming arrays
GATHER_LIMIT = 1 << 26       # postings a first pass gathers at once (beyond: term by term)
UNMAP_EVERY = 64             # queries between re-mappings of the index (bounds the mapped pages a batch keeps)
DEFAULT_BUDGET = 160_000     # postings read by the first pass of a two-pass search, per query
MAX_DOCS = np.iinfo(np.uint32).max


def _flatten(token_lists: Sequence[Sequence[str]], weights: Sequence[Sequence[float]] | None):
    """Row numbers, tokens and weights of every token of every list, in order."""
    lengths = np.fromiter((len(tokens) for tokens in token_lists), dtype=np.int64, count=len(token_lists))
    rows = np.repeat(np.arange(len(token_lists), dtype=np.int64), lengths)
    tokens = list(itertools.chain.from_iterable(token_lists))
    if weights is None:
        values = np.ones(len(tokens), dtype=np.float64)
    else:
        if len(weights) != len(token_lists):
            raise UsageError(f"{len(token_lists)} token lists but {len(weights)} weight lists")
        values = np.fromiter(itertools.chain.from_iterable(weights), dtype=np.float64)
        if len(values) != len(tokens):
            raise UsageError("every token needs exactly one weight")
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise UsageError("token weights must be finite and non-negative")
    return rows, tokens, values


def _best(docs: np.ndarray, values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The entries with the ``k`` largest values, plus any tied with the k-th (order not meaningful)."""
    if len(values) <= k:
        return docs, values
    threshold = np.partition(values, len(values) - k)[len(values) - k]
    near = values >= threshold
    return docs[near], values[near]


def _first(docs: np.ndarray, values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exactly the ``k`` entries with the largest values (ties at the k-th value: the smallest documents)."""
    if len(values) <= k:
        return docs, values
    threshold = np.partition(values, len(values) - k)[len(values) - k]
    above = values > threshold
    tied = np.flatnonzero(values == threshold)
    tied = tied[np.argsort(docs[tied], kind="stable")[:k - int(above.sum())]]
    chosen = np.concatenate([np.flatnonzero(above), tied])
    return docs[chosen], values[chosen]


def _share(lengths: np.ndarray, budget: int) -> np.ndarray:
    """How many postings of each list (most informative term first) the first pass reads: whole lists in order
    while the budget lasts, then the head (largest weights) of the list where it runs out, nothing after."""
    spent = np.cumsum(lengths) - lengths
    return np.clip(budget - spent, 0, lengths)


def _documents_of(ptr: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """The document of every posting ``lo..hi-1`` of a document-major array with pointers ``ptr``."""
    first = int(np.searchsorted(ptr, lo, side="right")) - 1
    last = int(np.searchsorted(ptr, hi - 1, side="right")) - 1 if hi > lo else first
    bounds = np.clip(ptr[first:last + 2], lo, hi)
    return np.repeat(np.arange(first, last + 1, dtype=np.int64), np.diff(bounds))


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(s, s + n)`` for every ``(s, n)`` (int64), without a Python loop."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    out = np.arange(total, dtype=np.int64)
    out += np.repeat(np.asarray(starts, dtype=np.int64) - offsets, lengths)
    return out


class KeyedBatch(NamedTuple):
    """A batch of documents whose terms are given as integer keys instead of strings (a fast tokenizer's
    output): ``rows`` (document of each occurrence, 0-based within the batch), ``keys`` (int64), ``values``
    (weights) and ``spell`` (a function from an array of keys to their term strings)."""

    n_docs: int
    rows: np.ndarray
    keys: np.ndarray
    values: np.ndarray
    spell: Callable[[np.ndarray], list[str]]


class _KeyMap:
    """Integer term keys -> term numbers (sorted arrays); a batch's new keys get the next numbers in key order,
    and their strings join the vocabulary."""

    def __init__(self):
        self.keys = np.zeros(0, dtype=np.int64)
        self.numbers = np.zeros(0, dtype=np.int64)

    def ids(self, batch: "KeyedBatch", index: dict[str, int]) -> np.ndarray:
        unique = np.unique(batch.keys)
        where = np.minimum(np.searchsorted(self.keys, unique), max(len(self.keys) - 1, 0))
        known = (self.keys[where] == unique) if len(self.keys) else np.zeros(len(unique), dtype=bool)
        numbers = np.empty(len(unique), dtype=np.int64)
        numbers[known] = self.numbers[where[known]]
        new = np.flatnonzero(~known)  # numbered in key order
        for position, term in zip(new.tolist(), batch.spell(unique[new])):
            numbers[position] = index.setdefault(term, len(index))
        if len(new):
            merged = np.concatenate([self.keys, unique[new]])
            order = np.argsort(merged, kind="stable")
            self.keys = merged[order]
            self.numbers = np.concatenate([self.numbers, numbers[new]])[order]
        return numbers[np.searchsorted(unique, batch.keys)]


class _NpyWriter:
    """Appends chunks to a 1-d ``.npy`` file whose length is known in advance (no memory map, no RSS)."""

    def __init__(self, path: str, dtype, length: int):
        self.handle = open(path, "wb")
        self.dtype = np.dtype(dtype)
        self.length = length
        self.written = 0
        np.lib.format.write_array_header_1_0(self.handle, {
            "descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": (length,)})

    def write(self, chunk: np.ndarray) -> None:
        chunk = np.ascontiguousarray(chunk, dtype=self.dtype)
        self.handle.write(chunk.tobytes())
        self.written += len(chunk)

    def close(self) -> None:
        self.handle.close()
        if self.written != self.length:
            raise RuntimeError(f"{self.handle.name}: wrote {self.written} of {self.length} elements")


def _read_chunks(path: str, dtype, start: int = 0, stop: int | None = None):
    """Consecutive chunks of a raw binary file (plain reads: the pages are not mapped into this process)."""
    dtype = np.dtype(dtype)
    if stop is None:
        stop = os.path.getsize(path) // dtype.itemsize
    with open(path, "rb") as handle:
        handle.seek(start * dtype.itemsize)
        position = start
        while position < stop:
            count = min(CHUNK, stop - position)
            chunk = np.fromfile(handle, dtype=dtype, count=count)
            if len(chunk) != count:
                raise OSError(f"{path}: file ended early")
            position += count
            yield chunk


def _read_at(path: str, dtype, start: int, count: int | None = None):
    """``count`` elements (one scalar when None) of a raw binary file from element ``start`` (a plain read)."""
    dtype = np.dtype(dtype)
    with open(path, "rb") as handle:
        values = np.fromfile(handle, dtype=dtype, count=1 if count is None else count,
                             offset=start * dtype.itemsize)
    if len(values) != (1 if count is None else count):
        raise OSError(f"{path}: file ended early")
    return values[0] if count is None else values


def _npy_header(path: str) -> tuple[tuple, bool, np.dtype, int]:
    """``(shape, fortran_order, dtype, offset of the data)`` of a ``.npy`` file."""
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = reader(handle)
        return shape, fortran, dtype, handle.tell()


def _npy_chunks(path: str):
    """Consecutive chunks of a 1-d ``.npy`` file, read plainly (see `_read_chunks`)."""
    shape, fortran, dtype, offset = _npy_header(path)
    if len(shape) != 1 or fortran:
        raise ValueError("not a 1-d array")
    itemsize = dtype.itemsize
    with open(path, "rb") as handle:
        handle.seek(offset)
        remaining = shape[0]
        while remaining:
            count = min(CHUNK, remaining)
            chunk = np.fromfile(handle, dtype=dtype, count=count)
            if len(chunk) != count:
                raise ValueError(f"file ended early ({itemsize * count} bytes expected)")
            remaining -= count
            yield chunk


def _close_files(files: dict[str, tuple[int, int]]) -> None:
    for fd, _ in files.values():
        os.close(fd)
    files.clear()


class BM25Index:
    """A BM25 index over token lists (documents), queried in batches.

    Fitted attributes: ``vocabulary_`` (terms in order of first occurrence; for `KeyedBatch` input, a batch's new
    terms in key order), ``idf_`` (per term),
    ``document_frequency_``, ``doc_length_`` (weighted document lengths), ``avg_doc_length_``, ``n_docs_``,
    ``n_postings_`` and ``directory_`` (where the index files are).
    """

    def __init__(self, k1: float = 1.5, b: float = 0.75, idf: str = "lucene", prefilter: int | None = None,
                 prefilter_terms: int = 32, prefilter_max_df: float = 0.05,
                 prefilter_budget: int | None = DEFAULT_BUDGET):
        self.k1 = k1
        self.b = b
        self.idf = idf
        self.prefilter = prefilter
        self.prefilter_terms = prefilter_terms
        self.prefilter_max_df = prefilter_max_df
        self.prefilter_budget = prefilter_budget

    def get_params(self) -> dict:
        return {"k1": self.k1, "b": self.b, "idf": self.idf, "prefilter": self.prefilter,
                "prefilter_terms": self.prefilter_terms, "prefilter_max_df": self.prefilter_max_df,
                "prefilter_budget": self.prefilter_budget}

    def _check_params(self) -> None:
        if isinstance(self.k1, bool) or not isinstance(self.k1, (int, float)) or not self.k1 >= 0:
            raise UsageError(f"k1 must be a number >= 0, got {self.k1!r}")
        if isinstance(self.b, bool) or not isinstance(self.b, (int, float)) or not 0 <= self.b <= 1:
            raise UsageError(f"b must be a number from 0 to 1, got {self.b!r}")
        if self.idf not in IDF_VARIANTS:
            raise UsageError(f"idf must be one of {', '.join(IDF_VARIANTS)}, got {self.idf!r}")
        for name in ("prefilter", "prefilter_terms", "prefilter_budget"):
            value = getattr(self, name)
            if (value is not None or name == "prefilter_terms") and (
                    isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise UsageError(f"{name} must be a positive integer{'' if name == 'prefilter_terms' else ' or None'}"
                                 f", got {value!r}")
        share = self.prefilter_max_df
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
            raise UsageError(f"prefilter_max_df must be a number in (0, 1], got {share!r}")

    # ------------------------------------------------------------------------------------------- fitting

    def fit(self, token_lists: Sequence[Sequence[str]],
            weights: Sequence[Sequence[float]] | None = None) -> "BM25Index":
        """Index the documents; ``weights`` (optional) gives every token its own count (default 1)."""
        token_lists = list(token_lists)
        return self.fit_batches([(token_lists, weights)])

    def fit_batches(self, batches: Iterable[tuple[Sequence[Sequence[str]], Sequence[Sequence[float]] | None]]
                    ) -> "BM25Index":
        """Index documents given in batches of ``(token_lists, weights)``, in bounded memory.

        Only one batch of Python token lists is alive at a time. Its postings go to a buffer that is written to
        disk as a sorted segment whenever it holds ``SEGMENT_POSTINGS``; the documents' terms and counts are
        appended to the forward file as they come. Peak memory is the vocabulary, a few arrays of one entry per
        document, and a bounded number of postings -- not the corpus.
        """
        self._check_params()
        work = tempfile.mkdtemp(prefix="rmd-bm25-")
        self._set_directory(work, owned=True)
        try:
            self._build(work, batches)
        except BaseException:
            self._release()
            raise
        return self

    def _set_directory(self, directory: str, owned: bool, prefix: str = "") -> None:
        self.directory_ = directory
        self._file_prefix = prefix
        self._finalizer = weakref.finalize(self, shutil.rmtree, directory, True) if owned else None
        self._arrays: dict[str, np.ndarray] = {}
        if hasattr(self, "_files"):  # fitted again: the previous index's files
            _close_files(self._files)
        else:
            self._files: dict[str, tuple[int, int]] = {}
            weakref.finalize(self, _close_files, self._files)
        self._scratch = None
        self._lock = threading.Lock()

    def _release(self) -> None:
        self._arrays = {}
        _close_files(self._files)
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer()

    def _build(self, work: str, batches) -> None:
        index: dict[str, int] = {}
        keys = _KeyMap()
        fwd_terms = open(os.path.join(work, "tmp_fwd_terms.bin"), "wb")
        fwd_counts = open(os.path.join(work, "tmp_fwd_counts.bin"), "wb")
        row_lengths: list[np.ndarray] = []
        doc_lengths: list[np.ndarray] = []
        segments: list[tuple[str, int]] = []
        buffer: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        buffered = 0
        n_docs = 0
        df = np.zeros(0, dtype=np.int64)

        def flush():
            nonlocal buffer, buffered
            if not buffer:
                return
            terms = np.concatenate([b[0] for b in buffer])
            docs = np.concatenate([b[1] for b in buffer])
            counts = np.concatenate([b[2] for b in buffer])
            buffer, buffered = [], 0
            order = np.argsort((terms.astype(np.uint64) << np.uint64(32)) | docs)  # by term, then document
            base = os.path.join(work, f"tmp_segment_{len(segments)}")
            terms = terms[order]
            docs[order].tofile(base + ".docs")
            counts[order].tofile(base + ".counts")
            np.searchsorted(terms, np.arange(len(index) + 1)).astype(np.int64).tofile(base + ".ptr")
            segments.append((base, len(index)))

        try:
            for batch in batches:
                if isinstance(batch, KeyedBatch):
                    n_batch, rows, values = batch.n_docs, batch.rows, batch.values
                    term_ids = keys.ids(batch, index)
                else:
                    token_lists, weights = batch
                    n_batch = len(token_lists)
                    rows, tokens, values = _flatten(token_lists, weights)
                    term_ids = np.fromiter((index.setdefault(token, len(index)) for token in tokens), dtype=np.int64,
                                           count=len(tokens))
                if not n_batch:
                    continue
                block = sp.csr_matrix((values, (rows, term_ids)), shape=(n_batch, len(index)))  # sums repeats
                block.sum_duplicates()
                block.eliminate_zeros()
                block.sort_indices()
                n_rows = block.shape[0]
                if n_docs + n_rows > MAX_DOCS:
                    raise UsageError(f"a BM25 index holds at most {MAX_DOCS} documents")
                lengths = np.diff(block.indptr)
                row_lengths.append(lengths.astype(np.int64))
                doc_lengths.append(np.asarray(block.sum(axis=1), dtype=np.float64).ravel())
                terms = block.indices.astype(np.uint32)
                counts = block.data.astype(np.float32)
                terms.tofile(fwd_terms)
                counts.tofile(fwd_counts)
                docs = np.repeat(np.arange(n_docs, n_docs + n_rows, dtype=np.uint32), lengths)
                if len(df) < len(index):
                    df = np.concatenate([df, np.zeros(len(index) - len(df), dtype=np.int64)])
                df += np.bincount(terms, minlength=len(index))
                buffer.append((terms, docs, counts))
                buffered += len(terms)
                n_docs += n_rows
                if buffered >= SEGMENT_POSTINGS:
                    flush()
            flush()
        finally:
            fwd_terms.close()
            fwd_counts.close()
        if n_docs == 0:
            raise UsageError("BM25Index.fit needs at least one document")
        n_terms = len(index)
        self.vocabulary_ = list(index)
        self._term_index = index
        self.n_docs_ = n_docs
        self.doc_length_ = np.concatenate(doc_lengths)
        self.avg_doc_length_ = float(self.doc_length_.mean())
        self.idf_ = self._idf(df, n_docs)
        self.document_frequency_ = df
        norm = self._norm()
        # Forward index: counts -> weights, chunk by chunk.
        fwd_ptr = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(np.concatenate(row_lengths), out=fwd_ptr[1:])
        del row_lengths
        total = int(fwd_ptr[-1])
        self.n_postings_ = total
        np.save(os.path.join(work, "fwd_ptr.npy"), fwd_ptr)
        terms_out = _NpyWriter(os.path.join(work, "fwd_terms.npy"), np.uint32, total)
        weights_out = _NpyWriter(os.path.join(work, "fwd_weights.npy"), np.float32, total)
        position = 0
        for terms, counts in zip(_read_chunks(os.path.join(work, "tmp_fwd_terms.bin"), np.uint32),
                                 _read_chunks(os.path.join(work, "tmp_fwd_counts.bin"), np.float32)):
            docs = _documents_of(fwd_ptr, position, position + len(terms))
            terms_out.write(terms)
            weights_out.write(self._weights(terms, docs, counts, norm))
            position += len(terms)
        terms_out.close()
        weights_out.close()
        os.remove(os.path.join(work, "tmp_fwd_terms.bin"))
        os.remove(os.path.join(work, "tmp_fwd_counts.bin"))
        # Inverted index: merge the segments one slice of the vocabulary at a time, impact-ordered.
        inv_ptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(df, out=inv_ptr[1:])
        np.save(os.path.join(work, "inv_ptr.npy"), inv_ptr)
        docs_out = _NpyWriter(os.path.join(work, "inv_docs.npy"), np.uint32, total)
        weights_out = _NpyWriter(os.path.join(work, "inv_weights.npy"), np.float32, total)
        start = 0
        while start < n_terms:
            stop = int(np.searchsorted(inv_ptr, inv_ptr[start] + MERGE_POSTINGS, side="right")) - 1
            stop = min(max(stop, start + 1), n_terms)
            parts_t, parts_d, parts_c = [], [], []
            for base, seg_terms in segments:
                first, last = min(start, seg_terms), min(stop, seg_terms)
                ptr = _read_at(base + ".ptr", np.int64, first, last - first + 1)
                lo, hi = int(ptr[0]), int(ptr[-1])
                if hi > lo:
                    parts_t.append(np.repeat(np.arange(first, last, dtype=np.uint32), np.diff(ptr)))
                    parts_d.append(_read_at(base + ".docs", np.uint32, lo, hi - lo))
                    parts_c.append(_read_at(base + ".counts", np.float32, lo, hi - lo))
            if parts_t:
                terms = np.concatenate(parts_t)
                docs = np.concatenate(parts_d)
                counts = np.concatenate(parts_c)
                weights = self._weights(terms, docs, counts, norm)
                # By term, then weight descending; the stable sort keeps documents ascending among equal weights.
                sort_key = (terms.astype(np.uint64) - np.uint64(start)) << np.uint64(32)
                sort_key |= np.uint64(0xFFFFFFFF) - weights.view(np.uint32).astype(np.uint64)  # weights are > 0
                order = np.argsort(sort_key, kind="stable")
                del sort_key
                docs_out.write(docs[order])
                weights_out.write(weights[order])
            start = stop
        docs_out.close()
        weights_out.close()
        for base, _ in segments:
            for suffix in (".docs", ".counts", ".ptr"):
                os.remove(base + suffix)

    def _norm(self) -> np.ndarray:
        average = self.avg_doc_length_ if self.avg_doc_length_ > 0 else 1.0
        return self.k1 * (1.0 - self.b + self.b * self.doc_length_ / average)

    def _weights(self, terms: np.ndarray, docs: np.ndarray, counts: np.ndarray, norm: np.ndarray) -> np.ndarray:
        """``idf * tf * (k1 + 1) / (tf + k1 * norm(d))`` as float32 (the same arithmetic for both copies)."""
        tf = counts.astype(np.float64)
        return (self.idf_[terms] * tf * (self.k1 + 1.0) / (tf + norm[docs])).astype(np.float32)

    def _idf(self, df: np.ndarray, n_docs: int) -> np.ndarray:
        df = df.astype(np.float64)
        if self.idf == "lucene":
            return np.log1p((n_docs - df + 0.5) / (df + 0.5))
        if self.idf == "robertson":
            return np.maximum(np.log((n_docs - df + 0.5) / (df + 0.5)), 0.0)
        return np.log(n_docs / np.maximum(df, 1.0))

    def _check_fitted(self) -> None:
        if not hasattr(self, "directory_"):
            raise UsageError("this BM25Index is not fitted yet; call fit() or load() first")

    def _array(self, name: str) -> np.ndarray:
        """An index array, memory-mapped on first use (small ones are read whole)."""
        array = self._arrays.get(name)
        if array is None:
            array = np.load(self._path(name), mmap_mode=None if name.endswith("_ptr") else "r", allow_pickle=False)
            if isinstance(array, np.memmap) and hasattr(array._mmap, "madvise"):
                array._mmap.madvise(mmap.MADV_RANDOM)  # no read-ahead or fault-around: map only the pages read
            array = array.view(np.ndarray)  # plain array over the map: np.memmap's per-slice overhead is large
            self._arrays[name] = array
        return array

    def _file(self, name: str) -> tuple[int, int]:
        """An open descriptor of an index array's file and the byte offset of the array's data in it (for the
        compiled loops, which read with pread)."""
        entry = self._files.get(name)
        if entry is None:
            path = self._path(name)
            fd = os.open(path, os.O_RDONLY)
            try:
                offset = _npy_header(path)[3]
            except BaseException:
                os.close(fd)
                raise
            entry = self._files[name] = (fd, offset)
        return entry

    def _unmap(self) -> None:
        """Drop the memory maps of the large arrays, so the pages a search touched leave this process's resident
        memory (they stay in the page cache; the next search maps them again)."""
        for name in [n for n in self._arrays if not n.endswith("_ptr")]:
            del self._arrays[name]

    # ------------------------------------------------------------------------------------------- querying

    def query_matrix(self, token_lists: Sequence[Sequence[str]],
                     weights: Sequence[Sequence[float]] | None = None) -> sp.csr_matrix:
        """Queries as a queries x terms matrix of (weighted) term counts (terms unknown to the index dropped)."""
        self._check_fitted()
        token_lists = list(token_lists)
        rows, tokens, values = _flatten(token_lists, weights)
        lookup = self._term_index.get
        term_ids = np.fromiter((lookup(token, -1) for token in tokens), dtype=np.int64, count=len(tokens))
        known = term_ids >= 0
        matrix = sp.csr_matrix((values[known], (rows[known], term_ids[known])),
                               shape=(len(token_lists), len(self.vocabulary_)))
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
        matrix.sort_indices()
        return matrix

    def _first_pass_order(self, terms: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Positions of a query's terms, most informative first: rare terms (document frequency at most
        ``prefilter_max_df``) first, then by ``q_t * idf(t)``, then by term number."""
        frequent = self.document_frequency_[terms] > self.prefilter_max_df * self.n_docs_
        importance = values * self.idf_[terms]
        return np.lexsort((terms, -importance, frequent))

    def _accumulate(self, terms: np.ndarray, values: np.ndarray, lengths: np.ndarray | None,
                    acc: np.ndarray, stamp: np.ndarray) -> np.ndarray:
        """Add ``values[i] * weight`` of the first ``lengths[i]`` postings of ``terms[i]`` (all of them when
        ``lengths`` is None) into ``acc``; returns the documents touched, each once, in no particular order."""
        inv_ptr, inv_docs, inv_weights = self._array("inv_ptr"), self._array("inv_docs"), self._array("inv_weights")
        if lengths is not None and int(lengths.sum()) < GATHER_LIMIT:
            # A bounded first pass: every posting gathered at once, one scatter-add (float32).
            positions = _ranges(inv_ptr[terms], lengths)
            docs = inv_docs[positions].astype(np.int64)
            np.add.at(acc, docs, inv_weights[positions] * np.repeat(values.astype(acc.dtype), lengths))
            positions = np.arange(len(docs), dtype=stamp.dtype)
            stamp[docs] = positions
            return docs[stamp[docs] == positions]
        touched = []
        read = 0
        for i, term in enumerate(terms.tolist()):
            start = inv_ptr[term]
            stop = inv_ptr[term + 1] if lengths is None else start + lengths[i]
            if stop <= start:
                continue
            docs = inv_docs[start:stop]
            acc[docs] += acc.dtype.type(values[i]) * inv_weights[start:stop]  # a term lists a document once
            touched.append(docs)
            read += stop - start
        # Exhaustive search over a large share of the index: a scan of the accumulator is cheaper.
        if read > len(acc) // 4 or read >= np.iinfo(stamp.dtype).max:
            return np.flatnonzero(acc)
        if not touched:
            return np.zeros(0, dtype=np.int64)
        docs = np.concatenate(touched).astype(np.int64)
        positions = np.arange(len(docs), dtype=stamp.dtype)
        stamp[docs] = positions
        return docs[stamp[docs] == positions]

    def _first_pass(self, terms: np.ndarray, values: np.ndarray, lengths: np.ndarray, acc: np.ndarray,
                    stamp: np.ndarray, compiled: bool) -> tuple[np.ndarray, np.ndarray]:
        """The documents with a positive partial score from the first ``lengths[i]`` postings of every
        ``terms[i]``, and those scores (float32, in no particular order; compiled: views of scratch buffers that the
        next call overwrites); ``acc`` is all zero before and after."""
        if not compiled:
            docs = self._accumulate(terms, values, lengths, acc, stamp)
            scores = acc[docs]
            acc[docs] = 0.0
            positive = scores > 0
            return docs[positive], scores[positive]
        lengths = np.ascontiguousarray(lengths, dtype=np.int64)
        room = int(lengths.sum())
        docs, scores = self._scratch.get("first_docs"), self._scratch.get("first_scores")
        if docs is None or len(docs) < room:
            docs = self._scratch["first_docs"] = np.empty(room, dtype=np.int64)
            scores = self._scratch["first_scores"] = np.empty(room, dtype=np.float32)
        n = self._kernel(kernels.first_pass, self._array("inv_ptr"), *self._file("inv_docs"),
                         *self._file("inv_weights"), np.ascontiguousarray(terms, dtype=np.int64), lengths,
                         np.ascontiguousarray(values, dtype=np.float32), acc, docs, scores)
        return docs[:n], scores[:n]

    def _kernel(self, function, *arrays):
        try:
            return function(*arrays)
        except ValueError as exc:  # the index files changed under the loaded index
            raise ModelFormatError(f"{self.directory_}: {exc}") from None

    def _exact_scores(self, terms: np.ndarray, values: np.ndarray, docs: np.ndarray,
                      dense_query: np.ndarray, compiled: bool = False) -> np.ndarray:
        """Exact BM25 of ``docs`` for one query (from the forward index), float64, summed in term order."""
        if compiled:
            dense_query[terms] = values
            scores = np.empty(len(docs), dtype=np.float64)
            try:
                self._kernel(kernels.exact_scores, self._array("fwd_ptr"), *self._file("fwd_terms"),
                             *self._file("fwd_weights"), np.ascontiguousarray(docs, dtype=np.int64), dense_query,
                             scores)
            finally:
                dense_query[terms] = 0.0
            return scores
        fwd_ptr, fwd_terms, fwd_weights = self._array("fwd_ptr"), self._array("fwd_terms"), self._array("fwd_weights")
        starts, stops = fwd_ptr[docs], fwd_ptr[docs + 1]
        positions = _ranges(starts, stops - starts)
        if not len(positions):
            return np.zeros(len(docs), dtype=np.float64)
        dense_query[terms] = values
        contributions = fwd_weights[positions].astype(np.float64) * dense_query[fwd_terms[positions]]
        dense_query[terms] = 0.0
        rows = np.repeat(np.arange(len(docs)), stops - starts)
        return np.bincount(rows, weights=contributions, minlength=len(docs))

    def score_batch(self, token_lists: Sequence[Sequence[str]],
                    weights: Sequence[Sequence[float]] | None = None) -> sp.csr_matrix:
        """BM25 scores as a queries x documents sparse matrix (documents sharing no term with a query are absent,
        i.e. score 0). Exhaustive: meant for small indexes and checks."""
        queries = self.query_matrix(token_lists, weights)
        acc = np.zeros(self.n_docs_, dtype=np.float64)
        stamp = np.zeros(self.n_docs_, dtype=np.int32)
        rows, cols, data = [], [], []
        for row in range(queries.shape[0]):
            sl = slice(queries.indptr[row], queries.indptr[row + 1])
            docs = np.sort(self._accumulate(queries.indices[sl], queries.data[sl], None, acc, stamp))
            values = acc[docs]
            acc[docs] = 0.0
            keep = values > 0
            rows.append(np.full(int(keep.sum()), row))
            cols.append(docs[keep])
            data.append(values[keep])
        self._unmap()
        if not rows:
            return sp.csr_matrix((queries.shape[0], self.n_docs_))
        return sp.csr_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(queries.shape[0], self.n_docs_))

    def top_k(self, token_lists: Sequence[Sequence[str]], k: int, weights: Sequence[Sequence[float]] | None = None,
              doc_groups: np.ndarray | None = None, query_groups: Sequence[int] | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best documents of every query, best first: ``(indices, scores)``, both of shape
        ``(n_queries, k)``. Only documents with a positive score are returned; missing places hold index -1
        and score -inf. Ties are broken by document order. Every query's result is the same whatever batch it
        is in.

        With ``doc_groups`` (a group number per document) and ``query_groups`` (one per query, -1 for none), a
        query only sees the documents of its own group.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise UsageError(f"k must be a positive integer, got {k!r}")
        queries = self.query_matrix(token_lists, weights)
        n_queries = queries.shape[0]
        if (doc_groups is None) != (query_groups is None):
            raise UsageError("doc_groups and query_groups go together")
        if doc_groups is not None:
            doc_groups = np.asarray(doc_groups)
            query_groups = np.asarray(query_groups)
            if doc_groups.shape != (self.n_docs_,) or query_groups.shape != (n_queries,):
                raise UsageError("doc_groups needs one entry per document and query_groups one per query")
        with self._lock:
            return self._top_k(queries, k, doc_groups, query_groups)

    def _top_k(self, queries, k, doc_groups, query_groups):
        compiled = kernels is not None
        n_queries = queries.shape[0]
        indices = np.full((n_queries, k), -1, dtype=np.int64)
        best = np.full((n_queries, k), -np.inf, dtype=np.float64)
        if self._scratch is None:  # zero between queries: every query resets what it touched
            self._scratch = {"stamp": np.zeros(self.n_docs_, dtype=np.int32),
                             "dense_query": np.zeros(len(self.vocabulary_), dtype=np.float64)}
        scratch = self._scratch
        # The exhaustive search sums exact float64 scores; a first pass only ranks candidates (float32 is enough
        # and halves the memory it scatters into).
        kind = np.float64 if self.prefilter is None else np.float32
        if kind not in scratch:
            scratch[kind] = np.zeros(self.n_docs_, dtype=kind)
        acc, stamp, dense_query = scratch[kind], scratch["stamp"], scratch["dense_query"]
        df = self.document_frequency_
        for row in range(n_queries):  # one step per query; the work inside is vectorised over postings
            if row and row % UNMAP_EVERY == 0:
                self._unmap()
            sl = slice(queries.indptr[row], queries.indptr[row + 1])
            terms, values = queries.indices[sl].astype(np.int64), queries.data[sl]
            if not len(terms):
                continue
            if self.prefilter is None:
                docs = self._accumulate(terms, values, None, acc, stamp)
                scores = acc[docs]
                acc[docs] = 0.0
                positive = scores > 0
                docs, scores = docs[positive], scores[positive]
            else:
                order = self._first_pass_order(terms, values)[:self.prefilter_terms]
                lengths = df[terms[order]]
                if self.prefilter_budget is not None:
                    lengths = _share(lengths, self.prefilter_budget)
                docs, scores = self._first_pass(terms[order], values[order], lengths, acc, stamp, compiled)
            if doc_groups is not None and query_groups[row] >= 0:
                mine = doc_groups[docs] == query_groups[row]
                docs, scores = docs[mine], scores[mine]
            if self.prefilter is not None:
                docs, scores = _first(docs, scores, max(k, self.prefilter))
                scores = self._exact_scores(terms, values, docs, dense_query, compiled)
            else:
                docs, scores = _best(docs, scores, k)
            order = np.lexsort((docs, -scores))[:k]
            indices[row, :len(order)] = docs[order]
            best[row, :len(order)] = scores[order]
        self._unmap()
        return indices, best

    def document_weights(self, term_ids: np.ndarray, docs: np.ndarray) -> np.ndarray:
        """The BM25 weights of ``term_ids`` in ``docs`` as a dense ``(len(term_ids), len(docs))`` float32 array
        (0 where a document lacks the term)."""
        self._check_fitted()
        term_ids = np.asarray(term_ids, dtype=np.int64)
        docs = np.asarray(docs, dtype=np.int64)
        out = np.zeros((len(term_ids), len(docs)), dtype=np.float32)
        fwd_ptr, fwd_terms, fwd_weights = self._array("fwd_ptr"), self._array("fwd_terms"), self._array("fwd_weights")
        starts, lengths = fwd_ptr[docs], fwd_ptr[docs + 1] - fwd_ptr[docs]
        positions = _ranges(starts, lengths)
        columns = np.repeat(np.arange(len(docs)), lengths)
        row_terms = fwd_terms[positions].astype(np.int64)
        order = np.argsort(term_ids, kind="stable")
        where = np.minimum(np.searchsorted(term_ids[order], row_terms), max(len(term_ids) - 1, 0))
        found = (term_ids[order][where] == row_terms) if len(term_ids) else np.zeros(len(row_terms), dtype=bool)
        out[order[where[found]], columns[found]] = fwd_weights[positions[found]]
        self._unmap()
        return out

    # ------------------------------------------------------------------------------------------- files

    def save(self, writer, prefix: str = "bm25") -> None:
        """``{prefix}.json`` (parameters, vocabulary), ``{prefix}.npz`` (idf, document lengths) and the index
        arrays as ``{prefix}_{inv,fwd}_*.npy`` (hard-linked from the index's directory when possible)."""
        self._check_fitted()
        writer.write_json(f"{prefix}.json", {
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "params": self.get_params(),
            "n_docs": self.n_docs_, "n_postings": self.n_postings_, "avg_doc_length": self.avg_doc_length_,
            "vocabulary": self.vocabulary_,
        })
        writer.write_arrays(f"{prefix}.npz", idf=self.idf_, doc_length=self.doc_length_,
                            document_frequency=self.document_frequency_)
        for name in INDEX_FILES:
            source = self._path(name)
            target = writer.path(f"{prefix}_{name}.npy")
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)

    @classmethod
    def load(cls, reader, prefix: str = "bm25") -> "BM25Index":
        name = f"{prefix}.json"
        where = f"{reader.directory}/{name}"
        meta = reader.read_json(name)
        if isinstance(meta, dict) and meta.get("format") == FORMAT_NAME and meta.get("format_version") == 1:
            raise ModelFormatError(f"{where}: BM25 index format version 1 (one in-memory matrix) is no longer "
                                   "read; train the model again with this rmd_baselines")
        meta = reader.read_component(name, FORMAT_NAME, FORMAT_VERSION, "BM25 index")
        index = reader.estimator(cls, meta, name)
        vocabulary = reader.require(meta, "vocabulary", name)
        n_docs = reader.require(meta, "n_docs", name)
        n_postings = reader.require(meta, "n_postings", name)
        if not isinstance(vocabulary, list) or not all(isinstance(t, str) for t in vocabulary):
            raise ModelFormatError(f"{where}: 'vocabulary' must be a list of strings")
        for key, value in (("n_docs", n_docs), ("n_postings", n_postings)):
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if key == "n_docs" else 0):
                raise ModelFormatError(f"{where}: {key!r} must be a non-negative integer")
        arrays = reader.read_arrays(f"{prefix}.npz")
        missing = {"idf", "doc_length", "document_frequency"} - set(arrays)
        if missing:
            raise ModelFormatError(f"{reader.directory}/{prefix}.npz: missing arrays {sorted(missing)}")
        n_terms = len(vocabulary)
        if (arrays["idf"].shape != (n_terms,) or arrays["document_frequency"].shape != (n_terms,)
                or arrays["doc_length"].shape != (n_docs,)):
            raise ModelFormatError(f"{reader.directory}/{prefix}.npz: idf/doc_length do not match the vocabulary "
                                   "and document count")
        directory = os.path.dirname(reader.path(f"{prefix}_inv_ptr.npy"))
        expected = {"inv_ptr": n_terms + 1, "fwd_ptr": n_docs + 1}
        for key, dtype in INDEX_FILES.items():
            file = f"{prefix}_{key}.npy"
            path = reader.path(file)
            try:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            except ARRAY_FILE_ERRORS as exc:
                raise ModelFormatError(f"{path}: unreadable array file ({exc})") from None
            if array.dtype != np.dtype(dtype) or array.shape != (expected.get(key, n_postings),):
                raise ModelFormatError(f"{path}: expected {expected.get(key, n_postings)} values of "
                                       f"{np.dtype(dtype).name}, found {array.shape} {array.dtype}")
            del array
        index.vocabulary_ = vocabulary
        index._term_index = {term: i for i, term in enumerate(vocabulary)}
        if len(index._term_index) != n_terms:
            raise ModelFormatError(f"{where}: the vocabulary has repeated terms")
        index.n_docs_ = n_docs
        index.n_postings_ = n_postings
        index.avg_doc_length_ = float(reader.require(meta, "avg_doc_length", name))
        index.idf_ = arrays["idf"].astype(np.float64)
        index.doc_length_ = arrays["doc_length"].astype(np.float64)
        index.document_frequency_ = arrays["document_frequency"].astype(np.int64)
        index._set_directory(directory, owned=False, prefix=f"{prefix}_")
        index._check_consistent(reader.directory)
        return index

    def _check_consistent(self, where: str) -> None:
        """Pointers monotone and ending at the posting count, ids in range, document frequencies matching;
        the large arrays are streamed (plain reads, no memory map)."""
        problem = None
        for key, limit in (("inv_ptr", None), ("fwd_ptr", None)):
            ptr = self._array(key)
            if ptr[0] != 0 or ptr[-1] != self.n_postings_ or np.any(np.diff(ptr) < 0):
                problem = f"{key} is not a valid pointer array"
        if problem is None and not np.array_equal(np.diff(self._array("inv_ptr")), self.document_frequency_):
            problem = "document frequencies do not match the inverted index"
        if problem is None:
            for key, limit in (("inv_docs", self.n_docs_), ("fwd_terms", len(self.vocabulary_))):
                try:
                    if any(int(chunk.max()) >= limit for chunk in _npy_chunks(self._path(key)) if len(chunk)):
                        problem = f"{key} holds numbers out of range"
                except ValueError as exc:
                    problem = f"{key}: {exc}"
        if problem:
            raise ModelFormatError(f"{where}: inconsistent BM25 index ({problem})")

    def _path(self, name: str) -> str:
        return os.path.join(self.directory_, f"{self._file_prefix}{name}.npy")

    def __repr__(self) -> str:
        return "BM25Index(" + ", ".join(f"{k}={v!r}" for k, v in self.get_params().items()) + ")"

"""Entropy-n and Dist-n of pooled n-gram counts under thousands of re-weightings of the segments, exactly.

Entropy and Dist depend on the hypotheses' n-grams pooled over the corpus: c_g = base_g + Σ_i x_i · r_ig, where
r_ig is the count of n-gram g in row i and x_i how often row i is taken. A bootstrap replicate is x = the segments'
multiplicities (base 0, r = one system's counts). An approximate-randomization trial swaps two systems' outputs per
segment: x ∈ {0, 1} says where the first pseudo-system takes system A's segment, base = system B's pooled counts
and r = the per-segment difference A - B; the second pseudo-system's pool is the *mirror* (A's plus B's pooled
counts) minus the first's. `PooledCounts(rows, base, mirror).evaluate(X)` gives, for every row x of a matrix X, the
pool's size T = Σ c_g, its number of distinct n-grams D = #{g : c_g > 0} and S = Σ c_g ln c_g (and the same for the
mirror pool), hence Entropy-n = ln T - S / T and Dist-n = D / T (0 for an empty pool; `entropy`, `dist`).

Exact without a dense (replicates x n-grams) matrix of every n-gram:
- an n-gram without entries in ``rows`` contributes a constant;
- an n-gram with entries in a single row (most 4-grams; an n-gram two systems share in a segment cancels out of
  their difference) has a count that depends on that row's weight alone, so its contributions are tabulated once
  per weight value (0, 1, ..., max x) and summed with one gather;
- for D, an n-gram whose count cannot reach 0 for weights up to ``max_weight`` (a frequent character under
  swaps) is always present: a constant;
- the rest (n-grams shared by several rows) are counted per replicate by a sparse product, in blocks, and
  c ln c is looked up in a table of integers.
Counts are integers, held exactly, so the result equals pooling the counts directly (up to the order of the
floating-point sums).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import sparse

QUANTITIES = ("total", "distinct", "xlogx")
# Cells of a dense (n-grams x replicates) block of counts held at once.
_BLOCK_CELLS = 1 << 20
_FLOAT32_EXACT = 1 << 24


def ngram_rows(systems: Sequence[Sequence[Sequence[str]]], order: int) -> list[sparse.csr_matrix]:
    """For each system (its token lists, one per segment), the (segments x n-grams) count matrix of its
    ``order``-grams; the columns (n-gram ids) are shared by all the systems given."""
    vocabulary: dict[str, int] = {}
    windows, segments = [], []
    for token_lists in systems:
        ids = np.fromiter((vocabulary.setdefault(token, len(vocabulary)) for tokens in token_lists for token in tokens),
                          dtype=np.int64)
        lengths = np.fromiter((len(tokens) for tokens in token_lists), dtype=np.int64, count=len(token_lists))
        owner = np.repeat(np.arange(len(token_lists)), lengths)
        if ids.size >= order:
            first, last = owner[: ids.size - order + 1], owner[order - 1:]
            # A window lies inside one segment when its first and last token do.
            windows.append(sliding_window_view(ids, order)[first == last])
            segments.append(first[first == last])
        else:
            windows.append(np.zeros((0, order), dtype=np.int64))
            segments.append(np.zeros(0, dtype=np.int64))
    stacked = np.concatenate(windows) if windows else np.zeros((0, order), dtype=np.int64)
    gram_ids = np.zeros(0, dtype=np.int64)
    if stacked.shape[0]:
        gram_ids = np.unique(stacked, axis=0, return_inverse=True)[1].reshape(-1)
    n_grams = int(gram_ids.max()) + 1 if gram_ids.size else 0
    out, start = [], 0
    for token_lists, segs in zip(systems, segments):
        ids = gram_ids[start:start + segs.size]
        start += segs.size
        matrix = sparse.csr_matrix((np.ones(segs.size), (segs, ids)), shape=(len(token_lists), n_grams))
        matrix.sum_duplicates()
        out.append(matrix)
    return out


def xlogx(counts: np.ndarray) -> np.ndarray:
    """c · ln c elementwise, 0 for c = 0."""
    positive = counts > 0
    return np.where(positive, counts * np.log(np.where(positive, counts, 1.0)), 0.0)


def entropy(total: np.ndarray, sum_xlogx: np.ndarray) -> np.ndarray:
    """Entropy in nats of pools of size ``total`` with Σ c ln c = ``sum_xlogx`` (0 for an empty pool)."""
    safe = np.where(total > 0, total, 1.0)
    return np.where(total > 0, np.log(safe) - sum_xlogx / safe, 0.0)


def dist(total: np.ndarray, distinct: np.ndarray) -> np.ndarray:
    """Distinct / total n-grams (0 for an empty pool)."""
    return np.where(total > 0, distinct / np.where(total > 0, total, 1.0), 0.0)


class _XlogxTable:
    """c ln c for the integers 0..K, grown on demand."""

    def __init__(self):
        self.values = np.zeros(1)

    def __call__(self, counts: np.ndarray, top: int) -> np.ndarray:
        """c ln c of integer ``counts``, none of them above ``top``."""
        if top >= self.values.size:
            self.values = xlogx(np.arange(max(top + 1, 2 * self.values.size), dtype=np.float64))
        return self.values[counts]


class WeightBlock:
    """A (replicates x rows) block of small non-negative integer weights in the forms `PooledCounts` uses, each
    converted once however many pools read it."""

    def __init__(self, weights: np.ndarray):
        weights = np.asarray(weights)
        self.raw = weights[None, :] if weights.ndim == 1 else weights
        self.top = int(self.raw.max()) if self.raw.size else 0
        self._forms: dict = {}

    def _form(self, name, make):
        if name not in self._forms:
            self._forms[name] = make()
        return self._forms[name]

    @property
    def float64(self) -> np.ndarray:
        return self._form("float64", lambda: self.raw.astype(np.float64))

    @property
    def index(self) -> np.ndarray:
        return self._form("index", lambda: self.raw.astype(np.intp))

    def transposed(self, dtype, start: int, stop: int) -> np.ndarray:
        """Rows start..stop as a contiguous (rows x replicates) array of ``dtype`` (for sparse products)."""
        whole = self._form(np.dtype(dtype).name + "T", lambda: np.ascontiguousarray(self.raw.T, dtype=dtype))
        return whole[:, start:stop]


class _Part:
    """The n-grams one quantity must follow: constants, single-row n-grams (tabulated), shared ones (sparse)."""

    def __init__(self, quantity, base, mirror, row, gram, value, dynamic, n_rows, table):
        self.quantity, self.n_rows, self.table = quantity, n_rows, table
        self.function = (lambda c: (c > 0).astype(np.float64)) if quantity == "distinct" else xlogx
        fixed = ~dynamic
        self.constant = [float(self.function(base[fixed]).sum())]
        if mirror is not None:
            self.constant.append(float(self.function(mirror[fixed] - base[fixed]).sum()))
        keep = dynamic[gram]
        row, gram, value = row[keep], gram[keep], value[keep]
        rows_per_gram = np.bincount(gram, minlength=base.size)
        single = rows_per_gram[gram] == 1
        self.single = (row[single], base[gram[single]], value[single],
                       None if mirror is None else mirror[gram[single]])
        self.tables: list[list[np.ndarray]] = [[] for _ in self.constant]
        shared = np.flatnonzero(rows_per_gram >= 2)
        column = np.full(base.size, -1, dtype=np.int64)
        column[shared] = np.arange(shared.size)
        # n-grams x rows, so that the product with a (rows x replicates) block is a sparse-times-dense product.
        self.shared = sparse.csr_matrix((value[~single], (column[gram[~single]], row[~single])),
                                        shape=(shared.size, n_rows))
        self.shared_base = base[shared][:, None]
        self.shared_mirror = None if mirror is None else mirror[shared][:, None]
        # The largest |count| a block can hold per unit of weight, to know when float32 stays exact.
        self.bound = 0.0
        if shared.size:
            self.bound = (float(np.abs(self.shared_base).max()) + float(abs(self.shared).sum(axis=1).max())
                          + (0.0 if mirror is None else float(np.abs(self.shared_mirror).max())))

    def _table(self, side: int, top: int) -> np.ndarray:
        """Per weight value v = 0..top and row i: row i's single-row n-grams' contribution at x_i = v."""
        table = self.tables[side]
        row, base, value, mirror = self.single
        while len(table) <= top:
            counts = base + len(table) * value
            table.append(np.bincount(row, weights=self.function(counts if side == 0 else mirror - counts),
                                     minlength=self.n_rows))
        return np.stack(table[: top + 1])

    def _sum(self, counts: np.ndarray, top: int) -> np.ndarray:
        if self.quantity == "distinct":
            return np.count_nonzero(counts > 0, axis=0).astype(np.float64)
        return self.table(counts.astype(np.int32 if top < 2 ** 31 else np.int64), top).sum(axis=0)

    def evaluate(self, weights: WeightBlock) -> list[np.ndarray]:
        top = weights.top
        out = []
        for side, constant in enumerate(self.constant):
            table = self._table(side, top)
            if top <= 1:  # 0/1 weights (swap masks): one matrix-vector product instead of a gather
                out.append(table[0].sum() + weights.float64 @ (table[-1] - table[0]) + constant)
            else:
                out.append(table[weights.index, np.arange(self.n_rows)].sum(axis=1) + constant)
        if self.shared.shape[0]:
            largest = int(np.ceil(self.bound * max(top, 1)))  # no count in a block exceeds this
            dtype = np.float32 if largest < _FLOAT32_EXACT else np.float64
            matrix = self.shared.astype(dtype)
            base = self.shared_base.astype(dtype)
            mirror = None if self.shared_mirror is None else self.shared_mirror.astype(dtype)
            step = max(1, _BLOCK_CELLS // self.shared.shape[0])
            for start in range(0, len(weights.raw), step):
                stop = start + step
                counts = np.asarray(matrix @ weights.transposed(dtype, start, stop)) + base
                out[0][start:stop] += self._sum(counts, largest)
                if mirror is not None:
                    out[1][start:stop] += self._sum(mirror - counts, largest)
        return out


class PooledCounts:
    """Size, distinct n-grams and Σ c ln c of the pools ``base + x @ rows`` for many weight rows x, and of their
    mirrors ``mirror - (base + x @ rows)`` when ``mirror`` is given (see the module docstring).

    ``rows`` is a (rows x n-grams) sparse matrix (entries may be negative, as a difference of two systems' counts,
    as long as every pool evaluated stays non-negative); ``base`` and ``mirror`` are dense count vectors over the
    same n-grams. ``max_weight`` bounds the weights (1 for swap masks; None: unbounded); it lets `evaluate` treat an
    n-gram whose count cannot reach 0 as always present. ``quantities`` are those `evaluate` may be asked for.
    """

    def __init__(self, rows: sparse.spmatrix, base: np.ndarray | None = None, mirror: np.ndarray | None = None,
                 max_weight: int | None = None, quantities: Sequence[str] = QUANTITIES):
        rows = sparse.csr_matrix(rows, dtype=np.float64)
        rows.sum_duplicates()
        rows.eliminate_zeros()
        self.n_rows, n_grams = rows.shape
        base = np.zeros(n_grams) if base is None else np.asarray(base, dtype=np.float64).reshape(-1)
        mirror = None if mirror is None else np.asarray(mirror, dtype=np.float64).reshape(-1)
        entries = rows.tocoo()
        row, gram, value = entries.row.astype(np.int64), entries.col.astype(np.int64), entries.data
        has_entries = np.bincount(gram, minlength=n_grams) > 0
        self.sides = 1 if mirror is None else 2
        self._total_base = float(base.sum())
        self._mirror_total = None if mirror is None else float(mirror.sum())
        self._total_rows = np.bincount(row, weights=value, minlength=self.n_rows)
        self._parts: dict[str, _Part] = {}
        table = _XlogxTable()
        for quantity in quantities:
            if quantity == "total":
                continue
            dynamic = has_entries
            if quantity == "distinct" and max_weight is not None:
                lowest = base + max_weight * np.bincount(gram, weights=np.minimum(value, 0), minlength=n_grams)
                always = lowest > 0
                if mirror is not None:
                    highest = base + max_weight * np.bincount(gram, weights=np.maximum(value, 0), minlength=n_grams)
                    always &= mirror - highest > 0
                dynamic = has_entries & ~always
            self._parts[quantity] = _Part(quantity, base, mirror, row, gram, value, dynamic, self.n_rows, table)

    def evaluate(self, weights, quantities: Sequence[str] = QUANTITIES) -> list[dict[str, np.ndarray]]:
        """``[{quantity: values}]`` for the pool (and its mirror, second), one value per row of ``weights``: a
        (replicates x rows) array of small non-negative integers (bootstrap multiplicities or 0/1 swap masks), or
        a `WeightBlock` of one shared by several pools."""
        if not isinstance(weights, WeightBlock):
            weights = WeightBlock(weights)
        out: list[dict[str, np.ndarray]] = [{} for _ in range(self.sides)]
        if "total" in quantities:
            total = self._total_base + weights.float64 @ self._total_rows
            out[0]["total"] = total
            if self.sides > 1:
                out[1]["total"] = self._mirror_total - total
        for quantity in quantities:
            if quantity != "total":
                for side, values in enumerate(self._parts[quantity].evaluate(weights)):
                    out[side][quantity] = values
        return out

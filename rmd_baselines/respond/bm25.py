"""Okapi BM25 on scipy.sparse matrices: a whole batch of queries is scored with one sparse matrix product.

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

Everything query-independent -- idf, length normalisation, saturation -- is folded into one term-by-document
matrix when the index is fitted, so scoring a batch is ``Q @ M`` (queries x terms times terms x documents), and
the top k of each query are read from that row's non-zero entries: no Python loop ever runs over documents.

Two-pass search (``prefilter``). The cost of ``Q @ M`` is the total length of the posting lists of the query
terms, and with character tokens nearly all of it comes from frequent characters that carry almost no
information. With ``prefilter=P`` a first pass scores the documents with only each query's ``prefilter_terms``
most informative terms (largest ``q_t * idf(t)``, preferring terms found in at most ``prefilter_max_df`` of the
documents), keeps the ``P`` best, and a second pass computes the exact BM25 score of those ``P`` documents with
every query term. Rankings are exact BM25 except for a document the first pass missed, which (the retrieval
benchmark measures it) rarely matters; ``prefilter=None`` scores every document exactly in one pass.
"""

from __future__ import annotations

import itertools
from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from ..errors import ModelFormatError, UsageError

IDF_VARIANTS = ("lucene", "robertson", "atire")
FORMAT_NAME = "rmd_baselines-bm25"
FORMAT_VERSION = 1


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


class BM25Index:
    """A BM25 index over token lists (documents), queried in batches.

    Fitted attributes: ``vocabulary_`` (terms in order of first occurrence), ``idf_`` (per term),
    ``document_frequency_``, ``doc_length_`` (weighted document lengths), ``avg_doc_length_``, ``n_docs_`` and
    ``term_doc_`` (the terms x documents matrix of BM25 term weights, CSR, float32).
    """

    def __init__(self, k1: float = 1.5, b: float = 0.75, idf: str = "lucene", prefilter: int | None = None,
                 prefilter_terms: int = 32, prefilter_max_df: float = 0.05):
        self.k1 = k1
        self.b = b
        self.idf = idf
        self.prefilter = prefilter
        self.prefilter_terms = prefilter_terms
        self.prefilter_max_df = prefilter_max_df

    def get_params(self) -> dict:
        return {"k1": self.k1, "b": self.b, "idf": self.idf, "prefilter": self.prefilter,
                "prefilter_terms": self.prefilter_terms, "prefilter_max_df": self.prefilter_max_df}

    def _check_params(self) -> None:
        if isinstance(self.k1, bool) or not isinstance(self.k1, (int, float)) or not self.k1 >= 0:
            raise UsageError(f"k1 must be a number >= 0, got {self.k1!r}")
        if isinstance(self.b, bool) or not isinstance(self.b, (int, float)) or not 0 <= self.b <= 1:
            raise UsageError(f"b must be a number from 0 to 1, got {self.b!r}")
        if self.idf not in IDF_VARIANTS:
            raise UsageError(f"idf must be one of {', '.join(IDF_VARIANTS)}, got {self.idf!r}")
        for name in ("prefilter", "prefilter_terms"):
            value = getattr(self, name)
            if (value is not None or name == "prefilter_terms") and (
                    isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise UsageError(f"{name} must be a positive integer{' or None' if name == 'prefilter' else ''}, "
                                 f"got {value!r}")
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
        """Index documents given in batches of ``(token_lists, weights)``.

        Only one batch of Python token lists is alive at a time; each becomes a block of the sparse count matrix
        at once. This is what keeps a large index (hundreds of thousands of contexts) within memory.
        """
        self._check_params()
        index: dict[str, int] = {}
        blocks = []
        for token_lists, weights in batches:
            if not len(token_lists):
                continue
            rows, tokens, values = _flatten(token_lists, weights)
            term_ids = np.fromiter((index.setdefault(token, len(index)) for token in tokens), dtype=np.int64,
                                   count=len(tokens))
            block = sp.csr_matrix((values, (rows, term_ids)), shape=(len(token_lists), len(index)))  # sums repeats
            block.eliminate_zeros()
            blocks.append(block)
        if not blocks:
            raise UsageError("BM25Index.fit needs at least one document")
        n_terms = len(index)
        for block in blocks:
            block.resize((block.shape[0], n_terms))
        counts = blocks[0] if len(blocks) == 1 else sp.vstack(blocks, format="csr")
        del blocks
        n_docs = counts.shape[0]
        self.vocabulary_ = list(index)
        self._term_index = index
        self.n_docs_ = n_docs
        self.doc_length_ = np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()
        self.avg_doc_length_ = float(self.doc_length_.mean())
        self.idf_ = self._idf(np.bincount(counts.indices, minlength=n_terms), n_docs)
        self.term_doc_ = self._term_weights(counts)
        self._prepare()
        return self

    def _prepare(self) -> None:
        self.document_frequency_ = np.diff(self.term_doc_.indptr)
        self._doc_term: sp.csr_matrix | None = None  # documents x terms, built when the exact pass first needs it

    def _idf(self, df: np.ndarray, n_docs: int) -> np.ndarray:
        df = df.astype(np.float64)
        if self.idf == "lucene":
            return np.log1p((n_docs - df + 0.5) / (df + 0.5))
        if self.idf == "robertson":
            return np.maximum(np.log((n_docs - df + 0.5) / (df + 0.5)), 0.0)
        return np.log(n_docs / np.maximum(df, 1.0))

    def _term_weights(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """The terms x documents matrix of ``idf * tf * (k1 + 1) / (tf + k1 * norm(d))``."""
        average = self.avg_doc_length_ if self.avg_doc_length_ > 0 else 1.0
        norm = self.k1 * (1.0 - self.b + self.b * self.doc_length_ / average)
        coo = counts.tocoo()
        tf = coo.data  # positive: zero counts were eliminated
        weight = self.idf_[coo.col] * tf * (self.k1 + 1.0) / (tf + norm[coo.row])
        matrix = sp.csr_matrix((weight.astype(np.float32), (coo.col, coo.row)),
                               shape=(counts.shape[1], counts.shape[0]))
        matrix.eliminate_zeros()
        matrix.sort_indices()
        return matrix

    def _check_fitted(self) -> None:
        if not hasattr(self, "term_doc_"):
            raise UsageError("this BM25Index is not fitted yet; call fit() or load() first")

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
        matrix.eliminate_zeros()
        matrix.sort_indices()
        return matrix.astype(np.float32)

    def _first_pass_terms(self, queries: sp.csr_matrix) -> sp.csr_matrix:
        """Each query's ``prefilter_terms`` most informative terms: rare terms (document frequency at most
        ``prefilter_max_df``) first, then by ``q_t * idf(t)``, then by term number."""
        coo = queries.tocoo()
        frequent = self.document_frequency_[coo.col] > self.prefilter_max_df * self.n_docs_
        importance = coo.data * self.idf_[coo.col]
        order = np.lexsort((coo.col, -importance, frequent, coo.row))
        row_starts = np.searchsorted(coo.row[order], np.arange(queries.shape[0]))
        rank = np.arange(len(order)) - row_starts[coo.row[order]]
        keep = order[rank < self.prefilter_terms]
        return sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=queries.shape)

    def score_batch(self, token_lists: Sequence[Sequence[str]],
                    weights: Sequence[Sequence[float]] | None = None) -> sp.csr_matrix:
        """BM25 scores as a queries x documents sparse matrix (documents sharing no term with a query are absent,
        i.e. score 0)."""
        return self.query_matrix(token_lists, weights) @ self.term_doc_

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
        if self.prefilter is None:
            pool, keep = queries @ self.term_doc_, k
        else:
            pool, keep = self._first_pass_terms(queries) @ self.term_doc_, max(k, self.prefilter)
        candidates = []
        for row in range(n_queries):  # one step per query; the work inside is vectorised over its documents
            start, end = pool.indptr[row], pool.indptr[row + 1]
            docs, values = pool.indices[start:end], pool.data[start:end]
            allowed = values > 0
            if doc_groups is not None and query_groups[row] >= 0:
                allowed &= doc_groups[docs] == query_groups[row]
            candidates.append(_best(docs[allowed], values[allowed], keep))
        if self.prefilter is not None:
            candidates = self._exact(queries, [docs for docs, _ in candidates])
        indices = np.full((n_queries, k), -1, dtype=np.int64)
        best = np.full((n_queries, k), -np.inf, dtype=np.float64)
        for row, (docs, values) in enumerate(candidates):
            order = np.lexsort((docs, -values))[:k]
            indices[row, :len(order)] = docs[order]
            best[row, :len(order)] = values[order]
        return indices, best

    def _exact(self, queries: sp.csr_matrix, candidates: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Exact BM25 scores of each query's candidate documents: their rows of the documents x terms matrix
        times the query's term counts (a dense vector, reused from query to query)."""
        if self._doc_term is None:
            self._doc_term = self.term_doc_.T.tocsr()
        dense_query = np.zeros(queries.shape[1], dtype=np.float32)
        out = []
        for row, docs in enumerate(candidates):
            terms = queries.indices[queries.indptr[row]:queries.indptr[row + 1]]
            dense_query[terms] = queries.data[queries.indptr[row]:queries.indptr[row + 1]]
            out.append((docs, (self._doc_term[docs] @ dense_query).astype(np.float64)))
            dense_query[terms] = 0.0
        return out

    # ------------------------------------------------------------------------------------------- files

    def save(self, writer, prefix: str = "bm25") -> None:
        """``{prefix}.json`` (parameters, vocabulary) and ``{prefix}.npz`` (the weight matrix, idf, lengths)."""
        self._check_fitted()
        writer.write_json(f"{prefix}.json", {
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "params": self.get_params(),
            "n_docs": self.n_docs_, "avg_doc_length": self.avg_doc_length_, "vocabulary": self.vocabulary_,
        })
        matrix = self.term_doc_
        writer.write_arrays(f"{prefix}.npz", indptr=matrix.indptr, indices=matrix.indices, data=matrix.data,
                            idf=self.idf_, doc_length=self.doc_length_)

    @classmethod
    def load(cls, reader, prefix: str = "bm25") -> "BM25Index":
        name = f"{prefix}.json"
        where = f"{reader.directory}/{name}"
        meta = reader.read_component(name, FORMAT_NAME, FORMAT_VERSION, "BM25 index")
        index = reader.estimator(cls, meta, name)
        vocabulary = reader.require(meta, "vocabulary", name)
        n_docs = reader.require(meta, "n_docs", name)
        if not isinstance(vocabulary, list) or not all(isinstance(t, str) for t in vocabulary):
            raise ModelFormatError(f"{where}: 'vocabulary' must be a list of strings")
        arrays = reader.read_arrays(f"{prefix}.npz")
        missing = {"indptr", "indices", "data", "idf", "doc_length"} - set(arrays)
        if missing:
            raise ModelFormatError(f"{reader.directory}/{prefix}.npz: missing arrays {sorted(missing)}")
        n_terms = len(vocabulary)
        try:
            matrix = sp.csr_matrix((arrays["data"].astype(np.float32), arrays["indices"], arrays["indptr"]),
                                   shape=(n_terms, int(n_docs)))
            matrix.check_format(full_check=True)
        except (ValueError, TypeError) as exc:
            raise ModelFormatError(f"{reader.directory}/{prefix}.npz: inconsistent BM25 matrix ({exc})") from None
        if arrays["idf"].shape != (n_terms,) or arrays["doc_length"].shape != (int(n_docs),):
            raise ModelFormatError(f"{reader.directory}/{prefix}.npz: idf/doc_length do not match the vocabulary "
                                   "and document count")
        index.vocabulary_ = vocabulary
        index._term_index = {term: i for i, term in enumerate(vocabulary)}
        if len(index._term_index) != n_terms:
            raise ModelFormatError(f"{where}: the vocabulary has repeated terms")
        index.n_docs_ = int(n_docs)
        index.avg_doc_length_ = float(reader.require(meta, "avg_doc_length", name))
        index.idf_ = arrays["idf"].astype(np.float64)
        index.doc_length_ = arrays["doc_length"].astype(np.float64)
        index.term_doc_ = matrix
        index._prepare()
        return index

    def __repr__(self) -> str:
        return "BM25Index(" + ", ".join(f"{k}={v!r}" for k, v in self.get_params().items()) + ")"

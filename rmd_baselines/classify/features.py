"""TF-IDF features for the classifiers: character n-grams and jieba word n-grams, combined in one sparse matrix.

Each text is tokenized once (`tokenize_texts`) into its characters and, when word features are on, its jieba
words; the resulting `TokenizedText` items can be kept and passed to `fit`/`predict` as often as needed (cross-
validation, model selection) without tokenizing again.

A block of features (`NgramBlock`) counts the n-grams of one token kind, keeps those seen in at least ``min_df``
training texts (at most ``max_features`` of them, the most frequent first), and weighs them the scikit-learn way:
sublinear term frequency ``1 + ln(tf)``, smoothed idf ``ln((1 + n) / (1 + df)) + 1``, each row L2-normalised.
`TextFeaturizer` stacks the blocks side by side, scales each by its weight and L2-normalises the combined row.
The fitted state is a sorted term list and an idf vector per block, which is all a saved model needs.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from ..errors import ModelFormatError, UsageError
from ..text import get_tokenizer


@dataclass(frozen=True)
class TokenizedText:
    """A text's characters (whitespace dropped) and, when word features are used, its jieba words."""

    chars: tuple[str, ...]
    words: tuple[str, ...] | None = None


def tokenize_texts(texts: Sequence[str], words: bool = True) -> list[TokenizedText]:
    """Tokenize every text once: characters always, jieba words when ``words`` is true."""
    char_tokenizer = get_tokenizer("char")
    word_tokenizer = get_tokenizer("word") if words else None
    out = []
    for text in texts:
        if not isinstance(text, str):
            raise UsageError(f"expected texts (str), got {type(text).__name__}")
        out.append(TokenizedText(
            chars=tuple(char_tokenizer.tokenize(text)),
            words=tuple(word_tokenizer.tokenize(text)) if word_tokenizer else None,
        ))
    return out


def ngrams(tokens: Sequence[str], low: int, high: int, joiner: str) -> list[str]:
    """All contiguous n-grams of ``tokens`` for ``low <= n <= high``, each joined with ``joiner``."""
    out = []
    count = len(tokens)
    for n in range(low, high + 1):
        if n == 1:
            out.extend(tokens)
        else:
            out.extend(joiner.join(tokens[i:i + n]) for i in range(count - n + 1))
    return out


class NgramBlock:
    """TF-IDF of the n-grams of one token kind (``char`` or ``word``)."""

    # Word n-grams are joined with a space (jieba tokens never contain one); character n-grams with nothing.
    JOINERS = {"char": "", "word": " "}

    def __init__(self, kind: str, ngram_range: tuple[int, int], weight: float = 1.0, min_df: int = 1,
                 max_features: int | None = None, sublinear_tf: bool = True):
        if kind not in self.JOINERS:
            raise UsageError(f"unknown token kind {kind!r} (char or word)")
        low, high = ngram_range
        if not 1 <= low <= high:
            raise UsageError(f"{kind} n-gram range must satisfy 1 <= low <= high, got {tuple(ngram_range)}")
        self.kind = kind
        self.ngram_range = (int(low), int(high))
        self.weight = float(weight)
        self.min_df = int(min_df)
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.terms_: list[str] = []
        self.index_: dict[str, int] = {}
        self.idf_ = np.zeros(0)

    def _grams(self, doc: TokenizedText) -> list[str]:
        tokens = doc.chars if self.kind == "char" else doc.words
        if tokens is None:
            raise UsageError("word features need texts tokenized with words=True")
        return ngrams(tokens, *self.ngram_range, self.JOINERS[self.kind])

    def fit(self, docs: Sequence[TokenizedText]) -> "NgramBlock":
        document_frequency: Counter = Counter()
        for doc in docs:
            document_frequency.update(set(self._grams(doc)))
        kept = [(term, df) for term, df in document_frequency.items() if df >= self.min_df]
        if self.max_features is not None and len(kept) > self.max_features:
            # The most frequent first; ties by term so the choice never depends on iteration order.
            kept = sorted(kept, key=lambda item: (-item[1], item[0]))[: self.max_features]
        kept.sort()
        self.terms_ = [term for term, _ in kept]
        self.index_ = {term: i for i, term in enumerate(self.terms_)}
        n_docs = len(docs)
        self.idf_ = np.array([math.log((1 + n_docs) / (1 + df)) + 1.0 for _, df in kept], dtype=np.float64)
        return self

    def transform(self, docs: Sequence[TokenizedText]) -> sp.csr_matrix:
        indptr = [0]
        indices: list[int] = []
        values: list[float] = []
        index = self.index_
        for doc in docs:
            counts = Counter(index[g] for g in self._grams(doc) if g in index)
            for column in sorted(counts):
                indices.append(column)
                values.append(counts[column])
            indptr.append(len(indices))
        matrix = sp.csr_matrix(
            (np.asarray(values, dtype=np.float64), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
            shape=(len(docs), len(self.terms_)),
        )
        if self.sublinear_tf and matrix.nnz:
            np.log(matrix.data, out=matrix.data)
            matrix.data += 1.0
        matrix = matrix @ sp.diags(self.idf_, format="csr") if len(self.terms_) else matrix
        return normalize_rows(matrix) * self.weight


def normalize_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Each row divided by its L2 norm (all-zero rows stay zero)."""
    matrix = sp.csr_matrix(matrix, dtype=np.float64)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix)


class TextFeaturizer:
    """Character n-grams (weight 1) and, when ``word_weight > 0``, jieba word n-grams, stacked and L2-normalised."""

    def __init__(self, char_ngram_range=(1, 3), word_ngram_range=(1, 2), word_weight: float = 0.5,
                 min_df: int = 1, max_features: int | None = 200_000, sublinear_tf: bool = True):
        if word_weight < 0:
            raise UsageError(f"word_weight must be >= 0, got {word_weight}")
        if min_df < 1:
            raise UsageError(f"min_df must be >= 1, got {min_df}")
        if max_features is not None and max_features < 1:
            raise UsageError(f"max_features must be >= 1 or None, got {max_features}")
        self.blocks = [NgramBlock("char", tuple(char_ngram_range), 1.0, min_df, max_features, sublinear_tf)]
        if word_weight > 0:
            self.blocks.append(NgramBlock("word", tuple(word_ngram_range), word_weight, min_df, max_features,
                                          sublinear_tf))

    @property
    def uses_words(self) -> bool:
        return any(block.kind == "word" for block in self.blocks)

    @property
    def n_features(self) -> int:
        return sum(len(block.terms_) for block in self.blocks)

    def fit(self, docs: Sequence[TokenizedText]) -> "TextFeaturizer":
        for block in self.blocks:
            block.fit(docs)
        return self

    def transform(self, docs: Sequence[TokenizedText]) -> sp.csr_matrix:
        return normalize_rows(sp.hstack([block.transform(docs) for block in self.blocks], format="csr"))

    def fit_transform(self, docs: Sequence[TokenizedText]) -> sp.csr_matrix:
        return self.fit(docs).transform(docs)

    # ------------------------------------------------------------------------------------------- persistence

    def save(self, writer, prefix: str = "features") -> None:
        writer.write_json(f"{prefix}.json", {"blocks": [
            {"kind": b.kind, "ngram_range": list(b.ngram_range), "terms": b.terms_} for b in self.blocks]})
        writer.write_arrays(f"{prefix}.npz", **{f"idf_{i}": b.idf_ for i, b in enumerate(self.blocks)})

    def load_state(self, reader, prefix: str = "features") -> "TextFeaturizer":
        """Restore the fitted vocabularies and idf vectors, checking they match this featurizer's blocks."""
        name = f"{prefix}.json"
        meta = reader.read_json(name)
        arrays = reader.read_arrays(f"{prefix}.npz")
        saved = reader.require(meta, "blocks", name)
        if not isinstance(saved, list) or len(saved) != len(self.blocks):
            raise ModelFormatError(f"{reader.path(name)}: expected {len(self.blocks)} feature blocks")
        for i, (block, entry) in enumerate(zip(self.blocks, saved)):
            terms = reader.require(entry, "terms", name)
            ngram_range = reader.require(entry, "ngram_range", name)
            if (reader.require(entry, "kind", name) != block.kind or not isinstance(ngram_range, list)
                    or tuple(ngram_range) != block.ngram_range):
                raise ModelFormatError(f"{reader.path(name)}: block {i} does not match the model's parameters")
            if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
                raise ModelFormatError(f"{reader.path(name)}: block {i}: terms must be a list of strings")
            idf = arrays.get(f"idf_{i}")
            if idf is None or idf.dtype != np.float64 or idf.shape != (len(terms),):
                raise ModelFormatError(f"{reader.path(prefix + '.npz')}: idf_{i} missing or not {len(terms)} floats")
            block.terms_ = terms
            block.index_ = {term: j for j, term in enumerate(terms)}
            block.idf_ = idf
        return self


def as_tokenized(texts: Iterable, words: bool) -> list[TokenizedText]:
    """Texts given as strings are tokenized (once); `TokenizedText` items are used as they are."""
    if isinstance(texts, (str, TokenizedText)):
        raise UsageError("expected a sequence of texts, got a single text (wrap it in a list)")
    texts = list(texts)
    if all(isinstance(t, TokenizedText) for t in texts):
        if words and any(t.words is None for t in texts):
            raise UsageError("these texts were tokenized without words; tokenize_texts(texts, words=True)")
        return texts
    if any(isinstance(t, TokenizedText) for t in texts):
        raise UsageError("mix of raw and tokenized texts; pass one kind")
    return tokenize_texts(texts, words=words)

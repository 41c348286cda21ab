"""The bounded-memory router and recommender (``train route|recommend --scale stream``).

Features: `HashedFeaturizer`, character 1-3-grams with word-boundary marks (analyzer ``char_wb``: each
whitespace-separated word is padded with a space) hashed into ``n_features`` columns (murmurhash3, no sign
flipping), exactly the counts scikit-learn's ``HashingVectorizer`` gives but hashed with numpy over whole slices of
texts, weighted like the in-memory features: sublinear tf ``1 + ln(tf)``, smoothed idf ``ln((1 + n) / (1 + df)) + 1``
from document frequencies counted in the same pass, each row L2-normalised, float32. No vocabulary is kept, so
memory does not grow with the corpus.

Learner: multinomial logistic regression (softmax, `SoftmaxSGD`) or, with ``hidden`` units, one hidden layer of
rectified linear units before the softmax (`HiddenLayerSGD`), trained by mini-batch SGD with Adagrad steps, several
passes over a seeded bucketed shuffle of the training rows (`tasks.shuffle`), kept on disk as hashed counts so texts
are featurized once. The router's default lets the training size choose (`StreamedRouter`): the hidden layer wins
with enough records and loses with few. Class weights are scikit-learn's "balanced" ones damped,
``(n / (k n_c)) ** p`` (p = 0.3 for routing, 0.5 for recommendation): at power 1 a class 100 times rarer weighs 100
times more, which over-predicts the rare classes of a long-tailed label set and makes their steps erratic; at 0 the
rare classes are under-predicted. The power, the learning rate (0.1 for routing's softmax regression, 0.05 for its
hidden layer, 0.2 for recommendation) and the hidden layer were chosen on held-out parts of train splits
(`benchmarks/bench_stream_weights.py`). A held-out slice of the train split (records whose
``sha256(f"{seed}:holdout:{id}")`` key is smallest, at most 10 % and 20,000 records) chooses the number of passes:
training stops at the first pass that lowers its loss (the class-weighted cross-entropy, the training objective) by
less than 0.5 % and keeps the lowest-loss weights. This is the regularisation: the right amount moves with corpus
size. The loss, not the held-out macro-F1, decides because on 20,000 records macro-F1 moves by more from noise than
from one more pass. The held-out records are not trained on.

The fitted model is a `LinearHead` (softmax link) or a `HiddenLayerHead` over the hashed columns, so prediction,
``route``/``recommend``, ``evaluate model`` and ``explain`` treat it like any other head (a hidden layer is explained
exactly through the linear model its active units give for the text); it is saved as a model directory of kind
``route``/``recommend`` (``model.json`` + ``features.json``/``features.npz`` + ``head.npz``, no pickle).

Memory (training): the weights and their optimiser state (`choose_n_features` gives the bytes a column costs for each
learner) plus one shuffle bucket and the held-out slice; `choose_n_features` picks the largest power of two that
keeps them within half of the memory budget (at most 2^20 columns). The best pass's weights are a copy in memory for
softmax regression and a file beside the shuffle for the larger hidden layer.
"""

from __future__ import annotations

import math
import numbers
import os
import re
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import scipy.sparse as sp

from ..errors import DataError, ModelFormatError, UsageError
from ..progress import progress
from .estimator import ClassifierParams
from .heads import HiddenLayerHead, LinearHead, load_head

BUNDLE_FILE = "model.json"
BUNDLE_FORMAT = "rmd_baselines-streamed-classifier"
BUNDLE_FORMAT_VERSION = 1
FEATURES_FORMAT_VERSION = 1
MIN_FEATURES, MAX_FEATURES = 2 ** 12, 2 ** 20
HOLDOUT_FRACTION, HOLDOUT_MAX = 0.1, 20_000
CHUNK = 4096  # texts featurized at a time
COUNT_CHARS = 2 ** 18  # characters `HashedFeaturizer.counts` hashes at a time
INIT_SCALE = 0.3  # standard deviation of the hidden layer's first input weights
# ``hidden=None`` (the router's default): this many units from this many training records on, else none; and
# ``learning_rate=None``: the rate of the learner that leaves (chosen by `benchmarks/bench_stream_weights.py`).
AUTO_HIDDEN, AUTO_HIDDEN_MIN_RECORDS = 64, 500_000
AUTO_LEARNING_RATE = {"softmax": 0.1, "hidden": 0.05}


class HashedFeaturizer:
    """Hashed character n-grams (word-boundary marks), TF-IDF weighted, L2-normalised rows (float32)."""

    uses_words = False

    def __init__(self, n_features: int = MAX_FEATURES, ngram_range: tuple[int, int] = (1, 3)):
        low, high = ngram_range
        if not 1 <= low <= high:
            raise UsageError(f"char n-gram range must satisfy 1 <= low <= high, got {tuple(ngram_range)}")
        if int(n_features) < 2:
            raise UsageError(f"n_features must be at least 2, got {n_features}")
        self.n_features = int(n_features)
        self.ngram_range = (int(low), int(high))
        self.idf_ = np.ones(self.n_features, dtype=np.float32)

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Raw n-gram counts per text (float32, sorted column indices): the matrix scikit-learn's
        ``HashingVectorizer`` gives, computed with numpy a slice of texts at a time."""
        if isinstance(texts, str):
            raise UsageError("expected a sequence of texts, got a single text (wrap it in a list)")
        texts = list(texts)
        # Slices of about COUNT_CHARS characters bound the per-gram work arrays (tens of bytes a gram).
        parts, start, chars = [], 0, 0
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise UsageError(f"expected texts (str), got {type(text).__name__}")
            chars += len(text)
            if chars >= COUNT_CHARS:
                parts.append(self._count_slice(texts[start:i + 1]))
                start, chars = i + 1, 0
        if start < len(texts) or not parts:
            parts.append(self._count_slice(texts[start:]))
        matrix = parts[0] if len(parts) == 1 else sp.vstack(parts, format="csr")
        matrix.sort_indices()
        return matrix

    def _count_slice(self, texts: list[str]) -> sp.csr_matrix:
        words: list[str] = []
        words_per_text = np.zeros(len(texts), dtype=np.int64)
        for i, text in enumerate(texts):
            split = text.split()
            words.extend(split)
            words_per_text[i] = len(split)
        low, high = self.ngram_range
        # Every word padded with a space on each side (``char_wb``), the padded words one after another.
        padded = "".join(f" {word} " for word in words)
        codes = np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32)
        utf8 = np.frombuffer(padded.encode("utf-8"), dtype=np.uint8)
        byte_offset = np.zeros(len(codes) + 1, dtype=np.int64)
        np.cumsum(1 + (codes >= 0x80) + (codes >= 0x800) + (codes >= 0x10000), out=byte_offset[1:])
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words)) + 2
        word_start = np.zeros(len(words), dtype=np.int64)
        np.cumsum(lengths[:-1], out=word_start[1:])
        word_of = np.repeat(np.arange(len(words)), lengths)
        offset_in_word = np.arange(len(codes)) - word_start[word_of]
        starts, ends = [], []
        for n in range(low, high + 1):
            begin = np.flatnonzero(offset_in_word <= (lengths - n)[word_of])
            starts.append(begin)
            ends.append(begin + n)
        short = np.flatnonzero(lengths < low)  # a word shorter than the shortest gram counts once, whole
        starts.append(word_start[short])
        ends.append(word_start[short] + lengths[short])
        begin, end = np.concatenate(starts), np.concatenate(ends)
        columns = _hashed_columns(utf8, byte_offset[begin], byte_offset[end], self.n_features)
        rows = np.repeat(np.arange(len(texts)), words_per_text)[word_of[begin]]
        keys = rows * self.n_features + columns
        keys.sort()
        first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, dtype=np.int64)
        counts = np.diff(np.r_[first, len(keys)]).astype(np.float32)
        keys = keys[first]
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(keys // self.n_features, minlength=len(texts)), out=indptr[1:])
        return sp.csr_matrix((counts, (keys % self.n_features).astype(np.int32), indptr),
                             shape=(len(texts), self.n_features))

    def set_idf(self, document_frequency: np.ndarray, n_docs: int) -> "HashedFeaturizer":
        df = np.asarray(document_frequency, dtype=np.float64)
        self.idf_ = (np.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(np.float32)
        return self

    def weight(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """Sublinear tf x idf, each row L2-normalised."""
        matrix = sp.csr_matrix(counts, dtype=np.float32, copy=True)
        if matrix.nnz:
            np.log(matrix.data, out=matrix.data)
            matrix.data += 1.0
            matrix.data *= self.idf_[matrix.indices]
            lengths = np.diff(matrix.indptr)
            # Squared norms summed row by row; a bincount, unlike ``np.add.reduceat``, takes empty rows anywhere.
            norms = np.sqrt(np.bincount(np.repeat(np.arange(matrix.shape[0]), lengths),
                                        weights=matrix.data.astype(np.float64) ** 2, minlength=matrix.shape[0]))
            norms[norms == 0] = 1.0
            matrix.data /= np.repeat(norms, lengths).astype(np.float32)
        return matrix

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.weight(self.counts(texts))

    # ------------------------------------------------------------------------- explanation support

    def grams_with_positions(self, text: str) -> list[tuple[str, tuple[int, ...]]]:
        """The n-grams ``char_wb`` produces for ``text``, in its order, with the text positions each covers
        (a boundary mark counts as the character next to it, so every n-gram covers some text)."""
        low, high = self.ngram_range
        out = []
        for match in re.finditer(r"\S+", text):
            word = " " + match.group() + " "
            start = match.start() - 1  # text position of word[0]
            length = len(word)

            def span(offset: int, n: int) -> tuple[int, ...]:
                inside = sorted({min(max(j, 1), length - 2) for j in range(offset, min(offset + n, length))})
                return tuple(start + j for j in inside)

            for n in range(low, high + 1):
                offset = 0
                out.append((word[offset:offset + n], span(offset, n)))
                while offset + n < length:
                    offset += 1
                    out.append((word[offset:offset + n], span(offset, n)))
                if offset == 0:
                    break
        return out

    def column_of(self, gram: str) -> int:
        """The column a gram hashes to (what ``HashingVectorizer`` computes)."""
        from sklearn.utils import murmurhash3_32

        h = murmurhash3_32(gram, seed=0, positive=False)
        if h == -2147483648:
            return (2147483647 - (self.n_features - 1)) % self.n_features
        return abs(h) % self.n_features

    # ------------------------------------------------------------------------------------ persistence

    def save(self, writer, prefix: str = "features") -> None:
        writer.write_json(f"{prefix}.json", {"type": "hashed", "format_version": FEATURES_FORMAT_VERSION,
                                             "analyzer": "char_wb", "hash": "murmurhash3_32 seed 0, no sign",
                                             "ngram_range": list(self.ngram_range), "n_features": self.n_features})
        writer.write_arrays(f"{prefix}.npz", idf=self.idf_)

    @classmethod
    def load(cls, reader, prefix: str = "features") -> "HashedFeaturizer":
        name = f"{prefix}.json"
        meta = reader.read_json(name)
        if not isinstance(meta, dict) or meta.get("type") != "hashed" or meta.get("analyzer") != "char_wb":
            raise ModelFormatError(f"{reader.path(name)}: not hashed char_wb features")
        if meta.get("format_version") != FEATURES_FORMAT_VERSION:
            raise ModelFormatError(f"{reader.path(name)}: features format_version {meta.get('format_version')!r} "
                                   f"is not {FEATURES_FORMAT_VERSION}")
        ngram_range, n_features = meta.get("ngram_range"), meta.get("n_features")
        if (not isinstance(ngram_range, list) or len(ngram_range) != 2
                or not all(isinstance(v, int) for v in ngram_range) or not isinstance(n_features, int)):
            raise ModelFormatError(f"{reader.path(name)}: bad ngram_range or n_features")
        try:
            featurizer = cls(n_features, tuple(ngram_range))
        except UsageError as exc:
            raise ModelFormatError(f"{reader.path(name)}: {exc}") from None
        idf = reader.read_arrays(f"{prefix}.npz").get("idf")
        if idf is None or idf.dtype != np.float32 or idf.shape != (n_features,):
            raise ModelFormatError(f"{reader.path(prefix + '.npz')}: idf missing or not {n_features} float32")
        featurizer.idf_ = idf
        return featurizer


def _murmur_mix(k: np.ndarray) -> np.ndarray:
    k *= np.uint32(0xCC9E2D51)
    k = (k << np.uint32(15)) | (k >> np.uint32(17))
    k *= np.uint32(0x1B873593)
    return k


def _hashed_columns(utf8: np.ndarray, begin: np.ndarray, end: np.ndarray, n_features: int) -> np.ndarray:
    """The column of every byte string ``utf8[begin:end]`` as scikit-learn's ``HashingVectorizer`` computes it
    (signed 32-bit MurmurHash3 x86, seed 0; ``abs(h) % n_features``), for all the strings at once."""
    length = (end - begin).astype(np.uint32)
    blocks = length >> np.uint32(2)
    padded = np.zeros(len(utf8) + 4, dtype=np.uint32)
    padded[:len(utf8)] = utf8
    # The little-endian 32-bit word that starts at each byte (and one past the end, for empty tails).
    word = padded[:-3] | (padded[1:-2] << np.uint32(8)) | (padded[2:-1] << np.uint32(16))
    word |= padded[3:] << np.uint32(24)
    h = np.zeros(len(begin), dtype=np.uint32)
    for j in range(int(blocks.max(initial=0))):
        rows = np.flatnonzero(blocks > j)
        part = h[rows] ^ _murmur_mix(word[begin[rows] + 4 * j])
        part = (part << np.uint32(13)) | (part >> np.uint32(19))
        part *= np.uint32(5)
        part += np.uint32(0xE6546B64)
        h[rows] = part
    tail = word[begin + (blocks << np.uint32(2))]
    tail &= np.array([0, 0xFF, 0xFFFF, 0xFFFFFF], dtype=np.uint32)[length & np.uint32(3)]
    h ^= _murmur_mix(tail)  # without a tail this mixes in 0, which changes nothing
    h ^= length
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    signed = h.view(np.int32).astype(np.int64)
    np.abs(signed, out=signed)
    signed %= n_features
    return signed


def choose_n_features(n_classes: int, budget_bytes: int | None, hidden: int = 0) -> int:
    """The largest power of two (``MIN_FEATURES`` .. ``MAX_FEATURES``) whose training state fits in half of the
    budget. A column costs ``16 * n_classes + 12`` bytes in softmax regression (weights, the best pass's copy, the
    averaging sums, Adagrad and idf) and ``8 * hidden + 12`` with a hidden layer (its input weights, their Adagrad
    sums and idf; the best pass's copy is kept on disk)."""
    if budget_bytes is None:
        return MAX_FEATURES
    per_column = 8 * int(hidden) + 12 if hidden else 16 * max(2, n_classes) + 12
    columns = budget_bytes / 2 / per_column
    if columns < MIN_FEATURES:
        return MIN_FEATURES
    return int(min(MAX_FEATURES, 2 ** int(math.floor(math.log2(columns)))))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Macro-F1 over the classes present in ``y_true`` or ``y_pred`` (scikit-learn's, zero_division 0)."""
    tp = np.bincount(y_true[y_true == y_pred], minlength=n_classes).astype(np.float64)
    true = np.bincount(y_true, minlength=n_classes).astype(np.float64)
    pred = np.bincount(y_pred, minlength=n_classes).astype(np.float64)
    present = (true + pred) > 0
    denominator = true + pred
    f1 = np.divide(2 * tp, denominator, out=np.zeros(n_classes), where=denominator > 0)
    return float(f1[present].mean()) if present.any() else 0.0


def weighted_log_loss(scores: np.ndarray, y: np.ndarray, class_weights: np.ndarray) -> float:
    """The training objective on held-out rows: cross-entropy of the softmax of ``scores``, each row weighted by its
    class's weight, divided by the total weight."""
    z = scores - scores.max(axis=1, keepdims=True)
    nll = np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]
    w = np.asarray(class_weights, dtype=np.float64)[y]
    return float((w * nll).sum() / w.sum()) if w.sum() > 0 else float(nll.mean())


def tune_offsets(scores: np.ndarray, y: np.ndarray, n_classes: int, rounds: int = 2,
                 grid: np.ndarray = np.linspace(-1.5, 1.5, 31)) -> tuple[np.ndarray, float, float]:
    """Per-class additive offsets to the scores that raise macro-F1 on held-out rows (coordinate ascent over a
    grid, class by class, ``rounds`` times; an offset changes only when it strictly helps). Returns (offsets,
    macro-F1 before, macro-F1 after)."""
    offsets = np.zeros(n_classes)
    rows = np.arange(len(y))
    before = best = macro_f1(y, scores.argmax(axis=1), n_classes)
    for _ in range(rounds):
        changed = False
        for c in range(n_classes):
            shifted = scores + offsets
            others = shifted.copy()
            others[:, c] = -np.inf
            alternative = others.argmax(axis=1)
            alternative_score = others[rows, alternative]
            for value in grid:
                predicted = np.where(scores[:, c] + value > alternative_score, c, alternative)
                score = macro_f1(y, predicted, n_classes)
                if score > best + 1e-9:
                    best, offsets[c], changed = score, value, True
        if not changed:
            break
    return offsets, before, best


class BatchColumns:
    """The distinct columns of a mini-batch and each entry's position among them: ``np.unique(indices,
    return_inverse=True)`` (inverse as int32), through a mask of all the columns instead of a sort."""

    def __init__(self, n_features: int):
        self._seen = np.zeros(n_features, dtype=bool)
        self._position = np.zeros(n_features, dtype=np.int32)

    def __call__(self, X: sp.csr_matrix) -> tuple[np.ndarray, sp.csr_matrix]:
        """(the batch's columns, the batch with its columns renumbered 0 .. len(columns) - 1)."""
        self._seen[X.indices] = True
        columns = np.flatnonzero(self._seen)
        self._seen[columns] = False
        self._position[columns] = np.arange(len(columns), dtype=np.int32)
        compact = sp.csr_matrix((X.data, self._position[X.indices], X.indptr), shape=(X.shape[0], len(columns)))
        return columns, compact


def _weighted_softmax_residual(scores: np.ndarray, y: np.ndarray, class_weights: np.ndarray) -> np.ndarray:
    """The gradient of the mean class-weighted cross-entropy with respect to the scores (in place)."""
    n = len(y)
    scores -= scores.max(axis=1, keepdims=True)
    p = np.exp(scores, out=scores)
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(n), y] -= 1.0
    p *= (class_weights[y] / n)[:, None]
    return p


class SoftmaxSGD:
    """Multinomial logistic regression over sparse rows: mini-batch SGD, row-wise Adagrad, optional L2."""

    def __init__(self, n_features: int, n_classes: int, learning_rate: float, l2: float, class_weights: np.ndarray,
                 average: bool = False):
        self.W = np.zeros((n_features, n_classes), dtype=np.float32)
        # Polyak averaging, lazily: after T averaged steps the mean of W is W - U / T (U = sum of t * update_t).
        self.U = np.zeros((n_features, n_classes), dtype=np.float32) if average else None
        self.U_b = np.zeros(n_classes, dtype=np.float64)
        self.t = 0
        self.averaging = False
        self.b = np.zeros(n_classes, dtype=np.float64)
        self.acc = np.zeros(n_features, dtype=np.float32)
        self.acc_b = np.zeros(n_classes, dtype=np.float64)
        self.learning_rate = float(learning_rate)
        self.l2 = float(l2)
        self.class_weights = np.asarray(class_weights, dtype=np.float32)
        self._columns = BatchColumns(n_features)

    def step(self, X: sp.csr_matrix, y: np.ndarray) -> None:
        n = X.shape[0]
        if X.nnz:
            # Only the batch's columns take part: gather their weights once, for the scores and the update.
            columns, compact = self._columns(X)
            W = np.take(self.W, columns, axis=0)  # a faster gather than ``self.W[columns]``
            z = np.asarray(compact @ W, dtype=np.float64) + self.b
        else:
            z = np.zeros((n, len(self.b))) + self.b
        p = _weighted_softmax_residual(z, y, self.class_weights)
        grad_b = p.sum(axis=0)
        p = p.astype(np.float32)
        if X.nnz:
            grad = np.asarray(compact.T @ p, dtype=np.float32)
            if self.l2:
                grad += self.l2 * W
            acc = self.acc[columns] + np.mean(grad * grad, axis=1)
            self.acc[columns] = acc
            update = grad
            update *= (self.learning_rate / np.sqrt(acc + 1e-8))[:, None]
            W -= update
            self.W[columns] = W
            if self.averaging:
                U = np.take(self.U, columns, axis=0)
                update *= np.float32(self.t)
                U -= update
                self.U[columns] = U
        self.acc_b += grad_b * grad_b
        update_b = self.learning_rate * grad_b / np.sqrt(self.acc_b + 1e-8)
        self.b -= update_b
        if self.averaging:
            self.U_b -= self.t * update_b
            self.t += 1

    def end_pass(self) -> None:
        """Average the weights from the second pass on (when averaging was asked for)."""
        if self.U is not None and not self.averaging:
            self.averaging, self.t = True, 0

    def current_head(self) -> LinearHead:
        """The model as it stands, averaged (the current weights before averaging starts), as a head with its own
        copy of the weights: one full-size array, written straight in the head's class-by-column layout."""
        coef = np.empty(self.W.T.shape, dtype=np.float32)
        if not self.averaging or self.t == 0:
            coef[...] = self.W.T
            return LinearHead(coef, self.b.copy(), "softmax")
        np.divide(self.U.T, np.float32(self.t), out=coef)
        np.subtract(self.W.T, coef, out=coef)  # W - U / t
        return LinearHead(coef, self.b - self.U_b / self.t, "softmax")

    def keep(self, head: LinearHead, directory: str) -> LinearHead:
        """Hold on to ``head`` (from `current_head`) as the best so far: in memory, it is a copy already."""
        return head

    def release(self) -> None:
        self.W = self.U = self.acc = None


class HiddenLayerSGD:
    """One hidden layer of rectified linear units and a softmax over sparse rows (`heads.HiddenLayerHead`),
    trained by mini-batch SGD with element-wise Adagrad steps. (Row-wise steps for the input layer, one accumulator
    per hashed column as in `SoftmaxSGD`, would halve its memory, but on a 1M-dialogue development slice they
    stopped a pass earlier at a held-out accuracy 0.001 lower.)

    The input layer starts from seeded normal weights of standard deviation ``INIT_SCALE`` (rows are L2-normalised,
    so a unit's first pre-activation has about that spread), the output layer from normal weights scaled by
    ``1 / sqrt(hidden)``. Only the batch's columns of the input layer are read and written at each step.
    """

    def __init__(self, n_features: int, n_classes: int, hidden: int, learning_rate: float, l2: float,
                 class_weights: np.ndarray, seed: int):
        rng = np.random.default_rng([seed, hidden])
        self.W1 = rng.standard_normal((n_features, hidden), dtype=np.float32)
        self.W1 *= np.float32(INIT_SCALE)
        self.b1 = np.zeros(hidden)
        self.W2 = rng.standard_normal((hidden, n_classes)) / math.sqrt(hidden)
        self.b2 = np.zeros(n_classes)
        self.acc1 = np.zeros((n_features, hidden), dtype=np.float32)
        self.acc_b1, self.acc2, self.acc_b2 = np.zeros(hidden), np.zeros((hidden, n_classes)), np.zeros(n_classes)
        self.learning_rate = float(learning_rate)
        self.l2 = float(l2)
        self.class_weights = np.asarray(class_weights, dtype=np.float64)
        self._columns = BatchColumns(n_features)

    def _adagrad(self, weights: np.ndarray, grad: np.ndarray, acc: np.ndarray) -> None:
        acc += grad * grad
        weights -= self.learning_rate * grad / np.sqrt(acc + 1e-8)

    def gradients(self, X: sp.csr_matrix, y: np.ndarray) -> dict:
        """The gradients of the batch's mean class-weighted cross-entropy: ``W1`` only at the batch's ``columns``
        (``W1_rows`` holds those rows of the weights), the rest whole."""
        if X.nnz:
            columns, compact = self._columns(X)
            W1 = np.take(self.W1, columns, axis=0)
            z = np.asarray(compact @ W1, dtype=np.float64) + self.b1
        else:
            columns, compact, W1 = np.zeros(0, dtype=np.int64), None, None
            z = np.zeros((X.shape[0], len(self.b1))) + self.b1
        a = np.maximum(z, 0.0)
        p = _weighted_softmax_residual(a @ self.W2 + self.b2, y, self.class_weights)
        dz = p @ self.W2.T
        dz[z <= 0] = 0.0
        grad_W1 = (np.asarray(compact.T @ dz.astype(np.float32), dtype=np.float32) if X.nnz
                   else np.zeros((0, len(self.b1)), dtype=np.float32))
        return {"columns": columns, "W1_rows": W1, "W1": grad_W1, "b1": dz.sum(axis=0), "W2": a.T @ p,
                "b2": p.sum(axis=0)}

    def step(self, X: sp.csr_matrix, y: np.ndarray) -> None:
        grads = self.gradients(X, y)
        columns, grad = grads["columns"], grads["W1"]
        if len(columns):
            W1 = grads["W1_rows"]
            if self.l2:
                grad += self.l2 * W1
            acc = np.take(self.acc1, columns, axis=0)
            acc += grad * grad
            self.acc1[columns] = acc
            acc += np.float32(1e-8)
            np.sqrt(acc, out=acc)
            grad *= np.float32(self.learning_rate)
            grad /= acc
            W1 -= grad
            self.W1[columns] = W1
        grad_W2 = grads["W2"] + self.l2 * self.W2 if self.l2 else grads["W2"]
        self._adagrad(self.W2, grad_W2, self.acc2)
        self._adagrad(self.b2, grads["b2"], self.acc_b2)
        self._adagrad(self.b1, grads["b1"], self.acc_b1)

    def end_pass(self) -> None:
        pass

    def current_head(self) -> HiddenLayerHead:
        """The model as it stands, as a head that shares this learner's input layer (no copy)."""
        return HiddenLayerHead(self.W1, self.b1.copy(), self.W2.copy(), self.b2.copy())

    def keep(self, head: HiddenLayerHead, directory: str) -> HiddenLayerHead:
        """Hold on to ``head`` (from `current_head`) as the best so far: its input layer, the size of this
        learner's, is copied to a file in ``directory`` and read back by `restore` once the learner is released."""
        path = os.path.join(directory, "best-input-layer.npy")
        np.save(path, head.W1, allow_pickle=False)
        kept = HiddenLayerHead(np.zeros((0, len(head.b1)), dtype=np.float32), head.b1, head.W2, head.b2)
        kept.input_layer_file = path
        return kept

    def release(self) -> None:
        self.W1 = self.acc1 = None


def restore(head):
    """A head kept by a learner's ``keep``, with its input layer back in memory."""
    path = getattr(head, "input_layer_file", None)
    if path is not None:
        head.W1 = np.load(path, allow_pickle=False)
        del head.input_layer_file
    return head


class StreamedClassifier(ClassifierParams):
    """Hashed char n-gram TF-IDF + softmax regression (or a hidden layer and a softmax) trained out of core (see the
    module docstring).

    Parameters
    ----------
    n_features : hashed columns (None: chosen from ``memory_budget`` by `choose_n_features`).
    memory_budget : bytes the training may use (only used to choose ``n_features``).
    char_ngram_range : n-gram orders.
    hidden : units of one hidden ReLU layer between the features and the softmax (`HiddenLayerSGD`); 0 = softmax
        regression (`SoftmaxSGD`); None = ``AUTO_HIDDEN`` units from ``AUTO_HIDDEN_MIN_RECORDS`` training records
        on, none below (the fitted choice is ``hidden_``).
    learning_rate, l2, batch_size : the SGD settings (``learning_rate=None``: ``AUTO_LEARNING_RATE`` of the learner
        used).
    max_epochs, patience, tol : passes over the shuffled training rows; stop after ``patience`` passes that do not
        lower the best held-out loss (`weighted_log_loss`) by more than the fraction ``tol`` of it (the lowest-loss
        pass's weights are kept).
    average : predict with the mean of the weights over the steps from the second pass on (Polyak averaging;
        softmax regression only).
    tune_offsets : add per-class offsets to the intercepts that raise the held-out macro-F1 (`tune_offsets`).
    n_buckets : files of the external shuffle (memory holds about one in ``n_buckets`` rows at a time).
    class_weight : ``"balanced"`` (``class_weight_power`` damps it) or None.
    class_weight_power : exponent of the balanced weights ``n / (k n_c)``: 1 is scikit-learn's "balanced", 0 weighs
        every record alike.
    seed : seeds the shuffle and the held-out slice.
    """

    KIND: str | None = None
    model = "softmax"
    ensemble_members: tuple[str, ...] = ()
    hierarchical = False
    word_weight = 0.0

    def __init__(self, n_features: int | None = None, memory_budget: int | None = None,
                 char_ngram_range: tuple[int, int] = (1, 3), hidden: int = 0, learning_rate: float = 0.1,
                 l2: float = 0.0, batch_size: int = 256, max_epochs: int = 10, patience: int = 1, tol: float = 0.005,
                 average: bool = True,
                 tune_offsets: bool = False, n_buckets: int = 64, class_weight: str | None = "balanced",
                 class_weight_power: float = 0.3, seed: int = 0):
        self.n_features = n_features
        self.memory_budget = memory_budget
        self.char_ngram_range = char_ngram_range
        self.hidden = hidden
        self.learning_rate = learning_rate
        self.l2 = l2
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.tol = tol
        self.average = average
        self.tune_offsets = tune_offsets
        self.n_buckets = n_buckets
        self.class_weight = class_weight
        self.class_weight_power = class_weight_power
        self.seed = seed

    # ------------------------------------------------------------------------------------------- description

    def describe(self) -> str:
        n = getattr(self, "n_features_", self.n_features)
        hidden = getattr(self, "hidden_", self.hidden)
        learner = ("a hidden layer chosen by size + softmax" if hidden is None
                   else f"{hidden} hidden ReLU units + softmax" if hidden else "softmax")
        return (f"{type(self).__name__}: streamed {learner}, hashed chars {tuple(self.char_ngram_range)} "
                f"x {n} columns, class_weight={self.class_weight}"
                f"{f'^{self.class_weight_power}' if self.class_weight == 'balanced' else ''}, seed {self.seed}")

    def _check_params(self) -> None:
        if self.class_weight not in ("balanced", None):
            raise UsageError(f"class_weight must be 'balanced' or None, got {self.class_weight!r}")
        rate = self.learning_rate
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not rate > 0):
            raise UsageError(f"learning_rate must be > 0 or None (chosen with the learner), got {rate!r}")
        power = self.class_weight_power
        if isinstance(power, bool) or not isinstance(power, numbers.Real) or not 0 <= power <= 1:
            raise UsageError(f"class_weight_power must be between 0 and 1, got {self.class_weight_power!r}")
        if not self.tol >= 0:
            raise UsageError(f"tol must be >= 0, got {self.tol!r}")
        if not self.l2 >= 0:
            raise UsageError(f"l2 must be >= 0, got {self.l2!r}")
        for name in ("batch_size", "max_epochs", "patience", "n_buckets"):
            if int(getattr(self, name)) < 1:
                raise UsageError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.hidden is not None and (isinstance(self.hidden, bool) or not isinstance(self.hidden, numbers.Integral)
                                        or self.hidden < 0):
            raise UsageError(f"hidden must be an integer >= 0 or None (chosen by size), got {self.hidden!r}")
        if self.n_features is not None and int(self.n_features) < 2:
            raise UsageError(f"n_features must be >= 2, got {self.n_features!r}")
        low, high = self.char_ngram_range
        if not 1 <= low <= high:
            raise UsageError(f"char_ngram_range must satisfy 1 <= low <= high, got {self.char_ngram_range!r}")

    # ------------------------------------------------------------------------------------------- fitting

    def fit(self, X: Sequence[str], y: Sequence[str], groups=None, ids: Sequence[str] | None = None
            ) -> "StreamedClassifier":
        """Learn from texts and labels held in memory (ids default to the row numbers; they seed the shuffle and
        the held-out slice)."""
        if isinstance(X, str):
            raise UsageError("X must be a sequence of texts, not a single string (wrap it in a list)")
        X, y = list(X), list(y)
        if len(X) != len(y):
            raise UsageError(f"{len(X)} texts but {len(y)} labels")
        for i, value in enumerate(y):
            if not isinstance(value, str) or not value.strip():
                raise DataError(f"label {i}: expected a non-empty string, got {value!r}")
        ids = [str(i) for i in range(len(X))] if ids is None else [str(i) for i in ids]
        classes = sorted(set(y))
        index = {label: i for i, label in enumerate(classes)}
        codes = np.array([index[label] for label in y], dtype=np.int32)

        def chunks() -> Iterator[tuple[list[str], np.ndarray, list[str]]]:
            for start in range(0, len(X), CHUNK):
                yield X[start:start + CHUNK], codes[start:start + CHUNK], ids[start:start + CHUNK]

        return self.fit_chunks(chunks, classes, np.bincount(codes, minlength=len(classes)))

    def fit_chunks(self, chunks: Callable[[], Iterable[tuple[list[str], np.ndarray, list[str]]]],
                   classes: Sequence[str], class_counts: np.ndarray, temp_dir: str | None = None,
                   on_progress: Callable[[str, int], None] | None = None) -> "StreamedClassifier":
        """Learn from a stream: ``chunks()`` yields ``(texts, label codes, ids)`` once (texts are featurized in that
        one pass); ``class_counts`` (records per class code) sets the class weights and the held-out size."""
        from ..tasks.shuffle import SparseRowBuckets, shuffle_keys

        self._check_params()
        classes = [str(c) for c in classes]
        n_classes = len(classes)
        if n_classes < 2:
            raise DataError(f"need at least 2 distinct labels to learn from, got {n_classes}")
        class_counts = np.asarray(class_counts, dtype=np.float64)
        n_total = int(class_counts.sum())
        hidden = int(self.hidden) if self.hidden is not None else (
            AUTO_HIDDEN if n_total >= AUTO_HIDDEN_MIN_RECORDS else 0)
        n_features = (int(self.n_features) if self.n_features
                      else choose_n_features(n_classes, self.memory_budget, hidden))
        featurizer = HashedFeaturizer(n_features, tuple(self.char_ngram_range))
        held_fraction = min(HOLDOUT_FRACTION, HOLDOUT_MAX / max(n_total, 1))
        threshold = np.uint64(min(int(held_fraction * 2 ** 64), 2 ** 64 - 1))
        document_frequency = np.zeros(n_features, dtype=np.int64)
        held_counts, held_labels = [], []
        n_rows = 0
        with SparseRowBuckets(n_features, int(self.n_buckets), self.seed, directory=temp_dir) as buckets:
            for texts, codes, ids in chunks():
                counts = featurizer.counts(texts)
                document_frequency += np.bincount(counts.indices, minlength=n_features)
                n_rows += counts.shape[0]
                codes = np.asarray(codes, dtype=np.int32)
                held = shuffle_keys(ids, self.seed, "holdout") < threshold
                if held.any():
                    held_counts.append(counts[held])
                    held_labels.append(codes[held])
                train = ~held
                buckets.add(shuffle_keys([i for i, t in zip(ids, train) if t], self.seed), counts[train],
                            codes[train])
                if on_progress:
                    on_progress("featurize", n_rows)
            if n_rows == 0:
                raise DataError("no training texts")
            featurizer.set_idf(document_frequency, n_rows)
            if self.class_weight == "balanced":
                weights = np.where(class_counts > 0, n_total / (n_classes * np.maximum(class_counts, 1)), 0.0)
                weights **= float(self.class_weight_power)
            else:
                weights = np.ones(n_classes)
            rate = (float(self.learning_rate) if self.learning_rate is not None
                    else AUTO_LEARNING_RATE["hidden" if hidden else "softmax"])
            if hidden:
                learner = HiddenLayerSGD(n_features, n_classes, hidden, rate, self.l2, weights,
                                         int(self.seed))
            else:
                learner = SoftmaxSGD(n_features, n_classes, rate, self.l2, weights, bool(self.average))
            held_X = featurizer.weight(sp.vstack(held_counts, format="csr")) if held_counts else None
            held_y = np.concatenate(held_labels) if held_labels else None
            if held_X is not None and held_X.shape[0] == 0:
                held_X = None
            history, best, best_head, epochs, waited = [], math.inf, None, 0, 0
            batch = int(self.batch_size)
            for epoch in range(int(self.max_epochs)):
                for matrix, labels in progress(buckets.epoch(epoch), length=int(self.n_buckets),
                                               label=f"pass {epoch + 1} (at most {self.max_epochs}) over "
                                                     f"{n_rows} rows, in buckets"):
                    matrix = featurizer.weight(matrix)
                    for start in range(0, matrix.shape[0], batch):
                        learner.step(matrix[start:start + batch], labels[start:start + batch])
                if on_progress:
                    on_progress("epoch", epoch + 1)
                learner.end_pass()
                if held_X is None:
                    history.append(None)
                    continue
                head = learner.current_head()
                scores = head.decision_function(held_X)
                loss = weighted_log_loss(scores, held_y, weights)
                history.append({"loss": round(loss, 6),
                                "macro_f1": round(macro_f1(held_y, scores.argmax(axis=1), n_classes), 6)})
                # A pass counts as progress when it lowers the best loss by more than the fraction ``tol`` of it; the
                # lowest-loss weights are kept either way.
                waited = 0 if loss < best * (1.0 - self.tol) else waited + 1
                if loss < best:
                    best, best_head, epochs = loss, learner.keep(head, buckets.directory), epoch + 1
                del head
                if waited >= int(self.patience):
                    break
            if best_head is None:
                best_head, epochs = learner.keep(learner.current_head(), buckets.directory), len(history)
            learner.release()
            del learner
            head = restore(best_head)
        tuned = None
        if self.tune_offsets and held_X is not None:
            offsets, before, after = tune_offsets(head.decision_function(held_X), held_y, n_classes)
            if hidden:
                head.b2 = head.b2 + offsets
            else:
                head.intercept = head.intercept + offsets
            tuned = {"offsets": [round(float(o), 3) for o in offsets], "held_out_macro_f1_before": round(before, 6),
                     "held_out_macro_f1_after": round(after, 6)}
        if not hidden:
            head.score_key = "softmax_regression"  # how explain describes the score
        self.featurizer_ = featurizer
        self.classes_ = np.array(classes, dtype=object)
        self.n_features_ = n_features
        self.hidden_ = hidden
        self.head_ = head
        self.hierarchy_ = None
        self.training_ = {"hidden": hidden, "learning_rate": rate, "epochs": epochs,
                          "held_out": 0 if held_y is None else int(len(held_y)),
                          "held_out_by_pass": history, "train_rows": n_rows - (0 if held_y is None else len(held_y)),
                          "n_features": n_features, "offsets": tuned}
        return self

    # ---------------------------------------------------------------------------------------- prediction

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise UsageError(f"this {type(self).__name__} is not fitted yet; call fit() or load_model()")

    def transform(self, X: Sequence[str]) -> sp.csr_matrix:
        self._check_fitted()
        return self.featurizer_.transform(X)

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        matrix = self.transform(X)
        return self.head_.predict_proba(matrix)

    def predict(self, X: Sequence[str]) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def predict_topk(self, X: Sequence[str], k: int = 3) -> list[list[tuple[str, float]]]:
        if int(k) < 1:
            raise UsageError(f"k must be >= 1, got {k}")
        proba = self.predict_proba(X)
        order = np.lexsort((np.broadcast_to(np.arange(proba.shape[1]), proba.shape), -proba), axis=1)[:, :int(k)]
        return [[(str(self.classes_[j]), float(row[j])) for j in ranks] for row, ranks in zip(proba, order)]

    def score(self, X: Sequence[str], y: Sequence[str]) -> float:
        return float(np.mean(self.predict(X) == np.asarray(list(y), dtype=object)))

    # ----------------------------------------------------------------------------------------- saving

    def save(self, directory: str | os.PathLike, metadata: dict | None = None) -> None:
        from ..persist import model_writer

        self._check_fitted()
        if self.KIND is None:
            raise UsageError("save a StreamedRouter or a StreamedRecommender (their directories say which task)")
        bundle = {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_FORMAT_VERSION,
            "estimator": type(self).__name__,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.get_params().items()},
            "classes": [str(c) for c in self.classes_],
            "n_features": int(self.n_features_),
            "head": self.head_.to_json(),
            "training": getattr(self, "training_", {}),
            "metadata": metadata or {},
        }
        with model_writer(directory, self.KIND) as writer:
            self.featurizer_.save(writer)
            self.head_.save(writer, "head")
            writer.write_json(BUNDLE_FILE, bundle)


class StreamedRouter(StreamedClassifier):
    """Department routing trained in bounded memory (saved as a ``route`` model).

    By default the size of the training set picks the learner (``hidden=None``): softmax regression at learning rate
    0.1 below ``AUTO_HIDDEN_MIN_RECORDS`` records, a 64-unit hidden ReLU layer at 0.05 from there on.
    `benchmarks/bench_stream_weights.py` measured both on held-out parts of train splits: with 72,061 records fitted
    the hidden layer loses (macro-F1 0.739 against 0.760), with 216,047 the two are even (0.785 / 0.833 against
    0.782 / 0.833), with 720,508 it wins by a little (0.7937 / 0.8389 against 0.7932 / 0.8385; on a 1M test split
    0.791 / 0.837 against 0.790 / 0.835). The threshold lies between the even point and the winning one.
    """

    KIND = "route"

    def __init__(self, n_features: int | None = None, memory_budget: int | None = None,
                 char_ngram_range: tuple[int, int] = (1, 3), hidden: int | None = None,
                 learning_rate: float | None = None, l2: float = 0.0, batch_size: int = 256, max_epochs: int = 10,
                 patience: int = 1, tol: float = 0.005, average: bool = True, tune_offsets: bool = False,
                 n_buckets: int = 64, class_weight: str | None = "balanced", class_weight_power: float = 0.3,
                 seed: int = 0):
        super().__init__(n_features=n_features, memory_budget=memory_budget, char_ngram_range=char_ngram_range,
                         hidden=hidden, learning_rate=learning_rate, l2=l2, batch_size=batch_size,
                         max_epochs=max_epochs, patience=patience, tol=tol, average=average, tune_offsets=tune_offsets,
                         n_buckets=n_buckets, class_weight=class_weight, class_weight_power=class_weight_power,
                         seed=seed)


class StreamedRecommender(StreamedClassifier):
    """Doctor recommendation trained in bounded memory (saved as a ``recommend`` model).

    Its defaults differ from the router's in two settings, both the best of `benchmarks/bench_stream_weights.py`'s
    selection for this task: learning rate 0.2 (at 0.1 the passes run out before the held-out loss settles) and class
    weight power 0.5.
    """

    KIND = "recommend"

    def __init__(self, n_features: int | None = None, memory_budget: int | None = None,
                 char_ngram_range: tuple[int, int] = (1, 3), hidden: int = 0, learning_rate: float = 0.2,
                 l2: float = 0.0, batch_size: int = 256, max_epochs: int = 10, patience: int = 1, tol: float = 0.005,
                 average: bool = True, tune_offsets: bool = False, n_buckets: int = 64,
                 class_weight: str | None = "balanced", class_weight_power: float = 0.5, seed: int = 0):
        super().__init__(n_features=n_features, memory_budget=memory_budget, char_ngram_range=char_ngram_range,
                         hidden=hidden, learning_rate=learning_rate, l2=l2, batch_size=batch_size,
                         max_epochs=max_epochs, patience=patience, tol=tol, average=average, tune_offsets=tune_offsets,
                         n_buckets=n_buckets, class_weight=class_weight, class_weight_power=class_weight_power,
                         seed=seed)


STREAMED_ESTIMATORS = {cls.__name__: cls for cls in (StreamedRouter, StreamedRecommender)}
STREAMED_FOR_TASK = {"route": StreamedRouter, "recommend": StreamedRecommender}


def load_streamed(reader, bundle: dict) -> StreamedClassifier:
    """Rebuild a streamed model from an open `persist.ModelReader` and its ``model.json`` (already read)."""
    where = reader.path(BUNDLE_FILE)
    if bundle.get("format") != BUNDLE_FORMAT:
        raise ModelFormatError(f"{where}: not a streamed classifier")
    if bundle.get("format_version") != BUNDLE_FORMAT_VERSION:
        raise ModelFormatError(f"{where}: format_version {bundle.get('format_version')!r} is not supported "
                               f"(this library reads {BUNDLE_FORMAT_VERSION}); upgrade rmd_baselines")
    cls = STREAMED_ESTIMATORS.get(bundle.get("estimator")) if isinstance(bundle.get("estimator"), str) else None
    if cls is None or cls.KIND != reader.kind:
        raise ModelFormatError(f"{where}: estimator {bundle.get('estimator')!r} does not match kind {reader.kind!r}")
    params = reader.require(bundle, "params", BUNDLE_FILE)
    if isinstance(params, dict) and "class_weight_power" not in params:
        params = {**params, "class_weight_power": 1.0}  # saved before the power existed: trained fully balanced
    if isinstance(params, dict) and "hidden" not in params:
        params = {**params, "hidden": 0}  # saved before the hidden layer existed: softmax regression
    if not isinstance(params, dict) or set(params) != set(cls._param_names()):
        raise ModelFormatError(f"{where}: params do not match {cls.__name__}'s parameters")
    params = {k: tuple(v) if k == "char_ngram_range" and isinstance(v, list) else v for k, v in params.items()}
    estimator = cls(**params)
    try:
        estimator._check_params()
    except (UsageError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"{where}: invalid params ({exc})") from None
    classes = reader.require(bundle, "classes", BUNDLE_FILE)
    if (not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes)
            or classes != sorted(set(classes))):
        raise ModelFormatError(f"{where}: classes must be a sorted list of at least 2 distinct strings")
    featurizer = HashedFeaturizer.load(reader)
    n_features = reader.require(bundle, "n_features", BUNDLE_FILE)
    if n_features != featurizer.n_features or tuple(params["char_ngram_range"]) != featurizer.ngram_range:
        raise ModelFormatError(f"{where}: n_features / char_ngram_range do not match the features")
    head = load_head(reader, reader.require(bundle, "head", BUNDLE_FILE), "head", len(classes), n_features)
    if isinstance(head, HiddenLayerHead):
        hidden = head.W1.shape[1]
    elif isinstance(head, LinearHead) and head.link == "softmax":
        hidden = 0
    else:  # a streamed model is softmax regression or a hidden layer, never another head type
        raise ModelFormatError(f"{where}: head {type(head).__name__} is not a streamed model's head")
    if params["hidden"] not in (None, hidden):
        raise ModelFormatError(f"{where}: the head does not match the params (hidden {params['hidden']!r})")
    if isinstance(head, LinearHead):
        head.score_key = "softmax_regression"
    metadata = bundle.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ModelFormatError(f"{where}: 'metadata' must be an object")
    source = metadata.get("data", {})
    if not isinstance(source, dict) or not all(isinstance(source.get(key, ""), str) for key in ("path", "sha256")):
        raise ModelFormatError(f"{where}: 'metadata.data' must be an object with string 'path' and 'sha256'")
    estimator.featurizer_ = featurizer
    estimator.classes_ = np.array(classes, dtype=object)
    estimator.n_features_ = n_features
    estimator.hidden_ = hidden
    estimator.head_ = head
    estimator.hierarchy_ = None
    estimator.training_ = bundle.get("training", {})
    estimator.metadata_ = metadata
    return estimator

"""Interpolated modified Kneser-Ney n-gram language model (Chen & Goodman 1999), estimated with numpy.

The estimator follows kenlm's ``lmplz`` (Heafield et al. 2013): the ARPA file it writes lists the same n-grams
with the same probabilities and back-off weights as lmplz's for the same text (up to float rounding and the one
count-of-counts detail noted under Discounts), and kenlm scores it exactly like this class does.

Counting. Every training sequence becomes ``<s> w1 ... wn </s>``. A k-gram occurrence is any window of k
consecutive tokens inside one sentence (windows never reach before ``<s>``).

Adjusted counts ``a(g)`` (the "counts" Kneser-Ney discounts):
- highest order N: the raw count of the n-gram;
- lower orders: the number of distinct words seen immediately before it (its continuation count), because a
  lower order is only consulted when the longer context was not seen;
- except n-grams that begin with ``<s>``: nothing can precede ``<s>``, so they keep their raw count (lmplz does
  the same). The unigram ``<s>`` and ``<unk>`` have count 0.

Discounts. For every order, from the count-of-counts n1..n4 (how many n-grams of that order have adjusted count
1, 2, 3, 4): ``Y = n1 / (n1 + 2 n2)``, ``D1 = 1 - 2Y n2/n1``, ``D2 = 2 - 3Y n3/n2``, ``D3+ = 3 - 4Y n4/n3``.
Small or artificial corpora can have n1, n2 or n3 equal to 0, or give a discount outside ``[0, j]``; lmplz
then stops unless ``--discount_fallback`` is given, which substitutes D1=0.5, D2=1, D3+=1.5. We always fall
back the same way and record it in ``discount_fallback_``. (One known difference: when lmplz flushes the last
n-gram of each lower order it adds that n-gram's raw count, not its adjusted count, to n1..n4; if the two
differ and are below 5 its discounts for that order move by about 1e-3. We count every n-gram as Chen & Goodman
define; `benchmarks/bench_lm.py` compares both estimators on the real corpora.)

Probabilities. For a context h with followers w (``a(h w) > 0``)::

    p(w | h) = (a(h w) - D(a(h w))) / sum_v a(h v)  +  gamma(h) * p(w | h')
    gamma(h) = sum_v D(a(h v)) / sum_v a(h v)

where h' drops the first word of h and ``D(c)`` is D1, D2 or D3+ for c = 1, 2, 3+. The recursion ends at the
uniform distribution over the vocabulary without ``<s>`` (lmplz's default ``--interpolate_unigrams``)::

    p(w) = (a(w) - D(a(w))) / sum_v a(v) + gamma() / (|V| - 1)

so ``<unk>`` (count 0) gets exactly ``gamma() / (|V| - 1)`` and kenlm, which maps every unknown word to
``<unk>``, scores out-of-vocabulary words like this class does.

Back-off form. The ARPA file lists, for every n-gram seen in training, its interpolated probability and, when it
is a context, ``log10 gamma`` as back-off weight: for an unseen ``h w`` the interpolation formula reduces to
``gamma(h) * p(w | h')``, which is exactly how back-off models are read. Every context is itself a listed
n-gram (it occurred), and every suffix of a listed n-gram is listed, so the file is complete.

Counting in bounded memory. ``counting="chunked"`` (what ``"auto"`` picks unless the sequences are a list of at
most ``chunk_tokens`` tokens; default `counting.DEFAULT_CHUNK_TOKENS`) counts with `counting.chunked_structure`:
the sequences are read once, lazily, encoded to an int32 file and counted one chunk of ``chunk_tokens`` positions
at a time, giving exactly the tables of the in-memory counter (``counting="memory"``) in memory proportional to
the chunk plus the distinct n-grams.

Pruning. ``prune`` (lmplz's ``--prune`` syntax) gives one count threshold per order, unigrams first: an n-gram of
order k >= 2 seen at most ``prune[k-1]`` times is dropped (a shorter list repeats its last value; the values must
not decrease and the unigram value must be 0, so every kept n-gram's prefix and suffix are kept). The statistics
are those of the unpruned model: adjusted counts, count-of-counts and discounts come from every n-gram, and so do
the denominators ``sum_v a(h v)``; a pruned n-gram's discounted mass ``(a(h w) - D) / sum_v a(h v)`` moves to its
context's back-off weight ``gamma(h)``, so every distribution still sums to one and an unseen or pruned ``h w`` is
scored ``gamma(h) p(w | h')`` as before. Thresholds are stated in the ARPA file's header comments and the model's
JSON (``prune``); without pruning the ARPA file is byte for byte what it always was.

Tables. The n-grams of order k are kept in an `NgramTable` sorted by (prefix, last word), where ``prefix`` is the
row of the first k-1 words in the table of order k-1. Looking up a whole sequence is then one vectorised
``searchsorted`` per order, and the followers of a context are one contiguous slice, which is what makes
`next_distribution` a handful of array operations over the vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ... import __version__
from ...errors import DataError, ModelFormatError, UsageError
from ...text import SCHEMES
from . import arpa
from . import counting as counting_module
from .counting import chunked_structure

UNK, BOS, EOS = "<unk>", "<s>", "</s>"
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2  # kenlm numbers its vocabulary the same way
SPECIAL_TOKENS = (UNK, BOS, EOS)
MIN_ORDER, MAX_ORDER = 2, 6
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # lmplz --discount_fallback defaults for D1, D2, D3+
LOG10_ZERO = -99.0  # what ARPA files use for log10(0), e.g. for p(<s>)
COUNTINGS = ("auto", "memory", "chunked")
FORMAT_NAME = "rmd_baselines-kneser-ney"
FORMAT_VERSION = 1


@dataclass
class NgramTable:
    """Every n-gram of one order, sorted by ``(prefix, word)``; an n-gram's id is its row.

    ``prefix`` is the row of the n-gram's first ``order - 1`` words in the previous order's table (0, the empty
    context, for unigrams, whose rows are the word ids themselves); ``word`` is its last word. ``log10_prob`` is
    the interpolated probability of ``word`` given the prefix; ``log10_backoff`` is the n-gram's back-off weight
    when it is the context of a longer n-gram (0.0 when it is not a context, and for the highest order).
    ``context_start[c]:context_start[c + 1]`` are the rows whose prefix is context ``c`` of the previous order.
    """

    order: int
    prefix: np.ndarray
    word: np.ndarray
    adjusted_count: np.ndarray
    log10_prob: np.ndarray
    log10_backoff: np.ndarray
    vocab_size: int
    previous_size: int

    def __post_init__(self) -> None:
        self.keys = self.prefix * self.vocab_size + self.word
        self.context_start = np.searchsorted(self.prefix, np.arange(self.previous_size + 1))

    def __len__(self) -> int:
        return len(self.word)

    def find(self, prefixes: np.ndarray, words: np.ndarray) -> np.ndarray:
        """Rows of the n-grams ``(prefix, word)``, -1 where absent (or where the prefix is -1)."""
        keys = prefixes * self.vocab_size + words
        if len(self.keys) == 0:
            return np.full(len(keys), -1, dtype=np.int64)
        rows = np.searchsorted(self.keys, keys)
        clipped = np.minimum(rows, len(self.keys) - 1)
        found = (prefixes >= 0) & (self.keys[clipped] == keys)
        return np.where(found, rows, -1)


def _token_problem(token) -> str | None:
    """Why a token cannot be a word of the model, or None."""
    if not isinstance(token, str) or not token:
        return f"expected a non-empty string, got {token!r}"
    if token in SPECIAL_TOKENS:
        return f"{token!r} is reserved (the model adds <s> and </s> itself)"
    if any(ch.isspace() or ch == "\0" for ch in token):
        return f"{token!r} contains whitespace, which an ARPA file cannot hold"
    return None


def _distinct_tokens(token_lists: list[list[str]]) -> list[str]:
    """The distinct tokens in code-point order; a `DataError` names the first bad token's sequence and position."""
    try:
        distinct = {token for tokens in token_lists for token in tokens}
        if not any(_token_problem(token) for token in distinct):
            return sorted(distinct)
    except TypeError:  # an unhashable "token"
        pass
    for number, tokens in enumerate(token_lists):
        for position, token in enumerate(tokens):
            problem = _token_problem(token)
            if problem:
                raise DataError(f"sequence {number}: token {position}: {problem}")
    raise AssertionError("unreachable: a bad token was seen but not found")


def prune_thresholds(prune, order: int) -> tuple[int, ...] | None:
    """lmplz-style ``--prune`` values as one threshold per order (unigrams first, the last value repeated), or
    None when nothing is pruned; a `UsageError` names what is wrong."""
    if prune is None:
        return None
    if isinstance(prune, (str, bytes)) or not hasattr(prune, "__iter__"):
        raise UsageError(f"prune must be a list of count thresholds, one per order, got {prune!r}")
    values = list(prune)
    if not values or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0 for v in values):
        raise UsageError(f"prune thresholds must be non-negative integers, got {values!r}")
    if len(values) > order:
        raise UsageError(f"prune gives {len(values)} thresholds for an order-{order} model")
    if values[0] != 0:
        raise UsageError(f"unigrams cannot be pruned: the first prune threshold must be 0, got {values[0]}")
    if any(b < a for a, b in zip(values, values[1:])):
        raise UsageError(f"prune thresholds must not decrease from one order to the next, got {values!r}")
    values = [int(v) for v in values] + [int(values[-1])] * (order - len(values))
    return tuple(values) if any(values) else None


def parse_prune(text: str) -> list[int]:
    """``--prune`` text (``"0 0 1"`` or ``"0,0,1"``) as a list of thresholds; a `UsageError` when it is not."""
    values = [part for part in str(text).replace(",", " ").split() if part]
    try:
        numbers = [int(part) for part in values]
    except ValueError:
        numbers = None
    if not numbers:
        raise UsageError(f"--prune expects count thresholds per order from unigrams, e.g. '0 0 1', got {text!r}")
    return numbers


def modified_kneser_ney_discounts(count_of_counts: Sequence[int]) -> tuple[tuple[float, float, float], bool]:
    """``((D1, D2, D3+), used_fallback)`` from n1..n4 (Chen & Goodman's closed form, lmplz's fallback)."""
    n1, n2, n3, n4 = (float(n) for n in count_of_counts)
    if n1 == 0 or n2 == 0 or n3 == 0:
        return FALLBACK_DISCOUNTS, True
    y = n1 / (n1 + 2 * n2)
    discounts = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    if any(d < 0 or d > j for j, d in enumerate(discounts, start=1)):
        return FALLBACK_DISCOUNTS, True
    return discounts, False


class KneserNeyLM:
    """Interpolated modified Kneser-Ney language model over token lists (orders 2-6).

    ``unit`` records what the tokens are (``char`` or ``word``: `rmd_baselines.text.get_tokenizer`); the model
    itself takes token lists without ``<s>``/``</s>`` and adds them.

    Fitted attributes: ``vocab_`` (``<unk>``, ``<s>``, ``</s>``, then the training tokens in code-point order),
    ``discounts_`` (array ``(order, 3)``: D1, D2, D3+ per order, unigrams first), ``discount_fallback_``,
    ``count_of_counts_`` (``(order, 4)``: n1..n4), ``tables_`` (one `NgramTable` per order),
    ``n_sequences_`` and ``n_tokens_`` (training tokens plus one ``</s>`` per sequence).
    """

    def __init__(self, order: int = 5, unit: str = "char", prune: Sequence[int] | None = None,
                 counting: str = "auto", chunk_tokens: int | None = None):
        self.order = order
        self.unit = unit
        self.prune = prune
        self.counting = counting
        self.chunk_tokens = chunk_tokens

    # ------------------------------------------------------------------------------------------------ fitting

    def _check_params(self) -> None:
        if isinstance(self.order, bool) or not isinstance(self.order, (int, np.integer)) \
                or not MIN_ORDER <= self.order <= MAX_ORDER:
            raise UsageError(f"order must be an integer from {MIN_ORDER} to {MAX_ORDER}, got {self.order!r}")
        if self.unit not in SCHEMES:
            raise UsageError(f"unit must be one of {', '.join(SCHEMES)}, got {self.unit!r}")
        if self.counting not in COUNTINGS:
            raise UsageError(f"counting must be one of {', '.join(COUNTINGS)}, got {self.counting!r}")
        if self.chunk_tokens is not None and (isinstance(self.chunk_tokens, bool)
                                              or not isinstance(self.chunk_tokens, (int, np.integer))
                                              or self.chunk_tokens < 1):
            raise UsageError(f"chunk_tokens must be a positive integer, got {self.chunk_tokens!r}")
        self.prune_thresholds()

    def prune_thresholds(self) -> tuple[int, ...] | None:
        """``prune`` as one threshold per order (None when nothing is pruned); a `UsageError` if malformed."""
        return prune_thresholds(self.prune, self.order)

    def fit(self, sequences: Iterable[Sequence[str]]) -> "KneserNeyLM":
        """Estimate the model from token lists (without ``<s>``/``</s>``)."""
        self._check_params()
        counting = self.counting
        chunk_tokens = int(self.chunk_tokens or counting_module.DEFAULT_CHUNK_TOKENS)
        if counting == "auto":
            small = isinstance(sequences, (list, tuple)) and sum(len(t) + 2 for t in sequences) <= chunk_tokens
            counting = "memory" if small else "chunked"
        if counting == "memory":
            token_lists = [list(tokens) for tokens in sequences]
            if not token_lists:
                raise DataError("no training sequences for the language model")
            vocab = list(SPECIAL_TOKENS) + _distinct_tokens(token_lists)
            index = {token: i for i, token in enumerate(vocab)}
            stream, position = self._sentence_stream(token_lists, index)
            structure = self._count(stream, position, len(vocab))
            n_sequences, n_tokens = len(token_lists), int(len(stream) - len(token_lists))
            del stream, position, token_lists
        else:
            vocab, structure, n_sequences, n_tokens = chunked_structure(
                sequences, self.order, chunk_tokens, SPECIAL_TOKENS, _token_problem)
        adjusted = self._adjusted_counts(structure)
        self.vocab_ = vocab
        self.n_sequences_ = n_sequences
        self.n_tokens_ = n_tokens
        self._estimate(structure, adjusted)
        return self

    @staticmethod
    def _sentence_stream(token_lists: list[list[str]], index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """All sentences as one id array ``<s> ... </s> <s> ... </s>`` and each id's position in its sentence."""
        flat: list[int] = []
        for tokens in token_lists:
            flat.append(BOS_ID)
            flat.extend(index[token] for token in tokens)
            flat.append(EOS_ID)
        stream = np.array(flat, dtype=np.int64)
        lengths = np.array([len(tokens) + 2 for tokens in token_lists], dtype=np.int64)
        starts = np.cumsum(lengths) - lengths
        position = np.arange(len(stream), dtype=np.int64) - np.repeat(starts, lengths)
        return stream, position

    def _count(self, stream: np.ndarray, position: np.ndarray, vocab_size: int) -> list[dict[str, np.ndarray]]:
        """Distinct n-grams of every order with raw counts, prefix/suffix rows and first words.

        ``window`` holds, for every position t of the stream, the row of the k-gram ending at t (-1 where it
        would reach before ``<s>``); the k-grams are the distinct ``(row of the (k-1)-gram ending at t-1, word
        at t)`` pairs.
        """
        structure = [{"prefix": np.zeros(vocab_size, dtype=np.int64), "word": np.arange(vocab_size, dtype=np.int64),
                      "first_word": np.arange(vocab_size, dtype=np.int64)}]
        window = stream  # unigram rows are word ids
        for k in range(2, self.order + 1):
            ends = np.nonzero(position >= k - 1)[0]
            keys = window[ends - 1] * vocab_size + stream[ends]
            distinct, inverse, raw_count = np.unique(keys, return_inverse=True, return_counts=True)
            suffix = np.empty(len(distinct), dtype=np.int64)
            suffix[inverse] = window[ends]  # the (k-1)-gram ending at t: the n-gram without its first word
            prefix = distinct // vocab_size
            structure.append({
                "prefix": prefix,
                "word": distinct % vocab_size,
                "suffix": suffix,
                "raw_count": raw_count.astype(np.int64),
                "first_word": structure[-1]["first_word"][prefix],
            })
            window = np.full(len(stream), -1, dtype=np.int64)
            window[ends] = inverse
        return structure

    def _adjusted_counts(self, structure: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
        adjusted = []
        for k in range(1, self.order + 1):
            level = structure[k - 1]
            if k == self.order:
                counts = level["raw_count"]
            else:
                # continuation count: how many distinct (k+1)-grams have this k-gram as their suffix
                counts = np.bincount(structure[k]["suffix"], minlength=len(level["word"])).astype(np.int64)
                if k > 1:
                    counts = np.where(level["first_word"] == BOS_ID, level["raw_count"], counts)
            adjusted.append(counts)
        return adjusted

    def _estimate(self, structure: list[dict[str, np.ndarray]], adjusted: list[np.ndarray]) -> None:
        vocab_size = len(self.vocab_)
        self.count_of_counts_ = np.array([[int(np.sum(a == c)) for c in (1, 2, 3, 4)] for a in adjusted],
                                         dtype=np.int64)
        discounts, fallback = zip(*(modified_kneser_ney_discounts(n) for n in self.count_of_counts_))
        self.discounts_ = np.array(discounts, dtype=np.float64)
        self.discount_fallback_ = np.array(fallback, dtype=bool)

        thresholds = self.prune_thresholds()
        kept: list[np.ndarray | None] = [None] * self.order  # rows kept per order after pruning (None: all)
        log10_probs: list[np.ndarray] = []
        log10_backoffs: list[np.ndarray] = [np.zeros(len(a)) for a in adjusted]
        lower_prob = None
        for k in range(1, self.order + 1):
            level, counts = structure[k - 1], adjusted[k - 1]
            discount_of_count = np.concatenate([[0.0], self.discounts_[k - 1]])  # D(0)=0, D1, D2, D3+
            discount = discount_of_count[np.minimum(counts, 3)]
            n_contexts = 1 if k == 1 else len(adjusted[k - 2])
            denominator = np.bincount(level["prefix"], weights=counts, minlength=n_contexts)
            left_over = np.bincount(level["prefix"], weights=discount, minlength=n_contexts)
            is_context = denominator > 0
            gamma = np.divide(left_over, denominator, out=np.zeros(n_contexts), where=is_context)
            if k == 1:
                lower = np.full(vocab_size, 1.0 / (vocab_size - 1))  # uniform over the vocabulary without <s>
            else:
                lower = lower_prob[level["suffix"]]
                log10_backoffs[k - 2] = np.where(is_context, _log10(gamma), 0.0)
            if k > 1 and thresholds and thresholds[k - 1] > 0:
                # pruned n-grams: their discounted mass moves to their context's back-off weight
                pruned = level["raw_count"] <= thresholds[k - 1]
                kept[k - 1] = ~pruned
                moved = np.bincount(level["prefix"][pruned], weights=(counts - discount)[pruned],
                                    minlength=n_contexts)
                gamma = np.divide(left_over + moved, denominator, out=np.zeros(n_contexts), where=is_context)
                log10_backoffs[k - 2] = np.where(is_context, _log10(gamma), 0.0)
            prob = (counts - discount) / denominator[level["prefix"]] + gamma[level["prefix"]] * lower
            if k == 1:
                prob[BOS_ID] = 0.0  # <s> is never predicted
            log10_probs.append(_log10(prob))
            lower_prob = prob

        prefixes = [structure[k - 1]["prefix"] for k in range(1, self.order + 1)]
        words = [structure[k - 1]["word"] for k in range(1, self.order + 1)]
        if thresholds:
            # keep the rows that survive; renumber the prefixes (a kept n-gram's prefix is kept)
            for k in range(2, self.order + 1):
                if kept[k - 1] is None and kept[k - 2] is None:
                    continue
                keep = kept[k - 1] if kept[k - 1] is not None else np.ones(len(words[k - 1]), dtype=bool)
                if kept[k - 2] is not None:
                    new_row = np.cumsum(kept[k - 2]) - 1
                    prefixes[k - 1] = new_row[prefixes[k - 1]]
                prefixes[k - 1], words[k - 1] = prefixes[k - 1][keep], words[k - 1][keep]
                adjusted[k - 1], log10_probs[k - 1] = adjusted[k - 1][keep], log10_probs[k - 1][keep]
                log10_backoffs[k - 1] = log10_backoffs[k - 1][keep]
                kept[k - 1] = keep
        self.tables_ = [
            NgramTable(order=k, prefix=prefixes[k - 1], word=words[k - 1],
                       adjusted_count=adjusted[k - 1], log10_prob=log10_probs[k - 1],
                       log10_backoff=log10_backoffs[k - 1], vocab_size=vocab_size,
                       previous_size=1 if k == 1 else len(adjusted[k - 2]))
            for k in range(1, self.order + 1)
        ]
        self._prepare()

    def _prepare(self) -> None:
        """Derived lookup state shared by `fit` and `load`."""
        self._index = {token: i for i, token in enumerate(self.vocab_)}
        self._unigram_prob = 10.0 ** self.tables_[0].log10_prob
        self._unigram_prob[BOS_ID] = 0.0

    # ------------------------------------------------------------------------------------------------ scoring

    def _check_fitted(self) -> None:
        if not hasattr(self, "tables_"):
            raise UsageError("this KneserNeyLM is not fitted yet; call fit() or load() first")

    @property
    def vocab_size(self) -> int:
        self._check_fitted()
        return len(self.vocab_)

    def token_ids(self, tokens: Sequence[str]) -> np.ndarray:
        """Vocabulary ids of tokens; unknown tokens become ``<unk>`` (0), as in kenlm."""
        self._check_fitted()
        get = self._index.get
        return np.array([get(token, UNK_ID) for token in tokens], dtype=np.int64)

    def _window_rows(self, ids: np.ndarray) -> list[np.ndarray]:
        """``windows[k-1][t]``: the row of the k-gram ``ids[t-k+1 .. t]`` in table k, -1 if it is not listed."""
        windows = [ids]
        for k in range(2, self.order + 1):
            rows = np.full(len(ids), -1, dtype=np.int64)
            if len(ids) >= k:
                rows[k - 1:] = self.tables_[k - 1].find(windows[-1][k - 2:-1], ids[k - 1:])
            windows.append(rows)
        return windows

    def _score_ids(self, ids: np.ndarray, first: int) -> np.ndarray:
        """log10 p(ids[t] | ids[:t]) for every t >= first, the way an ARPA back-off model is read.

        The probability comes from the longest listed n-gram ending at t; every longer context that is listed
        contributes its back-off weight.
        """
        windows = self._window_rows(ids)
        positions = np.arange(first, len(ids))
        log10_prob = np.zeros(len(positions))
        matched = np.zeros(len(positions), dtype=bool)
        for k in range(self.order, 0, -1):
            rows = windows[k - 1][positions]
            hit = ~matched & (rows >= 0)
            log10_prob[hit] += self.tables_[k - 1].log10_prob[rows[hit]]
            matched |= hit
            if k > 1:
                # (context of length k-1, word) is not listed: back off through that context, if it is listed
                context = np.where(positions >= 1, windows[k - 2][np.maximum(positions - 1, 0)], -1)
                backing_off = ~matched & (context >= 0)
                log10_prob[backing_off] += self.tables_[k - 2].log10_backoff[context[backing_off]]
        return log10_prob

    def score_tokens(self, tokens: Sequence[str], bos: bool = True, eos: bool = True) -> np.ndarray:
        """log10 probability of each token (and of ``</s>`` when ``eos``), like kenlm's ``full_scores``."""
        self._check_fitted()
        ids = self.token_ids(tokens)
        if bos:
            ids = np.concatenate([[BOS_ID], ids])
        if eos:
            ids = np.concatenate([ids, [EOS_ID]])
        return self._score_ids(ids, first=1 if bos else 0)

    def continuation_log10probs(self, prefix_tokens: Sequence[str], tokens: Sequence[str], eos: bool = True,
                                bos: bool | None = None) -> np.ndarray:
        """log10 p of each of ``tokens`` (and of ``</s>`` when ``eos``) after the history ``prefix_tokens``.

        ``bos=None`` (default) starts the sentence with ``<s>`` only when the prefix is empty; a prefix may also
        begin with the token ``"<s>"`` itself.
        """
        self._check_fitted()
        if bos is None:
            bos = len(prefix_tokens) == 0
        ids = self.token_ids([*prefix_tokens, *tokens])
        if bos:
            ids = np.concatenate([[BOS_ID], ids])
        if eos:
            ids = np.concatenate([ids, [EOS_ID]])
        scored = len(tokens) + (1 if eos else 0)
        return self._score_ids(ids, first=len(ids) - scored)

    def perplexity(self, token_lists: Iterable[Sequence[str]]) -> float:
        """Token-weighted perplexity ``10 ** (-total log10 p / tokens)``, ``</s>`` counted as a token."""
        total, count = 0.0, 0
        for tokens in token_lists:
            scores = self.score_tokens(tokens)
            total += float(scores.sum())
            count += len(scores)
        if count == 0:
            raise DataError("perplexity of no tokens")
        return float(10.0 ** (-total / count))

    def next_distribution(self, history_tokens: Sequence[str]) -> np.ndarray:
        """p(w | history) for every w in ``vocab_`` (``<s>`` gets 0); the history is used as given (start it with
        ``"<s>"`` for a sentence start)."""
        self._check_fitted()
        return self.next_distribution_ids(self.token_ids(history_tokens))

    def next_distribution_ids(self, history_ids: np.ndarray) -> np.ndarray:
        """`next_distribution` for a history of vocabulary ids.

        Start from the unigram distribution and walk to longer contexts: each listed context scales the current
        distribution by its back-off weight (the interpolation weight gamma) and overwrites its followers with
        their stored interpolated probabilities, i.e. ``p(w|h) = gamma(h) p(w|h')`` except for seen ``h w``.
        """
        self._check_fitted()
        distribution = self._unigram_prob.copy()
        history = np.asarray(history_ids, dtype=np.int64)[-(self.order - 1):]  # the n-gram window
        if len(history) == 0:
            return distribution
        windows = self._window_rows(history)
        for length in range(1, len(history) + 1):
            context = windows[length - 1][-1]
            if context < 0:
                break
            followers = self.tables_[length]
            start, end = followers.context_start[context], followers.context_start[context + 1]
            if start == end:  # listed but never followed by anything (ends with </s>): back-off weight 1
                break
            distribution *= 10.0 ** self.tables_[length - 1].log10_backoff[context:context + 1]
            distribution[followers.word[start:end]] = 10.0 ** followers.log10_prob[start:end]
        return distribution

    # ---------------------------------------------------------------------------------------- files and info

    @property
    def signature(self) -> str:
        """How this model was estimated, for score signatures."""
        self._check_fitted()
        thresholds = self.prune_thresholds()
        pruned = f"|prune:{'-'.join(map(str, thresholds))}" if thresholds else ""
        return (f"lm:kneser-ney-modified-interpolated|order:{self.order}|unit:{self.unit}|"
                f"vocab:{len(self.vocab_)}|unk:interpolated-uniform{pruned}|version:{__version__}")

    def ngram_words(self, order: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Word ids of the n-grams ``start:stop`` of an order, shape ``(count, order)``, in table order (the
        prefix chain is followed for those rows only, so a block costs memory for the block alone)."""
        self._check_fitted()
        rows = np.arange(start, len(self.tables_[order - 1]) if stop is None else stop, dtype=np.int64)
        columns = []
        for k in range(order, 0, -1):
            table = self.tables_[k - 1]
            columns.append(table.word[rows])
            rows = table.prefix[rows]
        return np.stack(columns[::-1], axis=1) if columns else np.zeros((0, order), dtype=np.int64)

    def arpa_comments(self) -> list[str]:
        """The ARPA header comments: none for an unpruned model (its file is unchanged), else the thresholds."""
        thresholds = self.prune_thresholds()
        if not thresholds:
            return []
        return [f"rmd_baselines {__version__} modified Kneser-Ney, order {self.order}, unit {self.unit}",
                "pruned: prune " + " ".join(map(str, thresholds)) + " (an n-gram of order k seen at most prune[k] "
                "times is dropped; its discounted mass moved to its context's back-off weight)"]

    def write_arpa(self, path) -> None:
        """Write the model as an ARPA file kenlm loads. ``<s>``, never predicted, gets log10 p = -99 (SRILM's
        convention; lmplz writes 0 there; kenlm reads neither when it scores sentences)."""
        self._check_fitted()
        arpa.write_arpa(path, self.vocab_,
                        [lambda start, stop, k=k: self.ngram_words(k, start, stop) for k in range(1, self.order + 1)],
                        [t.log10_prob for t in self.tables_], [t.log10_backoff for t in self.tables_],
                        comments=self.arpa_comments())

    def save(self, writer, prefix: str = "lm") -> None:
        """Write ``{prefix}.arpa`` (for kenlm), ``{prefix}.json`` and ``{prefix}.npz`` (the tables) through a
        `rmd_baselines.persist.ModelWriter`."""
        self._check_fitted()
        self.write_arpa(writer.path(f"{prefix}.arpa"))
        writer.write_json(f"{prefix}.json", {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "order": int(self.order),
            "unit": self.unit,
            "vocab": self.vocab_,
            "discounts": self.discounts_.tolist(),
            "discount_fallback": self.discount_fallback_.tolist(),
            "count_of_counts": self.count_of_counts_.tolist(),
            "n_sequences": self.n_sequences_,
            "n_tokens": self.n_tokens_,
            "ngram_counts": [len(t) for t in self.tables_],
            "prune": list(self.prune_thresholds() or []) or None,
        })
        arrays = {}
        for table in self.tables_:
            arrays[f"prefix{table.order}"] = table.prefix
            arrays[f"word{table.order}"] = table.word
            arrays[f"adjusted_count{table.order}"] = table.adjusted_count
            arrays[f"log10_prob{table.order}"] = table.log10_prob
            arrays[f"log10_backoff{table.order}"] = table.log10_backoff
        writer.write_arrays(f"{prefix}.npz", **arrays)

    @classmethod
    def load(cls, reader, prefix: str = "lm") -> "KneserNeyLM":
        """Read a model written by `save` from a `rmd_baselines.persist.ModelReader`; any inconsistency between
        the JSON, the tables and the ARPA header is a one-line `ModelFormatError`."""
        meta_name, arrays_name, arpa_name = f"{prefix}.json", f"{prefix}.npz", f"{prefix}.arpa"
        meta = reader.read_component(meta_name, FORMAT_NAME, FORMAT_VERSION, "Kneser-Ney language model")
        where = f"{reader.directory}/{meta_name}"
        order = reader.require(meta, "order", meta_name)
        model = cls(order=order, unit=reader.require(meta, "unit", meta_name))
        try:
            model._check_params()
        except UsageError as exc:
            raise ModelFormatError(f"{where}: {exc}") from None
        model.prune = meta.get("prune")  # absent in models saved before pruning existed: not pruned
        try:
            model.prune_thresholds()
        except UsageError as exc:
            raise ModelFormatError(f"{where}: {exc}") from None
        vocab = reader.require(meta, "vocab", meta_name)
        if not isinstance(vocab, list) or vocab[:3] != list(SPECIAL_TOKENS) or len(set(vocab)) != len(vocab) \
                or not all(isinstance(token, str) and token for token in vocab):
            raise ModelFormatError(f"{where}: vocab must list <unk>, <s>, </s> and then distinct tokens")
        try:
            model.discounts_ = np.array(reader.require(meta, "discounts", meta_name), dtype=np.float64)
            model.discount_fallback_ = np.array(reader.require(meta, "discount_fallback", meta_name), dtype=bool)
            model.count_of_counts_ = np.array(reader.require(meta, "count_of_counts", meta_name), dtype=np.int64)
            model.n_sequences_ = int(reader.require(meta, "n_sequences", meta_name))
            model.n_tokens_ = int(reader.require(meta, "n_tokens", meta_name))
        except (TypeError, ValueError):
            raise ModelFormatError(f"{where}: malformed discounts or counts") from None
        if model.discounts_.shape != (order, 3) or model.count_of_counts_.shape != (order, 4):
            raise ModelFormatError(f"{where}: discounts/count_of_counts do not match order {order}")
        model.vocab_ = vocab

        arrays = reader.read_arrays(arrays_name)
        array_path = f"{reader.directory}/{arrays_name}"
        tables = []
        previous_size = 1
        for k in range(1, order + 1):
            try:
                columns = {name: arrays[f"{name}{k}"] for name in
                           ("prefix", "word", "adjusted_count", "log10_prob", "log10_backoff")}
            except KeyError as exc:
                raise ModelFormatError(f"{array_path}: missing array {exc.args[0]!r}") from None
            sizes = {len(column) for column in columns.values()}
            integer_ok = all(np.issubdtype(columns[n].dtype, np.integer) for n in ("prefix", "word", "adjusted_count"))
            if len(sizes) != 1 or not integer_ok or any(c.ndim != 1 for c in columns.values()):
                raise ModelFormatError(f"{array_path}: the order-{k} arrays are inconsistent")
            prefix = columns["prefix"].astype(np.int64, copy=False)
            word = columns["word"].astype(np.int64, copy=False)
            keys = prefix * len(vocab) + word
            if len(word) and (word.min() < 0 or word.max() >= len(vocab) or prefix.min() < 0
                              or prefix.max() >= previous_size or np.any(np.diff(keys) <= 0)):
                raise ModelFormatError(f"{array_path}: the order-{k} n-gram table is corrupt")
            tables.append(NgramTable(order=k, prefix=prefix, word=word,
                                     adjusted_count=columns["adjusted_count"].astype(np.int64, copy=False),
                                     log10_prob=columns["log10_prob"].astype(np.float64, copy=False),
                                     log10_backoff=columns["log10_backoff"].astype(np.float64, copy=False),
                                     vocab_size=len(vocab), previous_size=previous_size))
            previous_size = len(word)
        if len(tables[0]) != len(vocab):
            raise ModelFormatError(f"{array_path}: {len(tables[0])} unigrams for a vocabulary of {len(vocab)}")
        counts = arpa.read_arpa_counts(reader.path(arpa_name))
        if counts != [len(t) for t in tables]:
            raise ModelFormatError(f"{reader.directory}/{arpa_name}: its header counts {counts} do not match the "
                                   f"saved tables {[len(t) for t in tables]}")
        model.tables_ = tables
        model._prepare()
        return model

    def __repr__(self) -> str:
        pruned = f", prune={list(self.prune)!r}" if self.prune_thresholds() else ""
        return f"KneserNeyLM(order={self.order!r}, unit={self.unit!r}{pruned})"


def _log10(values: np.ndarray) -> np.ndarray:
    """log10 with 0 mapped to the ARPA convention -99 (and nothing below it)."""
    with np.errstate(divide="ignore"):
        return np.maximum(np.log10(values), LOG10_ZERO)


def describe(model: KneserNeyLM) -> str:
    """A short human-readable summary: n-gram counts and discounts per order."""
    thresholds = model.prune_thresholds()
    pruned = f", pruned ({' '.join(map(str, thresholds))})" if thresholds else ""
    lines = [f"{model!r}: {len(model.vocab_)} words, {model.n_sequences_} sequences, {model.n_tokens_} tokens"
             f"{pruned}"]
    for table, (d1, d2, d3), fallback in zip(model.tables_, model.discounts_, model.discount_fallback_):
        note = " (fallback)" if fallback else ""
        lines.append(f"  {table.order}-grams: {len(table)}  D1={d1:.4f} D2={d2:.4f} D3+={d3:.4f}{note}")
    return "\n".join(lines)


__all__ = ["KneserNeyLM", "NgramTable", "modified_kneser_ney_discounts", "describe",
           "UNK", "BOS", "EOS", "UNK_ID", "BOS_ID", "EOS_ID", "LOG10_ZERO", "FALLBACK_DISCOUNTS"]

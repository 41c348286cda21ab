"""N-gram counting shared by BLEU, NIST, Entropy and Dist.

N-grams are tuples of tokens (unigrams are 1-tuples) and are contiguous within one token list, never across two.
Counting goes through `collections.Counter` over ``zip`` iterators, which runs in C.
"""

from __future__ import annotations

from collections import Counter
from itertools import chain
from typing import Iterable, Mapping, Sequence


def ngrams(tokens: Sequence[str], order: int) -> Iterable[tuple[str, ...]]:
    """The contiguous n-grams of one token list (nothing when it is shorter than ``order``)."""
    return zip(*[tokens[i:] for i in range(order)])


def ngram_counts(tokens: Sequence[str], max_order: int) -> list[Counter]:
    """``[counts of 1-grams, counts of 2-grams, ...]`` up to ``max_order``."""
    return [Counter(ngrams(tokens, order)) for order in range(1, max_order + 1)]


def all_ngrams(tokens: Sequence[str], max_order: int) -> Iterable[tuple[str, ...]]:
    """Every n-gram of orders 1..``max_order`` of one token list."""
    return chain.from_iterable(zip(*[tokens[i:] for i in range(order)]) for order in range(1, max_order + 1))


def all_ngram_counts(tokens: Sequence[str], max_order: int) -> Counter:
    """Counts of all n-grams of orders 1..``max_order`` in one Counter (the order is the tuple's length)."""
    return Counter(all_ngrams(tokens, max_order))


def clip_by_order(hyp_counts: Mapping, ceiling: Mapping, max_order: int) -> tuple[dict, list[int]]:
    """Matched n-grams with clipped counts, and the clipped match total of each order 1..N."""
    matches = {}
    per_order = [0] * max_order
    for gram, count in hyp_counts.items():
        limit = ceiling.get(gram)
        if limit:
            kept = count if count < limit else limit
            matches[gram] = kept
            per_order[len(gram) - 1] += kept
    return matches, per_order


def max_counts(count_sets: Sequence[Counter]) -> Counter:
    """Per n-gram, the largest count over several references (the clipping ceiling of multi-reference BLEU)."""
    if len(count_sets) == 1:
        return count_sets[0]
    ceiling = Counter(count_sets[0])
    for counts in count_sets[1:]:
        ceiling |= counts
    return ceiling


def clipped(hyp_counts: Mapping, ceiling: Mapping) -> dict:
    """The hypothesis n-grams found in ``ceiling``, each with its count clipped to the ceiling's count."""
    matches = {}
    for gram, count in hyp_counts.items():
        limit = ceiling.get(gram)
        if limit:
            matches[gram] = count if count < limit else limit
    return matches


def closest_length(hyp_len: int, ref_lens: Sequence[int]) -> int:
    """The reference length closest to the hypothesis length, ties broken toward the shorter (mteval, NLTK)."""
    best = ref_lens[0]
    for length in ref_lens[1:]:
        if (abs(length - hyp_len), length) < (abs(best - hyp_len), best):
            best = length
    return best


def pooled_counts(token_lists: Iterable[Sequence[str]], order: int) -> Counter:
    """Counts of all ``order``-grams of several token lists pooled together."""
    return Counter(chain.from_iterable(ngrams(tokens, order) for tokens in token_lists))


class PooledNgrams:
    """The hypotheses' n-grams of some orders, pooled over the corpus or over any multiset of segments.

    ``counts(order)`` is the corpus pool (a Counter); ``weighted_counts(order, weights)`` the pooled count vector when
    segment i is taken ``weights[i]`` times (the bootstrap), computed with numpy from per-segment sparse counts.
    """

    def __init__(self, token_lists: Sequence[Sequence[str]], orders: Sequence[int]):
        self.token_lists = token_lists
        self.orders = tuple(orders)
        self._pools = {order: pooled_counts(token_lists, order) for order in self.orders}
        self._sparse: dict | None = None

    def counts(self, order: int) -> Counter:
        return self._pools[order]

    def weighted_counts(self, order: int, weights):
        import numpy as np

        if self._sparse is None:
            self._sparse = {}
            for k in self.orders:
                ids: dict = {}
                seg, gid, cnt = [], [], []
                for index, tokens in enumerate(self.token_lists):
                    for gram, count in Counter(ngrams(tokens, k)).items():
                        seg.append(index)
                        gid.append(ids.setdefault(gram, len(ids)))
                        cnt.append(count)
                self._sparse[k] = (np.asarray(seg, dtype=np.int64), np.asarray(gid, dtype=np.int64),
                                   np.asarray(cnt, dtype=np.float64), len(ids))
        seg, gid, cnt, size = self._sparse[order]
        return np.bincount(gid, weights=np.asarray(weights, dtype=np.float64)[seg] * cnt, minlength=size)

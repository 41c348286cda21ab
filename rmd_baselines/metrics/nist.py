"""NIST-n in the two families (metrics-spec.md section 3).

``dstc7`` -- mteval-v14c corpus NIST: information weights come from all reference segments of all references
pooled over the corpus, info(w1..wk) = log2(C(w1..wk-1) / C(w1..wk)) (unigrams: log2(total reference words /
C(w1))); per order k, A_k sums info × clipped count over the matches (clipped against the largest count in any
reference of the segment) and P_k = A_k / max(t_k, 1); the length factor uses the average reference length:
ρ = H / (total reference words / K), LP = 1 if ρ ≥ 1, 0 if ρ ≤ 0, else exp(-β ln²ρ) with
β = -ln 0.5 / ln² 1.5; NIST-n = LP · Σ_{k≤n} P_k (raw). With no reference words at all the score is defined as 0
(mteval divides by zero).

Two variants, named in the score's signature:

- ``mteval`` (default, ``nist:mteval-v14c``) -- the program as it runs. ``compute_ngram_info`` chooses between the
  two formulas with a Perl truth test on the n-gram's prefix (``$mgram ? … : …``), and the string ``"0"`` is false
  in Perl. So a bigram whose first token is ``0`` gets the unigram formula, log2(total reference words / C(0 x)),
  instead of log2(C(0) / C(0 x)). Longer prefixes contain a space and are always true. Repro (char tokens):
  H = R = ``体温30度``: mteval-v14c 2.9024…, the formula 2.3219….
- ``corrected`` (``nist:corrected``) -- the formula above for every n-gram.

``paper`` -- the UCSD scripts: NLTK ``sentence_nist([ref], hyp, n)`` per segment (information weights from that one
reference), 0 when the hypothesis or the reference is shorter than n tokens, averaged over segments.
"""

from __future__ import annotations

import math
from collections import Counter
from itertools import chain
from typing import Sequence

import numpy as np

from ..errors import UsageError
from .ngrams import all_ngram_counts, all_ngrams, clip_by_order, max_counts

MAX_ORDER = 4
VARIANTS = ("mteval", "corrected")
_BETA_MTEVAL = -math.log(0.5) / math.log(1.5) / math.log(1.5)
_BETA_NLTK = math.log(0.5) / math.log(1.5) ** 2
_LOG2 = math.log(2)


def mteval_length_penalty(ratio: float) -> float:
    if ratio >= 1:
        return 1.0
    if ratio <= 0:
        return 0.0
    return math.exp(-_BETA_MTEVAL * math.log(ratio) * math.log(ratio))


def mteval_nist(info_sums: Sequence[float], totals: Sequence[float], hyp_length: float, ref_words: float, n_refs: float,
                max_order: int = MAX_ORDER) -> list[float]:
    """Cumulative NIST-1..``max_order`` from corpus sums (information-weighted matches, hypothesis totals)."""
    if ref_words <= 0:
        return [0.0] * max_order
    penalty = mteval_length_penalty(hyp_length / (ref_words / n_refs))
    cumulative, running = [], 0.0
    for k in range(max_order):
        running += info_sums[k] / max(totals[k], 1)
        cumulative.append(running * penalty)
    return cumulative


def _info(count: float, context_count: float) -> float:
    return -math.log(count / context_count) / _LOG2


def _prefix_is_perl_false(gram: tuple) -> bool:
    """mteval's truth test on a bigram's prefix: the one-token prefix ``0`` counts as no prefix (module docstring)."""
    return len(gram) == 2 and gram[0] == "0"


class NistStats:
    """mteval NIST over a corpus, recomputable for any multiset of segments (bootstrap weights).

    ``clips[i]`` maps each matched n-gram of segment i (any order up to ``max_order``) to its clipped count;
    ``ref_sets[i]`` are the segment's reference token lists, from which the information weights are pooled.
    ``variant`` is ``mteval`` (the program, with its ``0``-prefix test) or ``corrected`` (module docstring).
    """

    def __init__(self, clips: Sequence[dict], hyp_lens: Sequence[int], ref_sets: Sequence[Sequence[Sequence[str]]],
                 max_order: int = MAX_ORDER, variant: str = "mteval"):
        if variant not in VARIANTS:
            raise UsageError(f"unknown NIST variant {variant!r} (choose from {', '.join(VARIANTS)})")
        self.variant = variant
        self.clips = clips
        self.hyp_lens = np.asarray(hyp_lens, dtype=np.float64)
        self.ref_sets = ref_sets
        self.max_order = max_order
        self.n_refs = len(ref_sets[0]) if len(ref_sets) else 1
        self._arrays = None

    def scores(self, weights: np.ndarray | None = None) -> list[float]:
        if weights is None:
            return self._scores_full()
        return self._scores_weighted(np.asarray(weights, dtype=np.float64))

    def _totals(self, weights: np.ndarray | None) -> list[float]:
        lens = self.hyp_lens
        scale = 1.0 if weights is None else weights
        return [float(np.sum(np.maximum(lens - k, 0) * scale)) for k in range(self.max_order)]

    def _scores_full(self) -> list[float]:
        pool = Counter(chain.from_iterable(all_ngrams(ref, self.max_order)
                                           for ref_set in self.ref_sets for ref in ref_set))
        ref_words = sum(len(ref) for ref_set in self.ref_sets for ref in ref_set)
        matched: Counter = Counter()
        for clip in self.clips:
            for gram, count in clip.items():
                matched[gram] += count
        info_sums = [0.0] * self.max_order
        quirk = self.variant == "mteval"
        for gram, count in matched.items():
            if len(gram) == 1 or (quirk and _prefix_is_perl_false(gram)):
                context = ref_words
            else:
                context = pool[gram[:-1]]
            info_sums[len(gram) - 1] += _info(pool[gram], context) * count
        totals = self._totals(None)
        return mteval_nist(info_sums, totals, totals[0], ref_words, self.n_refs, self.max_order)

    def _build_arrays(self):
        gram_ids: dict = {}
        ref_seg, ref_gid, ref_cnt, ref_words = [], [], [], []
        for index, ref_set in enumerate(self.ref_sets):
            counts = Counter(chain.from_iterable(all_ngrams(ref, self.max_order) for ref in ref_set))
            ref_words.append(sum(len(ref) for ref in ref_set))
            for gram, count in counts.items():
                gid = gram_ids.setdefault(gram, len(gram_ids))
                ref_seg.append(index)
                ref_gid.append(gid)
                ref_cnt.append(count)
        clip_seg, clip_gid, clip_cnt = [], [], []
        for index, clip in enumerate(self.clips):
            for gram, count in clip.items():
                clip_seg.append(index)
                clip_gid.append(gram_ids[gram])
                clip_cnt.append(count)
        prefix = np.full(len(gram_ids), -1, dtype=np.int64)
        order = np.zeros(len(gram_ids), dtype=np.int64)
        quirk = self.variant == "mteval"
        for gram, gid in gram_ids.items():
            order[gid] = len(gram) - 1
            if len(gram) > 1 and not (quirk and _prefix_is_perl_false(gram)):
                prefix[gid] = gram_ids[gram[:-1]]
        as_int = lambda values: np.asarray(values, dtype=np.int64)  # noqa: E731
        self._arrays = dict(
            ref_seg=as_int(ref_seg), ref_gid=as_int(ref_gid), ref_cnt=np.asarray(ref_cnt, dtype=np.float64),
            ref_words=np.asarray(ref_words, dtype=np.float64), clip_seg=as_int(clip_seg), clip_gid=as_int(clip_gid),
            clip_cnt=np.asarray(clip_cnt, dtype=np.float64), prefix=prefix, order=order, n_grams=len(gram_ids),
        )

    def _information(self, weights: np.ndarray, gid: np.ndarray) -> tuple[np.ndarray, float]:
        """Information weights of the n-grams ``gid`` under the reference pool of the segment ``weights``, and the
        pool's word count."""
        a = self._arrays
        pool = np.bincount(a["ref_gid"], weights=weights[a["ref_seg"]] * a["ref_cnt"], minlength=a["n_grams"])
        ref_words = float(weights @ a["ref_words"])
        prefix = a["prefix"][gid]
        context = np.where(prefix >= 0, pool[np.maximum(prefix, 0)], ref_words)
        return -np.log(pool[gid] / context) / _LOG2, ref_words

    def _scores_weighted(self, weights: np.ndarray) -> list[float]:
        if self._arrays is None:
            self._build_arrays()
        a = self._arrays
        used = weights[a["clip_seg"]] * a["clip_cnt"]
        keep = used > 0
        gid = a["clip_gid"][keep]
        info, ref_words = self._information(weights, gid)
        info_sums = np.bincount(a["order"][gid], weights=info * used[keep], minlength=self.max_order)
        totals = self._totals(weights)
        return mteval_nist(list(info_sums), totals, totals[0], ref_words, self.n_refs, self.max_order)

    def fixed_pool_rows(self) -> np.ndarray:
        """Per segment: its information-weighted matches of orders 1..N, with the information weights of the whole
        corpus's reference pool, then its hypothesis n-gram totals t_1..t_N.

        Swapping hypotheses between systems (approximate randomization) never moves a reference, so the pool stays
        the corpus's and NIST of any mix of segments is `score_fixed_pool` of their summed rows.
        """
        if self._arrays is None:
            self._build_arrays()
        a = self._arrays
        n, order = len(self.hyp_lens), self.max_order
        info, _ = self._information(np.ones(n), a["clip_gid"])
        matches = np.bincount(a["clip_seg"] * order + a["order"][a["clip_gid"]], weights=info * a["clip_cnt"],
                              minlength=n * order).reshape(n, order)
        return np.hstack([matches, np.maximum(self.hyp_lens[:, None] - np.arange(order), 0)])

    def score_fixed_pool(self, sums: Sequence[float]) -> list[float]:
        """Cumulative NIST-1..N from summed `fixed_pool_rows` (of any hypotheses scored against these references)."""
        if self._arrays is None:
            self._build_arrays()
        n = self.max_order
        return mteval_nist(sums[:n], sums[n:2 * n], sums[n], float(self._arrays["ref_words"].sum()), self.n_refs, n)

    def segment_scores(self) -> np.ndarray:
        """NIST-1..N of every segment scored as a corpus of its own (information weights and length from its own
        references): the sentence-level NIST of this family, shape (segments, N)."""
        if self._arrays is None:
            self._build_arrays()
        a = self._arrays
        n, order = len(self.hyp_lens), self.max_order
        keys = a["ref_seg"] * a["n_grams"] + a["ref_gid"]
        ranking = np.argsort(keys, kind="stable")
        sorted_keys, sorted_counts = keys[ranking], a["ref_cnt"][ranking]

        def own_count(segment, gram):
            position = np.minimum(np.searchsorted(sorted_keys, segment * a["n_grams"] + gram), len(sorted_keys) - 1)
            return sorted_counts[position] if len(sorted_keys) else np.zeros(len(segment))

        seg, gid = a["clip_seg"], a["clip_gid"]
        prefix = a["prefix"][gid]
        context = np.where(prefix >= 0, own_count(seg, np.maximum(prefix, 0)), a["ref_words"][seg])
        info = -np.log(own_count(seg, gid) / context) / _LOG2
        matches = np.bincount(seg * order + a["order"][gid], weights=info * a["clip_cnt"],
                              minlength=n * order).reshape(n, order)
        totals = np.maximum(self.hyp_lens[:, None] - np.arange(order), 0)
        return np.array([mteval_nist(matches[i], totals[i], totals[i][0], a["ref_words"][i], self.n_refs, order)
                         for i in range(n)]).reshape(n, order)


def nltk_sentence_nist(matches: dict, ref_counts: Counter, hyp_len: int, ref_len: int, order: int) -> float:
    """NLTK ``sentence_nist([ref], hyp, order)``, or 0 when hypothesis or reference is shorter than ``order``.

    ``matches`` maps the hypothesis n-grams found in the reference to their clipped counts, ``ref_counts`` counts
    the reference's n-grams (all orders up to ``order`` in one Counter).
    """
    if hyp_len < order or ref_len < order:
        return 0.0
    numerators = [0.0] * order
    for gram, count in matches.items():
        k = len(gram)
        if k <= order:
            context = ref_counts[gram[:-1]] if k > 1 else ref_len
            numerators[k - 1] += math.log(context / ref_counts[gram], 2) * count
    score = 0.0
    for k in range(order):
        score += numerators[k] / (hyp_len - k)
    ratio = hyp_len / ref_len
    if 0 < ratio < 1:
        penalty = math.exp(_BETA_NLTK * math.log(ratio) ** 2)
    else:
        penalty = max(min(ratio, 1.0), 0.0)
    return score * penalty


def corpus_nist(hyps: Sequence[Sequence[str]], refs: Sequence[Sequence[Sequence[str]]],
                max_order: int = MAX_ORDER, variant: str = "mteval") -> list[float]:
    """mteval-v14c cumulative NIST-1..N on token lists as given (no further normalisation)."""
    clips = []
    for hyp, ref_set in zip(hyps, refs):
        ceiling = max_counts([all_ngram_counts(ref, max_order) for ref in ref_set])
        clips.append(clip_by_order(all_ngram_counts(hyp, max_order), ceiling, max_order)[0])
    return NistStats(clips, [len(h) for h in hyps], refs, max_order, variant).scores()


def sentence_nist(hyp: Sequence[str], ref: Sequence[str], order: int = MAX_ORDER) -> float:
    """The ``paper`` family's per-segment NIST-n."""
    ref_counts = all_ngram_counts(ref, order)
    matches, _ = clip_by_order(all_ngram_counts(hyp, order), ref_counts, order)
    return nltk_sentence_nist(matches, ref_counts, len(hyp), len(ref), order)

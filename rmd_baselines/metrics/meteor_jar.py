"""The ``jar`` METEOR alignment: METEOR 1.5's exact-module search as ``meteor-1.5.jar`` runs it, ties included.

`metrics.meteor` scores METEOR from per-segment statistics; this module supplies the alignment statistics the
way ``meteor-1.5.jar -l en -norm -m exact`` aligns a hypothesis (its line 1) with a reference (line 2). What the
program does, as read in METEOR 1.5's ``aligner/Aligner.java``, ``Stage.java``, ``ExactMatcher.java``,
``PartialAlignment.java`` and the comparator ``PARTIAL_COMPARE_TOTAL`` in ``util/Constants.java``:

- **Tokens are equal when their Java ``String.hashCode`` is** (``Stage`` keeps only the hash of each word), so two
  different tokens with the same hash match: ``c0`` and ``an`` (both 3117), or the emoji 😀 and 🧡. See
  `java_hash`.
- The candidates of reference position j are the hypothesis positions with an equal token, in increasing order.
  A token occurring exactly once in each segment is matched before the search starts ("one-to-one,
  non-overlapping matches are definite").
- The search walks the reference left to right. Before each position the partial alignments ("paths") are sorted
  -- a stable sort -- by more matched words, then fewer chunks so far, then a smaller ``distance``, and only the
  first 40 (the beam) go on. A definite match is taken by every path; otherwise each unused candidate gives a new
  path (in candidate order) and the path itself goes on with the position skipped, which closes an open chunk.
- ``distance`` is meant to be Σ |reference position - hypothesis position| over the matches, but the program adds
  each candidate's distance to the *parent* path after copying it: the k-th new path carries the parent's
  distance plus the distances of the candidates tried before it, and the skipping path carries all of them, while
  no new path carries its own. It only breaks ties, and it is reproduced.
- After the last position the first 40 paths are closed (an open chunk counts), sorted once more, and the first is
  the alignment. A chunk is a maximal run of matches adjacent in both segments.

The search is reproduced step by step for all pairs of a corpus at once (`_search`): the paths of every pair live
in flat numpy arrays, grouped by pair and kept in the program's order within it, and iteration k takes each pair
that has a k-th position with a choice through it. Positions without a choice (a definite match, or no candidate)
act on every path alike except for the chunk at the first of them, so each run of them between two choices is
applied at once (`_tables`, `_through_run`); the program's sorts inside the run change nothing that one sort after
it does not. A pair without any choice is that single run. The set of candidates a path has used is a bit set of
64-bit words, pairs needing as many words being searched together.

When nothing is ever pruned -- the number of paths after the last position, the product over token types of
Σ_k C(b, k)·a!/(a-k)! for a hypothesis and b reference occurrences, is at most the beam -- every alignment is
compared and the program returns the most matches with, among those, the fewest chunks: `metrics.meteor_optimal`'s
alignment. Beyond that the beam can lose it (the tests check both facts).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

BEAM_SIZE = 40


def java_hash(token: str) -> int:
    """Java's ``String.hashCode`` of a token (over UTF-16 code units, 32-bit wrap-around)."""
    value = 0
    data = token.encode("utf-16-le", "surrogatepass")
    for k in range(0, len(data), 2):
        value = (31 * value + (data[k] | (data[k + 1] << 8))) & 0xFFFFFFFF
    return value


def jar_alignments(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], function_words: frozenset,
                   beam_size: int = BEAM_SIZE) -> list[tuple[int, int, int, int]]:
    """The program's alignment of each (hypothesis, reference) pair of ``-norm`` tokens: (matches, chunks,
    function-word matches in the hypothesis, function-word matches in the reference)."""
    hyp = _Side([h for h, _ in pairs], function_words)
    ref = _Side([r for _, r in pairs], function_words)
    n = len(pairs)
    hyp_pk, ref_pk = hyp.pair_keys(), ref.pair_keys()
    hyp_count, ref_count = _counts(hyp_pk), _counts(ref_pk)
    # Hypothesis tokens that are a candidate of some position with a choice (a type not once on each side).
    in_ref = _lookup(ref_pk, hyp_pk, ref_count)
    contested = (in_ref > 0) & ((hyp_count > 1) | (in_ref > 1))
    words = np.maximum(1, -(-np.bincount(hyp.pair[contested], minlength=n) // 64))  # 64-bit words per bit set
    results: list = [None] * n
    for width in np.unique(words):
        chosen = np.flatnonzero(words == width)
        tables = _tables(hyp.subset(chosen), ref.subset(chosen), len(chosen), int(width))
        for index, result in zip(chosen, _search(tables, beam_size)):
            results[index] = result
    return results


class _Side:
    """The tokens of one side of every pair, flat: pair number, position, Java hash key, function-word flag."""

    def __init__(self, segments: Sequence[Sequence[str]], function_words: frozenset):
        self.n = len(segments)
        lengths = np.fromiter((len(tokens) for tokens in segments), np.int64, len(segments))
        self.pair = np.repeat(np.arange(len(segments)), lengths)
        self.position = np.arange(len(self.pair)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        flat = [token for tokens in segments for token in tokens]
        joined = "".join(flat)
        if len(joined) == len(flat) and (not joined or max(joined) <= "\uffff"):
            # One character of the Basic Multilingual Plane each: the hash is the character's code.
            self.key = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        else:
            cache: dict[str, int] = {}
            self.key = np.fromiter((cache[t] if t in cache else cache.setdefault(t, java_hash(t)) for t in flat),
                                   np.int64, len(flat))
        self.function = np.fromiter((t in function_words for t in flat), bool, len(flat))

    def pair_keys(self) -> np.ndarray:
        return (self.pair << 32) | self.key

    def subset(self, chosen: np.ndarray) -> "_Side":
        """The tokens of the chosen pairs, renumbered 0..len(chosen)-1 in that order."""
        number = np.full(self.n, -1, np.int64)
        number[chosen] = np.arange(len(chosen))
        keep = number[self.pair] >= 0
        out = _Side.__new__(_Side)
        out.n = len(chosen)
        out.pair, out.position = number[self.pair[keep]], self.position[keep]
        out.key, out.function = self.key[keep], self.function[keep]
        return out


def _counts(pair_keys: np.ndarray) -> np.ndarray:
    """For each token, how many tokens of its pair and side share its key."""
    _, inverse, counts = np.unique(pair_keys, return_inverse=True, return_counts=True)
    return counts[inverse]


def _lookup(other_pk: np.ndarray, pair_keys: np.ndarray, other_count: np.ndarray) -> np.ndarray:
    """For each token, how many tokens of the other side of its pair share its key."""
    unique, first = np.unique(other_pk, return_index=True)
    index = np.minimum(np.searchsorted(unique, pair_keys), max(len(unique) - 1, 0))
    if len(unique) == 0:
        return np.zeros(len(pair_keys), np.int64)
    return np.where(unique[index] == pair_keys, other_count[first[index]], 0)


def _tables(hyp: _Side, ref: _Side, n: int, words: int) -> dict:
    """The search's tables for n pairs: per pair its positions with a choice ("steps") and the runs of positions
    without one before each step and after the last; per step its candidates. A run is kept as its effect on every
    path (`_through_run`): (non-empty, hypothesis position of its first position or -1 for a skip, matches,
    chunks apart from the first position's, distance, end of the last match after it or -1, function-word matches
    in the hypothesis, in the reference); only the first position's chunk depends on the path."""
    hyp_pk, ref_pk = hyp.pair_keys(), ref.pair_keys()
    order = np.argsort(hyp_pk, kind="stable")  # hypothesis tokens by (pair, key, position)
    sorted_pk = hyp_pk[order]
    unique, first, count = np.unique(sorted_pk, return_index=True, return_counts=True)
    # For each reference token: a = its type's hypothesis occurrences, b = reference occurrences.
    index = np.minimum(np.searchsorted(unique, ref_pk), max(len(unique) - 1, 0))
    found = (unique[index] == ref_pk) if len(unique) else np.zeros(len(ref_pk), bool)
    a = np.where(found, count[index] if len(unique) else 0, 0)
    b = _counts(ref_pk)
    choice = (a > 0) & ((a > 1) | (b > 1))
    definite = (a == 1) & (b == 1)
    matched_token = np.where(definite, order[first[index]] if len(unique) else 0, 0)  # hypothesis token index
    i = np.where(definite, hyp.position[matched_token] if len(hyp.position) else 0, -1)
    j = ref.position
    # Steps: the positions with a choice, numbered within their pair; run k is the one before step k.
    n_steps = np.bincount(ref.pair[choice], minlength=n)
    step_base = np.cumsum(n_steps) - n_steps
    run_index = np.cumsum(choice) - choice - step_base[ref.pair]
    run_base = np.cumsum(n_steps + 1) - (n_steps + 1)
    run_id = run_base[ref.pair] + run_index
    n_runs = int(np.sum(n_steps + 1))
    # Effects of the runs, from their positions (not choices) in reference order.
    free = ~choice
    previous_free = np.r_[False, free[:-1]] & np.r_[False, ref.pair[1:] == ref.pair[:-1]]
    next_free = np.r_[free[1:], False] & np.r_[ref.pair[1:] == ref.pair[:-1], False]
    starts = free & ~previous_free
    ends = free & ~next_free
    previous_i = np.r_[-1, i[:-1]]
    chunk = free & previous_free & (previous_i >= 0) & ((i < 0) | (i != previous_i + 1))
    hyp_function = hyp.function[matched_token] & definite if len(hyp.function) else np.zeros(len(j), bool)

    def per_run(values, mask):
        return np.bincount(run_id[mask], weights=values[mask], minlength=n_runs).astype(np.int64)

    effect = np.zeros((n_runs, 8), np.int64)
    effect[:, 1] = effect[:, 5] = -1
    effect[run_id[starts], 0] = 1
    effect[run_id[starts], 1] = i[starts]
    effect[:, 2] = per_run(definite.astype(np.int64), free)
    effect[:, 3] = per_run(chunk.astype(np.int64), free)
    effect[:, 4] = per_run(np.where(definite, np.abs(j - i), 0), free)
    effect[run_id[ends], 5] = np.where(i[ends] >= 0, i[ends] + 1, -1)
    effect[:, 6] = per_run(hyp_function.astype(np.int64), free)
    effect[:, 7] = per_run((ref.function & definite).astype(np.int64), free)
    final = run_base + n_steps
    step_runs = np.delete(effect, final, axis=0)
    # Candidates of each step: the hypothesis positions of its type, in increasing order.
    n_options = a[choice]
    option_start = np.cumsum(n_options) - n_options
    offsets = np.arange(int(n_options.sum())) - np.repeat(option_start, n_options)
    option_token = order[np.repeat(first[index[choice]], n_options) + offsets] if len(offsets) else offsets
    contested = np.zeros(len(hyp.pair), bool)
    contested[option_token] = True
    slot = np.cumsum(contested) - contested
    slot = slot - (np.cumsum(np.bincount(hyp.pair[contested], minlength=n)) -
                   np.bincount(hyp.pair[contested], minlength=n))[hyp.pair]
    option_position = hyp.position[option_token]
    option_slot = slot[option_token]
    option_distance = np.abs(np.repeat(j[choice], n_options) - option_position)
    step_pair = ref.pair[choice]
    distance_by_pair = (np.bincount(step_pair, weights=np.add.reduceat(option_distance, option_start)
                                    if len(option_distance) else np.zeros(0), minlength=n)
                        + np.bincount(np.repeat(np.arange(n), n_steps + 1), weights=effect[:, 4], minlength=n))
    return dict(
        words=words, n_steps=n_steps, step_base=step_base, runs=step_runs, final_runs=effect[final],
        step_ref_function=ref.function[choice].astype(np.int64), option_start=option_start, n_options=n_options,
        option_position=option_position, option_word=option_slot >> 6,
        option_bit=np.left_shift(np.uint64(1), (option_slot & 63).astype(np.uint64)),
        option_distance=option_distance, option_function=hyp.function[option_token].astype(np.int64),
        sort=_PathOrder(n, int(np.bincount(ref.pair, minlength=n).max(initial=0)),
                        int(distance_by_pair.max(initial=0))),
    )


class _PathOrder:
    """The program's sort of paths, within each pair: more matches, fewer chunks, smaller distance (stable)."""

    def __init__(self, n_pairs: int, max_ref: int, max_distance: int):
        self.match_base = max_ref + 1  # matches <= reference length
        self.chunk_base = max_ref + 2  # chunks <= reference length + 1
        self.distance_base = max_distance + 1
        self.packed = n_pairs * self.match_base * self.chunk_base * self.distance_base < 2 ** 62

    def __call__(self, pair, matches, chunks, distance) -> np.ndarray:
        grouped = (pair * self.match_base + (self.match_base - 1 - matches)) * self.chunk_base + chunks
        if self.packed:
            return np.argsort(grouped * self.distance_base + distance, kind="stable")
        return np.lexsort((distance, grouped))


def _search(t: dict, beam_size: int) -> list[tuple[int, int, int, int]]:
    """The lockstep search (module docstring) of the pairs in tables ``t``, in their order."""
    n = len(t["n_steps"])
    results: list = [None] * n
    if n == 0:
        return results
    # Pairs are numbered by rank in ``order`` (most steps first), so the pairs still searched are a prefix and
    # their paths a prefix of the path arrays; a pair's paths are contiguous and in the program's order.
    order = np.argsort(-t["n_steps"], kind="stable")
    n_steps, step_base, final_runs = t["n_steps"][order], t["step_base"][order], t["final_runs"][order]
    sort = t["sort"]
    pair = np.arange(n, dtype=np.int64)
    matches = np.zeros(n, np.int64)
    chunks = np.zeros(n, np.int64)
    distance = np.zeros(n, np.int64)
    last = np.full(n, -1, np.int64)
    used = np.zeros((n, t["words"]), np.uint64)
    f1 = np.zeros(n, np.int64)
    f2 = np.zeros(n, np.int64)
    for k in range(int(n_steps[0]) + 1):
        active = int(np.count_nonzero(n_steps > k))
        cut = int(np.searchsorted(pair, active))
        if cut < len(pair):  # pairs without a k-th step end here
            done = slice(cut, None)
            ending = pair[done]
            m, c, d, end, g1, g2 = _through_run(final_runs[ending], matches[done], chunks[done], distance[done],
                                                last[done], f1[done], f2[done])
            ranked = sort(ending, m, c, d)
            c = c + (end != -1)  # the open chunk is closed, then the program sorts once more
            ranked = ranked[sort(ending[ranked], m[ranked], c[ranked], d[ranked])]
            ranked_pair = ending[ranked]
            for position in np.flatnonzero(np.r_[True, ranked_pair[1:] != ranked_pair[:-1]]):
                row = ranked[position]
                results[order[ranked_pair[position]]] = (int(m[row]), int(c[row]), int(g1[row]), int(g2[row]))
            pair, matches, chunks, distance = pair[:cut], matches[:cut], chunks[:cut], distance[:cut]
            last, used, f1, f2 = last[:cut], used[:cut], f1[:cut], f2[:cut]
        if active == 0:
            break
        step = step_base[pair] + k
        effect = t["runs"][step]
        if effect[:, 0].any():
            matches, chunks, distance, last, f1, f2 = _through_run(effect, matches, chunks, distance, last, f1, f2)
            ranked = sort(pair, matches, chunks, distance)
            pair, matches, chunks, distance = pair[ranked], matches[ranked], chunks[ranked], distance[ranked]
            last, used, f1, f2, step = last[ranked], used[ranked], f1[ranked], f2[ranked], step[ranked]
        # Every path gives a new path per candidate (if unused) and one that skips, in the program's order.
        n_options = t["n_options"][step]
        per_path = n_options + 1
        parent = np.repeat(np.arange(len(pair)), per_path)
        starts = np.zeros(len(pair) + 1, np.int64)
        np.cumsum(per_path, out=starts[1:])
        slot = np.arange(len(parent)) - starts[parent]
        skip = slot == n_options[parent]
        option = t["option_start"][step][parent] + np.minimum(slot, n_options[parent] - 1)
        word, bit = t["option_word"][option], t["option_bit"][option]
        parent_words = used[:, 0][parent] if t["words"] == 1 else used[parent, word]
        kept = skip | ((parent_words & bit) == 0)
        # The program's distance: a new path gets the distances of the unused candidates before it, the
        # skipping path those of all of them.
        tried = np.where(skip | ~kept, 0, t["option_distance"][option])
        running = np.cumsum(tried)
        running -= tried
        running -= running[starts[:-1]][parent]
        parent, skip, option, word, bit, running = (parent[kept], skip[kept], option[kept], word[kept], bit[kept],
                                                    running[kept])
        position = t["option_position"][option]
        parent_last = last[parent]
        is_open = parent_last != -1
        new_pair = pair[parent]
        new_matches = matches[parent] + ~skip
        new_chunks = chunks[parent] + np.where(skip, is_open, is_open & (position != parent_last))
        new_distance = distance[parent] + running
        ranked = sort(new_pair, new_matches, new_chunks, new_distance)
        ranked_pair = new_pair[ranked]
        first = np.flatnonzero(np.r_[True, ranked_pair[1:] != ranked_pair[:-1]])
        group_start = np.repeat(first, np.diff(np.r_[first, len(ranked)]))
        keep = ranked[np.arange(len(ranked)) - group_start < beam_size]
        parent, skip, option = parent[keep], skip[keep], option[keep]
        pair, matches, chunks, distance = new_pair[keep], new_matches[keep], new_chunks[keep], new_distance[keep]
        last = np.where(skip, -1, position[keep] + 1)
        used = used[parent]
        rows = np.flatnonzero(~skip)
        used[rows, word[keep][rows]] |= bit[keep][rows]
        f1 = f1[parent] + np.where(skip, 0, t["option_function"][option])
        f2 = f2[parent] + np.where(skip, 0, t["step_ref_function"][step[parent]])
    return results


def _through_run(effect, matches, chunks, distance, last, f1, f2):
    """Paths through the runs described by ``effect`` rows (`_tables`), one row per path."""
    nonempty = effect[:, 0] == 1
    first = effect[:, 1]
    is_open = last != -1
    first_chunk = np.where(first >= 0, is_open & (last != first), is_open) & nonempty
    return (matches + effect[:, 2], chunks + effect[:, 3] + first_chunk, distance + effect[:, 4],
            np.where(nonempty, effect[:, 5], last), f1 + effect[:, 6], f2 + effect[:, 7])

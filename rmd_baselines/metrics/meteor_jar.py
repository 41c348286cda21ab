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
applied at once (`_Tables`, `_through_run`); the program's sorts inside the run change nothing that one sort after
it does not. A pair without any choice is that single run. The set of candidates a path has used is a bit set of
64-bit words, pairs needing as many words being searched together.

When nothing is ever pruned -- the number of paths after the last position, the product over token types of
Σ_k C(b, k)·a!/(a-k)! for a hypothesis and b reference occurrences, is at most the beam -- every alignment is
compared and the program returns the most matches with, among those, the fewest chunks: `metrics.meteor_optimal`'s
alignment. Beyond that the beam can lose it (the tests check both facts).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Hashable, Sequence

import numpy as np


BEAM_SIZE = 40


def java_hash(token: str) -> int:
    """Java's ``String.hashCode`` of a token (over UTF-16 code units, 32-bit wrap-around)."""
    value = 0
    data = token.encode("utf-16-le", "surrogatepass")
    for k in range(0, len(data), 2):
        value = (31 * value + (data[k] | (data[k + 1] << 8))) & 0xFFFFFFFF
    return value


class JavaHashKeys:
    """The keys the program compares tokens by, with a per-token cache.

    When every token of both segments is one character of the Basic Multilingual Plane its hash is its code, so
    the tokens themselves serve as keys (the usual case for character-tokenized Chinese).
    """

    def __init__(self) -> None:
        self._cache: dict[str, int] = {}

    def __call__(self, hyp: Sequence[str], ref: Sequence[str]) -> tuple[Sequence[Hashable], Sequence[Hashable]]:
        joined = "".join(hyp) + "".join(ref)
        if len(joined) == len(hyp) + len(ref) and (not joined or max(joined) <= "\uffff"):
            return hyp, ref
        cache = self._cache
        keys = []
        for tokens in (hyp, ref):
            out = []
            for token in tokens:
                value = cache.get(token)
                if value is None:
                    value = cache[token] = java_hash(token)
                out.append(value)
            keys.append(out)
        return keys[0], keys[1]


def jar_alignments(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], function_words: frozenset,
                   beam_size: int = BEAM_SIZE) -> list[tuple[int, int, int, int]]:
    """The program's alignment of each (hypothesis, reference) pair of ``-norm`` tokens: (matches, chunks,
    function-word matches in the hypothesis, function-word matches in the reference)."""
    keys = JavaHashKeys()
    groups: dict[int, _Tables] = {}
    for index, (hyp, ref) in enumerate(pairs):
        hyp_keys, ref_keys = keys(hyp, ref)
        hyp_counts, ref_counts = Counter(hyp_keys), Counter(ref_keys)
        shared = hyp_counts.keys() & ref_counts.keys()
        ambiguous = {key for key in shared if hyp_counts[key] > 1 or ref_counts[key] > 1}
        contested = sum(hyp_counts[key] for key in ambiguous)
        words = max(1, -(-contested // 64))  # 64-bit words for the set of candidates a path has used
        tables = groups.get(words)
        if tables is None:
            tables = groups[words] = _Tables(words)
        tables.add(index, hyp, ref, hyp_keys, ref_keys, shared, ambiguous, function_words)
    results: list = [None] * len(pairs)
    for tables in groups.values():
        for index, result in zip(tables.index, _search(tables.arrays(), beam_size)):
            results[index] = result
    return results


class _Tables:
    """The pairs searched together, as flat tables: per pair, its choice positions ("steps") and the run of
    choice-free positions before each step and after the last; per step, its candidates.

    A run is stored by its effect on every path (`_through_run`): (non-empty, hypothesis position of its first
    position or -1 for a skip, matches, chunks apart from the first position's, distance, end of the last match
    after it or -1, function-word matches in the hypothesis, in the reference). Only the first position's chunk
    depends on the path, on whether a chunk is open and where it ends.
    """

    def __init__(self, words: int):
        self.words = words
        self.index: list[int] = []
        self.n_steps: list[int] = []
        self.step_base: list[int] = []
        self.runs: list[tuple] = []
        self.final_runs: list[tuple] = []
        self.step_ref_function: list[bool] = []
        self.option_start: list[int] = []
        self.n_options: list[int] = []
        self.option_position: list[int] = []
        self.option_slot: list[int] = []
        self.option_distance: list[int] = []
        self.option_function: list[bool] = []
        self.max_distance = 1
        self.max_ref = 1

    def add(self, index, hyp, ref, hyp_keys, ref_keys, shared, ambiguous, function_words) -> None:
        self.index.append(index)
        self.step_base.append(len(self.runs))
        unique = shared - ambiguous
        definite = {key: i for i, key in enumerate(hyp_keys) if key in unique}
        positions: dict = defaultdict(list)
        slot_of = {}
        if ambiguous:
            for i, key in enumerate(hyp_keys):
                if key in ambiguous:
                    positions[key].append(i)
                    slot_of[i] = len(slot_of)
        option_position, option_slot = self.option_position, self.option_slot
        option_distance, option_function = self.option_distance, self.option_function
        total_distance = 0
        nonempty = matches = chunks = distance = f1 = f2 = 0
        first, last = -1, -1
        for j, key in enumerate(ref_keys):
            if key in ambiguous:
                self.runs.append((nonempty, first, matches, chunks, distance, last, f1, f2))
                total_distance += distance
                nonempty = matches = chunks = distance = f1 = f2 = 0
                first, last = -1, -1
                self.step_ref_function.append(ref[j] in function_words)
                options = positions[key]
                self.option_start.append(len(option_position))
                self.n_options.append(len(options))
                for i in options:
                    option_position.append(i)
                    option_slot.append(slot_of[i])
                    option_distance.append(abs(j - i))
                    option_function.append(hyp[i] in function_words)
                    total_distance += abs(j - i)
                continue
            i = definite.get(key, -1)
            if not nonempty:
                nonempty, first = 1, i
            if i >= 0:
                if last != -1 and i != last:
                    chunks += 1
                matches += 1
                distance += abs(j - i)
                f1 += hyp[i] in function_words
                f2 += ref[j] in function_words
                last = i + 1
            elif last != -1:
                chunks += 1
                last = -1
        self.final_runs.append((nonempty, first, matches, chunks, distance, last, f1, f2))
        self.n_steps.append(len(self.runs) - self.step_base[-1])
        self.max_distance = max(self.max_distance, total_distance + distance)
        self.max_ref = max(self.max_ref, len(ref_keys))

    def arrays(self) -> dict:
        as_int = lambda values: np.asarray(values, dtype=np.int64)  # noqa: E731
        slots = as_int(self.option_slot)
        return dict(
            words=self.words, n_steps=as_int(self.n_steps), step_base=as_int(self.step_base),
            runs=as_int(self.runs).reshape(-1, 8), final_runs=as_int(self.final_runs).reshape(-1, 8),
            step_ref_function=as_int(self.step_ref_function), option_start=as_int(self.option_start),
            n_options=as_int(self.n_options), option_position=as_int(self.option_position),
            option_word=slots >> 6, option_bit=np.left_shift(np.uint64(1), (slots & 63).astype(np.uint64)),
            option_distance=as_int(self.option_distance), option_function=as_int(self.option_function),
            sort=_PathOrder(len(self.index), self.max_ref, self.max_distance),
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
        kept = skip | ((used[parent, word] & bit) == 0)
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
    """Paths through the runs described by ``effect`` rows (`_Tables`), one row per path."""
    nonempty = effect[:, 0] == 1
    first = effect[:, 1]
    is_open = last != -1
    first_chunk = np.where(first >= 0, is_open & (last != first), is_open) & nonempty
    return (matches + effect[:, 2], chunks + effect[:, 3] + first_chunk, distance + effect[:, 4],
            np.where(nonempty, effect[:, 5], last), f1 + effect[:, 6], f2 + effect[:, 7])

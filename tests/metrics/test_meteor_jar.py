"""METEOR 1.5's search as the jar runs it: Java hashes, a step-by-step reference simulation, the programs' values."""

from collections import Counter
from math import comb, perm

import pytest
from hypothesis import given, settings, strategies as st

from rmd_baselines.metrics.meteor import FUNCTION_WORDS, corpus_meteor
from rmd_baselines.metrics.meteor_jar import BEAM_SIZE, jar_alignments, java_hash
from rmd_baselines.metrics.meteor_optimal import matches_and_chunks


def jar_search_step_by_step(hyp, ref, beam_size=BEAM_SIZE):
    """An independent, literal walk through METEOR 1.5's Aligner.resolve for the exact module: one path object per
    partial alignment, a stable sort and the beam before every reference position, the program's distance
    bookkeeping. Returns (matches, chunks, function-word matches in hyp, in ref)."""
    hyp_keys = [java_hash(t) for t in hyp]
    ref_keys = [java_hash(t) for t in ref]
    candidates = [[i for i, k in enumerate(hyp_keys) if k == key] for key in ref_keys]
    covered = [sum(1 for key in ref_keys if key == k) for k in hyp_keys]
    start = {"matches": [None] * len(ref), "used": set(), "score": 0, "chunks": 0, "last": -1, "distance": 0}
    for j, options in enumerate(candidates):  # definite: the only candidate, and j its only partner
        if len(options) == 1 and covered[options[0]] == 1:
            start["matches"][j] = options[0]
            start["used"].add(options[0])
    next_paths = [start]
    for current in range(len(ref) + 1):
        paths = sorted(next_paths, key=lambda p: (-p["score"], p["chunks"], p["distance"]))[:beam_size]
        next_paths = []
        for path in paths:
            if current == len(ref):
                if path["last"] != -1:
                    path["chunks"] += 1
                next_paths.append(path)
            elif path["matches"][current] is not None:
                i = path["matches"][current]  # a definite match (a choice is only ever made at its own position)
                path["score"] += 2
                if path["last"] != -1 and i != path["last"]:
                    path["chunks"] += 1
                path["last"] = i + 1
                path["distance"] += abs(current - i)
                next_paths.append(path)
            else:
                for i in candidates[current]:
                    if i in path["used"]:
                        continue
                    new = {**path, "matches": list(path["matches"]), "used": set(path["used"])}
                    new["matches"][current] = i
                    new["used"].add(i)
                    new["score"] += 2
                    if new["last"] != -1 and i != new["last"]:
                        new["chunks"] += 1
                    new["last"] = i + 1
                    path["distance"] += abs(current - i)  # the program adds it to the parent
                    next_paths.append(new)
                if path["last"] != -1:
                    path["chunks"] += 1
                    path["last"] = -1
                next_paths.append(path)
    best = sorted(next_paths, key=lambda p: (-p["score"], p["chunks"], p["distance"]))[0]
    pairs = [(i, j) for j, i in enumerate(best["matches"]) if i is not None]
    return (len(pairs), best["chunks"], sum(hyp[i] in FUNCTION_WORDS for i, _ in pairs),
            sum(ref[j] in FUNCTION_WORDS for _, j in pairs))


# String.hashCode() printed by Java 17 (signed 32-bit; java_hash gives the same bits unsigned).
@pytest.mark.parametrize("token, value", [
    ("", 0), ("a", 97), ("an", 3117), ("c0", 3117), ("Aa", 2112), ("BB", 2112), ("好", 22909),
    ("\U0001f600", 1772899), ("\U0001f9e1", 1772899), ("the quick brown fox", 1302335171),
    ("polygenelubricants", -2147483648), ("体温30度", -1880684813),
])
def test_java_hash(token, value):
    assert java_hash(token) == value % 2 ** 32


# Tokens with many repeats, function words, and pairs whose Java hashes collide.
_TOKENS = st.sampled_from(["好", "的", "，", "s", "a", "an", "c0", "Aa", "BB", "\U0001f600", "\U0001f9e1"])
_CHARS = st.sampled_from(list("好的，。宝查"))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(_TOKENS, max_size=9), st.lists(_TOKENS, max_size=9)), min_size=1, max_size=5),
       st.sampled_from([1, 2, 3, 5, 40]))
def test_lockstep_search_equals_a_literal_walk_of_the_program(pairs, beam_size):
    assert jar_alignments(pairs, FUNCTION_WORDS, beam_size) == [
        jar_search_step_by_step(hyp, ref, beam_size) for hyp, ref in pairs]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(_CHARS, max_size=12), st.lists(_CHARS, max_size=12)), min_size=1, max_size=5),
       st.sampled_from([2, 4, 40]))
def test_lockstep_search_on_character_tokens(pairs, beam_size):
    assert jar_alignments(pairs, FUNCTION_WORDS, beam_size) == [
        jar_search_step_by_step(hyp, ref, beam_size) for hyp, ref in pairs]


def test_many_contested_positions_use_several_words():
    hyp = ["好", "的"] * 35  # 70 candidates: two 64-bit words
    ref = ["的", "好"] * 8 + ["宝"] + ["好"] * 3
    assert jar_alignments([(hyp, ref)], FUNCTION_WORDS) == [jar_search_step_by_step(hyp, ref)]


def paths_without_pruning(hyp_counts: Counter, ref_counts: Counter) -> int:
    """How many paths the search holds after the last position when nothing is pruned: per token type with a
    hypothesis and b reference occurrences, the partial one-to-one assignments Σ_k C(b, k)·a!/(a-k)!."""
    total = 1
    for key, b in ref_counts.items():
        a = hyp_counts.get(key, 0)
        if a and (a, b) != (1, 1):  # a type once on each side is matched before the search
            total *= sum(comb(b, k) * perm(a, k) for k in range(min(a, b) + 1))
    return total


@settings(max_examples=150, deadline=None)
@given(st.lists(_CHARS, max_size=12), st.lists(_CHARS, max_size=12))
def test_without_pruning_the_program_finds_the_fewest_chunks(hyp, ref):
    beam = 6
    if paths_without_pruning(Counter(hyp), Counter(ref)) <= beam:
        matches, chunks, _, _ = jar_alignments([(hyp, ref)], FUNCTION_WORDS, beam)[0]
        assert (matches, chunks) == matches_and_chunks(hyp, ref)


def test_the_beam_can_miss_the_fewest_chunks():
    # The repro (char tokens): the jar returns 3 chunks, the optimum has 2.
    hyp, ref = list("宝，宝宝查一下"), list("，宝宝一下，查一下")
    assert matches_and_chunks(hyp, ref) == (6, 2)
    assert jar_alignments([(hyp, ref)], FUNCTION_WORDS)[0][:2] == (6, 3)
    assert jar_alignments([(hyp, ref)], FUNCTION_WORDS, beam_size=10000)[0][:2] == (6, 2)


# meteor-1.5.jar -l en -norm -m exact on fragments of real doctor turns (covid_zh / imcs_v2_dev pairs of the oracle's
# parity sets, shrunk while the jar's beam search and the minimum-chunk alignment still disagree).
JAR_BEAM_FRAGMENTS = [
    ("宝，宝宝查一下", "，宝宝一下，查一下", 0.32942735311884513),  # the repro
    ("，，可以", "可可以，，，可以", 0.2581998173093651),
    ("宝宝现在", "宝宝现灯在宝宝现在", 0.2315974118896124),
    ("不好，", "，，，不，不不，好不好", 0.12244897959183675),
    ("复。复。有他问题", "有问题复。有他问题", 0.3514271613178722),
]


@pytest.mark.parametrize("hyp, ref, expected", JAR_BEAM_FRAGMENTS)
def test_real_fragments_where_the_beam_misses_the_optimum(hyp, ref, expected):
    assert corpus_meteor([list(hyp)], [[list(ref)]]) == pytest.approx(expected, abs=1e-12)
    assert corpus_meteor([list(hyp)], [[list(ref)]], align="optimal") > expected + 1e-3

"""The optimal METEOR alignment: maximum matches, provably fewest chunks (brute force on small cases)."""

import itertools

import pytest
from hypothesis import given, settings, strategies as st

from rmd_baselines.metrics import meteor_optimal
from rmd_baselines.metrics.meteor_optimal import matches_and_chunks, max_adjacencies


def _brute_force_adjacencies(hyp, ref):
    best = 0
    options = [[None] + [j for j, t in enumerate(ref) if t == token] for token in hyp]
    for combo in itertools.product(*options):
        used = [c for c in combo if c is not None]
        if len(used) == len(set(used)):
            best = max(best, sum(1 for i in range(len(hyp) - 1)
                                 if combo[i] is not None and combo[i + 1] == combo[i] + 1))
    return best


small = st.lists(st.sampled_from("abc"), max_size=7)


@settings(max_examples=300, deadline=None)
@given(small, small)
def test_alignment_minimises_chunks_exactly(hyp, ref):
    assert max_adjacencies(hyp, ref) == _brute_force_adjacencies(hyp, ref)


@settings(max_examples=60, deadline=None)
@given(small, small)
def test_integer_program_fallback_is_exact(hyp, ref):
    saved = meteor_optimal._NODE_BUDGET
    meteor_optimal._NODE_BUDGET = 0  # every conflicting component goes to the 0-1 program
    try:
        assert max_adjacencies(hyp, ref) == _brute_force_adjacencies(hyp, ref)
    finally:
        meteor_optimal._NODE_BUDGET = saved


@pytest.mark.parametrize("hyp, ref, matches, chunks", [
    ("a b c d", "a b c d", 4, 1),
    ("a b x c d", "c d a b", 4, 2),
    ("a a a", "a", 1, 1),
    ("a b a b", "b a b a", 4, 2),  # "a b a" + "b", or "b a b" + "a"
    ("", "a", 0, 0),
])
def test_matches_and_chunks(hyp, ref, matches, chunks):
    assert matches_and_chunks(hyp.split(), ref.split()) == (matches, chunks)

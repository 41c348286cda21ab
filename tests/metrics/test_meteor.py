"""METEOR: the exact minimum-chunk alignment, METEOR 1.5 formula and aggregation, NLTK's variant."""

import itertools
import math

import pytest
from hypothesis import given, settings, strategies as st

from rmd_baselines.metrics import meteor as meteor_module
from rmd_baselines.metrics.meteor import (
    MeteorStats, corpus_meteor, matches_and_chunks, max_adjacencies, meteor15_from_stats, meteor15_segment,
    sentence_meteor_nltk)
from tests.metrics.strategies import corpora

# Copied from ../shared/metrics-vectors/zh_mixed_ascii.json: METEOR 1.5 -l en -norm -m exact, final and segments
# (ASCII case, attached punctuation, a URL, "&", function words "(", ")", ":", "?", "a", ",").
MIXED_HYPS = ["建议 查 CT ， 体温 38.5 度 需要 注意", "可以 吃 布洛芬 (Ibuprofen) 。", "详见 https://example.org/a?b=1 说明 & 注意"]
MIXED_REFS = [["建议 做 ct 检查 ， 体温 38.5 度"], ["可以 吃 布洛芬 ( ibuprofen ) 。"], ["详见 说明 书 , 注意 剂量"]]
MIXED_FINAL = 0.41776813266043505
MIXED_SEGMENTS = [0.39013024758824366, 1.0, 0.27735657794844704]
# Copied from ../shared/metrics-vectors/zh_char_multiref.json (best reference per segment).
MULTIREF_FINAL = 0.5073774404327103


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
    saved = meteor_module._NODE_BUDGET
    meteor_module._NODE_BUDGET = 0  # every conflicting component goes to the 0-1 program
    try:
        assert max_adjacencies(hyp, ref) == _brute_force_adjacencies(hyp, ref)
    finally:
        meteor_module._NODE_BUDGET = saved


@pytest.mark.parametrize("hyp, ref, matches, chunks", [
    ("a b c d", "a b c d", 4, 1),
    ("a b x c d", "c d a b", 4, 2),
    ("a a a", "a", 1, 1),
    ("a b a b", "b a b a", 4, 2),  # "a b a" + "b", or "b a b" + "a"
    ("", "a", 0, 0),
])
def test_matches_and_chunks(hyp, ref, matches, chunks):
    assert matches_and_chunks(hyp.split(), ref.split()) == (matches, chunks)


def test_embedded_mixed_ascii_final_and_segments():
    hyps = [h.split() for h in MIXED_HYPS]
    refs = [[r.split() for r in rs] for rs in MIXED_REFS]
    assert corpus_meteor(hyps, refs) == pytest.approx(MIXED_FINAL, abs=1e-12)
    from rmd_baselines.metrics.normalize import meteor_tokens

    rows = [meteor15_segment(meteor_tokens(h), [meteor_tokens(r) for r in rs]) for h, rs in zip(hyps, refs)]
    assert [meteor15_from_stats(row) for row in rows] == pytest.approx(MIXED_SEGMENTS, abs=1e-12)


def test_embedded_multireference_best_reference():
    from tests.metrics.test_bleu import MULTIREF_HYPS, MULTIREF_REFS, _split

    assert corpus_meteor(*_split(MULTIREF_HYPS, MULTIREF_REFS)) == pytest.approx(MULTIREF_FINAL, abs=1e-12)


def test_java_edge_cases():
    assert meteor15_from_stats([0, 3, 0, 0, 0, 0, 0]) == 0.0  # empty hypothesis: 0/0 -> NaN -> 0
    assert meteor15_from_stats([3, 3, 0, 0, 0, 0, 0]) == 0.0  # no match: Fmean = 1/inf = 0
    assert meteor15_from_stats([3, 3, 0, 0, 3, 0, 1]) == 1.0


@settings(max_examples=60, deadline=None)
@given(corpora(n_refs=2, allow_empty=True))
def test_properties_range_identity_permutation(corpus):
    hyps, refs = corpus
    value = corpus_meteor(hyps, refs)
    assert 0.0 <= value <= 1.0
    assert corpus_meteor(hyps[::-1], refs[::-1]) == pytest.approx(value, abs=1e-12)
    assert corpus_meteor([r[0] for r in refs], refs) == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(corpora(allow_empty=False))
def test_nltk_variant_equals_nltk_exact(corpus):
    from nltk.translate.meteor_score import _count_chunks, _match_enums

    for hyp, (ref,) in zip(*corpus):
        matches, _, _ = _match_enums(list(enumerate(hyp)), list(enumerate(ref)))
        matches.sort()
        m = len(matches)
        if m == 0:
            expected = 0.0
        else:
            p, r = m / len(hyp), m / len(ref)
            fmean = p * r / (0.9 * p + 0.1 * r)
            expected = (1 - 0.5 * (_count_chunks(matches) / m) ** 3) * fmean
        assert sentence_meteor_nltk(hyp, ref) == pytest.approx(expected, abs=1e-12)


def test_nltk_variant_identical_is_below_one():
    # Copied from zh_identical.json: NLTK gives 0.9998 for identical pairs (frag = 1/m, never 0).
    assert sentence_meteor_nltk(list("建议做个胃镜"), list("建议做个胃镜")) < 1.0


def test_perfect_segments_add_no_chunks():
    stats = MeteorStats([[3, 3, 0, 0, 3, 0, 1], [2, 4, 0, 0, 2, 0, 2]])
    assert stats.rows[0, 6] == 0 and stats.rows[1, 6] == 2
    assert not math.isnan(stats.score())

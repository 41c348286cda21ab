"""Fuzz the n-gram metric modules (rmd_baselines/metrics/bleu.py, nist.py, meteor.py and the generation report built
on them) on random token sequences and reference sets.

Invariants: the module functions (``corpus_bleu``, ``corpus_nist``, ``corpus_meteor``, ``sentence_bleu``,
``sentence_nist``) give the values of the report's own path; the ``paper`` family is the mean of its segment
scores; corpus scores do not change when segments are permuted or when every reference set is repeated (more
references that add nothing change nothing).
"""

import math

from hypothesis import given
from hypothesis import strategies as st

from rmd_baselines.metrics.bleu import corpus_bleu, sentence_bleu
from rmd_baselines.metrics.generation import FAMILIES, GenerationStats, evaluate_generation
from rmd_baselines.metrics.meteor import corpus_meteor
from rmd_baselines.metrics.nist import corpus_nist, sentence_nist

from ..support import fuzz

# Lower case only: the module functions see tokens as given, the report lower-cases METEOR's view.
TOKENS = st.lists(st.sampled_from(["好", "的", "多", "喝", "水", "a", "b", "，", "0"]), min_size=0, max_size=10)
KEYS = ("bleu2", "bleu4", "nist4", "meteor", "entropy4", "dist1", "dist2")


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@st.composite
def token_corpus(draw, max_segments=6):
    n = draw(st.integers(1, max_segments))
    n_refs = draw(st.integers(1, 3))
    return [draw(TOKENS) for _ in range(n)], [[draw(TOKENS) for _ in range(n_refs)] for _ in range(n)]


@fuzz(60)
@given(token_corpus(), st.sampled_from(["jar", "optimal"]), st.sampled_from(["mteval", "corrected"]))
def test_module_functions_equal_the_report_path(data, align, nist):
    hyps, refs = data
    stats = GenerationStats(hyps, refs, dstc7_normalize=False, meteor_align=align, nist_variant=nist)
    scores = stats.statistic()
    bleu = corpus_bleu(hyps, refs)
    assert close(bleu[1], scores["dstc7.bleu2"]) and close(bleu[3], scores["dstc7.bleu4"]), (bleu, scores)
    assert close(corpus_nist(hyps, refs, variant=nist)[3], scores["dstc7.nist4"])
    assert close(corpus_meteor(hyps, refs, normalize=False, align=align), scores["dstc7.meteor"])
    for value in bleu:
        assert 0 <= value <= 1
    segments = stats.segment_scores()["paper"]
    for i, (hyp, ref_set) in enumerate(zip(hyps, refs)):
        assert close(sentence_bleu(hyp, ref_set[0], 2), segments["bleu2"][i])
        assert close(sentence_bleu(hyp, ref_set[0], 4), segments["bleu4"][i])
        assert close(sentence_nist(hyp, ref_set[0], 4), segments["nist4"][i])
    for key, column in segments.items():
        assert close(float(column.mean()), scores[f"paper.{key}"]), key


@st.composite
def text_corpus(draw):
    alphabet = "好的多喝水注意休息，。a "
    n = draw(st.integers(1, 6))
    n_refs = draw(st.integers(1, 2))
    text = st.text(alphabet=alphabet, max_size=12)
    return [draw(text) for _ in range(n)], [[draw(text) for _ in range(n_refs)] for _ in range(n)]


@fuzz(40)
@given(text_corpus(), st.randoms(use_true_random=False))
def test_corpus_scores_ignore_segment_order(data, rnd):
    hyps, refs = data
    order = list(range(len(hyps)))
    rnd.shuffle(order)
    before = evaluate_generation(hyps, refs)
    after = evaluate_generation([hyps[i] for i in order], [refs[i] for i in order])
    for family in FAMILIES:
        for key in KEYS:
            assert close(before[family][key], after[family][key]), (family, key, order)


@fuzz(40)
@given(text_corpus())
def test_repeating_every_reference_set_changes_nothing(data):
    hyps, refs = data
    once = evaluate_generation(hyps, refs)
    twice = evaluate_generation(hyps, [ref_set + ref_set for ref_set in refs])
    for family in FAMILIES:
        for key in KEYS:
            assert close(once[family][key], twice[family][key]), (family, key, once[family][key],
                                                                  twice[family][key])

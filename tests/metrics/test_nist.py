"""NIST in both families: embedded golden values, NLTK parity, the bootstrap path, properties."""

import numpy as np
import pytest
from hypothesis import given, settings

from rmd_baselines.errors import UsageError
from rmd_baselines.metrics.nist import NistStats, corpus_nist, mteval_length_penalty, sentence_nist
from rmd_baselines.metrics.ngrams import all_ngram_counts, clip_by_order, max_counts
from tests.metrics.strategies import corpora
from tests.metrics.test_bleu import MULTIREF_HYPS, MULTIREF_REFS, _split

# Copied from ../shared/metrics-vectors/zh_char_multiref.json (mteval-v14c full precision, union clipping and the
# average reference length over 2 references; NLTK corpus_nist differs by 0.77 here).
MULTIREF_NIST = [4.7836271011403975, 5.002302642822442, 5.149895176000603, 5.149895176000603]


def test_embedded_multireference_mteval():
    hyps, refs = _split(MULTIREF_HYPS, MULTIREF_REFS)
    assert corpus_nist(hyps, refs) == pytest.approx(MULTIREF_NIST, abs=1e-9)


@pytest.mark.parametrize("hyp, ref, expected", [
    # Copied from zh_char_edge.json nltk_sentence_allrefs (NLTK 3.10.4 sentence_nist, n=4).
    ("多 喝 水 注 意 休 息", "多 喝 水 注 意 休 息", 2.8073549220576046),
    ("好 好 好 好 好 好", "好 的 好 的", 0.3333333333333333),
    ("今 天 天 气 晴 朗", "建 议 复 查 血 常 规", 0.0),
    ("好 的", "好 的 ， 明 天 复 诊", 0.0),  # NLTK raises ZeroDivisionError; the UCSD scripts score 0
])
def test_embedded_sentence_nist(hyp, ref, expected):
    assert sentence_nist(hyp.split(), ref.split()) == pytest.approx(expected, abs=1e-12)


def test_length_penalty_half_at_two_thirds():
    assert mteval_length_penalty(2 / 3) == pytest.approx(0.5)
    assert mteval_length_penalty(1.2) == 1.0 and mteval_length_penalty(0.0) == 0.0


@settings(max_examples=50, deadline=None)
@given(corpora(allow_empty=False))
def test_single_reference_equals_nltk_corpus_nist(corpus):
    from nltk.translate.nist_score import corpus_nist as nltk_corpus_nist
    from nltk.translate.nist_score import sentence_nist as nltk_sentence_nist

    hyps, refs = corpus
    if all(len(h) >= 4 for h in hyps):
        assert corpus_nist(hyps, refs)[3] == pytest.approx(nltk_corpus_nist(refs, hyps, 4), abs=1e-9)
    for hyp, (ref,) in zip(hyps, refs):
        if len(hyp) >= 4 and len(ref) >= 4:
            assert sentence_nist(hyp, ref) == pytest.approx(nltk_sentence_nist([ref], hyp, 4), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(corpora(n_refs=2, allow_empty=True))
def test_weighted_path_equals_full_and_duplicated_corpus(corpus):
    hyps, refs = corpus
    clips = [clip_by_order(all_ngram_counts(h, 4), max_counts([all_ngram_counts(r, 4) for r in rs]), 4)[0]
             for h, rs in zip(hyps, refs)]
    stats = NistStats(clips, [len(h) for h in hyps], refs)
    full = stats.scores()
    assert stats.scores(np.ones(len(hyps))) == pytest.approx(full, abs=1e-9)
    weights = np.arange(len(hyps)) % 3 + 0.0
    if weights.sum() > 0:
        duplicated = [i for i, w in enumerate(weights) for _ in range(int(w))]
        expected = corpus_nist([hyps[i] for i in duplicated], [refs[i] for i in duplicated])
        assert stats.scores(weights) == pytest.approx(expected, abs=1e-9)
    assert all(value >= 0 for value in full)
    assert corpus_nist(hyps[::-1], refs[::-1]) == pytest.approx(full, abs=1e-9)


def test_no_reference_words_scores_zero():
    assert corpus_nist([["好"]], [[[]]]) == [0.0] * 4


@settings(max_examples=40, deadline=None)
@given(corpora(n_refs=2, allow_empty=True))
def test_fixed_pool_rows_and_segment_scores(corpus):
    hyps, refs = corpus

    def stats_of(hypotheses):
        clips = [clip_by_order(all_ngram_counts(h, 4), max_counts([all_ngram_counts(r, 4) for r in rs]), 4)[0]
                 for h, rs in zip(hypotheses, refs)]
        return NistStats(clips, [len(h) for h in hypotheses], refs)

    stats = stats_of(hyps)
    assert stats.score_fixed_pool(stats.fixed_pool_rows().sum(axis=0)) == pytest.approx(stats.scores(), abs=1e-9)
    # Swapping hypotheses with another system's keeps the references, so summed rows score the mixed corpus.
    other = [h[::-1] for h in hyps]
    mixed = [h if i % 2 else o for i, (h, o) in enumerate(zip(hyps, other))]
    odd = (np.arange(len(hyps)) % 2 == 1)[:, None]
    rows = np.where(odd, stats.fixed_pool_rows(), stats_of(other).fixed_pool_rows())
    assert stats.score_fixed_pool(rows.sum(axis=0)) == pytest.approx(corpus_nist(mixed, refs), abs=1e-9)
    for row, hyp, ref_set in zip(stats.segment_scores(), hyps, refs):
        assert list(row) == pytest.approx(corpus_nist([hyp], [ref_set]), abs=1e-12)


# mteval-v14c (full-precision report, DialoGPT XML): the prefix "0" fails Perl's truth test, so the bigrams "0 x" get
# the unigram formula. Char tokens: the repro, then real doctor turns (imcs_v2_dev); then whitespace tokens.
ZERO_PREFIX = [
    (["体温30度"], ["体温30度"], [2.321928094887362, 2.9024101186092026, 2.9024101186092026, 2.9024101186092026],
     2.321928094887362),
    (["可以吃5天~10天"], ["一般7-10天"], [0.9357849740192015, 1.286704339276402, 1.286704339276402,
                                          1.286704339276402], None),
    (["每次1.0ml"], ["沐舒坦，每次1.0ml"], [1.4619627286986974, 1.7056231834818136, 1.7056231834818136,
                                            1.7056231834818136], None),
    # whitespace tokens: only the token "0" is false in Perl ("00" and "0.5" are true)
    (["0 次 00 号 0.5 片"], ["0 次 00 号 0.5 片"], [2.584962500721156, 3.101955000865387, 3.101955000865387,
                                                3.101955000865387], 2.584962500721156),
    (["0 次 00 号"], ["每 天 0 次 , 00 号"], [0.7496598983825679, 0.9995465311767572, 0.9995465311767572,
                                          0.9995465311767572], 0.7496598983825679),
]


@pytest.mark.parametrize("hyps, refs, mteval, corrected_nist4", ZERO_PREFIX)
def test_zero_prefix_quirk_and_the_corrected_variant(hyps, refs, mteval, corrected_nist4):
    split = str.split if " " in hyps[0] else list
    hyp_tokens = [split(h) for h in hyps]
    ref_tokens = [[split(r)] for r in refs]
    assert corpus_nist(hyp_tokens, ref_tokens) == pytest.approx(mteval, abs=1e-12)
    corrected = corpus_nist(hyp_tokens, ref_tokens, variant="corrected")
    assert corrected[0] == pytest.approx(mteval[0], abs=1e-12)  # unigrams have no prefix either way
    assert corrected[3] < mteval[3]
    if corrected_nist4 is not None:
        assert corrected[3] == pytest.approx(corrected_nist4, abs=1e-12)


def test_zero_prefix_quirk_in_the_bootstrap_path():
    hyps, refs = [list("体温30度"), list("0度")], [[list("体温30度")], [list("10度")]]
    for variant in ("mteval", "corrected"):
        clips = [clip_by_order(all_ngram_counts(h, 4), max_counts([all_ngram_counts(r, 4) for r in rs]), 4)[0]
                 for h, rs in zip(hyps, refs)]
        stats = NistStats(clips, [len(h) for h in hyps], refs, variant=variant)
        assert stats.scores(np.ones(2)) == pytest.approx(stats.scores(), abs=1e-12)
        assert stats.scores(np.array([2.0, 0.0])) == pytest.approx(
            corpus_nist([hyps[0]] * 2, [refs[0]] * 2, variant=variant), abs=1e-12)
    with pytest.raises(UsageError):
        NistStats([], [], [], variant="nltk")


@pytest.mark.parametrize("variant", ["mteval", "corrected"])
def test_zero_prefix_quirk_in_the_randomization_and_segment_paths(variant):
    hyps = [list("体温30度"), list("0度"), "0 次 00 号".split()]
    refs = [[list("体温30度")], [list("10度")], ["每 天 0 次 , 00 号".split()]]
    clips = [clip_by_order(all_ngram_counts(h, 4), max_counts([all_ngram_counts(r, 4) for r in rs]), 4)[0]
             for h, rs in zip(hyps, refs)]
    stats = NistStats(clips, [len(h) for h in hyps], refs, variant=variant)
    assert stats.score_fixed_pool(stats.fixed_pool_rows().sum(axis=0)) == pytest.approx(
        corpus_nist(hyps, refs, variant=variant), abs=1e-12)
    for row, hyp, ref_set in zip(stats.segment_scores(), hyps, refs):
        assert list(row) == pytest.approx(corpus_nist([hyp], [ref_set], variant=variant), abs=1e-12)

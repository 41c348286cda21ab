"""METEOR: the METEOR 1.5 formula, function words and aggregation, both alignment variants against the programs'
values, NLTK's variant."""

import math

import pytest
from hypothesis import given, settings

from rmd_baselines.errors import UsageError
from rmd_baselines.metrics.meteor import (
    FUNCTION_WORDS, MeteorAligner, MeteorStats, corpus_meteor, meteor15_from_stats, meteor15_segment,
    sentence_meteor_nltk)
from rmd_baselines.metrics.normalize import meteor_tokens
from rmd_baselines.text import get_tokenizer
from tests.metrics.strategies import corpora

# Copied from ../shared/metrics-vectors/zh_mixed_ascii.json: METEOR 1.5 -l en -norm -m exact, final and segments
# (ASCII case, attached punctuation, a URL, "&", function words "(", ")", ":", "?", "a", ",").
MIXED_HYPS = ["建议 查 CT ， 体温 38.5 度 需要 注意", "可以 吃 布洛芬 (Ibuprofen) 。", "详见 https://example.org/a?b=1 说明 & 注意"]
MIXED_REFS = [["建议 做 ct 检查 ， 体温 38.5 度"], ["可以 吃 布洛芬 ( ibuprofen ) 。"], ["详见 说明 书 , 注意 剂量"]]
MIXED_FINAL = 0.41776813266043505
MIXED_SEGMENTS = [0.39013024758824366, 1.0, 0.27735657794844704]
# Copied from ../shared/metrics-vectors/zh_char_multiref.json (best reference per segment).
MULTIREF_FINAL = 0.5073774404327103


def test_embedded_mixed_ascii_final_and_segments():
    hyps = [h.split() for h in MIXED_HYPS]
    refs = [[r.split() for r in rs] for rs in MIXED_REFS]
    assert corpus_meteor(hyps, refs) == pytest.approx(MIXED_FINAL, abs=1e-12)
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


def test_seven_column_rows_get_the_reference_side_function_matches():
    seven = MeteorStats([[4, 5, 1, 2, 3, 1, 2]])
    eight = MeteorStats([[4, 5, 1, 2, 3, 1, 2, 1]])
    assert seven.rows.shape == (1, 8) and seven.score() == eight.score()
    # Different tokens matched through a Java hash collision: a function word on one side only changes recall.
    assert meteor15_from_stats([4, 5, 1, 2, 3, 1, 2, 0]) != eight.score()
    with pytest.raises(ValueError):
        MeteorStats([[1, 2, 3]])


def test_full_english_function_word_list():
    # resources/function/english.words of METEOR 1.5: 93 entries, looked up on every token after -norm.
    assert len(FUNCTION_WORDS) == 93
    assert {"the", "'s", "'t", "s", "i", "$", "--", "\u2014", "-lrb-", "years"} <= FUNCTION_WORDS
    assert "\u3002" not in FUNCTION_WORDS and "的" not in FUNCTION_WORDS


# meteor-1.5.jar -l en -norm -m exact (the oracle's dstc7_ref.py run_meteor), one segment each. Char tokens unless
# said otherwise; "none" = the text's own whitespace tokens.
PROGRAM_VALUES = [
    # the repros: the beam search (3 chunks where 2 are possible), the em dash as a function word
    ("宝，宝宝查一下", "，宝宝一下，查一下", "char", 0.32942735311884513),
    ("好的——", "好的", "char", 0.45492348764031),
    # function words in real doctor turns ("呼吸II病区" -> i, "SCL-90" -> s), both tokenizations
    ("呼吸II病区", "九楼呼吸II病区", "char", 0.42564671216328454),
    ("SCL-90量表", "填SCL-90", "char", 0.4658941090154001),
    ("SCL-90量表", "填SCL-90", "word", 0.3472234871394288),
    # tokens equal by Java hash: c0/an (3117), two emoji (1772899)
    ("c0 x", "an x", "none", 1.0),
    ("\U0001f600好", "\U0001f9e1好", "char", 1.0),
    # the normaliser: Moses' non-breaking prefixes, and U+180E is not a space in METEOR
    ("Dr. Smith", "Dr Smith", "none", 0.2),
    ("No. 5 床", "No 5 床", "none", 0.3926052016621853),
    ("No. Five", "No Five", "none", 0.38554216867469876),
    ("好\u180e的", "好的", "char", 0.37209302325581395),
]


@pytest.mark.parametrize("hyp, ref, tokenize, expected", PROGRAM_VALUES)
def test_programs_values(hyp, ref, tokenize, expected):
    tokenizer = get_tokenizer(tokenize)
    assert corpus_meteor([tokenizer(hyp)], [[tokenizer(ref)]]) == pytest.approx(expected, abs=1e-12)


def test_optimal_variant_differs_only_in_the_alignment():
    hyp, ref = list("宝，宝宝查一下"), list("，宝宝一下，查一下")
    # Six matches either way; the minimum-chunk alignment has 2 chunks where the jar's has 3.
    assert MeteorAligner("jar").segment(hyp, [ref])[4:7] == [6, 0, 3]
    assert MeteorAligner("optimal").segment(hyp, [ref])[4:7] == [6, 0, 2]
    assert corpus_meteor([hyp], [[ref]], align="optimal") == pytest.approx(0.357486, abs=1e-6)
    # Function words count in both variants.
    assert corpus_meteor([list("好的——")], [[list("好的")]], align="optimal") == pytest.approx(0.45492348764031,
                                                                                                abs=1e-12)
    with pytest.raises(UsageError):
        MeteorAligner("beam")


def test_several_references_keep_the_first_best():
    hyp = list("多喝水")
    rows = MeteorAligner().segments([hyp, hyp], [[list("多喝"), list("多喝水")], [list("喝水"), list("多喝")]])
    assert rows[0][1] == 3  # the perfect reference
    assert rows[1][1] == 2 and meteor15_segment(hyp, [list("喝水")]) == rows[1]  # a tie: the first one

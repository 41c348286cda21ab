"""BLEU in both families: embedded golden values, sacreBLEU/NLTK parity, properties."""

import math

import pytest
from hypothesis import given, settings

from rmd_baselines.metrics.bleu import corpus_bleu, mteval_bleu, nltk_sentence_bleu, sentence_bleu
from tests.metrics.strategies import corpora

# Copied from ../shared/metrics-vectors/zh_char_multiref.json (mteval-v14c full precision, 2 references).
MULTIREF_HYPS = ["建 议 您 去 医 院 做 个 胃 镜 检 查 。", "多 喝 水 ， 注 意 休 息 。", "您 好 ， 请 问 发 烧 几 天 了 ？"]
MULTIREF_REFS = [["建 议 做 个 胃 镜 检 查 ， 排 除 胃 炎 。", "建 议 您 去 医 院 做 胃 镜 。"],
                 ["注 意 休 息 ， 多 喝 温 水 ， 清 淡 饮 食 。", "多 喝 水 ， 多 休 息 。"],
                 ["发 烧 几 天 了 ？ 最 高 体 温 多 少 ？", "请 问 发 烧 几 天 了 ？"]]
MULTIREF_BLEU = [0.8556308546589387, 0.8192041744831914, 0.7763243751274196, 0.7119203313149328]


def _split(hyps, refs):
    return [h.split() for h in hyps], [[r.split() for r in rs] for rs in refs]


def test_embedded_multireference_mteval():
    hyps, refs = _split(MULTIREF_HYPS, MULTIREF_REFS)
    assert corpus_bleu(hyps, refs) == pytest.approx(MULTIREF_BLEU, abs=1e-12)


@pytest.mark.parametrize("matches, totals, ref_len, expected", [
    ([0, 0, 0, 0], [0, 0, 0, 0], 5, [0.0] * 4),  # nothing generated: BP = 0
    ([3, 0, 0, 0], [3, 2, 1, 0], 3, [1.0, math.sqrt(1 / 4), (1 / 4 * 1 / 4) ** (1 / 3), (1 / 4 * 1 / 4) ** (1 / 4)]),
])
def test_mteval_smoothing_and_empty_orders(matches, totals, ref_len, expected):
    # order 2: s=2 -> 1/(2·2); order 3: s=4 -> 1/(4·1); order 4 has no n-grams: log-precision 0
    assert mteval_bleu(matches, totals, ref_len) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("hyp, ref, order, smoothing, expected", [
    # Copied from zh_char_edge.json nltk_sentence_allrefs (NLTK 3.10.4).
    ("好 的", "好 的 ， 明 天 复 诊", 2, "none", 0.0820849986238988),
    ("好 的", "好 的 ， 明 天 复 诊", 4, "none", 1.2244357773142914e-155),
    ("好 的", "好 的 ， 明 天 复 诊", 4, "method1", 0.0),  # gpt2 script: shorter than 4 tokens
    ("好 好 好 好 好 好", "好 的 好 的", 4, "method1", 0.048549177170732344),
    ("好 好 好 好 好 好", "好 的 好 的", 4, "none", 1.384292958842266e-231),
    ("今 天 天 气 晴 朗", "建 议 复 查 血 常 规", 4, "none", 0.0),
])
def test_embedded_nltk_sentence_bleu(hyp, ref, order, smoothing, expected):
    assert sentence_bleu(hyp.split(), ref.split(), order, smoothing) == pytest.approx(expected, rel=1e-12, abs=1e-300)


@settings(max_examples=60, deadline=None)
@given(corpora(n_refs=2, allow_empty=True))
def test_equals_sacrebleu_tokenize_none(corpus):
    from sacrebleu.metrics import BLEU

    hyps, refs = corpus
    ours = corpus_bleu(hyps, refs)
    for order in (2, 4):
        if sum(max(0, len(h) - order + 1) for h in hyps) == 0 or not any(set(h) & set(rs[0] + rs[1]) for h, rs in zip(hyps, refs)):
            continue  # sacreBLEU departs from mteval here: see test_corners_follow_mteval
        scorer = BLEU(max_ngram_order=order, tokenize="none", effective_order=False)
        theirs = scorer.corpus_score([" ".join(h) for h in hyps],
                                     [[" ".join(rs[k]) for rs in refs] for k in range(2)]).score / 100
        assert ours[order - 1] == pytest.approx(theirs, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(corpora(allow_empty=False))
def test_sentence_bleu_equals_nltk(corpus):
    import warnings

    from nltk.translate.bleu_score import SmoothingFunction
    from nltk.translate.bleu_score import sentence_bleu as nltk_bleu

    for hyp, (ref,) in zip(*corpus):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = nltk_bleu([ref], hyp)
            expected1 = nltk_bleu([ref], hyp, smoothing_function=SmoothingFunction().method1)
        assert sentence_bleu(hyp, ref) == pytest.approx(expected, rel=1e-12, abs=1e-300)
        if len(hyp) >= 4 and len(ref) >= 4:
            assert sentence_bleu(hyp, ref, smoothing="method1") == pytest.approx(expected1, rel=1e-12)


@settings(max_examples=80, deadline=None)
@given(corpora(allow_empty=True))
def test_range_identity_and_permutation(corpus):
    hyps, refs = corpus
    scores = corpus_bleu(hyps, refs)
    assert all(0.0 <= s <= 1.0 + 1e-12 for s in scores)
    assert corpus_bleu(hyps[::-1], refs[::-1]) == pytest.approx(scores, abs=1e-12)
    identical = corpus_bleu([r[0] for r in refs], refs)
    assert identical == pytest.approx([1.0] * 4, abs=1e-12)


def test_nltk_sentence_bleu_zero_without_unigram_match():
    assert nltk_sentence_bleu([0, 0, 0, 0], 3, 3, 4) == 0.0


def test_corners_follow_mteval():
    # Two corners where sacreBLEU returns 0 and mteval-v14c's code does not; we follow mteval:
    # an order without hypothesis n-grams has log-precision 0 (metrics-spec.md section 2 "untested corner") ...
    assert corpus_bleu([["好"]], [[["好"]]])[1] == 1.0
    # ... and a corpus without a single match is smoothed like any other order (1/(2·2), then 1/(4·1)).
    assert corpus_bleu([["的", "的"]], [[["好"]]])[1] == pytest.approx(0.25)

"""The modified Kneser-Ney estimator: hand-computed probabilities, discounts, kenlm parity on held-out text with
OOV words (orders 2-6, char and word units), normalisation, tiny corpora, determinism and persistence."""

import math

import numpy as np
import pytest

from rmd_baselines.corpus import load_dialogues
from rmd_baselines.errors import DataError, ModelFormatError, UsageError
from rmd_baselines.persist import ModelReader, ModelWriter, model_writer
from rmd_baselines.respond.lm import (
    BOS_ID,
    EOS_ID,
    UNK_ID,
    KneserNeyLM,
    kenlm_model,
    modified_kneser_ney_discounts,
)
from rmd_baselines.tasks import build_generation_task
from rmd_baselines.text import get_tokenizer
from tests.conftest import SHARED_DATA

# Phrases of a made-up consultation; sentences are seeded random strings of them, so n-grams repeat the way
# real text does (all count-of-counts non-zero) while the corpus stays small.
PHRASES = ["您好", "请问", "孩子", "发烧", "三天了", "咳嗽", "有痰吗", "吃了退烧药", "体温", "三十八度五",
           "建议", "去医院", "查个血常规", "多喝水", "注意休息", "不用担心", "如果", "持续高烧", "需要", "复查",
           "谢谢医生", "好的", "拉肚子", "一天三次", "吃奶", "正常", "可以", "用药", "观察", "两天",
           "肺炎", "支原体", "雾化", "头孢", "过敏", "皮疹", "呕吐", "便秘", "湿疹", "鼻塞", "流鼻涕", "嗓子",
           "扁桃体", "化验单", "白细胞", "偏高", "病毒感染", "细菌感染", "抗生素", "布洛芬", "益生菌", "口服补液盐"]
# Zipf-like phrase frequencies, so some words are rare (count-of-counts n1..n4 are all non-zero)
WEIGHTS = 1.0 / np.arange(1, len(PHRASES) + 1)


def synthetic_texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    texts = []
    for _ in range(n):
        length = int(rng.integers(1, 9))
        texts.append("".join(PHRASES[i] for i in rng.choice(len(PHRASES), size=length, p=WEIGHTS / WEIGHTS.sum())))
    return texts


TRAIN_TEXTS = synthetic_texts(400, seed=1)
# Held-out text: new combinations plus characters and words never seen in training (OOV).
HELD_OUT_TEXTS = synthetic_texts(40, seed=2) + ["孩子昨晚吐了两次", "您好ABC请问", "医生我嗓子疼", "X光片"]


def kenlm_scores(model, tokens, bos=True, eos=True) -> np.ndarray:
    return np.array([score for score, _, _ in model.full_scores(" ".join(tokens), bos=bos, eos=eos)])


@pytest.fixture(scope="module")
def token_lists():
    return {unit: ([get_tokenizer(unit).tokenize(t) for t in TRAIN_TEXTS],
                   [get_tokenizer(unit).tokenize(t) for t in HELD_OUT_TEXTS]) for unit in ("char", "word")}


# ---------------------------------------------------------------------------------------------- hand-computed

# Corpus "a b" / "a" / "b a b", order 2. Every count-of-counts n3 is 0, so both orders use lmplz's fallback
# discounts D1=0.5, D2=1, D3+=1.5. Unigram continuation counts a=b=</s>=2 (denominator 6, gamma 3/6), so
# p(a)=p(b)=p(</s>)=1/6+0.5/4=7/24 and p(<unk>)=0.5/4=3/24 (uniform over the 4 words other than <s>).
# Context <s>: a:2, b:1 (gamma 1.5/3=0.5) -> p(a|<s>)=1/3+0.5*7/24=23/48, p(b|<s>)=1/6+7/48=15/48.
TINY = [["a", "b"], ["a"], ["b", "a", "b"]]


@pytest.mark.parametrize("tokens, probabilities", [
    (["a", "b"], [23 / 48, 23 / 48, 23 / 48]),
    (["b"], [15 / 48, 23 / 48]),
    (["a", "a"], [23 / 48, 0.5 * 7 / 24, 15 / 48]),
    (["x"], [0.5 * 3 / 24, 7 / 24]),  # OOV: p(<unk>|<s>), then </s> after an unlisted context
    ([], [0.5 * 7 / 24]),
])
def test_hand_computed_bigram_probabilities(tokens, probabilities):
    lm = KneserNeyLM(order=2).fit(TINY)
    assert lm.discount_fallback_.tolist() == [True, True]
    assert lm.count_of_counts_.tolist() == [[0, 3, 0, 0], [3, 3, 0, 0]]
    np.testing.assert_allclose(lm.score_tokens(tokens), np.log10(probabilities), atol=1e-12)


@pytest.mark.parametrize("ngram, adjusted", [
    (("<s>", "a"), 2),   # starts with <s>: raw count, although nothing precedes it
    (("<s>", "b"), 1),
    (("a", "b"), 2),     # continuation count: preceded by <s> (sentence 1) and b (sentence 3)
    (("b", "a"), 1),
    (("b", "</s>"), 1),  # preceded only by a
    (("a", "</s>"), 1),
    (("a",), 2), (("b",), 2), (("</s>",), 2), (("<s>",), 0), (("<unk>",), 0),
    (("<s>", "a", "b"), 1), (("b", "a", "b"), 1),  # highest order: raw counts
])
def test_adjusted_counts_follow_lmplz(ngram, adjusted):
    lm = KneserNeyLM(order=3).fit(TINY)
    order = len(ngram)
    words = lm.ngram_words(order)
    rows = {tuple(lm.vocab_[i] for i in row): r for r, row in enumerate(words.tolist())}
    assert lm.tables_[order - 1].adjusted_count[rows[ngram]] == adjusted


# Golden values from kenlm's own estimator: ``lmplz -o 3`` (closed-form discounts, no fallback needed) on these
# 20 lines, one character per token, gave these log10 probabilities and back-off weights (lmplz prints p(<s>) as 0,
# we write -99, which nothing ever reads: <s> is never predicted).
LMPLZ_CORPUS = ["请问谢谢医生吃了退烧药您好发烧三天了您好", "不用担心", "孩子", "咳嗽", "吃了退烧药不用担心扁桃体请问",
                "建议查个血常规请问您好", "请问", "请问支原体吃了退烧药三天了需要您好多喝水孩子", "建议便秘您好", "三十八度五",
                "不用担心注意休息", "您好一天三次建议", "拉肚子", "发烧持续高烧两天您好可以孩子",
                "您好查个血常规请问观察请问有痰吗孩子体温", "您好您好如果如果", "呕吐您好可以", "您好白细胞三十八度五体温偏高",
                "复查您好孩子您好您好", "您好用药您好请问三天了可以白细胞"]


@pytest.mark.parametrize("ngram, log10_prob, log10_backoff", [
    ("<unk>", -2.1319036, 0.0), ("<s>", None, -0.113881335), ("</s>", -1.059613, 0.0),
    ("烧", -1.9014547, -0.08922319), ("您", -1.1411703, -0.56427145), ("好", -2.014264, -0.08922319),
    ("孩", -1.5611014, -0.22184873),
    ("好 </s>", -1.063181, 0.0), ("子 </s>", -0.6825059, 0.0), ("<s> 请", -1.6749827, -0.06132381),
    ("<s> 您", -0.80803555, -0.2831726), ("了 您", -0.97773826, -0.10230505), ("您 好", -0.13672954, -0.17031367),
    ("<s> 孩", -1.5168202, -0.10230505),
    ("您 好 </s>", -0.8524013, None), ("孩 子 </s>", -0.59707177, None), ("<s> 请 问", -0.31510627, None),
    ("三 天 了", -0.7115016, None), ("<s> 您 好", -0.06586157, None), ("好 您 好", -0.05524632, None),
])
def test_same_model_as_kenlm_lmplz(ngram, log10_prob, log10_backoff):
    lm = KneserNeyLM(order=3).fit([list(text) for text in LMPLZ_CORPUS])
    assert not lm.discount_fallback_.any()
    words = tuple(ngram.split())
    rows = {tuple(lm.vocab_[i] for i in row): r for r, row in enumerate(lm.ngram_words(len(words)).tolist())}
    assert len(rows) == [78, 134, 155][len(words) - 1]  # lmplz's n-gram counts
    table = lm.tables_[len(words) - 1]
    if log10_prob is not None:
        assert table.log10_prob[rows[words]] == pytest.approx(log10_prob, abs=1e-6)
    if log10_backoff is not None:
        assert table.log10_backoff[rows[words]] == pytest.approx(log10_backoff, abs=1e-6)


@pytest.mark.parametrize("count_of_counts, discounts, fallback", [
    ((10, 5, 3, 2), (0.5, 1.1, 3 - 4 / 3), False),
    ((4, 1, 1, 0), (1 - 1 / 3, 0.0, 3.0), False),     # D2 = 0 and D3+ = 3 are still in range
    ((0, 1, 1, 1), (0.5, 1.0, 1.5), True),            # no singletons
    ((3, 0, 1, 1), (0.5, 1.0, 1.5), True),
    ((3, 3, 0, 0), (0.5, 1.0, 1.5), True),
    ((1, 1, 10, 1), (0.5, 1.0, 1.5), True),           # D2 = -8: out of range
])
def test_closed_form_discounts_and_fallback(count_of_counts, discounts, fallback):
    got, used_fallback = modified_kneser_ney_discounts(count_of_counts)
    assert used_fallback is fallback
    np.testing.assert_allclose(got, discounts, atol=1e-12)


# ---------------------------------------------------------------------------------------------- kenlm parity


@pytest.mark.parametrize("unit", ["char", "word"])
@pytest.mark.parametrize("order", [2, 3, 4, 5, 6])
def test_kenlm_scores_our_arpa_like_we_do(token_lists, tmp_path, order, unit):
    train, held_out = token_lists[unit]
    lm = KneserNeyLM(order=order, unit=unit).fit(train)
    # the closed-form discounts are what is being tested here (the few word unigrams of this small corpus give
    # D2 < 0, so that order falls back like lmplz --discount_fallback)
    assert not lm.discount_fallback_[1:].any() and (unit == "word" or not lm.discount_fallback_[0])
    oov = sum(token not in lm.vocab_ for tokens in held_out for token in tokens)
    assert oov >= 3
    path = tmp_path / "lm.arpa"
    lm.write_arpa(path)
    model = kenlm_model(path)
    assert model.order == order
    for tokens in held_out + train[:20]:
        ours = lm.score_tokens(tokens)
        np.testing.assert_allclose(ours, kenlm_scores(model, tokens), atol=1e-4, rtol=0)
        np.testing.assert_allclose(lm.score_tokens(tokens, bos=False, eos=False),
                                   kenlm_scores(model, tokens, bos=False, eos=False), atol=1e-4, rtol=0)


@pytest.mark.parametrize("order", [2, 4, 6])
def test_kenlm_parity_on_real_responses(tmp_path, order):
    path = SHARED_DATA / "covid_zh" / "dialogues.jsonl"
    if not path.is_file():
        pytest.skip(f"shared corpus covid_zh not found at {path}")
    data = build_generation_task(load_dialogues(path)[0])
    tokenizer = get_tokenizer("char")
    lm = KneserNeyLM(order=order).fit(tokenizer.tokenize(i.response) for i in data.train[:800])
    lm.write_arpa(tmp_path / "lm.arpa")
    model = kenlm_model(tmp_path / "lm.arpa")
    held_out = [tokenizer.tokenize(i.response) for i in data.test[:150]]
    assert sum(t not in lm.vocab_ for tokens in held_out for t in tokens) > 0
    worst = max(np.abs(lm.score_tokens(t) - kenlm_scores(model, t)).max() for t in held_out)
    assert worst < 1e-4


def test_oov_is_scored_as_unk(token_lists, tmp_path):
    train, _ = token_lists["char"]
    lm = KneserNeyLM(order=3).fit(train)
    np.testing.assert_array_equal(lm.score_tokens(["孩", "Q", "子"]), lm.score_tokens(["孩", "<unk>", "子"]))
    gamma = lm.tables_[0]  # p(<unk>) is the unigram interpolation mass spread uniformly over |V|-1 words
    counts = gamma.adjusted_count
    discounts = np.concatenate([[0.0], lm.discounts_[0]])[np.minimum(counts, 3)]
    expected = discounts.sum() / counts.sum() / (len(lm.vocab_) - 1)
    assert lm.tables_[0].log10_prob[UNK_ID] == pytest.approx(math.log10(expected), abs=1e-12)
    lm.write_arpa(tmp_path / "lm.arpa")
    np.testing.assert_allclose(kenlm_scores(kenlm_model(tmp_path / "lm.arpa"), ["孩", "Q", "子"]),
                               lm.score_tokens(["孩", "Q", "子"]), atol=1e-4)


# ---------------------------------------------------------------------------------------------- distributions


@pytest.mark.parametrize("unit", ["char", "word"])
@pytest.mark.parametrize("order", [2, 5])
def test_next_distribution_sums_to_one_and_matches_scores(token_lists, unit, order):
    train, held_out = token_lists[unit]
    lm = KneserNeyLM(order=order, unit=unit).fit(train)
    rng = np.random.default_rng(0)
    histories = [[], ["<s>"], ["未见过的词"], ["<s>", "未见过的词"]]
    for tokens in (held_out + train)[:40]:
        cut = int(rng.integers(0, len(tokens) + 1))
        histories.append(["<s>", *tokens[:cut]])
        histories.append(tokens[:cut])
    for history in histories:
        distribution = lm.next_distribution(history)
        assert distribution.shape == (len(lm.vocab_),)
        assert abs(distribution.sum() - 1.0) < 1e-6
        assert distribution[BOS_ID] == 0.0 and (np.delete(distribution, BOS_ID) > 0).all()
        for word in rng.choice(np.delete(np.arange(len(lm.vocab_)), BOS_ID), size=8, replace=False).tolist():
            scored = lm.continuation_log10probs(history, [lm.vocab_[word]], eos=False, bos=False)
            assert math.log10(distribution[word]) == pytest.approx(scored[0], abs=1e-9)


def test_continuation_log10probs_matches_whole_sentence_scores(token_lists):
    train, held_out = token_lists["char"]
    lm = KneserNeyLM(order=4).fit(train)
    tokens = held_out[0]
    whole = lm.score_tokens(tokens)
    np.testing.assert_allclose(lm.continuation_log10probs(tokens[:3], tokens[3:], bos=True), whole[3:])
    np.testing.assert_allclose(lm.continuation_log10probs(["<s>", *tokens[:3]], tokens[3:]), whole[3:])
    np.testing.assert_allclose(lm.continuation_log10probs([], tokens), whole)  # empty prefix: starts with <s>
    assert len(lm.continuation_log10probs(tokens[:2], tokens[2:], eos=False)) == len(tokens) - 2


# ---------------------------------------------------------------------------------------------- tiny corpora


@pytest.mark.parametrize("sequences", [
    [[]],                         # only <s> </s>
    [["a"]],
    [["a"]] * 5,
    [["a", "b", "c", "d", "e", "f", "g"]],
    [["a", "b"], ["a", "b"], ["a", "b"]],
    [["甲"], [], ["乙", "甲"]],
])
@pytest.mark.parametrize("order", [2, 6])
def test_tiny_corpora_fall_back_and_still_agree_with_kenlm(tmp_path, sequences, order):
    lm = KneserNeyLM(order=order).fit(sequences)
    assert lm.discount_fallback_.any()
    lm.write_arpa(tmp_path / "tiny.arpa")
    model = kenlm_model(tmp_path / "tiny.arpa")
    for tokens in [*sequences, ["a", "zz"], []]:
        np.testing.assert_allclose(lm.score_tokens(tokens), kenlm_scores(model, tokens), atol=1e-4)
    for history in ([], ["<s>"], ["<s>", "a"], ["a", "b", "c"]):
        assert abs(lm.next_distribution(history).sum() - 1.0) < 1e-6


# ---------------------------------------------------------------------------------------------- determinism


def test_arpa_bytes_are_deterministic_and_independent_of_sequence_order(token_lists, tmp_path):
    train, _ = token_lists["word"]
    KneserNeyLM(order=4, unit="word").fit(train).write_arpa(tmp_path / "a.arpa")
    KneserNeyLM(order=4, unit="word").fit(train).write_arpa(tmp_path / "b.arpa")
    KneserNeyLM(order=4, unit="word").fit(train[::-1]).write_arpa(tmp_path / "c.arpa")
    first = (tmp_path / "a.arpa").read_bytes()
    assert first == (tmp_path / "b.arpa").read_bytes() == (tmp_path / "c.arpa").read_bytes()
    assert first.startswith(b"\n\\data\\\nngram 1=") and first.endswith(b"\n\\end\\\n")


# ---------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("params", [{"order": 1}, {"order": 7}, {"order": "5"}, {"order": True},
                                    {"unit": "bpe"}])
def test_bad_hyper_parameters_are_usage_errors(params):
    with pytest.raises(UsageError):
        KneserNeyLM(**params).fit([["a"]])


@pytest.mark.parametrize("sequences, message", [
    ([], "no training sequences"),
    ([["a"], ["b c"]], "sequence 1: token 0: 'b c' contains whitespace"),
    ([["<s>", "a"]], "sequence 0: token 0: '<s>' is reserved"),
    ([["a", ""]], "sequence 0: token 1: expected a non-empty string"),
    ([["a", 3]], "sequence 0: token 1: expected a non-empty string"),
    ([["a"], ["b", ["c"]]], r"sequence 1: token 1: expected a non-empty string, got \['c'\]"),
])
def test_bad_training_data_is_a_data_error(sequences, message):
    with pytest.raises(DataError, match=message):
        KneserNeyLM(order=3).fit(sequences)


def test_unfitted_model_is_a_usage_error():
    with pytest.raises(UsageError, match="not fitted"):
        KneserNeyLM().score_tokens(["a"])


# ---------------------------------------------------------------------------------------------- persistence


def test_save_and_load_round_trip(token_lists, tmp_path):
    train, held_out = token_lists["char"]
    lm = KneserNeyLM(order=5).fit(train)
    with model_writer(tmp_path / "model", "respond") as writer:
        lm.save(writer, prefix="lm")
    reader = ModelReader(tmp_path / "model", kinds="respond")
    assert sorted(reader.files) == ["lm.arpa", "lm.json", "lm.npz"]
    loaded = KneserNeyLM.load(reader, prefix="lm")
    assert loaded.vocab_ == lm.vocab_ and loaded.order == 5 and loaded.unit == "char"
    np.testing.assert_array_equal(loaded.discounts_, lm.discounts_)
    for tokens in held_out:
        np.testing.assert_array_equal(loaded.score_tokens(tokens), lm.score_tokens(tokens))
    np.testing.assert_array_equal(loaded.next_distribution(["<s>", "孩"]), lm.next_distribution(["<s>", "孩"]))
    model = kenlm_model(reader.path("lm.arpa"))
    np.testing.assert_allclose(kenlm_scores(model, held_out[0]), lm.score_tokens(held_out[0]), atol=1e-4)


def _save_and_tamper(tmp_path, lm, tamper):
    """Save through a ModelWriter but change a file before the manifest checksums are taken."""
    writer = ModelWriter(tmp_path / "model", "respond")
    lm.save(writer)
    tamper(writer)
    writer.commit()
    return ModelReader(tmp_path / "model")


def test_loading_an_arpa_file_that_does_not_match_the_tables_fails(tmp_path):
    lm = KneserNeyLM(order=3).fit(TINY)
    other = KneserNeyLM(order=3).fit([["a", "b", "c"]])
    reader = _save_and_tamper(tmp_path, lm, lambda w: other.write_arpa(w.path("lm.arpa")))
    with pytest.raises(ModelFormatError, match=r"lm\.arpa: its header counts .* do not match"):
        KneserNeyLM.load(reader)


def test_loading_tables_with_a_missing_array_fails(tmp_path):
    lm = KneserNeyLM(order=3).fit(TINY)

    def drop_array(writer):
        arrays = dict(np.load(writer.path("lm.npz")))
        del arrays["log10_prob2"]
        writer.write_arrays("lm.npz", **arrays)

    with pytest.raises(ModelFormatError, match="missing array 'log10_prob2'"):
        KneserNeyLM.load(_save_and_tamper(tmp_path, lm, drop_array))


def test_loading_a_description_of_another_format_fails(tmp_path):
    lm = KneserNeyLM(order=3).fit(TINY)
    reader = _save_and_tamper(tmp_path, lm, lambda w: w.write_json("lm.json", {"format": "something-else"}))
    with pytest.raises(ModelFormatError, match="not a Kneser-Ney language model"):
        KneserNeyLM.load(reader)


def test_eos_and_unk_are_never_contexts():
    lm = KneserNeyLM(order=3).fit(TINY)
    assert lm.tables_[0].log10_backoff[EOS_ID] == 0.0 and lm.tables_[0].log10_backoff[UNK_ID] == 0.0


# ---------------------------------------------------------------------------------------------- count pruning


def raw_counts(sequences, order):
    """Raw counts of every k-gram inside ``<s> tokens </s>`` (windows never reach before <s>), by brute force."""
    from collections import Counter

    counts = [Counter() for _ in range(order)]
    for tokens in sequences:
        padded = ["<s>", *tokens, "</s>"]
        for k in range(1, order + 1):
            for start in range(len(padded) - k + 1):
                if k == 1 or padded[start + k - 1] != "<s>":
                    counts[k - 1][tuple(padded[start:start + k])] += 1
    return counts


@pytest.mark.parametrize("prune, expected", [
    (None, None), ([0], None), ([0, 0, 0], None), ([0, 0, 1], (0, 0, 1, 1, 1)), ((0, 1), (0, 1, 1, 1, 1)),
    ([0, 1, 2, 2, 3], (0, 1, 2, 2, 3)), (np.array([0, 1]), (0, 1, 1, 1, 1)),
])
def test_prune_thresholds_follow_lmplz_syntax(prune, expected):
    assert KneserNeyLM(order=5, prune=prune).prune_thresholds() == expected


@pytest.mark.parametrize("prune, message", [
    ([1], "unigrams cannot be pruned"), ([0, 2, 1], "must not decrease"), ([0, -1], "non-negative"),
    ([0, True], "non-negative integers"), ([0, 1.5], "non-negative integers"), ("0 1", "list of count"),
    ([], "non-negative integers"), ([0, 0, 0, 0, 0, 0], "6 thresholds for an order-5 model"), (3, "list of count"),
])
def test_bad_prune_thresholds_are_usage_errors(prune, message):
    with pytest.raises(UsageError, match=message):
        KneserNeyLM(order=5, prune=prune).fit([["a"]])


@pytest.mark.parametrize("text, expected", [("0 0 1", [0, 0, 1]), ("0,1", [0, 1]), (" 0  2 ", [0, 2])])
def test_parse_prune(text, expected):
    from rmd_baselines.respond.lm.kneser_ney import parse_prune

    assert parse_prune(text) == expected


@pytest.mark.parametrize("text", ["", "a b", "0 1.5", "0;1"])
def test_parse_prune_refuses_what_is_not_thresholds(text):
    from rmd_baselines.respond.lm.kneser_ney import parse_prune

    with pytest.raises(UsageError, match="--prune expects"):
        parse_prune(text)


@pytest.mark.parametrize("prune", [[0, 1], [0, 0, 1], [0, 1, 2, 3]])
def test_pruned_model_keeps_exactly_the_frequent_ngrams_and_stays_normalised(token_lists, tmp_path, prune):
    train, held_out = token_lists["char"]
    order = 4
    full = KneserNeyLM(order=order).fit(train)
    lm = KneserNeyLM(order=order, prune=prune).fit(train)
    thresholds = lm.prune_thresholds()
    counts = raw_counts(train, order)
    for k in range(1, order + 1):
        listed = {tuple(lm.vocab_[i] for i in row) for row in lm.ngram_words(k).tolist()}
        expected = {g for g, c in counts[k - 1].items() if k == 1 or c > thresholds[k - 1]}
        if k == 1:
            expected = set((w,) for w in lm.vocab_)
        assert listed == expected, k
        assert len(lm.tables_[k - 1]) < len(full.tables_[k - 1]) or thresholds[k - 1] == 0 or k == 1
    # the statistics are the unpruned model's
    np.testing.assert_array_equal(lm.discounts_, full.discounts_)
    np.testing.assert_array_equal(lm.count_of_counts_, full.count_of_counts_)
    # every distribution still sums to one and matches the sentence scores
    for tokens in held_out[:15] + train[:15]:
        history = ["<s>"]
        scores = lm.score_tokens(tokens)
        for position, token in enumerate([*tokens, "</s>"]):
            distribution = lm.next_distribution(history)
            assert distribution.sum() == pytest.approx(1.0, abs=1e-9)
            index = lm._index.get(token, UNK_ID)
            assert math.log10(distribution[index]) == pytest.approx(scores[position], abs=1e-9)
            history.append(token)
    # kenlm reads the pruned file (header comments included) and scores it like we do
    lm.write_arpa(tmp_path / "pruned.arpa")
    text = (tmp_path / "pruned.arpa").read_text(encoding="utf-8")
    assert text.startswith("# rmd_baselines ") and "pruned: prune " + " ".join(map(str, thresholds)) in text
    model = kenlm_model(tmp_path / "pruned.arpa")
    for tokens in held_out + train[:20]:
        np.testing.assert_allclose(kenlm_scores(model, tokens), lm.score_tokens(tokens), atol=1e-4, rtol=0)
    # chunked counting prunes the same way
    chunked = KneserNeyLM(order=order, prune=prune, counting="chunked", chunk_tokens=500).fit(iter(train))
    for a, b in zip(lm.tables_, chunked.tables_):
        np.testing.assert_array_equal(a.log10_prob, b.log10_prob)
        np.testing.assert_array_equal(a.log10_backoff, b.log10_backoff)


def test_pruned_model_round_trips_with_its_thresholds(token_lists, tmp_path):
    train, held_out = token_lists["char"]
    lm = KneserNeyLM(order=4, prune=[0, 1, 2]).fit(train)
    with model_writer(tmp_path / "model", "respond") as writer:
        lm.save(writer, prefix="lm")
    reader = ModelReader(tmp_path / "model", kinds="respond")
    assert reader.read_json("lm.json")["prune"] == [0, 1, 2, 2]
    loaded = KneserNeyLM.load(reader, prefix="lm")
    assert loaded.prune_thresholds() == (0, 1, 2, 2) and "prune:0-1-2-2" in loaded.signature
    for tokens in held_out:
        np.testing.assert_array_equal(loaded.score_tokens(tokens), lm.score_tokens(tokens))
    unpruned = KneserNeyLM(order=4).fit(train)
    assert "prune" not in unpruned.signature and unpruned.arpa_comments() == []

"""RetrievalResponder: nearest-context answers, recency weights, candidates (dedupe, exact flags, departments,
fallback), word units with real jieba, batch independence, persistence and bad input."""

import numpy as np
import pytest

from rmd_baselines.errors import DataError, ModelFormatError, UsageError
from rmd_baselines.persist import ModelReader, model_writer
from rmd_baselines.respond.retrieval import RetrievalResponder, context_key, context_terms
from rmd_baselines.text import get_tokenizer

from .dialogue_fixtures import instance

TRAIN = [
    instance("孩子发烧两天了", "体温多少度？", "儿科", "a", 1),
    instance("孩子发烧两天了\n体温多少度？\n三十九度", "可以吃布洛芬退烧。", "儿科", "a", 3),
    instance("我咳嗽有痰一周了", "痰是什么颜色的？", "呼吸科", "b", 1),
    instance("宝宝拉肚子一天", "可以吃蒙脱石散。", "儿科", "c", 1),
    instance("宝宝拉肚子一天了", "可以吃蒙脱石散。", "儿科", "d", 1),
    instance("胸闷气短怎么办", "建议做个胸片。", "呼吸科", "e", 1),
    instance("谢谢医生", "不客气", None, "f", 1),
    instance("好的谢谢", "不客气 ", None, "g", 1),
]


@pytest.fixture(scope="module")
def fitted():
    return RetrievalResponder().fit(TRAIN)


@pytest.mark.parametrize("recent,decay,expected", [
    (2.0, 0.5, {"乙": 2.0, "甲": 1.0, "丙": 0.5}),
    (1.0, 1.0, {"乙": 1.0, "甲": 1.0, "丙": 1.0}),
    (3.0, 0.1, {"乙": 3.0, "甲": 0.30000000000000004, "丙": 0.030000000000000006}),
])
def test_recent_turns_weigh_more(recent, decay, expected):
    terms, weights = context_terms("丙\n甲\n乙", get_tokenizer("char").tokenize, 1, recent, decay)
    assert dict(zip(terms, weights)) == pytest.approx(expected)


def test_bigrams_stay_within_a_turn():
    terms, _ = context_terms("发烧\n咳嗽", get_tokenizer("char").tokenize, 2, 2.0, 0.5)
    assert "咳 嗽" in terms and "发 烧" in terms and "烧 咳" not in terms


@pytest.mark.parametrize("context,response", [
    ("孩子发烧两天了", "体温多少度？"),
    ("我咳嗽有痰", "痰是什么颜色的？"),
    ("胸闷气短", "建议做个胸片。"),
])
def test_answers_with_the_response_of_the_most_similar_context(fitted, context, response):
    assert fitted.respond(context).response == response


def test_candidates_are_distinct_ranked_and_flag_verbatim_contexts(fitted):
    reply = fitted.respond("宝宝拉肚子一天", k=8)
    texts = [text for text, _ in reply.candidates]
    assert texts[0] == "可以吃蒙脱石散。" and len(texts) == len(set(texts))
    scores = [score for _, score in reply.candidates]
    assert scores == sorted(scores, reverse=True)
    found = fitted.retrieve(["宝宝拉肚子一天", "宝宝拉肚子"], 3)
    assert found[0][0].exact and not found[1][0].exact


def test_responses_differing_only_in_whitespace_are_one(fitted):
    assert fitted.responses_.count("不客气") == 1 and "不客气 " not in fitted.responses_
    assert fitted.response_count_[fitted.responses_.index("不客气")] == 2


def test_without_dedupe_a_response_can_repeat():
    responder = RetrievalResponder(dedupe=False).fit(TRAIN)
    texts = [text for text, _ in responder.respond("宝宝拉肚子一天", k=2).candidates]
    assert texts == ["可以吃蒙脱石散。", "可以吃蒙脱石散。"]


def test_same_department_restricts_candidates_and_falls_back_to_all():
    responder = RetrievalResponder(same_department=True).fit(TRAIN)
    assert responder.respond("孩子咳嗽有痰", department="儿科").response != "痰是什么颜色的？"
    assert responder.respond("孩子咳嗽有痰", department="呼吸科").response == "痰是什么颜色的？"
    assert responder.respond("孩子咳嗽有痰", department="皮肤科").response == "痰是什么颜色的？"
    assert responder.respond("胸闷气短", department="儿科").response  # nothing similar there: all contexts


def test_a_context_sharing_nothing_gets_the_most_frequent_response(fitted):
    reply = fitted.respond("zzz")  # two responses answer two contexts each: the first seen wins
    assert reply.response == "可以吃蒙脱石散。" and reply.candidates == [("可以吃蒙脱石散。", 0.0)]


def test_word_units_use_jieba():
    responder = RetrievalResponder(unit="word").fit(TRAIN)
    assert responder.respond("宝宝拉肚子怎么办").response == "可以吃蒙脱石散。"
    assert "拉肚子" in responder.index_.vocabulary_


def test_a_batch_answers_like_single_contexts(fitted):
    contexts = ["孩子发烧", "咳嗽有痰", "谢谢", "胸闷"]
    batch = fitted.respond_many(contexts, k=3)
    assert [r.candidates for r in batch] == [fitted.respond(c, k=3).candidates for c in contexts]


def test_context_key_ignores_whitespace():
    assert context_key("发烧 两天\n了") == context_key("发烧两天了") != context_key("发烧三天了")


def test_save_and_load_answer_identically(tmp_path):
    responder = RetrievalResponder(k1=1.2, same_department=True, lm_order=3).fit(TRAIN)
    with model_writer(tmp_path / "m", "respond") as writer:
        responder.save(writer)
    loaded = RetrievalResponder.load(ModelReader(tmp_path / "m"))
    assert loaded.get_params() == responder.get_params()
    contexts = ["孩子发烧", "咳嗽有痰", "谢谢"]
    assert [r.candidates for r in loaded.respond_many(contexts, 3, ["儿科", None, "呼吸科"])] == \
        [r.candidates for r in responder.respond_many(contexts, 3, ["儿科", None, "呼吸科"])]
    nll = loaded.response_nll(["孩子发烧"], ["多少度"])
    assert len(nll[0]) == 4 and np.all(nll[0] > 0)  # three characters and the end of the response


def test_saved_arrays_that_do_not_match_are_a_model_format_error(tmp_path):
    responder = RetrievalResponder().fit(TRAIN)
    responder.doc_response_ = responder.doc_response_[:-1]
    with model_writer(tmp_path / "m", "respond") as writer:
        responder.save(writer)
    with pytest.raises(ModelFormatError, match="do not match"):
        RetrievalResponder.load(ModelReader(tmp_path / "m"))


def test_bad_input(fitted):
    with pytest.raises(DataError, match="empty context"):
        fitted.respond("  ")
    with pytest.raises(UsageError, match="positive integer"):
        fitted.respond("发烧", k=0)
    with pytest.raises(UsageError, match="not fitted"):
        RetrievalResponder().respond("发烧")
    with pytest.raises(DataError, match="no training instances"):
        RetrievalResponder().fit([])
    with pytest.raises(UsageError, match="max_ngram"):
        RetrievalResponder(max_ngram=3).fit(TRAIN)
    with pytest.raises(UsageError, match="no language model"):
        fitted.response_nll(["发烧"], ["多少度"])


@pytest.mark.parametrize("max_ngram,recent,decay", [(2, 2.0, 0.5), (1, 1.0, 1.0), (2, 3.0, 0.1)])
def test_the_numpy_char_terms_equal_context_terms(max_ngram, recent, decay):
    from collections import Counter

    from rmd_baselines.respond.retrieval import char_term_batch

    contexts = [i.context for i in TRAIN] + ["", "\n", "a b\n\n c\u3000d\n", "CT 123\r\n好的 \t谢谢", "𠀀字\n𠀀 字"]
    batch = char_term_batch(contexts, max_ngram, recent, decay)
    tokenize = get_tokenizer("char").tokenize
    assert batch.n_docs == len(contexts)
    for row, context in enumerate(contexts):
        expected, found = Counter(), Counter()
        for term, weight in zip(*context_terms(context, tokenize, max_ngram, recent, decay)):
            expected[term] += weight
        mine = batch.rows == row
        for term, weight in zip(batch.spell(batch.keys[mine]), batch.values[mine].tolist()):
            found[term] += weight
        assert found == expected, context


def test_char_and_word_style_indexes_answer_alike():
    """The fast char path (numpy keys) builds the same index as token lists would."""
    from rmd_baselines.respond.bm25 import BM25Index

    responder = RetrievalResponder()
    contexts = [i.context for i in TRAIN]
    fast = BM25Index().fit_batches(responder.term_batches(contexts))
    slow = BM25Index().fit(*responder.terms(contexts))
    assert sorted(fast.vocabulary_) == sorted(slow.vocabulary_)
    queries = responder.terms(["孩子发烧三十九度", "宝宝拉肚子", "谢谢"])
    fast_docs, fast_scores = fast.top_k(*queries[:1], 5, queries[1])
    slow_docs, slow_scores = slow.top_k(*queries[:1], 5, queries[1])
    np.testing.assert_array_equal(fast_docs, slow_docs)
    np.testing.assert_allclose(fast_scores, slow_scores, rtol=1e-12)


def test_a_version_1_retrieval_model_is_refused_with_one_line(tmp_path):
    import json

    responder = RetrievalResponder().fit(TRAIN)
    with model_writer(tmp_path / "m", "respond") as writer:
        responder.save(writer)
        path = writer.path("retrieval.json")
        meta = json.load(open(path, encoding="utf-8"))
        meta["format_version"] = 1
        json.dump(meta, open(path, "w", encoding="utf-8"))
    with pytest.raises(ModelFormatError, match="format version 1 .* no longer read; train the model again") as caught:
        RetrievalResponder.load(ModelReader(tmp_path / "m"))
    assert "\n" not in str(caught.value)


def test_the_saved_index_is_memory_mapped_from_the_model_directory(tmp_path):
    responder = RetrievalResponder(prefilter_budget=5).fit(TRAIN)
    with model_writer(tmp_path / "m", "respond") as writer:
        responder.save(writer)
    loaded = RetrievalResponder.load(ModelReader(tmp_path / "m"))
    assert loaded.prefilter_budget == 5 and loaded.index_.directory_ == str(tmp_path / "m")
    assert isinstance(loaded.index_._array("fwd_weights").base, np.memmap)
    assert (tmp_path / "m" / "retrieval_bm25_inv_docs.npy").is_file()

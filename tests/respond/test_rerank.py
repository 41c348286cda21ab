"""The rerank responder: its features, exact-match-first, weights tuned on a validation split (deterministically) or
defaulted, batch independence, persistence and bad input (the tuning machinery: test_tuning.py)."""

import numpy as np
import pytest

from rmd_baselines.corpus import load_dialogues
from rmd_baselines.errors import DataError, ModelFormatError, UsageError
from rmd_baselines.persist import ModelReader, model_writer
from rmd_baselines.respond.rerank import DEFAULT_WEIGHTS, FEATURES, RerankResponder
from rmd_baselines.respond.retrieval import RetrievalResponder
from rmd_baselines.tasks import GenerationSettings, build_generation_task

from .dialogue_fixtures import instance, write_tiny_corpus


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = write_tiny_corpus(tmp_path_factory.mktemp("corpus") / "tiny.jsonl", n_per_department=30)
    dialogues, _ = load_dialogues(path)
    return build_generation_task(dialogues, GenerationSettings())


def test_features_are_what_the_docstring_says(tiny):
    responder = RerankResponder(lm_order=3, weights={}).fit(tiny.train)
    contexts = [tiny.test[0].context]
    candidates = responder.retriever_.retrieve(contexts, 5)
    features, mask, forced = responder._features(contexts, candidates)
    row = features[0, :len(candidates[0])]
    assert row[0, FEATURES.index("retrieval")] == 1.0 and np.all(row[:, 0] <= 1.0)
    texts = [responder.retriever_.responses_[c.response] for c in candidates[0]]
    lm = [s.mean() for s in responder.ngram_.response_log10probs(contexts * len(texts), texts)]
    np.testing.assert_allclose(row[:, FEATURES.index("lm")], lm)
    unconditional = [s.mean() for s in responder.ngram_.response_log10probs([""] * len(texts), texts)]
    np.testing.assert_allclose(row[:, FEATURES.index("lm_gain")], np.array(lm) - unconditional)
    np.testing.assert_allclose(row[:, FEATURES.index("length")], np.log1p([len(t.replace(" ", "")) for t in texts]))
    assert np.all((row[:, FEATURES.index("consensus")] >= 0) & (row[:, FEATURES.index("consensus")] <= 1))
    assert mask[0, :len(texts)].all()


def test_weights_are_tuned_on_the_valid_split_deterministically(tiny):
    first = RerankResponder(lm_order=3, min_valid=5).fit(tiny.train, tiny.valid)
    second = RerankResponder(lm_order=3, min_valid=5).fit(tiny.train, tiny.valid)
    assert first.tuning_ is not None and first.tuning_["valid_instances"] == len(tiny.valid)
    assert first.weights_ == second.weights_ and first.weights_["retrieval"] == 1.0
    contexts = [i.context for i in tiny.test]
    assert [r.candidates for r in first.respond_many(contexts, 3)] == \
        [r.candidates for r in second.respond_many(contexts, 3)]


def test_without_enough_validation_the_default_weights_are_used(tiny):
    responder = RerankResponder(lm_order=3).fit(tiny.train, tiny.valid[:3])
    assert responder.weights_ == DEFAULT_WEIGHTS and responder.tuning_ is None


def test_an_exact_context_match_goes_first():
    train = [instance(context, response, dialogue_id=str(n)) for n, (context, response) in enumerate(
        [("孩子发烧两天了", "体温多少？"), ("孩子发烧两天", "不客气不客气"), ("孩子发烧三天了", "不客气不客气"),
         ("孩子发烧四天了", "不客气不客气")])]
    weights = {"consensus": 0.0, "frequency": 5.0}  # would prefer the frequent answer
    trusting = RerankResponder(lm_order=3, weights=weights).fit(train)
    assert trusting.respond("孩子发烧两天了").response == "体温多少？"
    assert RerankResponder(lm_order=3, weights=weights, exact_match_first=False).fit(train).respond(
        "孩子发烧两天了").response == "不客气不客气"


def test_candidates_are_sorted_by_score_and_batches_answer_like_single_contexts(tiny):
    responder = RerankResponder(lm_order=3, weights=DEFAULT_WEIGHTS, exact_match_first=False).fit(tiny.train)
    contexts = [i.context for i in tiny.test]
    batch = responder.respond_many(contexts, 4)
    for context, reply in zip(contexts, batch):
        scores = [s for _, s in reply.candidates]
        assert scores == sorted(scores, reverse=True) and reply.response == reply.candidates[0][0]
        assert responder.respond(context, 4).candidates == reply.candidates


def test_save_and_load_answer_identically(tiny, tmp_path):
    responder = RerankResponder(retriever=RetrievalResponder(k1=1.2), lm_order=3, min_valid=5).fit(
        tiny.train, tiny.valid)
    with model_writer(tmp_path / "m", "respond") as writer:
        responder.save(writer)
    loaded = RerankResponder.load(ModelReader(tmp_path / "m"))
    assert loaded.weights_ == responder.weights_ and loaded.tuning_ == responder.tuning_
    assert loaded.retriever_.k1 == 1.2 and loaded.retriever.k1 == 1.2
    contexts = [i.context for i in tiny.test]
    assert [r.candidates for r in loaded.respond_many(contexts, 3)] == \
        [r.candidates for r in responder.respond_many(contexts, 3)]


def test_a_saved_model_with_unknown_weights_is_a_model_format_error(tiny, tmp_path):
    responder = RerankResponder(lm_order=3, weights={}).fit(tiny.train)
    responder.weights_ = {**responder.weights_, "charm": 1.0}
    with model_writer(tmp_path / "m", "respond") as writer:
        responder.save(writer)
    with pytest.raises(ModelFormatError, match="charm"):
        RerankResponder.load(ModelReader(tmp_path / "m"))


@pytest.mark.parametrize("params,message", [
    ({"weights": {"charm": 1.0}}, "unknown rerank feature"),
    ({"weights": {"lm": float("nan")}}, "finite"),
    ({"n_candidates": 0}, "n_candidates"),
    ({"lm_order": 7}, "lm_order"),
    ({"dist_target": -1}, "dist_target"),
    ({"retriever": "bm25"}, "RetrievalResponder"),
])
def test_bad_parameters_are_usage_errors(tiny, params, message):
    with pytest.raises(UsageError, match=message):
        RerankResponder(**params).fit(tiny.train)


def test_bad_calls(tiny):
    with pytest.raises(UsageError, match="not fitted"):
        RerankResponder().respond("发烧")
    with pytest.raises(DataError, match="no training instances"):
        RerankResponder().fit([])
    responder = RerankResponder(lm_order=3, weights={}).fit(tiny.train)
    with pytest.raises(DataError, match="empty context"):
        responder.respond_many(["发烧", ""])

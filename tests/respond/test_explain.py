"""Exact explanations of responses on responders trained on the bundled sample. Retrieval: BM25 term
contributions add up to the score; the score is recomputed from the BM25 formula over the retrieved training
context; the dialogue id is the real one. n-gram and language model: the per-token rows add up to kenlm's
sentence score, with kenlm's n-gram orders. Rerank: the components add up to the responder's own scores."""

import dataclasses
import math
from collections import Counter

import numpy as np
import pytest

from rmd_baselines.errors import DataError
from rmd_baselines.respond.explain import ResponseExplainer, format_lm, format_response
from rmd_baselines.respond.lm import kenlm_model
from rmd_baselines.respond.model import load_responder, parse_context

from ..conftest import SAMPLE
from ..sample_models import generation_data, responder_dir

pytestmark = pytest.mark.skipif(not SAMPLE.is_file(), reason=f"bundled sample {SAMPLE} not generated")
TOLERANCE = 1e-6
CONTEXT = "病人：医生你好，孩子发烧两天了，最高39度，还有点咳嗽\n医生：有没有流鼻涕？\n病人：有一点，吃了退烧药会退，过几个小时又烧起来了"


def explainer(factory, model: str) -> ResponseExplainer:
    return ResponseExplainer(load_responder(responder_dir(factory, model)))


def sample_contexts(factory) -> list[str]:
    _, data = generation_data(factory)
    return [CONTEXT] + [instance.context for instance in data.test[:4]]


def bm25_from_scratch(retriever, query: str, document: str) -> float:
    """BM25 of a training context for a query, from the formula and the index's statistics (not its matrix)."""
    index = retriever.index_
    (query_terms,), (query_weights,) = retriever.terms([query])
    (doc_terms,), (doc_weights,) = retriever.terms([document])
    q, tf = Counter(), Counter()
    for term, weight in zip(query_terms, query_weights):
        q[term] += weight
    for term, weight in zip(doc_terms, doc_weights):
        tf[term] += weight
    length = sum(doc_weights)
    total = 0.0
    for term, weight in q.items():
        if tf[term] and term in index._term_index:
            idf = index.idf_[index._term_index[term]]
            norm = retriever.k1 * (1 - retriever.b + retriever.b * length / index.avg_doc_length_)
            total += weight * idf * tf[term] * (retriever.k1 + 1) / (tf[term] + norm)
    return total


def check_retrieval(part: dict, retriever, context: str, training) -> None:
    assert abs(math.fsum([part["intercept"], *(c for _, c in part["contributions"])]) - part["score"]) < TOLERANCE
    assert part["score"] == pytest.approx(part["ranking_score"], rel=1e-5)  # float32 sums in the index
    assert sum(part["char_shares"]) == pytest.approx(part["score"], rel=1e-9)
    retrieved = part["retrieved"]
    instance = next(i for i in training if (i.dialogue_id, i.turn) == (retrieved["dialogue_id"], retrieved["turn"]))
    assert instance.context == retrieved["training_context"]
    assert bm25_from_scratch(retriever, context, instance.context) == pytest.approx(part["score"], rel=1e-5)
    for term, contribution in part["contributions"]:
        detail = part["terms"][term]
        assert contribution == detail["query_weight"] * detail["document_weight"]


def test_retrieval(tmp_path_factory):
    explain = explainer(tmp_path_factory, "retrieval")
    retriever = explain.responder
    _, data = generation_data(tmp_path_factory)
    for context in sample_contexts(tmp_path_factory):
        explanation = explain.explain(context, alternatives=4)
        parsed = parse_context(context)
        reply = retriever.respond(parsed, k=5)
        assert explanation["response"] == reply.response
        assert explanation["ranking_score"] == reply.candidates[0][1]
        check_retrieval(explanation, retriever, parsed, data.train)
        instance = next(i for i in data.train if i.dialogue_id == explanation["retrieved"]["dialogue_id"]
                        and i.turn == explanation["retrieved"]["turn"])
        assert "".join(instance.response.split()) == "".join(explanation["response"].split())
        assert [[a["response"], a["score"]] for a in explanation["alternatives"]] == [list(c) for c in
                                                                                      reply.candidates[1:]]
        assert all("dialogue_id" in a and "training_context" in a for a in explanation["alternatives"])


def test_retrieval_without_the_training_file(tmp_path_factory):
    explain = explainer(tmp_path_factory, "retrieval")
    gone = ResponseExplainer(dataclasses.replace(explain.loaded, data_path=str(tmp_path_factory.getbasetemp() /
                                                                                  "moved.jsonl")))
    explanation = gone.explain(CONTEXT)
    assert "not available" in explanation["retrieved"]["note"] and "training_context" not in explanation["retrieved"]
    assert explanation["score"] == explain.explain(CONTEXT)["score"]


def test_retrieval_with_no_shared_term(tmp_path_factory):
    explanation = explainer(tmp_path_factory, "retrieval").explain("ⓧⓨⓩ")
    assert explanation["score"] == 0 and explanation["contributions"] == [] and "no training context" in \
        explanation["note"]


def check_against_kenlm(table: dict, kenlm) -> None:
    rows = table["tokens"]
    assert math.fsum(row["log10_prob"] for row in rows) == table["sentence_log10"]
    assert abs(kenlm.score(table["kenlm_sentence"], bos=True, eos=True) - table["sentence_log10"]) < 1e-4
    scores = list(kenlm.full_scores(table["kenlm_sentence"], bos=True, eos=True))
    assert len(scores) == len(rows)
    for row, (log10_prob, ngram_length, oov) in zip(rows, scores):
        assert row["log10_prob"] == pytest.approx(log10_prob, abs=1e-5)
        assert row["order"] == ngram_length and row["oov"] == oov
        assert len(row["ngram"].split(" ")) == row["order"]


def test_ngram_rows_add_up_to_kenlm_sentence_score(tmp_path_factory):
    explain = explainer(tmp_path_factory, "ngram")
    ngram = explain.responder
    kenlm = kenlm_model(responder_dir(tmp_path_factory, "ngram") / "ngram_lm.arpa")
    for context in sample_contexts(tmp_path_factory):
        explanation = explain.explain(context)
        parsed = parse_context(context)
        reply = ngram.respond(parsed)
        assert explanation["response"] == reply.response and explanation["arpa"] == "ngram_lm.arpa"
        assert explanation["score"] == pytest.approx(reply.candidates[0][1], abs=1e-12)
        check_against_kenlm(explanation, kenlm)
        ours = ngram.response_log10probs([parsed], [reply.response])[0]
        assert [row["log10_prob"] for row in explanation["tokens"] if row["part"] in ("response", "end")] == \
            ours.tolist()
        assert [row["part"] for row in explanation["tokens"]][-1] == "end"
        assert "separator" in [row["part"] for row in explanation["tokens"]]


def test_lm_sentence(tmp_path_factory):
    explain = explainer(tmp_path_factory, "rerank")
    kenlm = kenlm_model(responder_dir(tmp_path_factory, "rerank") / "rerank_ngram_lm.arpa")
    for sentence, context in (("多喝水，注意休息", None), ("ⓧ发烧先观察", "病人：孩子发烧了")):
        table = explain.explain_sentence(sentence, context=context)
        check_against_kenlm(table, kenlm)
        response = [row for row in table["tokens"] if row["part"] in ("response", "end")]
        assert len(response) == len(sentence) + 1
        assert table["perplexity"] == pytest.approx(10 ** (-sum(r["log10_prob"] for r in response) / len(response)))
    assert table["tokens"][0]["part"] == "context" and any(row["oov"] for row in table["tokens"])
    text = format_lm(table)
    assert "[unknown]" in text and "kenlm's score" in text
    with pytest.raises(DataError, match="empty sentence"):
        explain.explain_sentence("  ")


def test_rerank_components_add_up_to_its_scores(tmp_path_factory):
    explain = explainer(tmp_path_factory, "rerank")
    responder = explain.responder
    _, data = generation_data(tmp_path_factory)
    for context in sample_contexts(tmp_path_factory):
        explanation = explain.explain(context)
        parsed = parse_context(context)
        reply = responder.respond(parsed, k=responder.n_candidates)
        assert explanation["response"] == reply.response
        assert [[c["response"], c["score"]] for c in explanation["candidates"]] == [list(c) for c in reply.candidates]
        for candidate in explanation["candidates"]:
            total = math.fsum(c for _, c in candidate["contributions"])
            assert abs(total - candidate["score"]) < TOLERANCE
            for name, contribution in candidate["contributions"]:
                assert contribution == explanation["weights"][name] * candidate["features"][name]
        chosen = explanation["candidates"][0]
        assert chosen["chosen"] and explanation["score"] == chosen["score"]
        assert chosen["features"]["lm"] == pytest.approx(explanation["lm"]["mean_log10"], abs=1e-12)
        best = max(c["features"]["retrieval"] for c in explanation["candidates"])
        assert best == 1.0
        check_retrieval(explanation["retrieval"], responder.retriever_, parsed, data.train)
        assert explanation["retrieval"]["ranking_score"] == pytest.approx(
            chosen["features"]["retrieval"] * max(c.score for c in responder.retriever_.retrieve([parsed], 1)[0]))


def test_text_output(tmp_path_factory):
    for model, expected in (("retrieval", "retrieved: dialogue"), ("ngram", "kenlm's score"),
                            ("rerank", "-- retrieval of the chosen response:")):
        explanation = explainer(tmp_path_factory, model).explain(CONTEXT)
        text = format_response(explanation, top=3)
        assert text.startswith(f"response ({model}): {explanation['response']}") and expected in text
        assert "\x1b[" not in text and text.rstrip().endswith("context: " + parse_context(CONTEXT).replace("\n", " / "))
        assert "\x1b[30;48;5;" in format_response(explanation, top=3, ansi=True)


def test_empty_context(tmp_path_factory):
    with pytest.raises(DataError, match="empty context"):
        explainer(tmp_path_factory, "ngram").explain("病人：  ")
    assert np.isfinite(explainer(tmp_path_factory, "ngram").explain("你好")["score"])

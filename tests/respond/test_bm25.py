"""BM25Index: the formula (a direct per-document implementation as the reference), bm25s parity, weights, top-k
order and padding, group restriction, the two-pass search, batch independence, persistence and bad input."""

import math

import numpy as np
import pytest

from rmd_baselines.errors import ModelFormatError, UsageError
from rmd_baselines.persist import ModelReader, model_writer
from rmd_baselines.respond.bm25 import BM25Index

DOCS = [list("感冒发烧了"), list("发烧三天"), list("咳嗽有痰"), list("宝宝拉肚子"), list("发烧咳嗽流鼻涕"), list("发烧发烧")]
QUERIES = [list("发烧"), list("咳嗽痰"), list("拉肚子发烧"), list("头疼")]


def reference_bm25(docs, query, k1, b, idf):
    """Okapi BM25 written out document by document (the definition the index must reproduce)."""
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n
    scores = []
    for doc in docs:
        total = 0.0
        for term in query:
            df, tf = sum(term in d for d in docs), doc.count(term)
            if tf == 0:
                continue
            weight = {"lucene": math.log(1 + (n - df + 0.5) / (df + 0.5)),
                      "robertson": max(0.0, math.log((n - df + 0.5) / (df + 0.5))),
                      "atire": math.log(n / df)}[idf]
            total += weight * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(doc) / avgdl))
        scores.append(total)
    return scores


@pytest.mark.parametrize("idf", ["lucene", "robertson", "atire"])
@pytest.mark.parametrize("k1,b", [(1.5, 0.75), (1.2, 0.0), (0.9, 1.0), (0.0, 0.5)])
def test_scores_follow_the_formula(idf, k1, b):
    index = BM25Index(k1=k1, b=b, idf=idf).fit(DOCS)
    scores = index.score_batch(QUERIES).toarray()
    for row, query in enumerate(QUERIES):
        np.testing.assert_allclose(scores[row], reference_bm25(DOCS, query, k1, b, idf), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("k1,b", [(1.5, 0.75), (1.2, 0.3)])
def test_lucene_variant_equals_bm25s_up_to_the_constant_k1_plus_1(k1, b):
    # bm25s (like Lucene >= 8) leaves out the constant numerator factor (k1 + 1); rankings are identical.
    bm25s = pytest.importorskip("bm25s")
    peer = bm25s.BM25(k1=k1, b=b, method="lucene")
    peer.index(DOCS, show_progress=False)
    ours = BM25Index(k1=k1, b=b).fit(DOCS).score_batch(QUERIES[:3]).toarray()
    for row, query in enumerate(QUERIES[:3]):  # queries without repeated tokens (bm25s counts a term once)
        np.testing.assert_allclose(ours[row] / (k1 + 1), peer.get_scores(query), rtol=1e-5, atol=1e-6)


def test_a_weight_of_two_counts_like_a_repeated_token():
    weighted = BM25Index().fit([list("发烧"), list("咳嗽")], weights=[[2.0, 2.0], [1.0, 1.0]])
    repeated = BM25Index().fit([list("发烧发烧"), list("咳嗽")])
    np.testing.assert_allclose(weighted.score_batch([list("烧")], [[3.0]]).toarray(),
                               repeated.score_batch([list("烧烧烧")]).toarray(), rtol=1e-6)


def test_top_k_is_ordered_padded_and_breaks_ties_by_document_order():
    index = BM25Index().fit([list("甲乙"), list("甲乙"), list("丙"), list("甲")])
    docs, scores = index.top_k([list("甲乙"), list("丁")], 3)
    assert docs[0].tolist() == [0, 1, 3]  # documents 0 and 1 tie: document order
    assert scores[0, 0] == scores[0, 1] > scores[0, 2] > 0
    assert docs[1].tolist() == [-1, -1, -1] and np.all(np.isneginf(scores[1]))


def test_groups_restrict_each_query_to_its_own_group():
    index = BM25Index().fit(DOCS)
    groups = np.array([0, 1, 0, 1, 0, 1])
    docs, _ = index.top_k([list("发烧"), list("发烧"), list("发烧")], 6, doc_groups=groups, query_groups=[0, 1, -1])
    assert set(docs[0][docs[0] >= 0].tolist()) == {0, 4}
    assert set(docs[1][docs[1] >= 0].tolist()) == {1, 5}
    assert set(docs[2][docs[2] >= 0].tolist()) == {0, 1, 4, 5}


def _random_corpus(n_docs, seed=0):
    rng = np.random.default_rng(seed)
    alphabet = list("发烧咳嗽头疼拉肚子宝宝感冒流鼻涕有痰三天吃药医院检查血常规")
    return [list(rng.choice(alphabet, size=rng.integers(3, 30))) for _ in range(n_docs)]


def test_two_pass_search_returns_exact_scores_and_matches_one_pass_with_a_large_pool():
    docs = _random_corpus(300)
    queries = _random_corpus(20, seed=1)
    exact_docs, exact_scores = BM25Index().fit(docs).top_k(queries, 5)
    wide_docs, wide_scores = BM25Index(prefilter=300, prefilter_terms=100).fit(docs).top_k(queries, 5)
    np.testing.assert_array_equal(wide_docs, exact_docs)
    np.testing.assert_allclose(wide_scores, exact_scores, rtol=1e-5)
    index = BM25Index(prefilter=10, prefilter_terms=2).fit(docs)
    narrow_docs, narrow_scores = index.top_k(queries, 5)
    full = BM25Index().fit(docs).score_batch(queries).toarray()
    for row in range(len(queries)):
        found = narrow_docs[row] >= 0
        np.testing.assert_allclose(narrow_scores[row][found], full[row, narrow_docs[row][found]], rtol=1e-5)


@pytest.mark.parametrize("prefilter", [None, 8])
def test_a_query_gets_the_same_answer_alone_and_in_a_batch(prefilter):
    docs, queries = _random_corpus(200), _random_corpus(12, seed=2)
    index = BM25Index(prefilter=prefilter).fit(docs)
    batch_docs, batch_scores = index.top_k(queries, 4)
    for row, query in enumerate(queries):
        alone_docs, alone_scores = index.top_k([query], 4)
        assert alone_docs[0].tolist() == batch_docs[row].tolist()
        assert alone_scores[0].tolist() == batch_scores[row].tolist()


def test_save_and_load_give_the_same_scores(tmp_path):
    index = BM25Index(k1=1.2, b=0.6, idf="atire", prefilter=3).fit(DOCS)
    with model_writer(tmp_path / "m", "respond") as writer:
        index.save(writer)
    loaded = BM25Index.load(ModelReader(tmp_path / "m"))
    assert loaded.get_params() == index.get_params() and loaded.vocabulary_ == index.vocabulary_
    np.testing.assert_array_equal(loaded.score_batch(QUERIES).toarray(), index.score_batch(QUERIES).toarray())
    assert [a.tolist() for a in loaded.top_k(QUERIES, 3)] == [a.tolist() for a in index.top_k(QUERIES, 3)]


def test_an_inconsistent_saved_matrix_is_a_model_format_error(tmp_path):
    index = BM25Index().fit(DOCS)
    with model_writer(tmp_path / "m", "respond") as writer:
        index.vocabulary_ = index.vocabulary_[:-1]  # now shorter than the matrix
        index.save(writer)
    with pytest.raises(ModelFormatError, match="bm25"):
        BM25Index.load(ModelReader(tmp_path / "m"))


@pytest.mark.parametrize("params", [{"k1": -1}, {"b": 1.5}, {"idf": "bm42"}, {"prefilter": 0},
                                    {"prefilter_terms": 0}, {"prefilter_max_df": 0}])
def test_bad_parameters_are_usage_errors(params):
    with pytest.raises(UsageError):
        BM25Index(**params).fit(DOCS)


def test_bad_calls_are_usage_errors():
    with pytest.raises(UsageError, match="at least one document"):
        BM25Index().fit([])
    with pytest.raises(UsageError, match="one weight"):
        BM25Index().fit([list("ab")], weights=[[1.0]])
    with pytest.raises(UsageError, match="not fitted"):
        BM25Index().top_k([list("a")], 1)
    with pytest.raises(UsageError, match="positive integer"):
        BM25Index().fit(DOCS).top_k([list("a")], 0)

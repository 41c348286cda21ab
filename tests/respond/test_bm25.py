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


# ----------------------------------------------------------------------------------------- the on-disk index (issue 11)


def _sample_contexts(n):
    """Real-looking contexts: the generation instances of the bundled synthetic sample."""
    from rmd_baselines.corpus import load_dialogues
    from rmd_baselines.respond.retrieval import RetrievalResponder
    from rmd_baselines.tasks import GenerationSettings, build_generation_task

    from ..conftest import SAMPLE

    dialogues, _ = load_dialogues(SAMPLE)
    data = build_generation_task(dialogues, GenerationSettings())
    contexts = [i.context for i in data.train]
    queries = [i.context for i in data.test]
    responder = RetrievalResponder()
    return responder.terms(contexts[:n]), responder.terms(queries[:300])


@pytest.fixture(scope="module")
def sample_index():
    (terms, weights), queries = _sample_contexts(6000)
    return BM25Index().fit(terms, weights), queries


def test_the_two_pass_search_equals_exhaustive_search_when_its_budget_covers_every_posting(sample_index):
    index, (terms, weights) = sample_index
    exact_docs, exact_scores = index.top_k(terms, 5, weights)
    index_all = BM25Index(prefilter=20, prefilter_terms=10_000, prefilter_budget=None)
    index_all.__dict__.update({k: v for k, v in index.__dict__.items() if k.endswith("_") or k.startswith("_")})
    docs, scores = index_all.top_k(terms, 5, weights)
    np.testing.assert_array_equal(docs, exact_docs)
    np.testing.assert_array_equal(scores, exact_scores)  # the same sums in the same order: bit-identical


def test_a_budgeted_first_pass_finds_the_exhaustive_best_context_for_most_queries(sample_index):
    index, (terms, weights) = sample_index
    exact_docs, exact_scores = index.top_k(terms, 10, weights)
    pruned = BM25Index(prefilter=64, prefilter_budget=2_000)
    pruned.__dict__.update({k: v for k, v in index.__dict__.items() if k.endswith("_") or k.startswith("_")})
    docs, scores = pruned.top_k(terms, 10, weights)
    answered = exact_docs[:, 0] >= 0
    assert np.mean(docs[answered, 0] == exact_docs[answered, 0]) >= 0.95
    # Whatever the first pass kept, the returned scores are exact BM25.
    full = index.score_batch(terms, weights).toarray()
    found = docs >= 0
    np.testing.assert_allclose(scores[found], full[np.nonzero(found)[0], docs[found]], rtol=1e-9)


def test_a_first_pass_that_reads_less_than_everything_does_miss_some_best_contexts(sample_index):
    index, (terms, weights) = sample_index
    exact_docs, _ = index.top_k(terms, 1, weights)
    pruned = BM25Index(prefilter=1, prefilter_terms=1, prefilter_budget=1)
    pruned.__dict__.update({k: v for k, v in index.__dict__.items() if k.endswith("_") or k.startswith("_")})
    docs, _ = pruned.top_k(terms, 1, weights)
    assert np.mean(docs[:, 0] == exact_docs[:, 0]) < 0.9  # the budget is really a limit


def test_building_in_many_segments_gives_the_same_index(monkeypatch):
    from rmd_baselines.respond import bm25

    docs = _random_corpus(400)
    whole = BM25Index().fit(docs)
    monkeypatch.setattr(bm25, "SEGMENT_POSTINGS", 97)
    monkeypatch.setattr(bm25, "MERGE_POSTINGS", 50)
    monkeypatch.setattr(bm25, "CHUNK", 33)
    pieces = BM25Index().fit_batches([(docs[i:i + 7], None) for i in range(0, len(docs), 7)])
    assert pieces.vocabulary_ == whole.vocabulary_
    for name in bm25.INDEX_FILES:
        np.testing.assert_array_equal(pieces._array(name), whole._array(name))


def test_postings_are_impact_ordered_and_match_the_forward_index():
    index = BM25Index().fit(_random_corpus(200))
    inv_ptr, inv_docs, inv_weights = index._array("inv_ptr"), index._array("inv_docs"), index._array("inv_weights")
    assert inv_docs.dtype == np.uint32 and inv_weights.dtype == np.float32
    dense = index.document_weights(np.arange(len(index.vocabulary_)), np.arange(index.n_docs_))
    for term in range(len(index.vocabulary_)):
        weights = inv_weights[inv_ptr[term]:inv_ptr[term + 1]]
        assert np.all(np.diff(weights) <= 0)
        np.testing.assert_array_equal(weights, dense[term, inv_docs[inv_ptr[term]:inv_ptr[term + 1]]])
    assert np.count_nonzero(dense) == index.n_postings_


def test_a_loaded_index_is_memory_mapped_and_searches_alike(tmp_path):
    docs, queries = _random_corpus(300), _random_corpus(20, seed=3)
    index = BM25Index(prefilter=8, prefilter_budget=50).fit(docs)
    with model_writer(tmp_path / "m", "respond") as writer:
        index.save(writer)
    loaded = BM25Index.load(ModelReader(tmp_path / "m"))
    assert isinstance(loaded._array("inv_docs").base, np.memmap)
    assert loaded.directory_ == str(tmp_path / "m")
    assert [a.tolist() for a in loaded.top_k(queries, 4)] == [a.tolist() for a in index.top_k(queries, 4)]


def test_the_index_files_are_removed_with_the_index():
    import gc
    import os

    index = BM25Index().fit(DOCS)
    directory = index.directory_
    assert os.path.isdir(directory)
    del index
    gc.collect()
    assert not os.path.exists(directory)


def test_a_format_1_index_is_refused_with_one_line(tmp_path):
    import json

    index = BM25Index().fit(DOCS)
    with model_writer(tmp_path / "m", "respond") as writer:
        index.save(writer)
        path = writer.path("bm25.json")
        meta = json.load(open(path, encoding="utf-8"))
        meta["format_version"] = 1
        json.dump(meta, open(path, "w", encoding="utf-8"))
    with pytest.raises(ModelFormatError, match="format version 1 .* no longer read") as caught:
        BM25Index.load(ModelReader(tmp_path / "m"))
    assert "\n" not in str(caught.value)


def test_document_ids_out_of_range_are_a_model_format_error(tmp_path):
    index = BM25Index().fit(DOCS)
    inv_docs = np.load(index._path("inv_docs"))
    inv_docs[3] = 10_000
    np.save(index._path("inv_docs"), inv_docs)  # before saving: the manifest's checksum covers the bad file
    with model_writer(tmp_path / "m", "respond") as writer:
        index.save(writer)
    with pytest.raises(ModelFormatError, match="inv_docs holds numbers out of range"):
        BM25Index.load(ModelReader(tmp_path / "m"))


def test_a_garbled_array_header_is_a_model_format_error(tmp_path):
    # Deep fuzz run: a NUL byte in a .npy header made numpy's header parser raise tokenize.TokenError.
    index = BM25Index().fit(DOCS)
    with model_writer(tmp_path / "m", "respond") as writer:
        index.save(writer)
        path = writer.path("bm25_fwd_ptr.npy")
        data = open(path, "rb").read()
        open(path, "wb").write(data[:10] + b"\x00" + data[10:])
    with pytest.raises(ModelFormatError, match="bm25_fwd_ptr.npy: unreadable array file"):
        BM25Index.load(ModelReader(tmp_path / "m"))


@pytest.mark.parametrize("budget", [0, -3, 2.5, True])
def test_a_bad_budget_is_a_usage_error(budget):
    with pytest.raises(UsageError, match="prefilter_budget"):
        BM25Index(prefilter_budget=budget).fit(DOCS)


# ---------------------------------------------------------------------------------- the compiled search loops

def test_the_compiled_search_loops_are_built():
    from rmd_baselines.respond import bm25

    assert bm25.kernels is not None, "pip install -e . builds rmd_baselines/respond/_bm25_kernels.c"


@pytest.mark.parametrize("params", [{"prefilter": 64, "prefilter_budget": 2_000},
                                    {"prefilter": 8, "prefilter_terms": 3, "prefilter_budget": 500},
                                    {"prefilter": 300, "prefilter_budget": None, "prefilter_terms": 10_000},
                                    {"prefilter": 16, "idf": "robertson"}])
def test_the_compiled_search_gives_the_numpy_search_bit_for_bit(sample_index, monkeypatch, params):
    from rmd_baselines.respond import bm25

    index, (terms, weights) = sample_index
    searched = BM25Index(**params)
    if params.get("idf") == "robertson":  # an index with zero weights (terms in more than half the documents)
        searched.fit(*_sample_contexts(3000)[0])
    else:
        searched.__dict__.update({k: v for k, v in index.__dict__.items() if k.endswith("_") or k.startswith("_")})
    groups = np.arange(searched.n_docs_) % 3
    query_groups = np.arange(len(terms)) % 4 - 1  # -1: no group
    compiled = [searched.top_k(terms, 10, weights), searched.top_k(terms, 10, weights, groups, query_groups)]
    monkeypatch.setattr(bm25, "kernels", None)
    reference = [searched.top_k(terms, 10, weights), searched.top_k(terms, 10, weights, groups, query_groups)]
    for (docs, scores), (ref_docs, ref_scores) in zip(compiled, reference):
        assert (docs >= 0).sum() > len(terms)  # real answers, not padding
        np.testing.assert_array_equal(docs, ref_docs)
        np.testing.assert_array_equal(scores, ref_scores)


def test_an_index_file_changed_under_a_loaded_index_is_a_model_format_error_not_a_crash(tmp_path):
    index = BM25Index(prefilter=4, prefilter_budget=50).fit(_random_corpus(300))
    with model_writer(tmp_path / "m", "respond") as writer:
        index.save(writer)
    loaded = BM25Index.load(ModelReader(tmp_path / "m"))
    queries = _random_corpus(5, seed=3)
    loaded.top_k(queries, 2)
    for name, value in (("inv_docs", 1 << 31), ("fwd_terms", 1 << 31)):
        path = loaded._path(name)
        array = np.load(path, mmap_mode="r+")  # the file loaded from, edited in place after the load checks
        saved = array.copy()
        array[:] = value
        array.flush()
        del array
        with pytest.raises(ModelFormatError, match="inconsistent BM25 index: (document|term) number out of range"):
            loaded.top_k(queries, 2)
        np.save(path, saved)
    path = loaded._path("fwd_weights")
    with open(path, "r+b") as handle:
        handle.truncate(200)  # the header and a few weights
    with pytest.raises(ModelFormatError, match="an index file is shorter than its header says"):
        loaded.top_k(queries, 2)

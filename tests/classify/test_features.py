"""Tests of rmd_baselines/classify/features.py: n-grams, TF-IDF blocks, the combined featurizer, persistence."""

import math

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from rmd_baselines.classify.features import (
    NgramBlock,
    TextFeaturizer,
    TokenizedText,
    as_tokenized,
    char_gram_codes,
    decode_char_grams,
    encode_char_gram,
    ngrams,
    tokenize_texts,
)
from rmd_baselines.errors import ModelFormatError, UsageError
from rmd_baselines.persist import ModelReader, model_writer

from .toy_corpus import toy_texts_labels


@pytest.mark.parametrize("tokens, low, high, joiner, expected", [
    (["胸", "闷", "痛"], 1, 1, "", ["胸", "闷", "痛"]),
    (["胸", "闷", "痛"], 1, 2, "", ["胸", "闷", "痛", "胸闷", "闷痛"]),
    (["胸", "闷", "痛"], 2, 3, "", ["胸闷", "闷痛", "胸闷痛"]),
    (["胸", "闷"], 3, 3, "", []),
    (["心慌", "头晕", "怎么办"], 1, 2, " ", ["心慌", "头晕", "怎么办", "心慌 头晕", "头晕 怎么办"]),
    ([], 1, 3, "", []),
])
def test_ngrams(tokens, low, high, joiner, expected):
    assert ngrams(tokens, low, high, joiner) == expected


def test_tokenize_texts_chars_and_words():
    [doc] = tokenize_texts(["高血压 头晕\n怎么办"])
    assert doc.chars == "高血压头晕怎么办"
    assert "高血压" in doc.words and all(w.strip() for w in doc.words)
    [char_only] = tokenize_texts(["高血压"], words=False)
    assert char_only.words is None


def test_as_tokenized_passes_tokenized_through_and_rejects_mixtures():
    docs = tokenize_texts(["胃痛"], words=False)
    assert as_tokenized(docs, words=False) is not docs and as_tokenized(docs, words=False) == docs
    with pytest.raises(UsageError, match="without words"):
        as_tokenized(docs, words=True)
    with pytest.raises(UsageError, match="mix"):
        as_tokenized([docs[0], "胃痛"], words=False)
    with pytest.raises(UsageError, match="expected texts"):
        tokenize_texts([3])


def test_char_block_matches_scikit_learn_tfidf():
    texts, _, _ = toy_texts_labels(per_doctor=4)
    docs = tokenize_texts(texts, words=False)
    ours = NgramBlock("char", (1, 3)).fit(docs).transform(docs)
    reference = TfidfVectorizer(analyzer=lambda t: ngrams([c for c in t if not c.isspace()], 1, 3, ""),
                                sublinear_tf=True)
    expected = reference.fit_transform(texts)
    assert ours.shape == expected.shape
    order = np.argsort(reference.get_feature_names_out())  # both vocabularies sorted by term
    assert np.abs(ours.toarray() - expected.toarray()[:, order]).max() < 1e-12


@pytest.mark.parametrize("min_df, max_features, expected_terms", [
    (1, None, ["a", "b", "c", "ab", "bc"]),
    (2, None, ["a", "b", "ab"]),
    (1, 2, ["a", "ab"]),         # df: a=3, b=2, ab=2 -> a, then the tie ab/b broken by term order
    (1, 3, ["a", "ab", "b"]),
])
def test_block_vocabulary_selection(min_df, max_features, expected_terms):
    docs = [TokenizedText(tuple("ab")), TokenizedText(tuple("abc")), TokenizedText(tuple("a"))]
    block = NgramBlock("char", (1, 2), min_df=min_df, max_features=max_features).fit(docs)
    assert sorted(block.terms_) == sorted(expected_terms)
    assert block.terms_ == sorted(block.terms_)


def test_block_idf_and_sublinear_tf_values():
    docs = [TokenizedText(tuple("aab")), TokenizedText(tuple("b"))]
    block = NgramBlock("char", (1, 1)).fit(docs)
    assert block.terms_ == ["a", "b"]
    assert block.idf_ == pytest.approx([math.log(3 / 2) + 1, 1.0])
    row = block.transform(docs[:1]).toarray()[0]
    raw = np.array([(1 + math.log(2)) * (math.log(3 / 2) + 1), 1.0])
    assert row == pytest.approx(raw / np.linalg.norm(raw))


def test_unknown_ngrams_and_empty_texts_give_zero_rows():
    block = NgramBlock("char", (1, 2)).fit([TokenizedText(tuple("胃痛"))])
    matrix = block.transform([TokenizedText(tuple("头晕")), TokenizedText(())])
    assert matrix.nnz == 0 and matrix.shape == (2, 3)


def test_featurizer_rows_are_unit_length_and_words_are_weighted():
    texts, _, _ = toy_texts_labels(per_doctor=3)
    docs = tokenize_texts(texts)
    both = TextFeaturizer(word_weight=0.5).fit(docs)
    chars = TextFeaturizer(word_weight=0.0).fit(docs)
    assert both.uses_words and not chars.uses_words
    matrix = both.transform(docs)
    assert np.allclose(np.sqrt(matrix.multiply(matrix).sum(axis=1)), 1.0)
    n_char = len(both.blocks[0].terms_)
    char_part = matrix[:, :n_char].toarray()
    word_part = matrix[:, n_char:].toarray()
    # Each block is unit length before weighting, so the word block carries weight 0.5 against 1.
    assert np.allclose(np.linalg.norm(word_part, axis=1) / np.linalg.norm(char_part, axis=1), 0.5)
    assert chars.n_features == n_char


@pytest.mark.parametrize("kwargs, message", [
    ({"word_weight": -1}, "word_weight"),
    ({"min_df": 0}, "min_df"),
    ({"max_features": 0}, "max_features"),
    ({"char_ngram_range": (2, 1)}, "n-gram range"),
])
def test_featurizer_rejects_bad_parameters(kwargs, message):
    with pytest.raises(UsageError, match=message):
        TextFeaturizer(**kwargs)


def test_featurizer_save_and_load_state(tmp_path):
    texts, _, _ = toy_texts_labels(per_doctor=3)
    docs = tokenize_texts(texts)
    fitted = TextFeaturizer().fit(docs)
    with model_writer(tmp_path / "m", "route") as writer:
        fitted.save(writer)
    restored = TextFeaturizer().load_state(ModelReader(tmp_path / "m"))
    assert (restored.transform(docs) != fitted.transform(docs)).nnz == 0
    with pytest.raises(ModelFormatError, match="expected 1 feature blocks"):
        TextFeaturizer(word_weight=0).load_state(ModelReader(tmp_path / "m"))
    with pytest.raises(ModelFormatError, match="does not match"):
        TextFeaturizer(char_ngram_range=(1, 2)).load_state(ModelReader(tmp_path / "m"))


@pytest.mark.parametrize("damage, message", [
    (lambda terms: ["0000"] + terms[1:], "a term is not a character 1-3-gram"),  # deep fuzz run: OverflowError
    (lambda terms: [""] + terms[1:], "a term is not a character 1-3-gram"),
    (lambda terms: [terms[1]] + terms[1:], "repeated terms"),
])
def test_saved_terms_that_the_features_cannot_have_are_refused(tmp_path, damage, message):
    import json

    fitted = TextFeaturizer(word_weight=0).fit(tokenize_texts(["胸闷胸痛", "头晕"], words=False))
    with model_writer(tmp_path / "m", "route") as writer:
        fitted.save(writer)
        path = writer.path("features.json")
        meta = json.load(open(path, encoding="utf-8"))
        meta["blocks"][0]["terms"] = damage(meta["blocks"][0]["terms"])
        json.dump(meta, open(path, "w", encoding="utf-8"))
    with pytest.raises(ModelFormatError, match=message):
        TextFeaturizer(word_weight=0).load_state(ModelReader(tmp_path / "m"))


# --------------------------------------------------------------- character n-grams counted as integer codes

def _string_counted(docs, low, high, min_df, max_features):
    """The vocabulary, idf and count matrix as the string counter makes them (the reference for the codes)."""
    from collections import Counter

    df = Counter()
    for doc in docs:
        df.update(set(ngrams(doc.chars, low, high, "")))
    kept = [(t, n) for t, n in df.items() if n >= min_df]
    if max_features is not None and len(kept) > max_features:
        kept = sorted(kept, key=lambda item: (-item[1], item[0]))[:max_features]
    kept.sort()
    index = {t: i for i, (t, _) in enumerate(kept)}
    counts = np.zeros((len(docs), len(kept)))
    for row, doc in enumerate(docs):
        for gram in ngrams(doc.chars, low, high, ""):
            if gram in index:
                counts[row, index[gram]] += 1
    idf = np.array([math.log((1 + len(docs)) / (1 + n)) + 1.0 for _, n in kept])
    return [t for t, _ in kept], idf, counts


CODED_TEXTS = ["胸闷胸痛三天", "胸闷，气短", "", "头晕头痛头晕", "a", "ab ab", "𠀀𠀁𠀀𠀁", "\ud800\udfff混合",
               "\x00\x00\x00", "😀a😀a😀", "胸胸胸胸", "CT123 正常"]


@pytest.mark.parametrize("low, high", [(1, 1), (1, 2), (1, 3), (2, 3), (3, 3)])
@pytest.mark.parametrize("min_df, max_features", [(1, None), (2, None), (1, 7), (1, 1), (2, 3)])
def test_coded_char_ngrams_give_the_string_counters_vocabulary_and_matrix(low, high, min_df, max_features):
    docs = tokenize_texts(CODED_TEXTS, words=False)
    terms, idf, counts = _string_counted(docs, low, high, min_df, max_features)
    block = NgramBlock("char", (low, high), min_df=min_df, max_features=max_features).fit(docs)
    assert block.terms_ == terms
    assert np.array_equal(block.idf_, idf)
    expected = (np.where(counts > 0, 1 + np.log(np.where(counts > 0, counts, 1)), 0) * idf
                if len(terms) else counts)
    norms = np.linalg.norm(expected, axis=1, keepdims=True)
    expected = expected / np.where(norms == 0, 1, norms)
    assert np.allclose(block.transform(docs).toarray(), expected, atol=1e-12)


def test_gram_codes_round_trip_and_never_cross_texts():
    owner, codes = char_gram_codes(["ab", "c", "", "\U0010ffff\x00"], 1, 3)
    grams = decode_char_grams(codes)
    assert sorted(zip(owner.tolist(), grams)) == sorted([(0, "a"), (0, "b"), (0, "ab"), (1, "c"),
                                                         (3, "\U0010ffff"), (3, "\x00"), (3, "\U0010ffff\x00")])
    assert [encode_char_gram(g) for g in grams] == codes.tolist()
    with pytest.raises(UsageError):
        char_gram_codes(["abcd"], 1, 4)


def test_rows_are_stored_in_decreasing_column_order():
    # The order the project's models were first fitted on; liblinear's results depend on it to the last bit.
    docs = tokenize_texts(CODED_TEXTS, words=False)
    matrix = TextFeaturizer(word_weight=0.0).fit_transform(docs)
    for row in range(matrix.shape[0]):
        columns = matrix.indices[matrix.indptr[row]:matrix.indptr[row + 1]]
        assert np.all(np.diff(columns) < 0)
    assert np.allclose(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel()[[0, 1, 3]], 1.0)

"""Tests of rmd_baselines/classify/heads.py: each head against scikit-learn, probabilities, persistence checks."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC

from rmd_baselines.classify.features import TextFeaturizer, tokenize_texts
from rmd_baselines.classify.heads import (
    EnsembleHead,
    LinearHead,
    fit_cnb,
    fit_lightgbm,
    fit_logreg,
    fit_svm,
    load_head,
)
from rmd_baselines.errors import ModelFormatError
from rmd_baselines.persist import ModelReader, model_writer

from .toy_corpus import toy_texts_labels


@pytest.fixture(scope="module")
def toy_matrix():
    texts, labels, _ = toy_texts_labels(per_doctor=8, label="doctor")
    docs = tokenize_texts(texts, words=False)
    X = TextFeaturizer(word_weight=0).fit_transform(docs)
    classes = sorted(set(labels))
    y = np.array([classes.index(label) for label in labels])
    return X, y, len(classes)


def test_logreg_equals_one_vs_rest_logistic_regression(toy_matrix):
    X, y, k = toy_matrix
    head = fit_logreg(X, y, k, C=10.0, class_weight="balanced", seed=0)
    reference = OneVsRestClassifier(LogisticRegression(C=10.0, solver="liblinear", dual=True,
                                                       class_weight="balanced", random_state=0)).fit(X, y)
    assert np.abs(head.predict_proba(X) - reference.predict_proba(X)).max() < 1e-5  # float32 coefficients


def test_cnb_equals_complement_naive_bayes(toy_matrix):
    X, y, k = toy_matrix
    head = fit_cnb(X, y, k, alpha=0.3)
    reference = ComplementNB(alpha=0.3).fit(X, y)
    assert np.abs(head.predict_proba(X) - reference.predict_proba(X)).max() < 1e-5
    assert (head.predict_proba(X).argmax(1) == reference.predict(X)).all()


def test_svm_scores_are_the_linear_svm_and_probabilities_are_calibrated(toy_matrix):
    X, y, k = toy_matrix
    head = fit_svm(X, y, k, C=0.5, class_weight=None, seed=0)
    reference = LinearSVC(C=0.5, random_state=0).fit(X, y)
    assert np.abs(head.decision_function(X) - reference.decision_function(X)).max() < 1e-5
    assert head.platt.shape == (k, 2) and (head.platt[:, 0] > 0).all()  # higher score, higher probability


def test_svm_with_two_classes_keeps_one_row_per_class(toy_matrix):
    X, y, _ = toy_matrix
    binary = (y >= 3).astype(np.int64)
    head = fit_svm(X, binary, 2, C=0.5, class_weight="balanced", seed=0)
    assert head.coef.shape == (2, X.shape[1])
    assert (head.predict_proba(X).argmax(1) == binary).mean() > 0.9


@pytest.mark.parametrize("n_classes", [2, 3, 6])
def test_svm_with_a_single_record_class_calibrates_every_class(toy_matrix, n_classes):
    # The single record is missing from one inner fold's training part; its scores must stay aligned.
    X, y, _ = toy_matrix
    keep = np.flatnonzero(y < n_classes - 1)
    rows = np.concatenate([keep, np.flatnonzero(y == n_classes - 1)[:1]])
    X, y = X[rows], y[rows]
    head = fit_svm(X, y, n_classes, C=0.5, class_weight="balanced", seed=0)
    reference = LinearSVC(C=0.5, class_weight="balanced", random_state=0).fit(X, y)
    assert (head.predict_proba(X).argmax(1) == reference.predict(X)).mean() > 0.9
    assert head.predict_proba(X[-1:]).argmax() == n_classes - 1
    assert (head.platt[:, 0] > 0).all()  # higher score, higher probability, for every class


@pytest.mark.parametrize("fit", [
    lambda X, y, k: fit_logreg(X, y, k, 10.0, "balanced", 0),
    lambda X, y, k: fit_svm(X, y, k, 0.5, "balanced", 0),
    lambda X, y, k: fit_cnb(X, y, k, 0.3),
    lambda X, y, k: fit_lightgbm(X, y, k, "balanced", 0, k_best=200, n_estimators=20, learning_rate=0.2,
                                 num_leaves=7, n_jobs=1),
    lambda X, y, k: EnsembleHead([fit_logreg(X, y, k, 10.0, None, 0), fit_cnb(X, y, k, 0.3)]),
], ids=["logreg", "svm", "cnb", "lightgbm", "ensemble"])
def test_heads_give_probabilities_learn_and_round_trip(tmp_path, toy_matrix, fit):
    X, y, k = toy_matrix
    head = fit(X, y, k)
    proba = head.predict_proba(X)
    assert proba.shape == (X.shape[0], k)
    assert np.allclose(proba.sum(axis=1), 1.0) and (proba >= 0).all()
    assert (proba.argmax(1) == y).mean() > 0.6  # training accuracy on six doctors (chance: 1/6)
    with model_writer(tmp_path / "m", "route") as writer:
        head.save(writer, "head")
    loaded = load_head(ModelReader(tmp_path / "m"), head.to_json(), "head", k, X.shape[1])
    assert np.array_equal(loaded.predict_proba(X), proba)


def test_linear_head_load_checks_shapes(tmp_path):
    head = LinearHead(np.ones((3, 5)), np.zeros(3), "softmax")
    with model_writer(tmp_path / "m", "route") as writer:
        head.save(writer, "head")
    reader = ModelReader(tmp_path / "m")
    with pytest.raises(ModelFormatError, match=r"shape \(3, 6\)"):
        load_head(reader, head.to_json(), "head", 3, 6)
    with pytest.raises(ModelFormatError, match="not 4 floats|shape \\(4, 5\\)"):
        load_head(reader, head.to_json(), "head", 4, 5)
    with pytest.raises(ModelFormatError, match="unknown link"):
        load_head(reader, {"type": "linear", "link": "cubic"}, "head", 3, 5)
    with pytest.raises(ModelFormatError, match="unknown type"):
        load_head(reader, {"type": "forest"}, "head", 3, 5)
    with pytest.raises(ModelFormatError, match="platt missing"):
        load_head(reader, {"type": "linear", "link": "platt"}, "head", 3, 5)

"""Tests of rmd_baselines/classify/classifier.py: the estimators, hierarchical recommendation, save/load."""

import json
import os

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from rmd_baselines.classify.classifier import (
    DepartmentRouter,
    DoctorRecommender,
    TextClassifier,
    load_model,
)
from rmd_baselines.classify.features import tokenize_texts
from rmd_baselines.errors import DataError, ModelFormatError, UsageError
from rmd_baselines.persist import file_sha256

from .toy_corpus import toy_texts_labels

FAST = {"model": "logreg", "word_weight": 0.5}


@pytest.fixture(scope="module")
def departments():
    texts, labels, _ = toy_texts_labels(per_doctor=10, seed=0)
    test_texts, test_labels, _ = toy_texts_labels(per_doctor=4, seed=1)
    return texts, labels, test_texts, test_labels


@pytest.fixture(scope="module")
def doctors():
    texts, labels, groups = toy_texts_labels(per_doctor=10, seed=0, label="doctor")
    test_texts, test_labels, _ = toy_texts_labels(per_doctor=4, seed=1, label="doctor")
    return texts, labels, groups, test_texts, test_labels


@pytest.fixture(scope="module")
def router(departments):
    texts, labels, _, _ = departments
    return DepartmentRouter(**FAST).fit(texts, labels)


def test_router_learns_departments(router, departments):
    _, _, test_texts, test_labels = departments
    assert list(router.classes_) == ["心血管内科", "消化内科", "皮肤科"]
    assert router.score(test_texts, test_labels) > 0.9
    proba = router.predict_proba(test_texts)
    assert proba.shape == (len(test_texts), 3) and np.allclose(proba.sum(axis=1), 1.0)


def test_predict_topk_is_sorted_and_consistent(router, departments):
    _, _, test_texts, _ = departments
    ranked = router.predict_topk(test_texts[:5], k=3)
    predicted = router.predict(test_texts[:5])
    for top, label in zip(ranked, predicted):
        assert len(top) == 3 and top[0][0] == label
        assert [s for _, s in top] == sorted((s for _, s in top), reverse=True)
        assert sorted(name for name, _ in top) == list(router.classes_)
    assert len(router.predict_topk(test_texts[:1], k=10)[0]) == 3  # k larger than the label set
    with pytest.raises(UsageError, match="k must be"):
        router.predict_topk(test_texts[:1], k=0)


def test_ties_go_to_the_first_label(router):
    from sklearn.base import clone

    from rmd_baselines.classify.heads import LinearHead

    tied = clone(router).fit(["胃疼", "头疼", "咳嗽"], ["乙", "甲", "丙"])
    n_classes, n_features = len(tied.classes_), tied.n_features_
    tied.head_ = LinearHead(np.zeros((n_classes, n_features)), np.zeros(n_classes), "softmax")  # every score equal
    assert tied.predict(["胃疼"])[0] == tied.classes_[0] == "丙"
    assert [label for label, _ in tied.predict_topk(["胃疼"], k=3)[0]] == list(tied.classes_)


def test_tokenized_and_raw_inputs_agree(router, departments):
    _, _, test_texts, _ = departments
    docs = tokenize_texts(test_texts)
    assert np.array_equal(router.predict_proba(docs), router.predict_proba(test_texts))


def test_scikit_learn_protocol(departments):
    texts, labels, _, _ = departments
    estimator = DepartmentRouter(C=3.0, word_weight=0.0)
    assert estimator.get_params()["C"] == 3.0
    copy = clone(estimator)
    assert copy.get_params() == estimator.get_params() and not hasattr(copy, "classes_")
    assert "C=3.0" in repr(estimator)
    assert estimator.describe() == "DepartmentRouter: logreg, class_weight=balanced, chars (1, 3), seed 0"
    assert estimator.set_params(C=5.0) is estimator and estimator.C == 5.0
    with pytest.raises(UsageError, match="no parameter"):
        estimator.set_params(gamma=1)
    search = GridSearchCV(DepartmentRouter(word_weight=0.0), {"C": [1.0, 10.0]}, cv=3, scoring="f1_macro")
    search.fit(texts, labels)
    assert search.best_params_["C"] in (1.0, 10.0)
    pipeline = Pipeline([("router", DepartmentRouter(word_weight=0.0))]).fit(texts, labels)
    assert pipeline.predict(texts[:2]).shape == (2,)


def test_same_seed_same_probabilities(departments):
    texts, labels, test_texts, _ = departments
    first = DepartmentRouter(model="svm", seed=3).fit(texts, labels).predict_proba(test_texts)
    second = DepartmentRouter(model="svm", seed=3).fit(texts, labels).predict_proba(test_texts)
    assert np.array_equal(first, second)


@pytest.mark.parametrize("params, error, message", [
    ({"model": "forest"}, UsageError, "unknown model"),
    ({"class_weight": "auto"}, UsageError, "class_weight"),
    ({"C": 0}, UsageError, "C must be > 0"),
    ({"model": "ensemble", "ensemble_members": ("logreg", "ensemble")}, UsageError, "ensemble_members"),
])
def test_bad_parameters_fail_at_fit(departments, params, error, message):
    texts, labels, _, _ = departments
    with pytest.raises(error, match=message):
        DepartmentRouter(**params).fit(texts, labels)


@pytest.mark.parametrize("texts, labels, message", [
    (["胃痛", "胸闷"], ["消化内科", "消化内科"], "at least 2 distinct labels"),
    (["胃痛", "胸闷"], ["消化内科"], "2 texts but 1 labels"),
    (["胃痛", "胸闷"], ["消化内科", ""], "label 1: expected a non-empty string"),
])
def test_bad_training_data(texts, labels, message):
    with pytest.raises((DataError, UsageError), match=message):
        DepartmentRouter().fit(texts, labels)


def test_unfitted_estimator_says_so():
    with pytest.raises(UsageError, match="not fitted"):
        DepartmentRouter().predict(["胃痛"])


def test_hierarchical_recommender(doctors):
    texts, labels, groups, test_texts, test_labels = doctors
    flat = DoctorRecommender(**FAST).fit(texts, labels)
    hier = DoctorRecommender(**FAST, hierarchical=True).fit(texts, labels, groups=groups)
    proba = hier.predict_proba(test_texts)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert hier.hierarchy_["groups"] == ["心血管内科", "消化内科", "皮肤科"]
    # P(doctor) = P(department) * P(doctor | department): the department's doctors share its probability.
    group_proba = hier.hierarchy_["group_head"].predict_proba(hier.transform(test_texts))
    heart = [list(hier.classes_).index(d) for d in ("doc-heart-1", "doc-heart-2")]
    assert np.allclose(proba[:, heart].sum(axis=1), group_proba[:, 0])
    assert hier.score(test_texts, test_labels) > 0.5 and flat.score(test_texts, test_labels) > 0.5
    with pytest.raises(UsageError, match="needs the group"):
        DoctorRecommender(hierarchical=True).fit(texts, labels)


def test_hierarchical_with_a_single_doctor_department(doctors):
    texts, labels, groups, test_texts, _ = doctors
    keep = [i for i, label in enumerate(labels) if label != "doc-skin-2"]
    hier = DoctorRecommender(**FAST, hierarchical=True).fit(
        [texts[i] for i in keep], [labels[i] for i in keep], groups=[groups[i] for i in keep])
    assert hier.hierarchy_["within"][2]["head"] is None  # 皮肤科 has one doctor left: P(doctor | dept) = 1
    assert np.allclose(hier.predict_proba(test_texts).sum(axis=1), 1.0)


# ------------------------------------------------------------------------------------------- persistence

@pytest.mark.parametrize("estimator", [
    DepartmentRouter(model="logreg"),
    DepartmentRouter(model="svm", word_weight=0.0),
    DepartmentRouter(model="cnb"),
    DepartmentRouter(model="lightgbm", k_best=300, n_estimators=15, num_leaves=7),
    DepartmentRouter(model="ensemble", ensemble_members=("logreg", "cnb")),
    DoctorRecommender(model="logreg", hierarchical=True),
], ids=["logreg", "svm-char", "cnb", "lightgbm", "ensemble", "hierarchical"])
def test_loaded_model_predicts_exactly_what_the_saved_one_did(tmp_path, doctors, estimator):
    texts, labels, groups, test_texts, _ = doctors
    if isinstance(estimator, DepartmentRouter):
        labels = groups
    estimator = clone(estimator).fit(texts, labels, groups=groups if estimator.hierarchical else None)
    estimator.save(tmp_path / "model", metadata={"note": "中文"})
    loaded = load_model(tmp_path / "model")
    assert type(loaded) is type(estimator) and loaded.get_params() == estimator.get_params()
    assert np.array_equal(loaded.predict_proba(test_texts), estimator.predict_proba(test_texts))
    assert loaded.metadata_ == {"note": "中文"}


@pytest.fixture
def saved_router(tmp_path, router):
    router.save(tmp_path / "router")
    return tmp_path / "router"


def _rewrite(path, text):
    """Change a model file and its manifest checksum, as a careless tool (or a newer writer) would."""
    path.write_text(text, encoding="utf-8")
    manifest_path = path.parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["files"][path.name] = file_sha256(str(path))
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")


def test_tampered_truncated_and_foreign_directories(tmp_path, saved_router):
    with open(saved_router / "head.npz", "ab") as handle:
        handle.write(b"x")
    with pytest.raises(ModelFormatError, match="checksum mismatch"):
        load_model(saved_router)
    with pytest.raises(ModelFormatError, match="no such model directory"):
        load_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFormatError, match="not an rmd_baselines model directory"):
        load_model(tmp_path / "empty")


def test_wrong_kind_is_refused(saved_router):
    with pytest.raises(ModelFormatError, match="this is a 'route' model, expected 'recommend'"):
        load_model(saved_router, kinds="recommend")


@pytest.mark.parametrize("change, message", [
    (lambda b: b.update(format_version=99), "newer than this rmd_baselines reads"),
    (lambda b: b.update(format="something-else"), "not a saved router or recommender"),
    (lambda b: b.update(estimator="DoctorRecommender"), "does not match kind 'route'"),
    (lambda b: b["params"].pop("C"), "params do not match"),
    (lambda b: b["params"].update(model="forest"), "invalid params"),
    (lambda b: b.update(classes=["b", "a"]), "sorted list"),
    (lambda b: b.update(n_features=3), "n_features 3 does not match"),
    (lambda b: b["classes"].append("龥龥"), "shape"),  # sorts last: a fourth class without coefficients
    (lambda b: b.update(estimator=["DepartmentRouter"]), "does not match kind 'route'"),
    (lambda b: b.update(metadata="trained yesterday"), "'metadata' must be an object"),
    (lambda b: b.update(metadata={"data": "toy.jsonl"}), "'metadata.data' must be an object"),
])
def test_inconsistent_bundles_are_refused(saved_router, change, message):
    bundle_path = saved_router / "model.json"
    bundle = json.loads(bundle_path.read_text(encoding="utf-8"))
    change(bundle)
    _rewrite(bundle_path, json.dumps(bundle, ensure_ascii=False))
    with pytest.raises(ModelFormatError, match=message):
        load_model(saved_router)


def test_feature_blocks_with_a_malformed_ngram_range_are_refused(saved_router):
    path = saved_router / "features.json"
    features = json.loads(path.read_text(encoding="utf-8"))
    features["blocks"][0]["ngram_range"] = 3
    _rewrite(path, json.dumps(features, ensure_ascii=False))
    with pytest.raises(ModelFormatError, match="block 0 does not match"):
        load_model(saved_router)


def test_a_single_string_is_not_a_batch_of_texts(router, departments):
    texts, labels, _, _ = departments
    with pytest.raises(UsageError, match="single"):
        router.predict("头疼发烧")
    with pytest.raises(UsageError, match="single"):
        clone(router).fit("头疼发烧", ["内科"] * 4)


def test_a_failed_fit_leaves_the_estimator_as_it_was(doctors):
    texts, labels, _, _, _ = doctors
    recommender = DoctorRecommender(**FAST).fit(texts, labels)
    before = recommender.predict_proba(texts[:5])
    with pytest.raises(UsageError, match="hierarchical mode needs the group"):
        recommender.set_params(hierarchical=True).fit(texts[:20], labels[:20])
    recommender.set_params(hierarchical=False)
    assert np.array_equal(recommender.predict_proba(texts[:5]), before)
    unfitted = DoctorRecommender(**FAST, hierarchical=True)
    with pytest.raises(UsageError, match="hierarchical mode needs the group"):
        unfitted.fit(texts, labels)
    assert not hasattr(unfitted, "classes_")


def test_no_features_left_is_a_data_error(departments):
    texts, labels, _, _ = departments
    with pytest.raises(DataError, match="no features"):
        DepartmentRouter(**FAST, min_df=10_000).fit(texts, labels)


def test_bare_text_classifier_cannot_be_saved(tmp_path, departments):
    texts, labels, _, _ = departments
    with pytest.raises(UsageError, match="DepartmentRouter or a DoctorRecommender"):
        TextClassifier(**FAST).fit(texts, labels).save(tmp_path / "x")
    assert not os.path.exists(tmp_path / "x")

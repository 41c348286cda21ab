"""Tests of rmd_baselines/classify/streamed.py: the hashed featurizer, the streamed softmax and hidden-layer
learners, saving/loading and explaining the streamed model."""

import json

import numpy as np
import pytest

from rmd_baselines.classify.classifier import load_model
from rmd_baselines.classify.explain import (HashedFeatureMap, check_sum, explain_classification,
                                           format_classification, leaf_parts)
from rmd_baselines.classify.heads import HiddenLayerHead
from rmd_baselines.classify.streamed import (HashedFeaturizer, HiddenLayerSGD, StreamedRecommender, StreamedRouter,
                                             choose_n_features, macro_f1, weighted_log_loss)
from rmd_baselines.errors import ModelFormatError, UsageError
from rmd_baselines.tasks import ClassificationSettings, build_classification_task

from .toy_corpus import toy_dialogues

SMALL = {"n_features": 2 ** 14, "max_epochs": 6}


@pytest.fixture(scope="module")
def data():
    return build_classification_task(toy_dialogues(per_doctor=20), ClassificationSettings("route"))


@pytest.fixture(scope="module")
def router(data):
    return StreamedRouter(**SMALL).fit(data.train_texts, data.train_labels, ids=[d.id for d in data.train])


def test_hashed_grams_are_what_scikit_learn_hashes():
    from sklearn.feature_extraction.text import HashingVectorizer

    featurizer = HashedFeaturizer(2 ** 10)
    text = "我 胸口疼，心慌  a\tbc 了"
    analyzer = HashingVectorizer(analyzer="char_wb", ngram_range=(1, 3), lowercase=False).build_analyzer()
    grams = featurizer.grams_with_positions(text)
    assert [g for g, _ in grams] == analyzer(text)
    counts = featurizer.counts([text])
    expected = np.bincount([featurizer.column_of(g) for g, _ in grams], minlength=2 ** 10)
    assert np.array_equal(counts.toarray()[0], expected)
    for gram, span in grams:  # every gram covers text whose characters are the gram's (marks aside)
        assert span and "".join(text[p] for p in span) == gram.strip(" ") or gram.strip(" ") == ""


@pytest.mark.parametrize("ngram_range", [(1, 3), (1, 1), (2, 5), (4, 6)])
def test_counts_are_scikit_learns_hashed_counts(ngram_range, monkeypatch):
    from sklearn.feature_extraction.text import HashingVectorizer

    import rmd_baselines.classify.streamed as streamed

    rng = np.random.default_rng(0)
    alphabet = [*"ab Z9,.中文病éß😀𠀀", "\t", "\n", "\u3000", "\x1c", "\x85", "\xa0", "  "]
    texts = ["".join(rng.choice(alphabet, size=rng.integers(0, 30))) for _ in range(300)] + ["", " \t ", "a", "中"]
    monkeypatch.setattr(streamed, "COUNT_CHARS", 50)  # many slices
    for n_features in (2 ** 10, 1000, 7):
        expected = HashingVectorizer(analyzer="char_wb", ngram_range=ngram_range, n_features=n_features,
                                     alternate_sign=False, norm=None, lowercase=False,
                                     dtype=np.float32).transform(texts)
        expected.sort_indices()
        counts = HashedFeaturizer(n_features, ngram_range).counts(texts)
        assert counts.dtype == np.float32 and counts.has_sorted_indices and counts.shape == expected.shape
        for name in ("indptr", "indices", "data"):
            assert np.array_equal(getattr(counts, name), getattr(expected, name))
    assert HashedFeaturizer(2 ** 10).counts([]).shape == (0, 2 ** 10)


def test_softmax_steps_are_the_plain_formulas_bit_for_bit():
    import scipy.sparse as sp

    from rmd_baselines.classify.streamed import SoftmaxSGD

    rng = np.random.default_rng(0)
    n_features, n_classes = 500, 4
    weights = rng.uniform(0.5, 2.0, n_classes)
    learner = SoftmaxSGD(n_features, n_classes, 0.2, 1e-3, weights, average=True)
    W, U = np.zeros((n_features, n_classes), np.float32), np.zeros((n_features, n_classes), np.float32)
    acc = np.zeros(n_features, np.float32)
    b, U_b, acc_b, t = np.zeros(n_classes), np.zeros(n_classes), np.zeros(n_classes), 0
    for step in range(12):
        if step == 4:
            learner.end_pass()
        X = sp.random(16, n_features, density=0.05 if step != 7 else 0.0, format="csr", dtype=np.float32,
                      random_state=step)
        y = rng.integers(0, n_classes, 16)
        learner.step(X, y)
        # The plain formulas on the whole matrix.
        z = np.asarray(X @ W, dtype=np.float64) + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(16), y] -= 1.0
        p *= (learner.class_weights[y] / 16)[:, None]
        grad_b = p.sum(axis=0)
        if X.nnz:
            columns, inverse = np.unique(X.indices, return_inverse=True)
            compact = sp.csr_matrix((X.data, inverse.astype(np.int32), X.indptr), shape=(16, len(columns)))
            grad = np.asarray(compact.T @ p.astype(np.float32), dtype=np.float32) + np.float32(1e-3) * W[columns]
            acc[columns] += np.mean(grad * grad, axis=1)
            update = (0.2 / np.sqrt(acc[columns] + 1e-8))[:, None] * grad
            W[columns] -= update
            if step >= 4:
                U[columns] -= np.float32(t) * update
        acc_b += grad_b * grad_b
        update_b = 0.2 * grad_b / np.sqrt(acc_b + 1e-8)
        b -= update_b
        if step >= 4:
            U_b -= t * update_b
            t += 1
        for mine, plain in ((learner.W, W), (learner.U, U), (learner.acc, acc), (learner.b, b), (learner.U_b, U_b)):
            assert mine.tobytes() == plain.tobytes()


def test_weighting_is_sublinear_tfidf_with_unit_rows():
    featurizer = HashedFeaturizer(2 ** 12)
    counts = featurizer.counts(["胸闷胸闷胸闷", "头晕"])
    featurizer.set_idf(np.bincount(counts.indices, minlength=2 ** 12), 2)
    rows = featurizer.weight(counts)
    assert rows.dtype == np.float32
    assert np.allclose(np.sqrt(rows.multiply(rows).sum(axis=1)).A1, 1.0, atol=1e-6)


def test_empty_texts_weigh_nothing_wherever_they_are(router):
    featurizer = HashedFeaturizer(2 ** 12)
    counts = featurizer.counts(["", "胸闷", "", "头晕头晕", ""])
    featurizer.set_idf(np.bincount(counts.indices, minlength=2 ** 12), 5)
    rows = featurizer.weight(counts)
    norms = np.sqrt(rows.multiply(rows).sum(axis=1)).A1
    assert np.allclose(norms, [0, 1, 0, 1, 0], atol=1e-6)
    ranked = router.predict_topk(["头痛", ""], 2)  # an empty text last in a batch (it once raised IndexError)
    assert len(ranked) == 2 and ranked[1] == router.predict_topk([""], 2)[0]


def test_learns_the_toy_task_and_is_seeded(router, data):
    assert router.score(data.test_texts, data.test_labels) >= 0.9
    again = StreamedRouter(**SMALL).fit(data.train_texts, data.train_labels, ids=[d.id for d in data.train])
    assert np.array_equal(again.head_.coef, router.head_.coef)
    # The shuffle depends on the ids, not on the order the rows come in.
    order = np.random.default_rng(1).permutation(len(data.train_texts))
    shuffled = StreamedRouter(**SMALL).fit([data.train_texts[i] for i in order], [data.train_labels[i] for i in order],
                                           ids=[data.train[i].id for i in order])
    assert np.allclose(shuffled.head_.coef, router.head_.coef, atol=1e-5)
    assert router.training_["held_out"] > 0 and 1 <= router.training_["epochs"] <= SMALL["max_epochs"]


def test_topk_and_probabilities(router, data):
    proba = router.predict_proba(data.test_texts[:4])
    assert np.allclose(proba.sum(axis=1), 1.0)
    top = router.predict_topk(data.test_texts[:4], k=2)
    assert [t[0][0] for t in top] == list(router.predict(data.test_texts[:4]))
    with pytest.raises(UsageError):
        router.predict_topk(["x"], k=0)
    with pytest.raises(UsageError):
        StreamedRouter().predict(["x"])


def test_saved_model_round_trips(router, data, tmp_path):
    router.save(tmp_path / "m", metadata={"settings": ClassificationSettings("route").to_json()})
    loaded = load_model(tmp_path / "m", kinds="route")
    assert type(loaded) is StreamedRouter and loaded.get_params() == router.get_params()
    assert np.array_equal(loaded.predict_proba(data.test_texts), router.predict_proba(data.test_texts))
    again = tmp_path / "again"
    loaded.save(again, metadata=loaded.metadata_)
    for name in ("head.npz", "features.npz", "features.json", "model.json"):
        assert (again / name).read_bytes() == (tmp_path / "m" / name).read_bytes()
    with pytest.raises(ModelFormatError):
        load_model(tmp_path / "m", kinds="recommend")
    bundle = json.loads((tmp_path / "m" / "model.json").read_text())
    bundle["format_version"] = 99
    (tmp_path / "m" / "model.json").write_text(json.dumps(bundle))
    with pytest.raises(ModelFormatError):  # checksum or version: one clear error either way
        load_model(tmp_path / "m")


def test_recommender_saves_as_recommend(data, tmp_path):
    doctors = [d.doctor for d in data.train]
    model = StreamedRecommender(**SMALL).fit(data.train_texts, doctors)
    model.save(tmp_path / "r")
    assert type(load_model(tmp_path / "r", kinds="recommend")) is StreamedRecommender


def test_explanations_are_exact_and_the_features_are_the_model_input(router, data):
    for text in data.test_texts[:5]:
        explanation = explain_classification(router, text)
        assert explanation["label"] == router.predict([text])[0]
        assert explanation["probability"] == pytest.approx(router.predict_proba([text]).max(), abs=1e-12)
        for part in leaf_parts(explanation):
            assert check_sum(part) < 1e-6
        assert sum(explanation["char_shares"]) == pytest.approx(
            sum(c for _, c in explanation["contributions"]), abs=1e-9)
    text = data.test_texts[0]
    feature_map = HashedFeatureMap(router.featurizer_)
    active = feature_map.active(text)
    row = router.transform([text])
    assert np.array_equal(np.sort(row.indices), active.columns)
    assert set(active.occurrences) == set(active.columns.tolist())
    assert all(feature_map.name(int(c)).startswith("char:") for c in active.columns)


def test_memory_budget_sizes_the_columns():
    assert choose_n_features(17, None) == 2 ** 20
    assert choose_n_features(17, 1024 ** 3) == 2 ** 20
    assert choose_n_features(2000, 1024 ** 3) < 2 ** 15
    small = choose_n_features(59, 256 * 1024 ** 2)
    assert small * (16 * 59 + 12) <= 128 * 1024 ** 2


def test_macro_f1_matches_scikit_learn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 5, 200), rng.integers(0, 6, 200)
    assert macro_f1(y, p, 6) == pytest.approx(f1_score(y, p, average="macro", zero_division=0))


def test_bad_parameters():
    with pytest.raises(UsageError):
        StreamedRouter(learning_rate=0).fit(["a", "b"], ["x", "y"])
    for power in (-0.1, 1.5, True, "0.3", float("nan")):
        with pytest.raises(UsageError, match="class_weight_power"):
            StreamedRouter(class_weight_power=power).fit(["a", "b"], ["x", "y"])
    StreamedRouter(class_weight_power=np.float32(0.5), **SMALL).fit(["a b", "c d"], ["x", "y"])  # numpy numbers do
    with pytest.raises(UsageError):
        StreamedRouter().fit("ab", ["x"])


def test_offsets_only_raise_the_held_out_macro_f1():
    from rmd_baselines.classify.streamed import tune_offsets

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    scores = rng.normal(size=(300, 3))
    scores[np.arange(300), y] += 0.8
    scores[:, 0] += 1.0  # a bias towards class 0 that offsets can undo
    offsets, before, after = tune_offsets(scores, y, 3)
    assert after > before
    assert macro_f1(y, (scores + offsets).argmax(axis=1), 3) == pytest.approx(after)
    calm = np.eye(3)[y] * 5.0  # already perfect: nothing to change
    offsets, before, after = tune_offsets(calm, y, 3)
    assert before == after == 1.0 and not offsets.any()


def test_power_zero_weighs_like_no_class_weights(data):
    rare = data.train_labels[0]
    keep = [i for i, label in enumerate(data.train_labels) if label != rare or i % 4 == 0]  # one class 4x rarer
    texts, labels = [data.train_texts[i] for i in keep], [data.train_labels[i] for i in keep]
    ids = [data.train[i].id for i in keep]
    flat = StreamedRouter(**SMALL, class_weight_power=0).fit(texts, labels, ids=ids)
    unweighted = StreamedRouter(**SMALL, class_weight=None).fit(texts, labels, ids=ids)
    assert np.array_equal(flat.head_.coef, unweighted.head_.coef)
    full = StreamedRouter(**SMALL, class_weight_power=1).fit(texts, labels, ids=ids)
    assert not np.array_equal(full.head_.coef, flat.head_.coef)  # the weights reach the learner


def test_passes_stop_when_the_held_out_loss_stops_falling(data):
    ids = [d.id for d in data.train]
    model = StreamedRouter(n_features=2 ** 14, max_epochs=30, tol=0.1).fit(data.train_texts, data.train_labels,
                                                                            ids=ids)
    losses = [entry["loss"] for entry in model.training_["held_out_by_pass"]]
    assert 2 <= len(losses) < 30
    best = losses[0]
    for loss in losses[1:-1]:  # every pass but the last lowered the best loss by more than 10 %
        assert loss < best * 0.9
        best = min(best, loss)
    assert not losses[-1] < best * 0.9
    assert model.training_["epochs"] == int(np.argmin(losses)) + 1


def test_weighted_log_loss_is_the_weighted_cross_entropy():
    scores = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0], [-3.0, 1.0, 4.0]])
    y = np.array([0, 1, 2])
    weights = np.array([1.0, 3.0, 0.5])
    p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    nll = -np.log(p[np.arange(3), y])
    assert weighted_log_loss(scores, y, weights) == pytest.approx((weights[y] * nll).sum() / weights[y].sum())


def test_a_model_saved_before_the_weight_power_existed_loads_as_fully_balanced(router, tmp_path):
    router.save(tmp_path / "m")
    bundle = json.loads((tmp_path / "m" / "model.json").read_text())
    del bundle["params"]["class_weight_power"]
    (tmp_path / "m" / "model.json").write_text(json.dumps(bundle))
    from rmd_baselines.persist import MANIFEST, file_sha256

    manifest = json.loads((tmp_path / "m" / MANIFEST).read_text())
    manifest["files"]["model.json"] = file_sha256(str(tmp_path / "m" / "model.json"))
    (tmp_path / "m" / MANIFEST).write_text(json.dumps(manifest))
    assert load_model(tmp_path / "m", kinds="route").class_weight_power == 1.0


def _rewrite_bundle(directory, change) -> None:
    """Edit a saved model's model.json and keep its manifest's checksum valid (so only the edit is tested)."""
    from rmd_baselines.persist import MANIFEST, file_sha256

    bundle = json.loads((directory / "model.json").read_text())
    change(bundle)
    (directory / "model.json").write_text(json.dumps(bundle))
    manifest = json.loads((directory / MANIFEST).read_text())
    manifest["files"]["model.json"] = file_sha256(str(directory / "model.json"))
    (directory / MANIFEST).write_text(json.dumps(manifest))


# ------------------------------------------------------------------------------------------- the hidden layer

HIDDEN = {**SMALL, "hidden": 16, "learning_rate": 0.05}


@pytest.fixture(scope="module")
def hidden_router(data):
    return StreamedRouter(**HIDDEN).fit(data.train_texts, data.train_labels, ids=[d.id for d in data.train])


def _loss(learner: HiddenLayerSGD, X, y) -> float:
    """The mean class-weighted cross-entropy, written out in float64 from the learner's weights."""
    z = np.asarray(X.astype(np.float64) @ learner.W1.astype(np.float64)) + learner.b1
    scores = np.maximum(z, 0.0) @ learner.W2 + learner.b2
    scores -= scores.max(axis=1, keepdims=True)
    nll = np.log(np.exp(scores).sum(axis=1)) - scores[np.arange(len(y)), y]
    return float((learner.class_weights[y] * nll).sum() / len(y))


def test_hidden_layer_gradients_are_the_loss_derivatives():
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    n_features, n_classes, hidden = 40, 3, 5
    learner = HiddenLayerSGD(n_features, n_classes, hidden, 0.1, 0.0, rng.uniform(0.5, 2.0, n_classes), seed=1)
    X = sp.random(6, n_features, density=0.2, format="csr", dtype=np.float32, random_state=2)
    y = rng.integers(0, n_classes, 6)
    grads = learner.gradients(X, y)
    assert np.array_equal(grads["columns"], np.unique(X.indices))
    eps = 1e-3

    def numeric(array, index):
        old = array[index]
        array[index] = old + eps
        up = _loss(learner, X, y)
        array[index] = old - eps
        down = _loss(learner, X, y)
        array[index] = old
        return (up - down) / (2 * eps)

    for name in ("W2", "b2", "b1"):
        array = getattr(learner, name)
        expected = np.array([numeric(array, i) for i in np.ndindex(array.shape)]).reshape(array.shape)
        assert np.allclose(grads[name], expected, atol=1e-7)
    expected = np.array([[numeric(learner.W1, (c, h)) for h in range(hidden)] for c in grads["columns"]])
    assert np.allclose(grads["W1"], expected, atol=2e-5)  # float32 weights: central differences lose digits
    before = _loss(learner, X, y)
    for _ in range(20):
        learner.step(X, y)
    assert _loss(learner, X, y) < before


def test_hidden_router_learns_saves_and_is_seeded(hidden_router, data, tmp_path):
    assert isinstance(hidden_router.head_, HiddenLayerHead) and hidden_router.head_.W1.shape == (2 ** 14, 16)
    assert hidden_router.score(data.test_texts, data.test_labels) >= 0.9
    assert "16 hidden ReLU units" in hidden_router.describe()
    again = StreamedRouter(**HIDDEN).fit(data.train_texts, data.train_labels, ids=[d.id for d in data.train])
    assert again.head_.W1.tobytes() == hidden_router.head_.W1.tobytes()
    losses = [entry["loss"] for entry in hidden_router.training_["held_out_by_pass"]]
    assert hidden_router.training_["epochs"] == int(np.argmin(losses)) + 1  # the best pass, read back from disk
    hidden_router.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m", kinds="route")
    assert loaded.get_params() == hidden_router.get_params()
    assert np.array_equal(loaded.predict_proba(data.test_texts), hidden_router.predict_proba(data.test_texts))


@pytest.mark.parametrize("change", [
    lambda b: b["params"].update(hidden=8),  # the head has 16 units
    lambda b: b["params"].update(hidden=0),  # a softmax regression has no hidden layer
    lambda b: b["head"].update(hidden=-1),
    lambda b: b["head"].update(type="linear", link="softmax"),
])
def test_a_hidden_head_that_does_not_match_is_refused(hidden_router, tmp_path, change):
    hidden_router.save(tmp_path / "m")
    _rewrite_bundle(tmp_path / "m", change)
    with pytest.raises(ModelFormatError):
        load_model(tmp_path / "m", kinds="route")


def test_hidden_head_arrays_are_checked(tmp_path):
    from rmd_baselines.persist import ModelReader, model_writer

    head = HiddenLayerHead(np.ones((8, 2), np.float32), np.zeros(2), np.ones((2, 3)), np.zeros(3))
    with model_writer(tmp_path / "good", "route") as writer:
        head.save(writer, "head")
    loaded = HiddenLayerHead.load(ModelReader(tmp_path / "good", "route"), head.to_json(), "head", 3, 8)
    assert np.array_equal(loaded.W1, head.W1) and np.array_equal(loaded.W2, head.W2)
    for arrays in ({"W1": np.ones((8, 2))}, {"b2": np.zeros(4)}, {"W2": np.full((2, 3), np.nan)}):
        directory = tmp_path / str(len(list(tmp_path.iterdir())))
        with model_writer(directory, "route") as writer:
            writer.write_arrays("head.npz", **{"W1": head.W1, "b1": head.b1, "W2": head.W2, "b2": head.b2,
                                               **arrays})
        with pytest.raises(ModelFormatError):
            HiddenLayerHead.load(ModelReader(directory, "route"), head.to_json(), "head", 3, 8)


def test_hidden_explanations_are_exact_for_each_text(hidden_router, data):
    for text in data.test_texts[:5]:
        explanation = explain_classification(hidden_router, text)
        for part in leaf_parts(explanation):
            assert check_sum(part) < 1e-6
            assert 0 < part["hidden_units_on"] <= part["hidden_units"] == 16
        assert "of 16 hidden units on for this text" in format_classification(explanation)
    # The weights are the ones of the units on for that text: a unit turned off changes them.
    head = hidden_router.head_
    row = hidden_router.transform([data.test_texts[0]])
    columns, weights, intercept, on = head.local_linear(row, 0)
    assert float(row.data @ weights + intercept) == pytest.approx(head.decision_function(row)[0, 0], abs=1e-6)


def test_hidden_layer_columns_and_parameters():
    assert choose_n_features(17, 1024 ** 3, hidden=32) == 2 ** 20
    assert choose_n_features(17, 1024 ** 3, hidden=64) == 2 ** 19
    assert choose_n_features(17, 1024 ** 3, hidden=64) * (8 * 64 + 12) <= 512 * 1024 ** 2
    for hidden in (-1, 1.5, True, "8"):
        with pytest.raises(UsageError, match="hidden"):
            StreamedRouter(hidden=hidden).fit(["a", "b"], ["x", "y"])
    for rate in (0, -0.1, True, "0.1", float("nan")):
        with pytest.raises(UsageError, match="learning_rate"):
            StreamedRouter(learning_rate=rate).fit(["a", "b"], ["x", "y"])


def test_the_router_picks_its_learner_by_training_size(data, monkeypatch, tmp_path):
    import rmd_baselines.classify.streamed as streamed

    ids = [d.id for d in data.train]
    small = StreamedRouter(**SMALL).fit(data.train_texts, data.train_labels, ids=ids)
    assert small.hidden is None and small.hidden_ == 0 and type(small.head_).__name__ == "LinearHead"
    assert small.training_["learning_rate"] == streamed.AUTO_LEARNING_RATE["softmax"]
    monkeypatch.setattr(streamed, "AUTO_HIDDEN", 8)
    monkeypatch.setattr(streamed, "AUTO_HIDDEN_MIN_RECORDS", len(ids))
    large = StreamedRouter(**SMALL).fit(data.train_texts, data.train_labels, ids=ids)
    assert large.hidden_ == 8 and large.head_.W1.shape[1] == 8
    assert large.training_["learning_rate"] == streamed.AUTO_LEARNING_RATE["hidden"]
    large.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m", kinds="route")
    assert loaded.hidden is None and loaded.hidden_ == 8
    assert np.array_equal(loaded.predict_proba(data.test_texts), large.predict_proba(data.test_texts))
    assert StreamedRecommender().hidden == 0  # the recommender stays a softmax regression


def test_a_model_saved_before_the_hidden_layer_existed_is_softmax_regression(router, tmp_path):
    router.save(tmp_path / "m")
    _rewrite_bundle(tmp_path / "m", lambda bundle: bundle["params"].pop("hidden"))
    loaded = load_model(tmp_path / "m", kinds="route")
    assert loaded.hidden == 0 and np.array_equal(loaded.head_.coef, router.head_.coef)

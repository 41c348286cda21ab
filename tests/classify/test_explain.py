"""Exact explanations of routing and recommendation: for every preset, on models trained on the bundled sample,
the contributions add up to each part's score (within 1e-6), and those scores are what the model ranks by. Pushed
through the head's own link (sigmoid, Platt or softmax), the scores of all labels give back the model's
probabilities."""

import json

import numpy as np
import pytest

from rmd_baselines.classify.explain import (
    TfidfFeatureMap,
    ansi_highlight,
    char_shares,
    check_sum,
    explain_classification,
    format_classification,
    leaf_parts,
)
from rmd_baselines.classify.heads import EnsembleHead, LightGBMHead, LinearHead
from rmd_baselines.classify.presets import HIERARCHICAL, TASK_PRESETS
from rmd_baselines.errors import DataError, UsageError

from ..conftest import SAMPLE
from ..sample_models import classification_data, classifier_dir, fitted_classifier

# Every preset once: the non-hierarchical ones route, the hierarchical ones recommend (they exist only there);
# cnb also recommends, so that a flat recommender over all doctors is covered as well.
CASES = [("route", preset) for preset in TASK_PRESETS["route"]] + [("recommend", p) for p in HIERARCHICAL]
CASES.append(("recommend", "cnb"))
TOLERANCE = 1e-6

pytestmark = pytest.mark.skipif(not SAMPLE.is_file(), reason=f"bundled sample {SAMPLE} not generated")


def link(head, scores: np.ndarray) -> np.ndarray:
    """Probabilities from ranking scores, the way each head computes them (written out independently)."""
    if isinstance(head, LightGBMHead):
        if head.n_classes == 2:  # class 1's score is s, class 0's is -s
            return 1.0 / (1.0 + np.exp(-scores))
        exp = np.exp(scores - scores.max())
        return exp / exp.sum()
    if head.link == "softmax":
        exp = np.exp(scores - scores.max())
        return exp / exp.sum()
    sigmoid = 1.0 / (1.0 + np.exp(-scores))
    return sigmoid / sigmoid.sum()


def check_head_scores(head, row, scores: dict[int, float]) -> None:
    """The explained scores of every class of ``head`` reproduce its probabilities."""
    expected = head.predict_proba(row)[0]
    assert sorted(scores) == list(range(len(expected)))
    assert np.allclose(link(head, np.array([scores[k] for k in range(len(expected))])), expected,
                       rtol=1e-9, atol=1e-12)


def explain_every_label(model, text):
    return {label: explain_classification(model, text, label=label) for label in model.classes_}


def members(node) -> list[dict]:
    return [part for part in node["parts"] if part["part"].startswith("ensemble member")]


@pytest.mark.parametrize("task, preset", CASES)
def test_every_part_adds_up_to_its_score(task, preset, tmp_path_factory):
    model = fitted_classifier(tmp_path_factory, task, preset)
    _, _, data, _ = classification_data(tmp_path_factory, task)
    for text in data.test_texts[:5]:
        explanation = explain_classification(model, text)
        assert explanation["label"] == explanation["predicted"] == model.predict([text])[0]
        assert explanation["probability"] == pytest.approx(model.predict_proba([text]).max(), abs=1e-12)
        parts = [part for part in leaf_parts(explanation) if part["features"]]
        assert parts, "no part decomposes into features"
        for part in parts:
            assert check_sum(part) < TOLERANCE
        if explanation["contributions"] is not None:
            assert check_sum(explanation) < TOLERANCE
        json.dumps(explanation)  # plain data only


@pytest.mark.parametrize("task, preset", CASES)
def test_scores_are_what_the_model_ranks_by(task, preset, tmp_path_factory):
    model = fitted_classifier(tmp_path_factory, task, preset)
    _, _, data, _ = classification_data(tmp_path_factory, task)
    text = data.test_texts[0]
    row = model.transform([text])
    classes = list(model.classes_)
    explained = explain_every_label(model, text)
    proba = model.predict_proba([text])[0]
    for label, explanation in explained.items():
        assert explanation["probability"] == pytest.approx(proba[classes.index(label)], abs=1e-12)
    if model.hierarchical:
        check_hierarchy(model, row, explained, proba)
    elif isinstance(model.head_, EnsembleHead):
        for number, member in enumerate(model.head_.members):
            check_head_scores(member, row, {classes.index(label): members(e)[number]["score"]
                                            for label, e in explained.items()})
        for label, e in explained.items():  # the ensemble's probability is the sum of the members' shares
            assert sum(part["share"] for part in members(e)) == pytest.approx(e["probability"], abs=1e-12)
    else:
        check_head_scores(model.head_, row, {classes.index(label): e["score"] for label, e in explained.items()})


def check_hierarchy(model, row, explained, proba):
    hierarchy = model.hierarchy_
    groups = hierarchy["groups"]
    department_scores: dict[int, float] = {}
    within_scores: dict[int, dict[int, float]] = {}
    for label, explanation in explained.items():
        parts = explanation["parts"]
        assert len(parts) == 2 * len(explanation["paths"])
        for (department, doctor), (group, p_group, p_doctor) in zip(zip(parts[::2], parts[1::2]),
                                                                    explanation["paths"]):
            assert (department["part"], doctor["part"]) == ("department stage", "doctor stage")
            assert department["label"] == doctor["department"] == group and doctor["label"] == label
            assert (department["probability"], doctor["probability"]) == (p_group, p_doctor)
            g = groups.index(group)
            department_scores[g] = department["score"]
            if hierarchy["within"][g]["head"] is not None:
                local = list(hierarchy["within"][g]["classes"]).index(list(model.classes_).index(label))
                within_scores.setdefault(g, {})[local] = doctor["score"]
        # the paths' products add up to the doctor's probability
        assert sum(p * q for _, p, q in explanation["paths"]) == pytest.approx(
            proba[list(model.classes_).index(label)], abs=1e-12)
    check_head_scores(hierarchy["group_head"], row, department_scores)
    assert within_scores
    for g, scores in within_scores.items():
        check_head_scores(hierarchy["within"][g]["head"], row, scores)


def test_lightgbm_contributions_are_its_own(tmp_path_factory):
    model = fitted_classifier(tmp_path_factory, "route", "lightgbm")
    _, _, data, _ = classification_data(tmp_path_factory, "route")
    text = data.test_texts[1]
    explanation = explain_classification(model, text)
    head = model.head_
    k = list(model.classes_).index(explanation["label"])
    dense = model.transform([text])[:, head.columns].toarray()
    contributions = head.booster.predict(dense, pred_contrib=True)[0]
    block = contributions[k * (len(head.columns) + 1):(k + 1) * (len(head.columns) + 1)]
    assert explanation["intercept"] == block[-1]
    assert len(explanation["contributions"]) == np.count_nonzero(block[:-1])
    absent = [name for name, _ in explanation["contributions"] if explanation["features"][name]["value"] == 0]
    assert absent, "trees also branch on features that are absent from the text"


def test_features_are_the_model_input(tmp_path_factory):
    model = fitted_classifier(tmp_path_factory, "route", "logreg")  # characters and jieba words
    _, _, data, _ = classification_data(tmp_path_factory, "route")
    text = data.test_texts[2]
    explanation = explain_classification(model, text)
    row = model.transform([text])
    feature_map = TfidfFeatureMap(model.featurizer_)
    values = {feature_map.name(int(c)): float(v) for c, v in zip(row.indices, row.data)}
    assert {name: detail["value"] for name, detail in explanation["features"].items()} == values
    assert {name.split(":")[0] for name in values} == {"char", "word"}
    k = list(model.classes_).index(explanation["label"])
    for name, contribution in explanation["contributions"][:20]:
        column = next(int(c) for c in row.indices if feature_map.name(int(c)) == name)
        assert contribution == pytest.approx(values[name] * float(model.head_.coef[k, column]), abs=1e-15)


def test_character_shares_add_up_to_the_contributions(tmp_path_factory):
    model = fitted_classifier(tmp_path_factory, "route", "svm")
    _, _, data, _ = classification_data(tmp_path_factory, "route")
    text = data.test_texts[3]
    explanation = explain_classification(model, text)
    shares = explanation["char_shares"]
    assert len(shares) == len(text)
    assert sum(shares) == pytest.approx(sum(c for _, c in explanation["contributions"]), abs=1e-9)
    assert all(shares[i] == 0 for i, ch in enumerate(text) if ch.isspace())


def test_char_shares_split_by_occurrence_and_character():
    # feature "a" covers positions 0-1 once and 4 once; "b" covers 2 with weights 3:1 over two occurrences
    shares = char_shares(6, {"a": 1.0, "b": -2.0}, {"a": [(0, 1), (4,)], "b": [(2,), (3,)]}, {"b": [3.0, 1.0]})
    assert shares == pytest.approx([0.25, 0.25, -1.5, -0.5, 0.5, 0.0])


def test_text_without_known_features_is_its_intercept(tmp_path_factory):
    model = fitted_classifier(tmp_path_factory, "route", "svm-char")
    explanation = explain_classification(model, "ⓧⓨⓩ")
    assert explanation["contributions"] == [] and explanation["score"] == explanation["intercept"]
    assert explanation["char_shares"] == [0.0, 0.0, 0.0]


def test_another_label_and_bad_input(tmp_path_factory):
    model = fitted_classifier(tmp_path_factory, "route", "cnb")
    text = "孩子发烧咳嗽两天了"
    last = str(model.classes_[-1])
    explanation = explain_classification(model, text, label=last)
    assert explanation["label"] == last and explanation["predicted"] == model.predict([text])[0]
    assert check_sum(explanation) < TOLERANCE
    with pytest.raises(UsageError, match="unknown label 'no such department'"):
        explain_classification(model, text, label="no such department")
    with pytest.raises(DataError, match="empty text"):
        explain_classification(model, "   ")


def test_saved_model_explains_like_the_fitted_one(tmp_path_factory):
    from rmd_baselines.classify import load_model

    fitted = fitted_classifier(tmp_path_factory, "recommend", "hier-logreg-char12")
    loaded = load_model(classifier_dir(tmp_path_factory, "recommend", "hier-logreg-char12"))
    text = "最近胸口闷，爬楼梯就喘不上气，血压也有点高"
    a, b = explain_classification(fitted, text), explain_classification(loaded, text)
    a.pop("model"), b.pop("model")
    assert a == b


def test_text_output(tmp_path_factory):
    model = fitted_classifier(tmp_path_factory, "recommend", "hier-svm")
    text = "最近胸口闷，爬楼梯就喘不上气，血压也有点高"
    explanation = explain_classification(model, text)
    plain = format_classification(explanation, top=3)
    assert plain.splitlines()[0].startswith(explanation["label"])
    assert "== department stage:" in plain and "== doctor stage:" in plain
    assert plain.count("top 3 for:") == 2 and "SVM margin" in plain and "\x1b[" not in plain
    assert plain.rstrip().endswith("text: " + text)
    coloured = format_classification(explanation, top=3, ansi=True)
    assert coloured.count("text: ") == 2 and "\x1b[30;48;5;" in coloured


def test_ansi_highlight():
    assert ansi_highlight("ab", [0.0, 0.0]) == "ab"
    out = ansi_highlight("abc", [1.0, -1.0, 0.001])
    assert out.startswith("\x1b[30;48;5;82ma\x1b[0m\x1b[30;48;5;203mb\x1b[0m") and out.endswith("c")


def test_binary_lightgbm_explains_both_classes(tmp_path_factory):
    """With two labels LightGBM keeps one score (class 1's); class 0 ranks by its negative."""
    from collections import Counter

    from rmd_baselines.classify import DepartmentRouter
    from rmd_baselines.classify.presets import PRESETS

    _, _, data, docs = classification_data(tmp_path_factory, "route")
    two = [label for label, _ in Counter(data.train_labels).most_common(2)]
    rows = [i for i, label in enumerate(data.train_labels) if label in two]
    model = DepartmentRouter(**{**PRESETS["lightgbm"], "n_estimators": 10}).fit(
        [docs[i] for i in rows], [data.train_labels[i] for i in rows])
    text = next(t for t, label in zip(data.test_texts, data.test_labels) if label in two)
    explained = explain_every_label(model, text)
    assert len(explained) == 2 and model.head_.n_classes == 2
    for explanation in explained.values():
        assert check_sum(explanation) < TOLERANCE
    scores = [explained[label]["score"] for label in model.classes_]
    assert scores[0] == -scores[1] and "minus the raw LightGBM score" in explained[model.classes_[0]]["score_is"]
    check_head_scores(model.head_, model.transform([text]), dict(enumerate(scores)))

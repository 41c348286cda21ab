"""Classification metrics: scikit-learn parity (golden file and random labels), rankings, the Tables 5/6 layout."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rmd_baselines.errors import UsageError
from rmd_baselines.metrics import significance
from rmd_baselines.metrics.classification import (
    ClassificationStats, classification_scores, confusion_matrix, format_classification_table,
    mean_reciprocal_rank, per_class_report, top_k_accuracy)
from tests.metrics import vectors

# Copied from ../shared/metrics-vectors/classification.json (scikit-learn 1.9.1, case label_never_predicted).
NEVER_TRUE = ["a", "b", "c", "c"]
NEVER_PRED = ["a", "a", "a", "c"]
NEVER_EXPECTED = {
    0.0: {"accuracy": 0.5, "macro_precision": 0.4444444444444444, "macro_recall": 0.5, "macro_f1": 0.38888888888888884,
          "weighted_precision": 0.5833333333333334, "weighted_recall": 0.5, "weighted_f1": 0.4583333333333333},
    1.0: {"macro_precision": 0.7777777777777777, "macro_f1": 0.38888888888888884, "weighted_precision": 0.8333333333333334},
}


@pytest.mark.parametrize("zero_division", [0.0, 1.0])
def test_embedded_label_never_predicted(zero_division):
    result = classification_scores(NEVER_TRUE, NEVER_PRED, zero_division=zero_division)
    for key, expected in NEVER_EXPECTED[zero_division].items():
        assert result[key] == pytest.approx(expected, abs=1e-12)


def _golden_cases():
    if not (vectors.METRICS_VECTORS / "classification.json").is_file():
        return []  # no golden file: parametrize with nothing (an unreadable one fails loudly below)
    data = vectors.load("classification")
    return [(name, zd) for name in data["cases"] for zd in ("0", "1", "warn")]


@pytest.mark.parametrize("name, zd", _golden_cases())
def test_golden_file(name, zd):
    case = vectors.load("classification")["cases"][name]
    result = classification_scores(case["y_true"], case["y_pred"], zero_division=0.0 if zd == "warn" else float(zd))
    assert result["accuracy"] == pytest.approx(case["accuracy"], abs=1e-12)
    for average in ("macro", "weighted"):
        for metric in ("precision", "recall", "f1"):
            expected = case[f"{average}_zero_division={zd}"][metric]
            assert result[f"{average}_{metric}"] == pytest.approx(expected, abs=1e-12)


labels = st.lists(st.sampled_from(["内科", "外科", "儿科", "皮肤科", "眼科"]), min_size=1, max_size=25)


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=80, deadline=None)
@given(st.data())
def test_random_labels_match_sklearn(data):
    from sklearn.metrics import accuracy_score, confusion_matrix as sk_confusion, precision_recall_fscore_support

    y_true = data.draw(labels)
    y_pred = data.draw(st.lists(st.sampled_from(["内科", "外科", "儿科", "耳鼻喉科"]), min_size=len(y_true),
                                max_size=len(y_true)))
    zero_division = data.draw(st.sampled_from([0.0, 1.0]))
    ours = classification_scores(y_true, y_pred, zero_division=zero_division)
    assert ours["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=zero_division)
        assert (ours[f"{average}_precision"], ours[f"{average}_recall"], ours[f"{average}_f1"]) == pytest.approx(
            (p, r, f), abs=1e-12)
    names, matrix = confusion_matrix(y_true, y_pred)
    assert matrix == sk_confusion(y_true, y_pred, labels=names).tolist()
    report = per_class_report(y_true, y_pred, zero_division)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=names, zero_division=zero_division)
    assert [row["f1"] for row in report] == pytest.approx(list(f), abs=1e-12)
    assert [row["support"] for row in report] == list(s)


def test_rankings_top_k_and_mrr():
    y_true = ["a", "b", "c"]
    scores = [{"a": 0.9, "b": 0.1}, {"a": 0.5, "b": 0.5, "c": 0.1}, {"a": 0.3, "b": 0.2}]
    result = classification_scores(y_true, ["a", "a", "a"], scores=scores)
    assert result["top3_accuracy"] == pytest.approx(2 / 3)
    assert result["mrr"] == pytest.approx((1 + 1 / 2 + 0) / 3)  # tie a/b broken by label order: b is second
    assert top_k_accuracy(y_true, [["a"], ["b"], ["a"]], 1) == pytest.approx(2 / 3)
    assert mean_reciprocal_rank(y_true, [["a"], ["c", "b"], []]) == pytest.approx(0.5)
    as_array = classification_scores(y_true, ["a", "a", "a"], scores=np.array([[0.9, 0.1, 0], [0.5, 0.5, 0.1],
                                                                               [0.3, 0.2, 0]]), labels=["a", "b", "c"])
    assert as_array["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)  # every column is ranked, c third


def test_weighted_stats_equal_duplicated_samples():
    stats = ClassificationStats(NEVER_TRUE, NEVER_PRED)
    weights = np.array([2.0, 0.0, 1.0, 3.0])
    duplicated = [i for i, w in enumerate(weights) for _ in range(int(w))]
    expected = classification_scores([NEVER_TRUE[i] for i in duplicated], [NEVER_PRED[i] for i in duplicated])
    assert expected.pop("signature").startswith("classification|semantics:sklearn|")
    assert stats.scores(weights) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("y_true, y_pred", [([], []), (["a"], ["a", "b"]), (["a", 1], ["a", "a"])])
def test_bad_input(y_true, y_pred):
    with pytest.raises(UsageError):
        classification_scores(y_true, y_pred)


def test_tables_5_and_6_layout():
    ours = classification_scores(NEVER_TRUE, NEVER_PRED)
    table = format_classification_table({"tfidf-lr": ours}, "route")
    lines = table.splitlines()
    assert lines[0].split() == ["Metric", "tfidf-lr", "CPT*", "RoBERTa*", "BERT*", "ALBERT*"]
    assert lines[2].split() == ["Accuracy", "0.500", "0.749", "0.705", "0.686", "0.611"]
    assert "paper's figures on RealMedDial" in table and "Table 5" in table
    assert "Table 6" in format_classification_table({"x": ours}, "recommend")
    assert "CPT" not in format_classification_table({"x": ours})
    with pytest.raises(UsageError):
        format_classification_table({"x": ours}, "triage")


def test_bootstrap_intervals_are_seeded():
    y_true = ["内科", "外科", "儿科", "内科", "皮肤科", "外科", "内科"] * 3
    y_pred = ["内科", "内科", "儿科", "外科", "皮肤科", "外科", "儿科"] * 3
    first = classification_scores(y_true, y_pred, ci=True, n_boot=50, seed=4)
    assert first == classification_scores(y_true, y_pred, ci=True, n_boot=50, seed=4)
    low, high = first["ci"]["macro_f1"]
    assert low <= first["macro_f1"] <= high
    assert "macro_f1 [" in format_classification_table({"ours": first})


# --- comparing systems -------------------------------------------------------------------------------------------

from rmd_baselines.metrics.classification import (  # noqa: E402
    compare_classification, format_classification_comparison)

GOLD = ["内科", "外科", "儿科", "内科", "眼科"] * 8


def test_swapped_classifiers_equal_scoring_the_swapped_predictions():
    rng = np.random.default_rng(0)
    labels = ["内科", "外科", "儿科", "眼科", "皮肤科"]
    first, second = [list(rng.choice(labels, size=len(GOLD))) for _ in range(2)]
    scores = [[{label: float(rng.random()) for label in labels[: 1 + k % 5]} for k in range(len(GOLD))]
              for _ in range(2)]
    rankings = [[sorted(s, key=lambda label: (-s[label], label)) for s in per] for per in scores]
    pseudo = ClassificationStats(GOLD, first, rankings[0]).randomization(ClassificationStats(GOLD, second, rankings[1]))
    masks = rng.integers(2, size=(4, len(GOLD)), dtype=bool)
    taken, mirrored = pseudo(masks)
    for row, mask in enumerate(masks):
        for values, keep in ((taken, mask), (mirrored, ~mask)):
            expected = classification_scores(
                GOLD, [a if k else b for a, b, k in zip(first, second, keep)],
                scores=[a if k else b for a, b, k in zip(scores[0], scores[1], keep)])
            for key in (*ClassificationStats(GOLD, first).scores(), "top3_accuracy", "mrr"):
                assert values[key][row] == pytest.approx(expected[key], abs=1e-12), key


def test_compare_classifiers_with_mcnemar():
    base = ["内科"] * len(GOLD)  # right on 16 of 40
    better = list(GOLD)
    better[:3] = ["外科", "外科", "外科"]  # wrong on samples 1 and 3 (where the baseline is right on the first)
    result = compare_classification(GOLD, {"base": base, "better": better, "same": list(base)}, n_boot=200,
                                    n_trials=400, seed=2, ci=True)
    accuracy = result["comparisons"]["better"]["accuracy"]
    only_base = sum(g == b != c for g, b, c in zip(GOLD, base, better))
    only_better = sum(g == c != b for g, b, c in zip(GOLD, base, better))
    assert (accuracy["baseline_only"], accuracy["system_only"]) == (only_base, only_better)
    assert accuracy["p_mcnemar"] == pytest.approx(significance.binomial_two_sided(only_base, only_base + only_better))
    assert accuracy["difference"] == pytest.approx((38 - 16) / 40) and accuracy["significance"] == "**"
    assert result["comparisons"]["better"]["macro_f1"]["p_randomization"] == pytest.approx(1 / 401)
    same = result["comparisons"]["same"]
    assert all(c["difference"] == 0 and c["p_bootstrap"] == 1.0 and c["p_randomization"] == 1.0
               for c in same.values())
    assert same["accuracy"]["p_mcnemar"] == 1.0
    assert result["scores"]["base"]["ci"]["accuracy"][0] <= 16 / 40 <= result["scores"]["base"]["ci"]["accuracy"][1]
    table = format_classification_comparison(result)
    assert "p (McNemar)" in table and "base (baseline)" in table and f"{accuracy['difference']:+.4f}**" in table


def test_compare_classifiers_needs_scores_for_all_or_none():
    with pytest.raises(UsageError, match="every system or for none"):
        compare_classification(GOLD, [GOLD, GOLD], scores=[[{"内科": 1.0}] * len(GOLD), None])

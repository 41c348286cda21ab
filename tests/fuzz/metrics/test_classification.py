"""Fuzz the classification metrics (rmd_baselines/metrics/classification.py, with bootstrap and significance) on
random label sequences, odd label strings and random score maps.

Invariants: every value in [0, 1] and finite; scikit-learn's numbers with the same label set and zero_division;
the unweighted path equals unit weights (the bootstrap's path); perfect predictions score 1; reports and comparisons
are strict JSON.
"""

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from sklearn import metrics as skm

from rmd_baselines.errors import DataError, UsageError
from rmd_baselines.metrics.classification import (
    ClassificationStats,
    classification_scores,
    compare_classification,
    format_classification_table,
)

from ..support import check_comparisons, finite_json, fuzz

LABELS = st.sampled_from(["心内科", "儿科", "皮肤科", " 儿科", "a", "", "\u200b"])


@st.composite
def labelled(draw, min_size=1, max_size=12):
    n = draw(st.integers(min_size, max_size))
    return [draw(LABELS) for _ in range(n)], [draw(LABELS) for _ in range(n)]


@fuzz(80)
@given(labelled(), st.sampled_from([0.0, 1.0]))
def test_scores_match_sklearn_and_are_bounded(data, zero_division):
    y_true, y_pred = data
    result = classification_scores(y_true, y_pred, zero_division=zero_division)
    assert finite_json(result)
    labels = sorted(set(y_true) | set(y_pred))
    want = {"accuracy": skm.accuracy_score(y_true, y_pred)}
    for average in ("macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, average=average,
                                                         zero_division=zero_division)
        want.update({f"{average}_precision": p, f"{average}_recall": r, f"{average}_f1": f})
    for key, value in result.items():
        if key == "signature":
            continue
        assert math.isfinite(value) and -1e-12 <= value <= 1 + 1e-12, (key, value)
        if key in want:
            assert math.isclose(value, want[key], rel_tol=1e-9, abs_tol=1e-12), (key, value, want[key])
    stats = ClassificationStats(y_true, y_pred, zero_division=zero_division)
    direct, weighted = stats.scores(), stats.scores(np.ones(len(y_true)))
    for key in direct:
        assert math.isclose(direct[key], weighted[key], rel_tol=1e-9, abs_tol=1e-12), key
    format_classification_table({"system": result})


@fuzz(40)
@given(st.lists(LABELS, min_size=1, max_size=10))
def test_perfect_predictions_score_one(y_true):
    result = classification_scores(y_true, list(y_true))
    for key in ("accuracy", "macro_precision", "macro_recall", "macro_f1"):
        assert math.isclose(result[key], 1.0), (key, result[key])


@fuzz(40)
@given(labelled(max_size=8), st.data())
def test_ranked_scores_and_intervals_are_json(data, draw):
    y_true, y_pred = data
    scores = [draw.draw(st.dictionaries(LABELS, st.floats(-1e6, 1e6, allow_nan=False), max_size=4))
              for _ in y_true]
    try:
        result = classification_scores(y_true, y_pred, scores=scores, ci=True, n_boot=20,
                                       seed=draw.draw(st.integers(0, 2**31 - 1)))
    except (DataError, UsageError) as exc:
        assert "\n" not in str(exc)
        return
    assert finite_json(result), result
    assert 0 <= result["top3_accuracy"] <= 1 and 0 <= result["mrr"] <= 1


@fuzz(30)
@given(labelled(max_size=10), st.data())
def test_comparisons_are_json(data, draw):
    y_true, y_pred = data
    other = [draw.draw(LABELS) for _ in y_true]
    result = compare_classification(y_true, {"a": y_pred, "b": other}, n_boot=20, n_trials=20,
                                    seed=draw.draw(st.integers(0, 1000)))
    assert finite_json(result), result
    check_comparisons(result)

"""Rerank tuning: SelectionScorer equals the metrics package on every choice of candidates, and the grid search
keeps the best configuration, honours forced choices and breaks ties by grid order."""

import numpy as np
import pytest

from rmd_baselines.metrics.generation import evaluate_generation
from rmd_baselines.respond.tuning import SelectionScorer, grid_configurations, grid_search

REFERENCES = ["孩子发烧可以先吃布洛芬，多喝水。", "建议做个CT检查，看看肺部情况。", "不客气", "OK, 3天后复查血常规。"]
CANDIDATES = [
    ["孩子发烧可以吃布洛芬。", "多喝水", "你好"],
    ["建议去医院做个CT检查。", "建议做个胸片看看。"],
    ["不客气", "不客气，祝早日康复！", "好"],
    ["3天后复查。", "ok, 3天后复查血常规", ""],
]


@pytest.mark.parametrize("choice", [[0, 0, 0, 0], [1, 1, 1, 1], [2, 0, 2, 2], [0, 1, 0, 1], [1, 0, 2, 0]])
def test_selection_scores_equal_the_metrics_package(choice):
    scorer = SelectionScorer(CANDIDATES, REFERENCES)
    hyps = [CANDIDATES[i][c] for i, c in enumerate(choice)]
    report = evaluate_generation(hyps, [[r] for r in REFERENCES], tokenize="char", family="both")
    ours = scorer.score(np.array(choice))
    for family in ("paper", "dstc7"):
        for key in ("bleu4", "nist4"):
            assert ours[f"{family}_{key}"] == pytest.approx(report[family][key], abs=1e-12)
    assert ours["dist2"] == pytest.approx(report["paper"]["dist2"], abs=1e-12)
    assert scorer.reference_dist2 == pytest.approx(
        evaluate_generation(REFERENCES, [[r] for r in REFERENCES])["paper"]["dist2"], abs=1e-12)


def test_selection_scorer_rejects_bad_choices():
    scorer = SelectionScorer(CANDIDATES, REFERENCES)
    with pytest.raises(ValueError):
        scorer.score(np.array([0, 2, 0, 0]))  # context 1 has two candidates


def _toy_search(forced=None, dist_target=0.0):
    # One feature; weight +1 prefers candidate 0, weight -1 candidate 1 (the references' exact copies).
    references = ["多喝水休息", "复查血常规"]
    candidates = [["你好", "多喝水休息"], ["好的", "复查血常规"]]
    features = np.zeros((2, 2, 2))
    features[:, 0, 1], features[:, 1, 1] = 1.0, -1.0
    mask = np.ones((2, 2), dtype=bool)
    return grid_search(features, mask, ("retrieval", "f"), {"f": (1.0, -1.0, -1.0)}, {"retrieval": 0.0},
                       SelectionScorer(candidates, references), dist_target, forced)


def test_grid_search_keeps_the_configuration_that_scores_best():
    report = _toy_search()
    assert report["weights"] == {"retrieval": 0.0, "f": -1.0}
    assert report["valid_scores"]["paper_bleu4"] == pytest.approx(1.0)
    assert report["valid_scores_first_candidate"]["paper_bleu4"] == 0.0
    assert report["configurations"] == 3


def test_forced_choices_win_whatever_the_weights():
    report = _toy_search(forced=np.array([0, 0]))
    assert report["valid_scores"]["paper_bleu4"] == 0.0


def test_grid_configurations_are_in_a_fixed_order():
    assert grid_configurations({"a": (0, 1), "b": (2, 3)}) == [
        {"a": 0, "b": 2}, {"a": 0, "b": 3}, {"a": 1, "b": 2}, {"a": 1, "b": 3}]


def test_grid_search_in_slices_of_contexts_chooses_as_at_once(monkeypatch):
    """The combined scores are computed a slice of contexts at a time (a large valid split would otherwise need
    contexts x configurations x candidates floats at once); the choices and the report are the same."""
    from rmd_baselines.respond import tuning

    rng = np.random.default_rng(0)
    candidates = [CANDIDATES[i % 4] + ["多喝水"] * (3 - len(CANDIDATES[i % 4])) for i in range(12)]
    references = [REFERENCES[i % 4] for i in range(12)]
    features = rng.normal(size=(12, 3, 3))
    mask = rng.random((12, 3)) < 0.8
    mask[:, 0] = True
    forced = np.where(rng.random(12) < 0.2, 1, -1)
    grid = {"a": (0.0, 0.5, -1.0), "b": (1.0, -0.3)}

    def search():
        return grid_search(features, mask, ("retrieval", "a", "b"), grid, {"retrieval": 1.0},
                           SelectionScorer(candidates, references), 0.5, forced)

    at_once = search()
    monkeypatch.setattr(tuning, "COMBINED_CELLS", 7)  # one context (6 configurations x 3 candidates) a slice
    assert search() == at_once

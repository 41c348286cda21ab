"""Classification metrics for department routing and doctor recommendation (metrics-spec.md section 7).

scikit-learn semantics without importing scikit-learn: the label set is the sorted union of the true and predicted
labels; per class, precision = tp/(tp+fp), recall = tp/(tp+fn), F1 = 2tp/(2tp+fp+fn), with ``zero_division`` (0 by
default, stated explicitly) where a denominator is 0; macro = unweighted mean over the label set (macro-F1 is the
mean of per-class F1, not the F1 of macro P and R); weighted = weighted by true support, so a label only ever
predicted counts in macro with weight 0 in weighted. Agreement with scikit-learn 1.9 is within 1e-12.

With ranked predictions (``scores``): top-k accuracy = fraction of samples whose true label is among the k
best-scored labels, MRR = mean of 1/rank of the true label (0 when it is not ranked at all). Ranking sorts labels by
score, highest first, ties broken by label order, so it is deterministic.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import DataError, UsageError
from .. import paper
from . import significance
from .bootstrap import intervals
from .score import make_signature
from .tables import fmt, render

KEYS = ("accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_precision", "weighted_recall",
        "weighted_f1")
RANK_KEYS = ("top3_accuracy", "mrr")


def _label_set(y_true: Sequence, y_pred: Sequence) -> list:
    try:
        return sorted(set(y_true) | set(y_pred))
    except TypeError:
        raise UsageError("labels must all be of one comparable type (e.g. all strings)") from None


def _check_lengths(y_true: Sequence, y_pred: Sequence) -> None:
    if len(y_true) != len(y_pred):
        raise UsageError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    if len(y_true) == 0:
        raise UsageError("no samples to score")


def confusion_matrix(y_true: Sequence, y_pred: Sequence,
                     labels: Sequence | None = None) -> tuple[list, list[list[int]]]:
    """(labels, matrix) with ``matrix[i][j]`` = samples of true label i predicted as label j."""
    _check_lengths(y_true, y_pred)
    labels = list(labels) if labels is not None else _label_set(y_true, y_pred)
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for truth, guess in zip(y_true, y_pred):
        if truth in index and guess in index:
            matrix[index[truth]][index[guess]] += 1
    return labels, matrix


def _per_class(matrix: np.ndarray, zero_division: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    tp = np.diag(matrix)
    true_sum = matrix.sum(axis=1)
    pred_sum = matrix.sum(axis=0)

    def divide(numerator, denominator):
        out = np.full(numerator.shape, float(zero_division))
        nonzero = denominator > 0
        out[nonzero] = numerator[nonzero] / denominator[nonzero]
        return out

    return divide(tp, pred_sum), divide(tp, true_sum), divide(2 * tp, true_sum + pred_sum), true_sum


def _from_matrix(matrix: np.ndarray, zero_division: float) -> dict[str, float]:
    present = (matrix.sum(axis=0) + matrix.sum(axis=1)) > 0
    matrix = matrix[np.ix_(present, present)]
    precision, recall, f1, support = _per_class(matrix, zero_division)
    total = support.sum()
    return {
        "accuracy": float(np.trace(matrix) / total),
        "macro_precision": float(np.mean(precision)),
        "macro_recall": float(np.mean(recall)),
        "macro_f1": float(np.mean(f1)),
        "weighted_precision": float(np.average(precision, weights=support)),
        "weighted_recall": float(np.average(recall, weights=support)),
        "weighted_f1": float(np.average(f1, weights=support)),
    }


def per_class_report(y_true: Sequence, y_pred: Sequence, zero_division: float = 0.0) -> list[dict[str, Any]]:
    """One dict per label (sorted): label, precision, recall, f1, support (true count)."""
    labels, matrix = confusion_matrix(y_true, y_pred)
    precision, recall, f1, support = _per_class(np.asarray(matrix, dtype=np.float64), zero_division)
    return [
        {"label": label, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for label, p, r, f, s in zip(labels, precision, recall, f1, support)
    ]


def top_k_accuracy(y_true: Sequence, ranked_labels: Sequence[Sequence], k: int) -> float:
    """Fraction of samples whose true label is among the first ``k`` of its ranked labels."""
    if len(y_true) != len(ranked_labels) or not y_true:
        raise UsageError(f"y_true has {len(y_true)} labels but {len(ranked_labels)} rankings were given")
    return sum(1 for truth, ranked in zip(y_true, ranked_labels) if truth in list(ranked)[:k]) / len(y_true)


def _reciprocal_ranks(y_true: Sequence, ranked_labels: Sequence[Sequence]) -> list[float]:
    out = []
    for truth, ranked in zip(y_true, ranked_labels):
        ranked = list(ranked)
        out.append(1.0 / (ranked.index(truth) + 1) if truth in ranked else 0.0)
    return out


def mean_reciprocal_rank(y_true: Sequence, ranked_labels: Sequence[Sequence]) -> float:
    """Mean of 1/rank of the true label (0 for a sample whose ranking does not contain it)."""
    if len(y_true) != len(ranked_labels) or not y_true:
        raise UsageError(f"y_true has {len(y_true)} labels but {len(ranked_labels)} rankings were given")
    return sum(_reciprocal_ranks(y_true, ranked_labels)) / len(y_true)


def rank_labels(scores: Mapping[Any, float]) -> list:
    """Labels of one score map, best first (ties by label order)."""
    for label, value in scores.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
            raise DataError(f"label {label!r}: score: {value!r} is not a number")
    return [label for label, _ in sorted(scores.items(), key=lambda item: (-item[1], item[0]))]


def _rankings(scores, labels: Sequence | None, n: int) -> list[list]:
    as_array = isinstance(scores, np.ndarray) or (len(scores) > 0 and not isinstance(scores[0], Mapping))
    if as_array:
        if labels is None:
            raise UsageError("scores given as an array need labels= (one label per column)")
        table = np.asarray(scores, dtype=np.float64)
        if table.ndim != 2 or table.shape != (n, len(labels)):
            raise UsageError(f"scores array has shape {table.shape}, expected ({n}, {len(labels)})")
        return [rank_labels(dict(zip(labels, row.tolist()))) for row in table]
    if len(scores) != n:
        raise UsageError(f"{len(scores)} score maps for {n} samples")
    return [rank_labels(s) for s in scores]


class ClassificationStats:
    """Labels and rankings of a scored set, recomputable for bootstrap weights over samples, and comparable with
    another system's on the same samples (`significance.paired_tests`)."""

    def __init__(self, y_true: Sequence, y_pred: Sequence, rankings: Sequence[Sequence] | None = None,
                 zero_division: float = 0.0):
        _check_lengths(y_true, y_pred)
        self.y_true, self.y_pred, self.rankings = list(y_true), list(y_pred), rankings
        self.n = len(self.y_true)
        self.labels = _label_set(y_true, y_pred)
        index = {label: i for i, label in enumerate(self.labels)}
        self.true_idx = np.asarray([index[t] for t in y_true], dtype=np.int64)
        self.pred_idx = np.asarray([index[p] for p in y_pred], dtype=np.int64)
        self.zero_division = zero_division
        if rankings is not None:
            self.top3 = np.asarray([1.0 if t in list(r)[:3] else 0.0 for t, r in zip(y_true, rankings)])
            self.rr = np.asarray(_reciprocal_ranks(y_true, rankings))
        else:
            self.top3 = self.rr = None

    def scores(self, weights: np.ndarray | None = None) -> dict[str, float]:
        n_labels = len(self.labels)
        w = None if weights is None else np.asarray(weights, dtype=np.float64)
        matrix = np.bincount(self.true_idx * n_labels + self.pred_idx, weights=w,
                             minlength=n_labels * n_labels).reshape(n_labels, n_labels).astype(np.float64)
        result = _from_matrix(matrix, self.zero_division)
        if self.top3 is not None:
            total = len(self.true_idx) if w is None else w.sum()
            result["top3_accuracy"] = float((self.top3.sum() if w is None else w @ self.top3) / total)
            result["mrr"] = float((self.rr.sum() if w is None else w @ self.rr) / total)
        return result


    def observed(self) -> dict[str, float]:
        return self.scores()

    def replicates(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric for each row of a (replicates x samples) matrix of multiplicities."""
        rows = [self.scores(row) for row in np.asarray(weights, dtype=np.float64)]
        return {key: np.array([row[key] for row in rows]) for key in rows[0]}

    def randomization(self, other: "ClassificationStats"):
        """The function of a (trials x samples) boolean mask giving the metrics of both pseudo-systems: the first
        takes this system's prediction where the mask is True and ``other``'s elsewhere, the second the reverse.
        Each is scored over the stacked samples of both systems weighted by the mask, so its label set is its own."""
        if (self.rankings is None) != (other.rankings is None):
            raise UsageError("ranked predictions (scores) are needed for every system or for none")
        rankings = None if self.rankings is None else list(self.rankings) + list(other.rankings)
        stacked = ClassificationStats(self.y_true + other.y_true, self.y_pred + other.y_pred, rankings,
                                      self.zero_division)

        def pseudo_systems(masks: np.ndarray) -> tuple[dict, dict]:
            taken = np.asarray(masks, dtype=np.float64)
            first = stacked.replicates(np.hstack([taken, 1.0 - taken]))
            second = stacked.replicates(np.hstack([1.0 - taken, taken]))
            return first, second

        return pseudo_systems


def classification_signature(zero_division: float = 0.0) -> str:
    """How the classification scores were computed (scikit-learn semantics, label set, zero_division)."""
    return make_signature("classification", semantics="sklearn", labels="union(gold,pred)",
                          zero_division=f"{zero_division:g}", average="macro+weighted", rank="top3,mrr")


def classification_scores(y_true: Sequence, y_pred: Sequence, scores=None, zero_division: float = 0.0,
                          labels: Sequence | None = None, ci: bool = False, n_boot: int = 1000,
                          seed: int = 0) -> dict:
    """accuracy, macro/weighted precision/recall/F1 and, with ``scores``, top3_accuracy and mrr.

    ``scores`` is a list of label→score maps (one per sample) or an (n, n_labels) array whose columns are ``labels``.
    ``ci=True`` adds ``"ci": {key: [low, high]}``, 95 % percentile intervals from a seeded bootstrap over samples
    (each replicate recomputed exactly on its label set).
    """
    _check_lengths(y_true, y_pred)
    rankings = _rankings(scores, labels, len(y_true)) if scores is not None else None
    stats = ClassificationStats(y_true, y_pred, rankings, zero_division)
    result: dict = stats.scores()
    result["signature"] = classification_signature(zero_division)
    if ci:
        from .bootstrap import bootstrap_ci

        bounds = bootstrap_ci(stats.scores, len(y_true), n_boot=n_boot, seed=seed)
        result["ci"] = {key: list(pair) for key, pair in bounds.items()}
        result["ci_method"] = f"percentile-bootstrap,95%,n_boot:{n_boot},seed:{seed}"
    return result


def compare_classification(y_true: Sequence, predictions: Mapping[str, Sequence] | Sequence[Sequence],
                           scores: Mapping[str, Any] | Sequence | None = None, labels: Sequence | None = None,
                           zero_division: float = 0.0, n_boot: int = significance.DEFAULT_RESAMPLES,
                           n_trials: int = significance.DEFAULT_TRIALS, seed: int = 0, ci: bool = False,
                           names: Sequence[str] | None = None) -> dict:
    """Score several systems' labels on the same samples and test each against the first (`significance`).

    ``predictions`` maps names to predicted labels (or is a list, named system1, system2...); ``scores``, when
    given, has one entry per system (as in `classification_scores`) and adds top-3 accuracy and MRR. Every metric
    is tested with the paired bootstrap (``n_boot``) and approximate randomization (``n_trials``; 0 skips it), both
    seeded with ``seed``; accuracy also with McNemar's exact test (``p_mcnemar``, and the discordant counts
    ``baseline_only`` / ``system_only``). Returns ``{"systems", "baseline", "n", "method", "scores": {name: result
    as classification_scores'}, "comparisons": {name: {key: result}}}``; ``ci=True`` adds each system's intervals.
    """
    names = significance.named(list(names) if names is not None else significance.comparison_names(predictions))
    preds = list(predictions.values()) if isinstance(predictions, Mapping) else list(predictions)
    if not preds or len(names) != len(preds):
        raise UsageError(f"{len(preds)} prediction lists for {len(names)} system names")
    score_lists = [None] * len(preds)
    if scores is not None:
        score_lists = list(scores.values()) if isinstance(scores, Mapping) else list(scores)
        if len(score_lists) != len(preds) or any(entry is None for entry in score_lists):
            raise UsageError(f"scores are needed for every system or for none ({len(preds)} systems)")
    systems, results = [], []
    for pred, system_scores in zip(preds, score_lists):
        _check_lengths(y_true, pred)
        rankings = _rankings(system_scores, labels, len(y_true)) if system_scores is not None else None
        stats = ClassificationStats(y_true, pred, rankings, zero_division)
        result = stats.scores()
        result["signature"] = classification_signature(zero_division)
        systems.append(stats)
        results.append(result)
    tests = significance.paired_tests(systems, n_boot, n_trials, seed)
    if ci:
        for result, replicates in zip(results, tests["replicates"]):
            result["ci"] = {key: [significance.finite_or_none(v) for v in bounds]
                            for key, bounds in intervals(replicates).items()}
            result["ci_method"] = f"percentile-bootstrap,95%,n_boot:{n_boot},seed:{seed}"
    baseline_correct = [truth == guess for truth, guess in zip(y_true, preds[0])]
    comparisons = {}
    for name, pred, compared in zip(names[1:], preds[1:], tests["comparisons"]):
        exact = significance.mcnemar_exact(baseline_correct, [truth == guess for truth, guess in zip(y_true, pred)])
        accuracy = compared["accuracy"]
        accuracy.update(p_mcnemar=exact["p_value"], baseline_only=exact["baseline_only"],
                        system_only=exact["system_only"])
        accuracy["significance"] = significance.mark(
            [accuracy["p_bootstrap"], accuracy["p_randomization"], accuracy["p_mcnemar"]])
        comparisons[name] = compared
    method = significance.method_description(n_boot, n_trials, seed)
    method["mcnemar"] = ("accuracy: exact two-sided, min(1, 2 P(X <= min(b, c))), X ~ Binomial(b + c, 1/2); b, c = "
                         "samples only the baseline / only the system gets right")
    return {"systems": names, "baseline": names[0], "n": len(y_true), "method": method,
            "scores": dict(zip(names, results)), "comparisons": comparisons}


def format_classification_comparison(result: Mapping) -> str:
    """A `compare_classification` result as text: each metric's score per system and, for every system after the
    baseline, Δ (marked * / **), its 95 % interval, the bootstrap, randomization and (accuracy) McNemar p-values."""
    names = result["systems"]
    scores = result["scores"]
    p_columns = (*significance.P_COLUMNS, ("p (McNemar)", "p_mcnemar"))
    header = [*significance.COMPARISON_HEADER, *(title for title, _ in p_columns)]
    row_keys = list(paper.CLASSIFY_ROWS)
    if RANK_KEYS[0] in scores[names[0]]:
        row_keys += [("top3_accuracy", "Top-3 acc."), ("mrr", "MRR")]
    rows = []
    for key, label in row_keys:
        rows += significance.comparison_rows(label, names, [scores[name].get(key) for name in names],
                                             [result["comparisons"][name].get(key) for name in names[1:]], 3,
                                             p_columns=p_columns)
    notes = significance.comparison_notes(result)
    notes.insert(2, "p (McNemar): McNemar's exact test on the samples only one of the two gets right (accuracy).")
    notes.append(f"Signature: {scores[names[0]]['signature']}")
    for name in names:
        if "ci" in scores[name]:
            parts = [f"{key} [{'—' if low is None else f'{low:.3f}'}, {'—' if high is None else f'{high:.3f}'}]"
                     for key, (low, high) in scores[name]["ci"].items()]
            notes.append(f"{name} 95% CI: " + ", ".join(parts))
    return render(header, rows, notes, left=2)


def format_classification_table(results: Mapping[str, Mapping[str, float]], task: str | None = None) -> str:
    """Tables 5/6: our systems' columns, then the paper's four transformer columns for ``task`` (route|recommend)."""
    if task is not None and task not in paper.CLASSIFY_TABLES:
        raise UsageError(f"unknown task {task!r} (choose from {', '.join(paper.CLASSIFY_TABLES)})")
    ours = list(results)
    theirs = list(paper.CLASSIFY_SYSTEMS) if task else []
    table = paper.CLASSIFY_TABLES.get(task, {}) if task else {}
    header = ["Metric", *ours, *(f"{name}*" for name in theirs)]
    rows = []
    row_keys = list(paper.CLASSIFY_ROWS)
    if any(key in r for r in results.values() for key in RANK_KEYS):
        row_keys += [("top3_accuracy", "Top-3 acc."), ("mrr", "MRR")]
    for key, label in row_keys:
        cells = [fmt(results[name].get(key)) for name in ours]
        cells += [fmt(table[key][i]) if key in table else "—" for i in range(len(theirs))]
        rows.append([label, *cells])
    notes = []
    for name in ours:
        if "ci" in results[name]:
            parts = [f"{key} [{low:.3f}, {high:.3f}]" for key, (low, high) in results[name]["ci"].items()]
            notes.append(f"{name} 95% CI: " + ", ".join(parts))
    if theirs:
        which = "Table 5 (department routing)" if task == "route" else "Table 6 (doctor recommendation)"
        notes.append(f"* {paper.PAPER_LABEL}: {which}, transformers we do not run; not comparable to our rows.")
    return render(header, rows, notes)


def _read_classification_inputs(gold_path: str, pred_paths: Sequence[str], scores_paths: Sequence[str]):
    """Gold labels, predictions per system and score maps per system (or None), checked to be parallel."""
    from .io import check_one_per_system, check_same_length, read_labels, read_score_maps

    check_one_per_system("--scores", len(scores_paths), "--pred", len(pred_paths))
    gold = read_labels(gold_path)
    preds = []
    for path in pred_paths:
        preds.append(read_labels(path))
        check_same_length(gold_path, len(gold), path, len(preds[-1]), "labels")
    scores = []
    for path in scores_paths:
        scores.append(read_score_maps(path))
        check_same_length(gold_path, len(gold), path, len(scores[-1]), "score maps")
    return gold, preds, scores or None


def evaluate_classification_files(gold_path: str, pred_path: str, scores_path: str | None = None,
                                  zero_division: float = 0.0, **options) -> dict:
    """`classification_scores` on label files (and a score file), checked to be parallel."""
    gold, (pred,), scores = _read_classification_inputs(gold_path, [pred_path], [scores_path] if scores_path else [])
    result = classification_scores(gold, pred, scores=scores[0] if scores else None, zero_division=zero_division,
                                   **options)
    result["zero_division"] = zero_division
    result["n"] = len(gold)
    return result


def compare_classification_files(gold_path: str, pred_paths: Sequence[str], scores_paths: Sequence[str] = (),
                                 **options) -> dict:
    """`compare_classification` on label files, each system named by its prediction file."""
    gold, preds, scores = _read_classification_inputs(gold_path, list(pred_paths), list(scores_paths))
    return compare_classification(gold, preds, scores=scores, names=[str(path) for path in pred_paths], **options)

"""Training routers and recommenders on a corpus file: the protocol's train split, optional k-fold
cross-validation on it, and a saved model directory that records how it was made.

`train_model` is what ``rmd-baseline train route|recommend`` calls. The model directory's metadata holds the
`ClassificationSettings` (so ``evaluate model`` can rebuild the test split), the data file's absolute path and
SHA-256, the preset name, its hyper-parameters and the seed.
"""

from __future__ import annotations

import os
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .. import __version__
from ..corpus.reader import load_dialogues
from ..errors import UsageError
from ..persist import check_model_destination
from ..progress import progress, stage
from ..tasks.classification import ClassificationData, ClassificationSettings, build_classification_task
from .classifier import DepartmentRouter, DoctorRecommender, TextClassifier
from .features import tokenize_texts
from .presets import DEFAULT_MODELS, preset_params

ESTIMATOR_FOR_TASK = {"route": DepartmentRouter, "recommend": DoctorRecommender}
NO_GROUP = "(no department)"


def build_estimator(task: str, model: str | None = None, seed: int = 0) -> TextClassifier:
    """A fresh router or recommender configured by preset ``model`` (the task's default when None)."""
    return ESTIMATOR_FOR_TASK[task](**preset_params(task, model), seed=seed)


def default_estimator(task: str, model: str | None = None, random_state: int = 0) -> TextClassifier:
    """The task's default router/recommender (``random_state`` is its seed); fit it with `fit_on_data`."""
    return build_estimator(task, model, seed=random_state)


def fit_on_data(estimator: TextClassifier, data: ClassificationData) -> TextClassifier:
    """Fit on the train split of ``data``, passing departments as groups when the estimator is hierarchical."""
    groups = departments_of(data.train) if estimator.hierarchical else None
    docs = tokenize_texts(data.train_texts, words=estimator.word_weight > 0)
    return estimator.fit(docs, data.train_labels, groups=groups)


def department_group(dialogue) -> str:
    """A record's group in hierarchical recommendation: its department, or `NO_GROUP`."""
    return dialogue.department if dialogue.department and dialogue.department.strip() else NO_GROUP


def departments_of(dialogues) -> list[str]:
    """The department of each record (the groups of hierarchical recommendation)."""
    return [department_group(d) for d in dialogues]


def cross_validate(estimator: TextClassifier, docs: Sequence, labels: Sequence[str],
                   groups: Sequence[str] | None = None, folds: int = 5, seed: int = 0) -> dict:
    """Stratified k-fold cross-validation (folds stratified by label, shuffled with ``seed``).

    Returns mean and standard deviation of accuracy and macro-F1 over the folds, the per-fold values, and a
    note when some class has fewer records than folds (it is then absent from some test folds).
    """
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    from ..metrics.classification import classification_scores

    labels = np.asarray(list(labels), dtype=object)
    if folds < 2:
        raise UsageError(f"--cv needs at least 2 folds, got {folds}")
    if folds > len(labels):
        raise UsageError(f"--cv {folds}: only {len(labels)} training records")
    counts = Counter(labels.tolist()).values()
    smallest = min(counts)
    if folds > max(counts):
        raise UsageError(f"--cv {folds}: every class has fewer than {folds} training records (the largest has "
                         f"{max(counts)})")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    per_fold = []
    with warnings.catch_warnings():
        # Reported below as a note instead of scikit-learn's warning about small classes.
        warnings.filterwarnings("ignore", message="The least populated class")
        splits = list(splitter.split(np.zeros(len(labels)), labels))
    for train, test in progress(splits, label=f"{folds}-fold cross-validation"):
        fold_groups = None if groups is None else [groups[i] for i in train]
        model = clone(estimator).fit([docs[i] for i in train], labels[train].tolist(), groups=fold_groups)
        predicted = model.predict([docs[i] for i in test])
        scores = classification_scores(labels[test].tolist(), predicted.tolist())
        per_fold.append({"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"]})
    result = {"folds": folds, "seed": seed, "per_fold": per_fold}
    for key in ("accuracy", "macro_f1"):
        values = np.array([fold[key] for fold in per_fold])
        result[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1))}
    if smallest < folds:
        result["note"] = (f"the smallest class has {smallest} training records (< {folds} folds): it is missing "
                          "from some test folds")
    return result


def load_classification_data(data_path: str | os.PathLike, settings: ClassificationSettings) -> ClassificationData:
    """Read a corpus (validated) and build the protocol's split for ``settings``."""
    dialogues, _ = load_dialogues(data_path)
    return build_classification_task(dialogues, settings, source=os.fspath(data_path))


def model_metadata(estimator: TextClassifier, settings: ClassificationSettings, data_path: str | os.PathLike,
                   model: str | None = None) -> dict:
    """What a model directory records about its training: task settings, data file and SHA-256, preset, seed."""
    from ..persist import file_sha256

    return {
        "task": settings.task,
        "model": model or type(estimator).__name__,
        "settings": settings.to_json(),
        "data": {"path": os.path.abspath(os.fspath(data_path)), "sha256": file_sha256(os.fspath(data_path))},
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in estimator.get_params().items()},
        "seed": estimator.seed,
        "library_version": __version__,
    }


def save_model(estimator: TextClassifier, directory: str | os.PathLike, settings: ClassificationSettings,
               data_path: str | os.PathLike, model: str | None = None, extra: dict | None = None) -> dict:
    """Save a fitted router/recommender with the metadata `evaluate model` needs; returns that metadata."""
    if estimator.KIND != settings.task:
        raise UsageError(f"a {type(estimator).__name__} cannot be saved as a {settings.task} model")
    metadata = {**model_metadata(estimator, settings, data_path, model), **(extra or {})}
    estimator.save(directory, metadata=metadata)
    return metadata


@dataclass
class TrainingSet:
    """What fitting a router/recommender needs from the protocol's split: the train records' texts, labels and
    departments in the split's order (the order decides the fitted model's last bits), and what the summary reports
    about the split."""

    texts: list[str]
    labels: list[str]
    departments: list[str]
    test_records: int
    classes: int
    description: str

    @classmethod
    def from_data(cls, data: ClassificationData) -> "TrainingSet":
        return cls(data.train_texts, data.train_labels, departments_of(data.train), len(data.test_texts),
                   len(data.labels), data.describe())


def train_model(data_path: str | os.PathLike, settings: ClassificationSettings, model: str | None = None,
                out: str | os.PathLike | None = None, cv: int | None = None,
                training_set: TrainingSet | None = None) -> tuple[TextClassifier, dict]:
    """Train on the protocol's train split of ``data_path`` (and cross-validate when ``cv``); save to ``out``.

    ``training_set``: the train split already read (`scale.read_training_set` reads it without holding the
    corpus); when None, the corpus is read into memory here. The model's seed is the split seed
    (``settings.seed``). Returns the fitted estimator and a summary dict.
    """
    model = model or DEFAULT_MODELS[settings.task]
    estimator = build_estimator(settings.task, model, seed=settings.seed)  # checks the name before any work
    if out is not None:
        check_model_destination(out)
    if training_set is None:
        with stage(f"reading {os.fspath(data_path)}"):
            training_set = TrainingSet.from_data(load_classification_data(data_path, settings))
    started = time.perf_counter()
    with stage("tokenizing"):
        docs = tokenize_texts(training_set.texts, words=estimator.word_weight > 0)
    tokenize_seconds = time.perf_counter() - started
    groups = training_set.departments if estimator.hierarchical else None
    summary = {
        **model_metadata(estimator, settings, data_path, model),
        "train_records": len(training_set.texts),
        "test_records": training_set.test_records,
        "classes": training_set.classes,
        "split": training_set.description,
    }
    if cv:
        summary["cv"] = cross_validate(estimator, docs, training_set.labels, groups, folds=cv, seed=settings.seed)
    started = time.perf_counter()
    with stage(f"fitting {model}"):
        estimator.fit(docs, training_set.labels, groups=groups)
    # Tokenizing and fitting only (cross-validation excluded).
    summary["train_seconds"] = round(tokenize_seconds + time.perf_counter() - started, 3)
    if out is not None:
        # The timing stays out of the saved metadata: the same data and seed give the same bytes.
        estimator.save(out, metadata={key: value for key, value in summary.items() if key != "train_seconds"})
        summary["out"] = os.fspath(out)
    return estimator, summary

"""The shared text classifier and the two task estimators built on it: `DepartmentRouter`, `DoctorRecommender`.

`TextClassifier` = `TextFeaturizer` (character + jieba word TF-IDF) + a head (`heads.MODELS`). It follows
scikit-learn's conventions -- hyper-parameters are ``__init__`` keywords stored unchanged, fitted state lives in
attributes ending in ``_``, ``fit`` returns ``self``, ``get_params``/``set_params`` work -- so it can be cloned
and used in ``Pipeline``/``GridSearchCV``; it does not inherit from scikit-learn so that a saved model loads and
predicts without importing it.

Inputs are raw texts or `features.TokenizedText` items (tokenize once with `features.tokenize_texts` and reuse).
Hierarchical mode (``hierarchical=True``, used for doctor recommendation) needs a coarser label per training text
(``fit(X, y, groups=departments)``) and scores ``P(label) = Σ_group P(group | text) · P(label | group, text)``.

Saved models (`save` / `load_model`) are model directories of kind ``route`` or ``recommend`` holding
``model.json`` (estimator, hyper-parameters, classes, head descriptions, training metadata), the featurizer's
vocabularies and idf (``features.json`` / ``features.npz``) and each head's arrays.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from ..errors import DataError, ModelFormatError, UsageError
from .estimator import ClassifierParams
from .features import TextFeaturizer, as_tokenized
from .heads import MODELS, EnsembleHead, fit_cnb, fit_lightgbm, fit_logreg, fit_svm, load_head

BUNDLE_FILE = "model.json"
BUNDLE_FORMAT = "rmd_baselines-classifier"
BUNDLE_FORMAT_VERSION = 1
CLASS_WEIGHTS = ("balanced", None)


class TextClassifier(ClassifierParams):
    """TF-IDF over characters (and jieba words) + logistic regression, SVM, naive Bayes, LightGBM or an ensemble.

    Parameters
    ----------
    model : one of ``logreg``, ``svm``, ``cnb``, ``lightgbm``, ``ensemble``.
    C : inverse regularisation of the logistic regressions.
    svm_C : inverse regularisation of the linear SVM.
    alpha : additive smoothing of complement naive Bayes.
    class_weight : ``"balanced"`` (weights inversely proportional to class frequency) or None.
    char_ngram_range, word_ngram_range : n-gram orders of the character and word blocks.
    word_weight : weight of the word block against the character block (0 = characters only, jieba not used).
    min_df : keep n-grams seen in at least this many training texts.
    max_features : at most this many n-grams per block (the most frequent).
    k_best, n_estimators, learning_rate, num_leaves : LightGBM's chi² column budget and tree settings.
    ensemble_members : the heads averaged by ``model="ensemble"``.
    hierarchical : score labels through groups given at fit time (see the module docstring).
    n_jobs : threads for LightGBM.
    seed : seeds every random choice (solvers' shuffling, calibration folds, LightGBM).
    """

    KIND: str | None = None  # the model-directory kind a saved estimator gets ("route" / "recommend")

    def __init__(self, model: str = "logreg", C: float = 10.0, svm_C: float = 0.5, alpha: float = 0.3,
                 class_weight: str | None = "balanced", char_ngram_range: tuple[int, int] = (1, 3),
                 word_ngram_range: tuple[int, int] = (1, 2), word_weight: float = 0.5, min_df: int = 1,
                 max_features: int | None = 200_000, k_best: int = 20_000, n_estimators: int = 200,
                 learning_rate: float = 0.1, num_leaves: int = 15,
                 ensemble_members: tuple[str, ...] = ("logreg", "svm", "cnb"), hierarchical: bool = False,
                 n_jobs: int = 1, seed: int = 0):
        self.model = model
        self.C = C
        self.svm_C = svm_C
        self.alpha = alpha
        self.class_weight = class_weight
        self.char_ngram_range = char_ngram_range
        self.word_ngram_range = word_ngram_range
        self.word_weight = word_weight
        self.min_df = min_df
        self.max_features = max_features
        self.k_best = k_best
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.ensemble_members = ensemble_members
        self.hierarchical = hierarchical
        self.n_jobs = n_jobs
        self.seed = seed

    # ------------------------------------------------------------------------------------------- description

    def describe(self) -> str:
        """A one-line summary of the model and its features, e.g. for reports."""
        words = f" + words {tuple(self.word_ngram_range)} x{self.word_weight:g}" if self.word_weight > 0 else ""
        mode = "hierarchical " if self.hierarchical else ""
        return (f"{type(self).__name__}: {mode}{self.model}, class_weight={self.class_weight}, "
                f"chars {tuple(self.char_ngram_range)}{words}, seed {self.seed}")


    # ------------------------------------------------------------------------------------------- fitting

    def _check_params(self) -> None:
        if self.model not in MODELS:
            raise UsageError(f"unknown model {self.model!r} (choose from {', '.join(MODELS)})")
        if self.class_weight not in CLASS_WEIGHTS:
            raise UsageError(f"class_weight must be 'balanced' or None, got {self.class_weight!r}")
        for name in ("C", "svm_C", "alpha", "learning_rate"):
            if not getattr(self, name) > 0:
                raise UsageError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("k_best", "n_estimators", "num_leaves", "n_jobs"):
            if int(getattr(self, name)) < 1:
                raise UsageError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.model == "ensemble":
            members = list(self.ensemble_members)
            if not members or any(m not in MODELS or m == "ensemble" for m in members):
                raise UsageError(f"ensemble_members must name models among "
                                 f"{', '.join(m for m in MODELS if m != 'ensemble')}, got {members!r}")

    def _new_featurizer(self) -> TextFeaturizer:
        return TextFeaturizer(self.char_ngram_range, self.word_ngram_range, self.word_weight, self.min_df,
                              self.max_features)

    def _fit_head(self, X, y: np.ndarray, n_classes: int, model: str | None = None):
        model = model or self.model
        if model == "logreg":
            return fit_logreg(X, y, n_classes, self.C, self.class_weight, self.seed)
        if model == "svm":
            return fit_svm(X, y, n_classes, self.svm_C, self.class_weight, self.seed)
        if model == "cnb":
            return fit_cnb(X, y, n_classes, self.alpha)
        if model == "lightgbm":
            return fit_lightgbm(X, y, n_classes, self.class_weight, self.seed, int(self.k_best),
                                int(self.n_estimators), self.learning_rate, int(self.num_leaves), int(self.n_jobs))
        return EnsembleHead([self._fit_head(X, y, n_classes, member) for member in self.ensemble_members])

    def _fit_or_constant(self, X, y: np.ndarray, n_classes: int):
        """A head, or None when there is a single class (its probability is then 1)."""
        return None if n_classes == 1 else self._fit_head(X, y, n_classes)

    def fit(self, X: Sequence, y: Sequence[str], groups: Sequence[str] | None = None) -> "TextClassifier":
        """Learn from texts (or `TokenizedText` items) and their labels; ``groups`` for hierarchical mode."""
        # Everything is checked and learned into locals first: a fit that fails leaves the estimator as it was.
        self._check_params()
        if isinstance(X, str):
            raise UsageError("X must be a sequence of texts, not a single string (wrap it in a list)")
        labels = _check_labels(y, len(X), "label")
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise DataError(f"need at least 2 distinct labels to learn from, got {len(classes)}")
        if self.hierarchical:
            if groups is None:
                raise UsageError("hierarchical mode needs the group (e.g. department) of every training text")
            groups = _check_labels(groups, len(X), "group")
        featurizer = self._new_featurizer()
        matrix = featurizer.fit_transform(as_tokenized(X, featurizer.uses_words))
        if matrix.shape[1] == 0:
            raise DataError(f"no features: no term occurs in at least min_df={self.min_df} training texts")
        index = {label: i for i, label in enumerate(classes)}
        y_index = np.array([index[label] for label in labels], dtype=np.int64)
        if self.hierarchical:
            hierarchy, head = self._fit_hierarchy(matrix, y_index, groups), None
        else:
            hierarchy, head = None, self._fit_head(matrix, y_index, len(classes))
        self.featurizer_ = featurizer
        self.classes_ = np.array(classes, dtype=object)
        self.n_features_ = featurizer.n_features
        self.hierarchy_ = hierarchy
        self.head_ = head
        return self

    def _fit_hierarchy(self, matrix, y_index: np.ndarray, groups: list[str]) -> dict:
        group_names = sorted(set(groups))
        group_of = np.array([group_names.index(g) for g in groups], dtype=np.int64)
        within = []
        for g in range(len(group_names)):
            rows = np.flatnonzero(group_of == g)
            members = np.unique(y_index[rows])
            local = np.searchsorted(members, y_index[rows])
            within.append({"classes": members, "head": self._fit_or_constant(matrix[rows], local, len(members))})
        return {
            "groups": group_names,
            "group_head": self._fit_or_constant(matrix, group_of, len(group_names)),
            "within": within,
        }

    # ---------------------------------------------------------------------------------------- prediction

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise UsageError(f"this {type(self).__name__} is not fitted yet; call fit() or load_model()")

    def transform(self, X: Sequence):
        """The TF-IDF matrix of texts (one L2-normalised row each)."""
        self._check_fitted()
        return self.featurizer_.transform(as_tokenized(X, self.featurizer_.uses_words))

    def predict_proba(self, X: Sequence) -> np.ndarray:
        """Probabilities, one row per text, columns in the order of ``classes_``."""
        matrix = self.transform(X)
        if self.hierarchy_ is None:
            return self.head_.predict_proba(matrix)
        hierarchy = self.hierarchy_
        group_head = hierarchy["group_head"]
        group_proba = group_head.predict_proba(matrix) if group_head else np.ones((matrix.shape[0], 1))
        proba = np.zeros((matrix.shape[0], len(self.classes_)))
        for g, part in enumerate(hierarchy["within"]):
            within = part["head"].predict_proba(matrix) if part["head"] else np.ones((matrix.shape[0], 1))
            proba[:, part["classes"]] += group_proba[:, [g]] * within
        return proba

    def predict(self, X: Sequence) -> np.ndarray:
        """The most probable label of each text (ties go to the first label in sorted order)."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def predict_topk(self, X: Sequence, k: int = 3) -> list[list[tuple[str, float]]]:
        """The ``k`` most probable labels of each text as ``(label, probability)``, best first."""
        if int(k) < 1:
            raise UsageError(f"k must be >= 1, got {k}")
        proba = self.predict_proba(X)
        # Sorting by (-probability, label index) makes ties deterministic.
        order = np.lexsort((np.broadcast_to(np.arange(proba.shape[1]), proba.shape), -proba), axis=1)[:, :int(k)]
        return [[(str(self.classes_[j]), float(row[j])) for j in ranks] for row, ranks in zip(proba, order)]

    def score(self, X: Sequence, y: Sequence[str]) -> float:
        """Accuracy (what scikit-learn's model selection uses when no scorer is given)."""
        return float(np.mean(self.predict(X) == np.asarray(list(y), dtype=object)))

    # ----------------------------------------------------------------------------------------- saving

    def save(self, directory: str | os.PathLike, metadata: dict | None = None) -> None:
        """Write a model directory (atomically); ``metadata`` is kept in ``model.json`` as it is."""
        from ..persist import model_writer

        self._check_fitted()
        if self.KIND is None:
            raise UsageError("save a DepartmentRouter or a DoctorRecommender (their directories say which task)")
        bundle = {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_FORMAT_VERSION,
            "estimator": type(self).__name__,
            "params": _json_params(self.get_params()),
            "classes": [str(c) for c in self.classes_],
            "n_features": int(self.n_features_),
            "metadata": metadata or {},
        }
        with model_writer(directory, self.KIND) as writer:
            self.featurizer_.save(writer)
            if self.hierarchy_ is None:
                bundle["head"] = self.head_.to_json()
                self.head_.save(writer, "head")
            else:
                h = self.hierarchy_
                bundle["hierarchy"] = {
                    "groups": h["groups"],
                    "group_head": _save_optional(writer, h["group_head"], "group_head"),
                    "within": [{"classes": [int(c) for c in part["classes"]],
                                "head": _save_optional(writer, part["head"], f"within.{g}")}
                               for g, part in enumerate(h["within"])],
                }
            writer.write_json(BUNDLE_FILE, bundle)


def _save_optional(writer, head, prefix: str) -> dict | None:
    if head is None:
        return None
    head.save(writer, prefix)
    return head.to_json()


def _json_params(params: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def _check_labels(values: Sequence, expected: int, what: str) -> list[str]:
    values = list(values)
    if len(values) != expected:
        raise UsageError(f"{expected} texts but {len(values)} {what}s")
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"{what} {i}: expected a non-empty string, got {value!r}")
    return values


class DepartmentRouter(TextClassifier):
    """Department routing: which department should see this patient (saved as a ``route`` model)."""

    KIND = "route"


class DoctorRecommender(TextClassifier):
    """Doctor recommendation: which doctor fits this consultation (saved as a ``recommend`` model).

    With ``hierarchical=True``, ``fit(X, doctors, groups=departments)`` learns departments first, then doctors
    within each department.
    """

    KIND = "recommend"


ESTIMATORS = {cls.__name__: cls for cls in (DepartmentRouter, DoctorRecommender)}
_TUPLE_PARAMS = ("char_ngram_range", "word_ngram_range", "ensemble_members")


def load_model(directory: str | os.PathLike, kinds: tuple[str, ...] | str = ("route", "recommend")) -> TextClassifier:
    """A saved router or recommender, checked file by file; its training metadata is in ``metadata_``."""
    from ..persist import ModelReader

    reader = ModelReader(directory, kinds=kinds)
    raw = reader.read_json(BUNDLE_FILE)
    if isinstance(raw, dict) and raw.get("format") == "rmd_baselines-streamed-classifier":
        # A model trained with --scale stream (hashed features, softmax head): see classify/streamed.py.
        from .streamed import BUNDLE_FORMAT_VERSION as STREAMED_VERSION, load_streamed

        return load_streamed(reader, reader.read_component(BUNDLE_FILE, raw["format"], STREAMED_VERSION,
                                                           "saved streamed router or recommender"))
    bundle = reader.read_component(BUNDLE_FILE, BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, "saved router or recommender")
    where = reader.path(BUNDLE_FILE)
    name = bundle.get("estimator")
    cls = ESTIMATORS.get(name) if isinstance(name, str) else None
    if cls is None or cls.KIND != reader.kind:
        raise ModelFormatError(f"{where}: estimator {bundle.get('estimator')!r} does not match kind {reader.kind!r}")
    params = reader.require(bundle, "params", BUNDLE_FILE)
    if not isinstance(params, dict) or set(params) != set(cls._param_names()):
        raise ModelFormatError(f"{where}: params do not match {cls.__name__}'s parameters")
    params = {k: tuple(v) if k in _TUPLE_PARAMS and isinstance(v, list) else v for k, v in params.items()}
    estimator = cls(**params)
    try:
        estimator._check_params()
        featurizer = estimator._new_featurizer()
    except (UsageError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"{where}: invalid params ({exc})") from None
    classes = reader.require(bundle, "classes", BUNDLE_FILE)
    if (not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes)
            or classes != sorted(set(classes))):
        raise ModelFormatError(f"{where}: classes must be a sorted list of at least 2 distinct strings")
    featurizer.load_state(reader)
    n_features = reader.require(bundle, "n_features", BUNDLE_FILE)
    if n_features != featurizer.n_features:
        raise ModelFormatError(f"{where}: n_features {n_features!r} does not match the vocabularies "
                               f"({featurizer.n_features})")
    estimator.featurizer_ = featurizer
    estimator.classes_ = np.array(classes, dtype=object)
    estimator.n_features_ = n_features
    if estimator.hierarchical:
        estimator.head_ = None
        estimator.hierarchy_ = _load_hierarchy(reader, reader.require(bundle, "hierarchy", BUNDLE_FILE),
                                               len(classes), n_features)
    else:
        estimator.hierarchy_ = None
        estimator.head_ = load_head(reader, reader.require(bundle, "head", BUNDLE_FILE), "head", len(classes),
                                    n_features)
    metadata = bundle.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ModelFormatError(f"{where}: 'metadata' must be an object")
    source = metadata.get("data", {})
    if not isinstance(source, dict) or not all(isinstance(source.get(key, ""), str) for key in ("path", "sha256")):
        raise ModelFormatError(f"{where}: 'metadata.data' must be an object with string 'path' and 'sha256'")
    estimator.metadata_ = metadata
    return estimator


def _load_hierarchy(reader, saved, n_classes: int, n_features: int) -> dict:
    where = reader.path(BUNDLE_FILE)
    if not isinstance(saved, dict):
        raise ModelFormatError(f"{where}: hierarchy must be an object")
    groups = reader.require(saved, "groups", BUNDLE_FILE)
    within_saved = reader.require(saved, "within", BUNDLE_FILE)
    if (not isinstance(groups, list) or not groups or not isinstance(within_saved, list)
            or len(within_saved) != len(groups)):
        raise ModelFormatError(f"{where}: hierarchy needs one 'within' entry per group")
    group_meta = saved.get("group_head")
    group_head = load_head(reader, group_meta, "group_head", len(groups), n_features) if group_meta else None
    if group_head is None and len(groups) != 1:
        raise ModelFormatError(f"{where}: hierarchy with {len(groups)} groups has no group head")
    within = []
    for g, part in enumerate(within_saved):
        members = reader.require(part, "classes", BUNDLE_FILE)
        if (not isinstance(members, list) or not members
                or not all(isinstance(c, int) and 0 <= c < n_classes for c in members)):
            raise ModelFormatError(f"{where}: hierarchy group {g}: classes must be indices below {n_classes}")
        meta = part.get("head")
        if meta is None and len(members) != 1:
            raise ModelFormatError(f"{where}: hierarchy group {g} has {len(members)} classes but no head")
        head = load_head(reader, meta, f"within.{g}", len(members), n_features) if meta else None
        within.append({"classes": np.array(members, dtype=np.int64), "head": head})
    return {"groups": groups, "group_head": group_head, "within": within}

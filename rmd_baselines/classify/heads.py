"""The models that turn a TF-IDF matrix into class probabilities ("heads"), fitted once and then pure arrays.

- ``logreg``: one-vs-rest logistic regression (liblinear), probabilities = per-class sigmoids normalised to sum 1.
- ``svm``: a linear SVM (one-vs-rest), scores mapped to probabilities by per-class Platt sigmoids fitted on
  out-of-fold decision values (3-fold, seeded), normalised to sum 1.
- ``cnb``: complement naive Bayes; probabilities = softmax of its joint log-likelihoods.
- ``lightgbm``: gradient-boosted trees on the ``k_best`` TF-IDF columns with the highest chi² score (the sparse
  matrix is never densified).
- ``ensemble``: soft voting, the mean of its members' probabilities.
- ``hidden_relu`` (`HiddenLayerHead`): one hidden layer of rectified linear units and a softmax, the head the
  streamed router trains (`streamed.py`); it is not among the in-memory ``MODELS``.

scikit-learn and LightGBM do the fitting; what a head keeps afterwards is plain arrays (linear coefficients as
float32, the LightGBM model as its text format), and prediction runs on those arrays alone. So a head loaded from
disk predicts exactly what the fitted one did, and loading never imports scikit-learn.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

from ..errors import ModelFormatError, UsageError

MODELS = ("logreg", "svm", "cnb", "lightgbm", "ensemble")
LINKS = ("ovr_sigmoid", "platt", "softmax")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _normalise(p: np.ndarray) -> np.ndarray:
    total = p.sum(axis=1, keepdims=True)
    total[total == 0] = 1.0
    return p / total


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class LinearHead:
    """``scores = X @ coef.T + intercept``, turned into probabilities by ``link`` (see `LINKS`)."""

    kind = "linear"

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, link: str, platt: np.ndarray | None = None):
        if link not in LINKS:
            raise UsageError(f"unknown link {link!r}")
        self.coef = np.ascontiguousarray(coef, dtype=np.float32)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.link = link
        self.platt = None if platt is None else np.asarray(platt, dtype=np.float64)

    def decision_function(self, X: sp.csr_matrix) -> np.ndarray:
        return np.asarray(X @ self.coef.T, dtype=np.float64) + self.intercept

    def predict_proba(self, X: sp.csr_matrix) -> np.ndarray:
        scores = self.decision_function(X)
        if self.link == "softmax":
            return _softmax(scores)
        if self.link == "platt":
            scores = self.platt[:, 0] * scores + self.platt[:, 1]
        return _normalise(_sigmoid(scores))

    def to_json(self) -> dict:
        return {"type": self.kind, "link": self.link}

    def save(self, writer, prefix: str) -> None:
        arrays = {"coef": self.coef, "intercept": self.intercept}
        if self.platt is not None:
            arrays["platt"] = self.platt
        writer.write_arrays(f"{prefix}.npz", **arrays)

    @classmethod
    def load(cls, reader, meta: dict, prefix: str, n_classes: int, n_features: int) -> "LinearHead":
        name = f"{prefix}.npz"
        arrays = reader.read_arrays(name)
        coef, intercept = arrays.get("coef"), arrays.get("intercept")
        link = meta.get("link")
        if link not in LINKS:
            raise ModelFormatError(f"{reader.path(name)}: unknown link {link!r}")
        if coef is None or coef.dtype != np.float32 or coef.shape != (n_classes, n_features):
            raise ModelFormatError(f"{reader.path(name)}: coef missing or not float32 of shape "
                                   f"({n_classes}, {n_features})")
        if intercept is None or intercept.dtype != np.float64 or intercept.shape != (n_classes,):
            raise ModelFormatError(f"{reader.path(name)}: intercept missing or not {n_classes} floats")
        platt = arrays.get("platt")
        if link == "platt" and (platt is None or platt.dtype != np.float64 or platt.shape != (n_classes, 2)):
            raise ModelFormatError(f"{reader.path(name)}: platt missing or not of shape ({n_classes}, 2)")
        return cls(coef, intercept, link, platt if link == "platt" else None)


class HiddenLayerHead:
    """One hidden layer of rectified linear units, then a softmax:
    ``scores = relu(X @ W1 + b1) @ W2 + b2`` (``W1``: columns x units, float32; the rest float64).

    For one text, the units that are on (``X @ W1 + b1 > 0``) fix a linear model, and the scores equal it exactly:
    ``X @ (W1[:, on] @ W2[on]) + b1[on] @ W2[on] + b2``. `local_linear` returns that model; ``explain`` decomposes it
    like any linear head.
    """

    kind = "hidden_relu"

    def __init__(self, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray):
        self.W1 = np.ascontiguousarray(W1, dtype=np.float32)
        self.b1 = np.asarray(b1, dtype=np.float64)
        self.W2 = np.asarray(W2, dtype=np.float64)
        self.b2 = np.asarray(b2, dtype=np.float64)

    def pre_activations(self, X: sp.csr_matrix) -> np.ndarray:
        return np.asarray(X @ self.W1, dtype=np.float64) + self.b1

    def decision_function(self, X: sp.csr_matrix) -> np.ndarray:
        return np.maximum(self.pre_activations(X), 0.0) @ self.W2 + self.b2

    def predict_proba(self, X: sp.csr_matrix) -> np.ndarray:
        return _softmax(self.decision_function(X))

    def local_linear(self, row: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray, float, int]:
        """The linear model that gives class ``k``'s score for this one row: (columns of the row, their weights,
        intercept, number of units on)."""
        row = sp.csr_matrix(row)
        on = self.pre_activations(row)[0] > 0
        columns = row.indices.astype(np.int64)
        weights = self.W1[columns][:, on].astype(np.float64) @ self.W2[on, k]
        return columns, weights, float(self.b1[on] @ self.W2[on, k] + self.b2[k]), int(on.sum())

    def to_json(self) -> dict:
        return {"type": self.kind, "hidden": int(self.W1.shape[1])}

    def save(self, writer, prefix: str) -> None:
        writer.write_arrays(f"{prefix}.npz", W1=self.W1, b1=self.b1, W2=self.W2, b2=self.b2)

    @classmethod
    def load(cls, reader, meta: dict, prefix: str, n_classes: int, n_features: int) -> "HiddenLayerHead":
        name = f"{prefix}.npz"
        hidden = meta.get("hidden")
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
            raise ModelFormatError(f"{reader.path(name)}: 'hidden' must be a positive integer, got {hidden!r}")
        arrays = reader.read_arrays(name)
        expected = {"W1": (np.float32, (n_features, hidden)), "b1": (np.float64, (hidden,)),
                    "W2": (np.float64, (hidden, n_classes)), "b2": (np.float64, (n_classes,))}
        for key, (dtype, shape) in expected.items():
            array = arrays.get(key)
            if array is None or array.dtype != dtype or array.shape != shape:
                raise ModelFormatError(f"{reader.path(name)}: {key} missing or not {np.dtype(dtype).name} of shape "
                                       f"{shape}")
            if not np.isfinite(array).all():
                raise ModelFormatError(f"{reader.path(name)}: {key} holds values that are not finite")
        return cls(arrays["W1"], arrays["b1"], arrays["W2"], arrays["b2"])


def fit_logreg(X, y: np.ndarray, n_classes: int, C: float, class_weight, seed: int) -> LinearHead:
    """One binary logistic regression per class (class k against the rest).

    The dual formulation: much faster here, where features far outnumber training texts.
    """
    from sklearn.linear_model import LogisticRegression

    coef = np.zeros((n_classes, X.shape[1]))
    intercept = np.zeros(n_classes)
    for k in range(n_classes):
        model = LogisticRegression(C=C, solver="liblinear", dual=True, class_weight=class_weight,
                                   random_state=seed)
        model.fit(X, (y == k).astype(np.int64))
        coef[k] = model.coef_[0]
        intercept[k] = model.intercept_[0]
    return LinearHead(coef, intercept, "ovr_sigmoid")


def _svm(C: float, class_weight, seed: int):
    from sklearn.svm import LinearSVC

    return LinearSVC(C=C, class_weight=class_weight, random_state=seed)


def _svm_arrays(model, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    if n_classes == 2:  # scikit-learn keeps one row for two classes: the score of class 1.
        return np.vstack([-model.coef_[0], model.coef_[0]]), np.array([-model.intercept_[0], model.intercept_[0]])
    return model.coef_, model.intercept_


def fit_svm(X, y: np.ndarray, n_classes: int, C: float, class_weight, seed: int) -> LinearHead:
    """A linear SVM with per-class Platt sigmoids fitted on out-of-fold decision values.

    A class with a single training record has no out-of-fold decision value of its own (the fold that holds it
    out trains without it); such a class gets the sigmoid fitted on all classes' out-of-fold values pooled.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    coef, intercept = _svm_arrays(_svm(C, class_weight, seed).fit(X, y), n_classes)
    smallest = int(np.bincount(y, minlength=n_classes).min())
    folds = StratifiedKFold(n_splits=max(2, min(3, smallest)), shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        fold_indices = list(folds.split(np.zeros(len(y)), y))
    out_of_fold = np.zeros((X.shape[0], n_classes))
    scored = np.zeros((X.shape[0], n_classes), dtype=bool)  # the class was in that row's training fold
    for train, held_out in fold_indices:
        present = np.unique(y[train])
        if len(present) < 2:
            continue
        fold_coef, fold_intercept = _svm_arrays(_svm(C, class_weight, seed).fit(X[train], y[train]), len(present))
        out_of_fold[np.ix_(held_out, present)] = X[held_out] @ fold_coef.T + fold_intercept
        scored[np.ix_(held_out, present)] = True
    is_class = y[:, None] == np.arange(n_classes)[None, :]

    def sigmoid_of(values: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
        model = LogisticRegression(C=1e4).fit(values.reshape(-1, 1), targets.astype(np.int64))
        return model.coef_[0, 0], model.intercept_[0]

    platt = np.zeros((n_classes, 2))
    pooled = None
    for k in range(n_classes):
        targets = is_class[scored[:, k], k]
        if targets.any() and not targets.all():
            platt[k] = sigmoid_of(out_of_fold[scored[:, k], k], targets)
        else:
            if pooled is None:
                pooled = sigmoid_of(out_of_fold[scored], is_class[scored])
            platt[k] = pooled
    return LinearHead(coef, intercept, "platt", platt)


def fit_cnb(X, y: np.ndarray, n_classes: int, alpha: float) -> LinearHead:
    """Complement naive Bayes: its joint log-likelihood is linear in X."""
    from sklearn.naive_bayes import ComplementNB

    model = ComplementNB(alpha=alpha).fit(X, y)
    return LinearHead(model.feature_log_prob_, np.zeros(n_classes), "softmax")


class LightGBMHead:
    """Boosted trees on a chi²-selected subset of the TF-IDF columns."""

    kind = "lightgbm"

    def __init__(self, columns: np.ndarray, model_text: str, n_classes: int):
        import lightgbm

        self.columns = np.asarray(columns, dtype=np.int64)
        self.model_text = model_text
        self.n_classes = n_classes
        self.booster = lightgbm.Booster(model_str=model_text)

    def predict_proba(self, X: sp.csr_matrix) -> np.ndarray:
        p = np.asarray(self.booster.predict(X[:, self.columns], num_threads=1), dtype=np.float64)
        if p.ndim == 1:  # binary objective: probability of class 1
            p = np.column_stack([1.0 - p, p])
        return p

    def to_json(self) -> dict:
        return {"type": self.kind, "n_columns": int(len(self.columns))}

    def save(self, writer, prefix: str) -> None:
        writer.write_arrays(f"{prefix}.npz", columns=self.columns)
        writer.write_text(f"{prefix}.lgbm.txt", self.model_text)

    @classmethod
    def load(cls, reader, meta: dict, prefix: str, n_classes: int, n_features: int) -> "LightGBMHead":
        name = f"{prefix}.npz"
        columns = reader.read_arrays(name).get("columns")
        if (columns is None or columns.dtype != np.int64 or columns.ndim != 1
                or (len(columns) and (columns.min() < 0 or columns.max() >= n_features))):
            raise ModelFormatError(f"{reader.path(name)}: columns missing or outside 0..{n_features - 1}")
        text_name = f"{prefix}.lgbm.txt"
        try:
            head = cls(columns, reader.read_text(text_name), n_classes)
        except Exception as exc:  # LightGBM reports a bad model file as its own error type
            raise ModelFormatError(f"{reader.path(text_name)}: not a LightGBM model ({exc})") from None
        trees_classes = head.booster.num_model_per_iteration()
        if trees_classes != (1 if n_classes == 2 else n_classes) or head.booster.num_feature() != len(columns):
            raise ModelFormatError(f"{reader.path(text_name)}: model does not match {n_classes} classes and "
                                   f"{len(columns)} columns")
        return head


def fit_lightgbm(X, y: np.ndarray, n_classes: int, class_weight, seed: int, k_best: int, n_estimators: int,
                 learning_rate: float, num_leaves: int, n_jobs: int) -> LightGBMHead:
    """Boosted trees on the ``k_best`` columns by chi² score, fitted on the sparse matrix as it is."""
    import lightgbm
    from sklearn.feature_selection import chi2

    scores, _ = chi2(X, y)
    scores = np.nan_to_num(scores, nan=0.0)
    k = min(k_best, X.shape[1])
    # Stable sort: equal scores keep column order, so the selection is reproducible.
    columns = np.sort(np.argsort(-scores, kind="stable")[:k])
    model = lightgbm.LGBMClassifier(
        n_estimators=n_estimators, learning_rate=learning_rate, num_leaves=num_leaves, min_child_samples=5,
        colsample_bytree=0.5, subsample=0.8, subsample_freq=1, class_weight=class_weight, random_state=seed,
        n_jobs=n_jobs, deterministic=True, force_col_wise=True, verbose=-1,
    )
    model.fit(X[:, columns], y)
    # Predict through the text model so that a fitted head and a loaded one are the same object.
    return LightGBMHead(columns, model.booster_.model_to_string(), n_classes)


class EnsembleHead:
    """Soft voting: the mean of the members' probabilities."""

    kind = "ensemble"

    def __init__(self, members: list):
        self.members = members

    def predict_proba(self, X) -> np.ndarray:
        return np.mean([member.predict_proba(X) for member in self.members], axis=0)

    def to_json(self) -> dict:
        return {"type": self.kind, "members": [member.to_json() for member in self.members]}

    def save(self, writer, prefix: str) -> None:
        for i, member in enumerate(self.members):
            member.save(writer, f"{prefix}.{i}")

    @classmethod
    def load(cls, reader, meta: dict, prefix: str, n_classes: int, n_features: int) -> "EnsembleHead":
        members = meta.get("members")
        if not isinstance(members, list) or not members:
            raise ModelFormatError(f"{reader.directory}: ensemble head {prefix!r} lists no members")
        return cls([load_head(reader, m, f"{prefix}.{i}", n_classes, n_features) for i, m in enumerate(members)])


HEAD_TYPES = {cls.kind: cls for cls in (LinearHead, HiddenLayerHead, LightGBMHead, EnsembleHead)}


def load_head(reader, meta, prefix: str, n_classes: int, n_features: int):
    """Rebuild a head from its JSON description and its files under ``prefix``."""
    head_type = HEAD_TYPES.get(meta.get("type")) if isinstance(meta, dict) else None
    if head_type is None:
        raise ModelFormatError(f"{reader.directory}: head {prefix!r} has an unknown type")
    return head_type.load(reader, meta, prefix, n_classes, n_features)

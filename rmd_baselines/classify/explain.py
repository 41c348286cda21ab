"""Exact explanations of routing and recommendation decisions (``rmd-baseline explain route|recommend``).

Why did the router pick 心血管内科? Each decision is decomposed into one contribution per feature of the text
plus an intercept, and these parts add up (to float rounding) to the number the model ranks labels by. Nothing is
sampled or approximated. Which number that is depends on the head (`classify/heads.py`):

- ``logreg``: the label's one-vs-rest decision function ``w·x + b``. Probabilities are its sigmoid, normalised
  over the labels, so the labels rank by it.
- ``svm``: the Platt-calibrated logit ``A·(w·x + b) + B``. The saved model is one LinearSVC fitted on all training
  texts, plus one Platt sigmoid per label fitted on 3-fold out-of-fold decision values. So it is *not* a mean over
  calibrated folds: the folds only fit ``A`` and ``B``. Probabilities are ``sigmoid(logit)`` normalised over the
  labels, and the labels rank by the logit. Contributions are ``A·w_f·x_f``, the intercept is ``A·b + B``, and
  the raw SVM margin ``w·x + b`` is reported beside them.
- ``cnb``: the complement naive Bayes joint log-likelihood ``Σ_f x_f·log θ_f``. Probabilities are its softmax.
- ``lightgbm``: the label's raw boosted score (the sum of its trees' leaf values; probabilities are the softmax).
  LightGBM's exact per-feature contributions (``pred_contrib``, TreeSHAP) decompose it, and its expected value is
  the intercept. A feature *absent* from the text (value 0) can contribute too, because a tree can branch on
  absence.
- ``ensemble``: the mean of the members' probabilities. Each member is a part, decomposed as above.
- a hidden ReLU layer (the streamed router, ``hidden_relu``): the label's softmax score
  ``relu(x W1 + b1) · W2_k + b2_k``. The units that are on for *this* text fix a linear model,
  ``x · (W1[:, on] W2[on, k]) + b1[on] · W2[on, k] + b2_k``, which equals the score exactly (a unit that is off
  contributes 0 either way); its weights and intercept are the contributions, and how many units are on is
  reported. The weights hold for this text only: another text turns other units on.
- hierarchical recommenders: ``P(doctor) = Σ_dept P(dept | text) · P(doctor | dept, text)``. The department
  stage and the doctor stage are separate parts, each decomposed as above.

The core is a linear model over a feature map. ``FeatureMap.active(text)`` returns the model's input row and, for
every column present, its name and the characters it covers; `linear_part` turns a weight vector into
contributions. A new featurizer (hashed or vocabulary-capped n-grams, say) only needs its own feature map, and
`feature_map_for` picks it.

Character shares colour the text: each feature's contribution is split equally among its occurrences in the
text and, within an occurrence, among the characters it covers. A character's share is the sum of what it
receives, so the shares of a part add up to the contributions of the features present in the text.

`explain_classification` returns the plain dict that ``--json`` prints; `format_classification` renders it as
text (ANSI colours only when asked, i.e. on a terminal). `ansi_highlight` and `char_shares` are shared with the
response explainer.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import scipy.sparse as sp

from ..errors import DataError, UsageError
from ..text import get_tokenizer
from .features import TextFeaturizer, TokenizedText, ngrams
from .heads import EnsembleHead, HiddenLayerHead, LightGBMHead, LinearHead

# What each head's score is, in words (the module docstring has the reasoning).
SCORE_IS = {
    "ovr_sigmoid": "one-vs-rest logistic regression decision function w·x + b of this label (probabilities are "
                   "its sigmoid normalised over the labels, so labels rank by it)",
    "platt": "Platt-calibrated SVM logit A·(w·x + b) + B of this label: one linear SVM fitted on all training texts, "
             "A and B fitted on 3-fold out-of-fold margins (probabilities are sigmoid(logit) normalised over the "
             "labels, so labels rank by it)",
    "softmax": "complement naive Bayes joint log-likelihood Σ x_f·log θ_f of this label (probabilities are its "
               "softmax, so labels rank by it)",
    "softmax_regression": "multinomial logistic regression score w·x + b of this label over hashed character "
                          "n-grams (probabilities are its softmax, so labels rank by it)",
    "hidden_relu": "softmax score relu(x·W1 + b1)·W2 + b2 of this label, one hidden layer of rectified linear units "
                   "over hashed character n-grams (probabilities are its softmax, so labels rank by it); decomposed "
                   "through the linear model the units on for this text give, which equals it exactly",
    "lightgbm": "raw LightGBM score of this label (sum of its trees' leaf values; probabilities are the softmax, so "
                "labels rank by it), decomposed by LightGBM's exact per-feature contributions (pred_contrib)",
    "lightgbm_negative": "minus the raw LightGBM score of the binary model (this label is class 0, whose "
                         "probability is sigmoid(-score)), decomposed by LightGBM's exact per-feature "
                         "contributions (pred_contrib)",
}


# ---------------------------------------------------------------------------------------------- feature maps

@dataclass
class ActiveFeatures:
    """One text as a model sees it: its input row and, for each column present, where it occurs in the text.

    ``doc`` is the text as the model's ``predict_proba`` takes it (tokenized once); ``occurrences[column]`` lists,
    for each occurrence of the feature, the text positions it covers; ``name(column)`` names a column.
    """

    text: str
    doc: object
    row: sp.csr_matrix
    columns: np.ndarray
    values: np.ndarray
    occurrences: dict[int, list[tuple[int, ...]]]
    name: Callable[[int], str]


def token_positions(text: str, tokens: Sequence[str]) -> list[tuple[int, ...]]:
    """The text positions each token covers (tokens are substrings of the text, in order)."""
    out, cursor = [], 0
    for token in tokens:
        start = text.find(token, cursor)
        if start < 0:  # not a substring (a tokenizer that normalises): no position to colour
            out.append(())
            continue
        out.append(tuple(range(start, start + len(token))))
        cursor = start + len(token)
    return out


def gram_occurrences(tokens: Sequence[str], positions: Sequence[tuple[int, ...]], low: int, high: int,
                     joiner: str) -> list[tuple[str, tuple[int, ...]]]:
    """Every n-gram of ``tokens`` (as `features.ngrams` lists them) with the text positions it covers."""
    grams = ngrams(tokens, low, high, joiner)
    spans = [sum(positions[i:i + n], ()) for n in range(low, high + 1) for i in range(len(tokens) - n + 1)]
    return list(zip(grams, spans))


class TfidfFeatureMap:
    """The feature map of `features.TextFeaturizer`: character and jieba word n-grams, TF-IDF weighted."""

    def __init__(self, featurizer: TextFeaturizer):
        self.featurizer = featurizer
        self.offsets = np.cumsum([0] + [len(block.terms_) for block in featurizer.blocks])

    def tokenize(self, text: str) -> tuple[TokenizedText, dict[str, list[tuple[int, ...]]]]:
        """The text tokenized as the model tokenizes it, and the positions of every token of each kind."""
        chars = get_tokenizer("char").tokenize(text)
        positions = {"char": token_positions(text, chars)}
        words = None
        if self.featurizer.uses_words:
            words = get_tokenizer("word").tokenize(text)
            positions["word"] = token_positions(text, words)
        return TokenizedText(chars="".join(chars), words=None if words is None else tuple(words)), positions

    def name(self, column: int) -> str:
        block_number = int(np.searchsorted(self.offsets, column, side="right")) - 1
        block = self.featurizer.blocks[block_number]
        return f"{block.kind}:{block.terms_[column - self.offsets[block_number]]}"

    def active(self, text: str) -> ActiveFeatures:
        doc, positions = self.tokenize(text)
        row = sp.csr_matrix(self.featurizer.transform([doc]))
        row.sort_indices()
        occurrences: dict[int, list[tuple[int, ...]]] = {}
        for block, offset in zip(self.featurizer.blocks, self.offsets):
            tokens = doc.chars if block.kind == "char" else doc.words
            for gram, span in gram_occurrences(tokens, positions[block.kind], *block.ngram_range,
                                               block.JOINERS[block.kind]):
                column = block.index_.get(gram)
                if column is not None:
                    occurrences.setdefault(int(offset + column), []).append(span)
        return ActiveFeatures(text=text, doc=doc, row=row, columns=row.indices.astype(np.int64), values=row.data.copy(),
                              occurrences=occurrences, name=self.name)


# One feature map per featurizer type. A feature map has ``active(text) -> ActiveFeatures`` (the model's input row,
# what predict_proba takes, each column's occurrences) and ``name(column)``; any head over its columns is then
# explained as it is here.
FEATURE_MAPS: dict[type, Callable] = {TextFeaturizer: TfidfFeatureMap}


class HashedFeatureMap:
    """The feature map of `streamed.HashedFeaturizer`: hashed character n-grams with word-boundary marks (shown
    as ``_``); a column is named by the n-grams of the explained text that hash to it."""

    def __init__(self, featurizer):
        self.featurizer = featurizer
        self.names: dict[int, list[str]] = {}

    def name(self, column: int) -> str:
        grams = self.names.get(int(column))
        if not grams:
            return f"hash:{int(column)}"
        return "char:" + "|".join(gram.replace(" ", "_") for gram in grams)

    def active(self, text: str) -> ActiveFeatures:
        row = sp.csr_matrix(self.featurizer.transform([text]))
        row.sort_indices()
        occurrences: dict[int, list[tuple[int, ...]]] = {}
        names: dict[int, list[str]] = {}
        for gram, span in self.featurizer.grams_with_positions(text):
            column = self.featurizer.column_of(gram)
            occurrences.setdefault(column, []).append(span)
            if gram not in names.setdefault(column, []):
                names[column].append(gram)
        self.names = {column: sorted(grams) for column, grams in names.items()}
        return ActiveFeatures(text=text, doc=text, row=row, columns=row.indices.astype(np.int64),
                              values=row.data.astype(np.float64), occurrences=occurrences, name=self.name)


def _register_hashed() -> None:
    from .streamed import HashedFeaturizer

    FEATURE_MAPS[HashedFeaturizer] = HashedFeatureMap


_register_hashed()


def feature_map_for(model):
    """The feature map of a fitted classifier's featurizer (see `FEATURE_MAPS`)."""
    factory = FEATURE_MAPS.get(type(model.featurizer_))
    if factory is None:
        raise UsageError(f"no explanation for features of type {type(model.featurizer_).__name__}")
    return factory(model.featurizer_)


# ---------------------------------------------------------------------------------------------- shares

def char_shares(length: int, contributions: dict, occurrences: dict[object, list[tuple[int, ...]]],
                weights: dict[object, list[float]] | None = None) -> list[float]:
    """Per text position, its share of the contributions (see the module docstring).

    ``contributions`` and ``occurrences`` are keyed by feature; ``weights`` (optional, parallel to each feature's
    occurrences) splits a contribution among its occurrences in proportion instead of equally.
    """
    shares = [0.0] * length
    for key, contribution in contributions.items():
        spans = occurrences.get(key, ())
        shares_of = weights.get(key) if weights else None
        if shares_of is None:
            shares_of = [1.0] * len(spans)
        total = sum(w for span, w in zip(spans, shares_of) if span)
        if not total:
            continue
        for span, weight in zip(spans, shares_of):
            if not span:
                continue
            per_position = contribution * weight / total / len(span)
            for position in span:
                shares[position] += per_position
    return shares


ANSI_RESET = "\x1b[0m"
# Background colours of the 256-colour palette, light to strong, with black text on top.
ANSI_POSITIVE = (194, 157, 120, 82)
ANSI_NEGATIVE = (224, 217, 210, 203)


def ansi_highlight(text: str, shares: Sequence[float]) -> str:
    """The text with each character's background coloured by its share: green for, red against."""
    largest = max((abs(s) for s in shares), default=0.0)
    if largest == 0:
        return text
    out = []
    for ch, share in zip(text, shares):
        level = min(len(ANSI_POSITIVE) - 1, int(abs(share) / largest * len(ANSI_POSITIVE)))
        if ch in "\r\n" or abs(share) < 0.05 * largest:
            out.append(ch)
            continue
        palette = ANSI_POSITIVE if share > 0 else ANSI_NEGATIVE
        out.append(f"\x1b[30;48;5;{palette[level]}m{ch}{ANSI_RESET}")
    return "".join(out)


# ---------------------------------------------------------------------------------------------- parts

def linear_part(active: ActiveFeatures, weights: np.ndarray, intercept: float, score: float, score_is: str,
                **extra) -> dict:
    """One exact decomposition: ``score = intercept + Σ value_f · weight_f`` over the features present.

    ``score`` is the model's own number (computed by the head), so a caller can check the sum against it.
    """
    weights = np.asarray(weights, dtype=np.float64)[active.columns]
    contributions = active.values * weights
    names = [active.name(int(c)) for c in active.columns]
    features = {name: {"value": float(v), "weight": float(w)}
                for name, v, w in zip(names, active.values, weights)}
    by_column = {int(c): float(x) for c, x in zip(active.columns, contributions)}
    return _part(active, score, score_is, intercept, list(zip(names, contributions.tolist())), features,
                 by_column, extra)


def _part(active: ActiveFeatures, score: float, score_is: str, intercept: float, pairs: list, features: dict,
          by_column: dict[int, float], extra: dict) -> dict:
    pairs.sort(key=lambda pair: (-pair[1], pair[0]))
    return {
        "score": float(score),
        "score_is": score_is,
        "intercept": float(intercept),
        "contributions": [[name, float(value)] for name, value in pairs],
        "features": features,
        **extra,
        "char_shares": char_shares(len(active.text), by_column, active.occurrences),
    }


def _linear_head_part(head: LinearHead, active: ActiveFeatures, k: int) -> dict:
    margin = float(head.decision_function(active.row)[0, k])
    weights = head.coef[k].astype(np.float64)
    intercept = float(head.intercept[k])
    if head.link != "platt":
        return linear_part(active, weights, intercept, margin, SCORE_IS[getattr(head, "score_key", head.link)])
    a, b = (float(x) for x in head.platt[k])
    return linear_part(active, a * weights, a * intercept + b, a * margin + b, SCORE_IS["platt"],
                       margin=margin, platt=[a, b])


def _hidden_layer_part(head: HiddenLayerHead, active: ActiveFeatures, k: int) -> dict:
    score = float(head.decision_function(active.row)[0, k])
    columns, weights, intercept, units_on = head.local_linear(active.row, k)
    full = np.zeros(head.W1.shape[0])
    full[columns] = weights
    return linear_part(active, full, intercept, score, SCORE_IS["hidden_relu"], hidden_units_on=units_on,
                       hidden_units=int(head.W1.shape[1]))


def _lightgbm_part(head: LightGBMHead, active: ActiveFeatures, k: int) -> dict:
    dense = active.row[:, head.columns].toarray()
    contributions = np.asarray(head.booster.predict(dense, pred_contrib=True, num_threads=1), dtype=np.float64)[0]
    raw = np.asarray(head.booster.predict(dense, raw_score=True, num_threads=1), dtype=np.float64)
    n_columns = len(head.columns)
    if head.n_classes == 2:  # one tree per round: the score of class 1; class 0 ranks by its negative
        sign = 1.0 if k == 1 else -1.0
        block, score = sign * contributions, sign * float(raw.ravel()[0])
        score_is = SCORE_IS["lightgbm" if k == 1 else "lightgbm_negative"]
    else:
        block, score = contributions[k * (n_columns + 1):(k + 1) * (n_columns + 1)], float(raw[0, k])
        score_is = SCORE_IS["lightgbm"]
    pairs, features, by_column = [], {}, {}
    for j in np.flatnonzero(block[:n_columns]):
        column = int(head.columns[j])
        name = active.name(column)
        pairs.append((name, float(block[j])))
        features[name] = {"value": float(dense[0, j]), "weight": None}
        by_column[column] = float(block[j])
    return _part(active, score, score_is, float(block[n_columns]), pairs, features, by_column, {})


def explain_head(head, active: ActiveFeatures, k: int, member_names: Sequence[str] = (),
                 proba: np.ndarray | None = None) -> dict:
    """The exact decomposition of class ``k``'s score under one head (a tree of parts for an ensemble);
    ``proba`` is the head's probability row when the caller has it already."""
    probability = float((head.predict_proba(active.row)[0] if proba is None else proba)[k])
    if isinstance(head, EnsembleHead):
        parts = []
        for number, member in enumerate(head.members):
            part = explain_head(member, active, k)
            name = member_names[number] if number < len(member_names) else f"member {number}"
            parts.append({"part": f"ensemble member {name}", "share": part["probability"] / len(head.members),
                          **part})
        return {"probability": probability, "score": probability,
                "score_is": "mean of the ensemble members' probabilities of this label (labels rank by it)",
                "combination": "score = Σ share, share = member probability / number of members",
                "parts": parts}
    if isinstance(head, LightGBMHead):
        return {"probability": probability, **_lightgbm_part(head, active, k)}
    if isinstance(head, LinearHead):
        return {"probability": probability, **_linear_head_part(head, active, k)}
    if isinstance(head, HiddenLayerHead):
        return {"probability": probability, **_hidden_layer_part(head, active, k)}
    raise UsageError(f"no explanation for heads of type {type(head).__name__}")


def _constant_part(what: str) -> dict:
    return {"probability": 1.0, "score": 1.0, "score_is": f"probability 1: {what}", "intercept": 1.0,
            "contributions": [], "features": {}, "char_shares": None}


# ---------------------------------------------------------------------------------------------- models

def _class_index(model, label: str | None, proba: np.ndarray) -> int:
    classes = list(model.classes_)
    if label is None:
        return int(np.argmax(proba))
    if label not in classes:
        shown = ", ".join(classes[:8]) + (", …" if len(classes) > 8 else "")
        raise UsageError(f"unknown label {label!r} (the model's {len(classes)} labels: {shown})")
    return classes.index(label)


def _hierarchy_node(model, active: ActiveFeatures, k: int) -> dict:
    """Both stages of every path to doctor ``k`` (a department that has the doctor), likeliest path first."""
    hierarchy = model.hierarchy_
    members = list(model.ensemble_members) if model.model == "ensemble" else []
    group_head = hierarchy["group_head"]
    group_proba = group_head.predict_proba(active.row)[0] if group_head else np.ones(1)
    paths = []
    for g, part in enumerate(hierarchy["within"]):
        local = np.flatnonzero(part["classes"] == k)
        if len(local):
            within = part["head"].predict_proba(active.row)[0] if part["head"] else np.ones(1)
            paths.append((g, int(local[0]), float(group_proba[g]), within))
    paths.sort(key=lambda path: -path[2] * path[3][path[1]])
    parts = []
    for g, local, _, within in paths:
        group_name = hierarchy["groups"][g]
        department = (explain_head(group_head, active, g, members, group_proba) if group_head
                      else _constant_part("the model knows a single department"))
        within_head = hierarchy["within"][g]["head"]
        doctor = (explain_head(within_head, active, local, members, within) if within_head
                  else _constant_part(f"the only doctor of {group_name}"))
        parts += [{"part": "department stage", "label": group_name, **department},
                  {"part": "doctor stage", "label": str(model.classes_[k]), "department": group_name, **doctor}]
    probability = sum(p * q[local] for _, local, p, q in paths)
    return {
        "probability": probability,
        "score": probability,
        "score_is": "P(doctor) = Σ_dept P(dept | text) · P(doctor | dept, text): the department stage and the "
                    "doctor stage of each department that has this doctor are decomposed separately",
        "combination": "score = Σ over paths of P(department) · P(doctor | department)",
        "paths": [[hierarchy["groups"][g], p, float(q[local])] for g, local, p, q in paths],
        "parts": parts,
    }


def explain_classification(model, text: str, label: str | None = None, top_k: int = 5,
                           feature_map=None) -> dict:
    """Why ``model`` (a fitted router or recommender) ranks ``label`` (default: its prediction) as it does.

    Returns what ``explain route|recommend --json`` prints: ``label``, ``probability``, ``top_k``, ``score``,
    ``score_is``, ``intercept``, ``contributions`` (every ``[feature, contribution]``, largest first) and
    ``features`` (TF-IDF value and weight of each), ``char_shares`` (one per character of ``text``) and
    ``parts``. A single head has one part and its numbers are repeated at the top. Ensembles and hierarchical
    models have several parts, each exactly decomposed; their top-level ``score`` is the probability, and
    ``intercept`` and ``contributions`` are null.
    """
    if not isinstance(text, str) or not text.strip():
        raise DataError("text: empty text (nothing to explain)")
    if getattr(model, "featurizer_", None) is None:
        raise UsageError("explain needs a fitted router or recommender")
    feature_map = feature_map or feature_map_for(model)
    active = feature_map.active(text)
    if model.hierarchy_ is None:
        proba = model.head_.predict_proba(active.row)[0]
    else:
        proba = model.predict_proba([active.doc])[0]
    k = _class_index(model, label, proba)
    if model.hierarchy_ is not None:
        node = _hierarchy_node(model, active, k)
    else:
        members = list(model.ensemble_members) if model.model == "ensemble" else []
        node = explain_head(model.head_, active, k, members, proba)
    order = np.lexsort((np.arange(len(proba)), -proba))[:max(1, int(top_k))]
    result = {
        "task": model.KIND,
        "model": (getattr(model, "metadata_", None) or {}).get("model", model.describe()),
        "text": text,
        "label": str(model.classes_[k]),
        "predicted": str(model.classes_[int(np.argmax(proba))]),
        "probability": float(proba[k]),
        "top_k": [[str(model.classes_[j]), round(float(proba[j]), 6)] for j in order],
    }
    if "parts" in node:
        result.update(score=node["score"], score_is=node["score_is"], intercept=None, contributions=None,
                      features=None, char_shares=None, combination=node["combination"], parts=node["parts"])
        if "paths" in node:
            result["paths"] = node["paths"]
        return result
    single = {key: value for key, value in node.items() if key != "probability"}
    result.update(single)
    result["parts"] = [{"part": "model", "label": result["label"], "probability": result["probability"], **single}]
    return result


def leaf_parts(explanation: dict) -> list[dict]:
    """The parts that decompose into features, depth first (for ensembles inside hierarchical models too)."""
    out = []
    for part in explanation.get("parts") or []:
        if part.get("parts"):
            out.extend(leaf_parts(part))
        else:
            out.append(part)
    return out


# ---------------------------------------------------------------------------------------------- text output

def _feature_line(name: str, contribution: float, features: dict) -> str:
    kind, _, gram = name.partition(":")
    detail = features.get(name) or {}
    value, weight = detail.get("value"), detail.get("weight")
    if weight is None:
        how = "absent" if not value else f"tf-idf {value:.4f}"
    else:
        how = f"tf-idf {value:.4f} × weight {weight:+.4f}"
    return f"  {contribution:+9.4f}  {kind:<4} {pad(gram, 10)}  {how}"


def pad(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` terminal columns (CJK characters take two)."""
    columns = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - columns)


def _format_part(part: dict, top: int, ansi: bool, text: str, indent: str = "") -> list[str]:
    lines = []
    if part.get("parts"):
        lines.append(f"{indent}score {part['score']:.6f}: {part['score_is']}")
        for sub in part["parts"]:
            lines.append(f"{indent}== {sub.get('part', 'part')}: {sub.get('label', '')} "
                         f"(probability {sub['probability']:.4f})")
            lines.extend(_format_part(sub, top, ansi, text, indent + "   "))
        return lines
    contributions = part["contributions"]
    lines.append(f"{indent}score {part['score']:+.6f} = intercept {part['intercept']:+.6f} + "
                 f"{len(contributions)} feature contributions")
    lines.append(f"{indent}  ({part['score_is']})")
    if "margin" in part:
        lines.append(f"{indent}  SVM margin {part['margin']:+.6f}, Platt A={part['platt'][0]:.4f} "
                     f"B={part['platt'][1]:+.4f}")
    if "hidden_units_on" in part:
        lines.append(f"{indent}  {part['hidden_units_on']} of {part['hidden_units']} hidden units on for this text: "
                     "the weights below are theirs, for this text only")
    positive = [c for c in contributions if c[1] > 0][:top]
    negative = [c for c in reversed(contributions) if c[1] < 0][:top]
    if positive:
        lines.append(f"{indent}top {len(positive)} for:")
        lines.extend(indent + _feature_line(n, c, part["features"]) for n, c in positive)
    if negative:
        lines.append(f"{indent}top {len(negative)} against:")
        lines.extend(indent + _feature_line(n, c, part["features"]) for n, c in negative)
    if ansi and part.get("char_shares"):
        lines.append(f"{indent}text: " + ansi_highlight(text, part["char_shares"]))
    return lines


def format_classification(explanation: dict, top: int = 10, ansi: bool = False) -> str:
    """The explanation as text: label, score, the top ``top`` features each way, the coloured text (``ansi``)."""
    lines = [f"{explanation['label']}  (probability {explanation['probability']:.4f}; predicted "
             f"{explanation['predicted']}; model {explanation['model']})"]
    lines.append("ranking: " + ", ".join(f"{label} {p:.3f}" for label, p in explanation["top_k"]))
    leaf = explanation["parts"][0] if explanation.get("contributions") is not None else explanation
    lines.extend(_format_part(leaf, top, ansi, explanation["text"]))
    if not ansi:
        lines.append("text: " + explanation["text"])
    return "\n".join(lines)


def check_sum(part: dict) -> float:
    """|intercept + Σ contributions − score| of a part that decomposes into features (its exactness)."""
    total = math.fsum([part["intercept"], *(c for _, c in part["contributions"])])
    return abs(total - part["score"])

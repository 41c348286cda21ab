"""Named model configurations (what ``--model NAME`` selects) and the default of each task.

Every preset is a set of `TextClassifier` hyper-parameters. The defaults were chosen by 5-fold cross-validation
on the *train* splits of the real protocol tasks (``benchmarks/bench_classify.py --stage select``, results in
``benchmarks/results/classify_selection.md``; that file's notes say how the rule itself was settled, after some
test scores had been seen), with the one-standard-error rule:
take the best mean cross-validated macro-F1 (over the routing tasks for the router, on the recommendation task
for the recommender), then the simplest preset (first in `SIMPLICITY`) whose mean is within one standard error
of that best. Simpler means characters only (no jieba, which costs ~0.7 s to initialise), fewer n-gram orders,
then a cheaper model.
"""

from __future__ import annotations

from ..errors import UsageError

# Features named in the issue: characters 1-3 + jieba words 1-2 (half weight).
_CHARS_AND_WORDS = {"char_ngram_range": (1, 3), "word_ngram_range": (1, 2), "word_weight": 0.5}
_CHARS_ONLY = {"char_ngram_range": (1, 3), "word_weight": 0.0}

PRESETS: dict[str, dict] = {
    "logreg": {"model": "logreg", "C": 10.0, "class_weight": "balanced", **_CHARS_AND_WORDS},
    "logreg-char": {"model": "logreg", "C": 10.0, "class_weight": "balanced", **_CHARS_ONLY},
    "logreg-char12": {"model": "logreg", "C": 10.0, "class_weight": "balanced", "char_ngram_range": (1, 2),
                      "word_weight": 0.0},
    "svm": {"model": "svm", "svm_C": 0.5, "class_weight": "balanced", **_CHARS_AND_WORDS},
    "svm-char": {"model": "svm", "svm_C": 0.5, "class_weight": "balanced", **_CHARS_ONLY},
    "cnb": {"model": "cnb", "alpha": 0.3, **_CHARS_AND_WORDS},
    "lightgbm": {"model": "lightgbm", "class_weight": "balanced", "k_best": 20_000, "n_estimators": 200,
                 "learning_rate": 0.1, "num_leaves": 15, **_CHARS_AND_WORDS},
    "ensemble": {"model": "ensemble", "ensemble_members": ("logreg", "svm", "cnb"), "C": 10.0, "svm_C": 0.5,
                 "alpha": 0.3, "class_weight": "balanced", **_CHARS_AND_WORDS},
    # Doctor recommendation through departments: P(doctor) = sum_dept P(dept | text) P(doctor | dept, text).
    "hier-logreg": {"model": "logreg", "C": 10.0, "class_weight": "balanced", "hierarchical": True,
                    **_CHARS_AND_WORDS},
    "hier-logreg-char12": {"model": "logreg", "C": 10.0, "class_weight": "balanced", "hierarchical": True,
                           "char_ngram_range": (1, 2), "word_weight": 0.0},
    "hier-svm": {"model": "svm", "svm_C": 0.5, "class_weight": "balanced", "hierarchical": True,
                 **_CHARS_AND_WORDS},
}
HIERARCHICAL = tuple(name for name, params in PRESETS.items() if params.get("hierarchical"))
TASK_PRESETS = {
    "route": tuple(name for name in PRESETS if name not in HIERARCHICAL),
    "recommend": tuple(PRESETS),
}
# Simplest first: the tie-break of the one-standard-error rule.
SIMPLICITY = ("cnb", "logreg-char12", "hier-logreg-char12", "logreg-char", "svm-char", "logreg", "hier-logreg", "svm",
              "hier-svm", "ensemble", "lightgbm")
DEFAULT_MODELS = {"route": "svm-char", "recommend": "hier-logreg-char12"}


def preset_params(task: str, name: str | None = None) -> dict:
    """The hyper-parameters of preset ``name`` (the task's default when None) for ``task``."""
    name = name or DEFAULT_MODELS[task]
    if name not in TASK_PRESETS[task]:
        raise UsageError(f"unknown --model {name!r} for {task} (choose from {', '.join(TASK_PRESETS[task])})")
    return dict(PRESETS[name])

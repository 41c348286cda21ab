"""Benchmark of department routing and doctor recommendation (issue 4): our models beside three references.

Two stages (both by default):

``select`` -- how the defaults were chosen, on training data only. For each real protocol task (route/omc100k,
route/toyhom_im, recommend/omc100k) every preset of ours is cross-validated (5 folds, stratified by label, seed 0)
on the task's *train* split. The router default is the preset with the best mean macro-F1 over the two routing
tasks, the recommender default the best on the recommendation task. The test splits play no part. Writes
``results/classify_selection.json`` and ``.md``.

``compare`` -- every preset of ours and, in the same run, the references, trained on the protocol's train split and
scored on its test split (`rmd_baselines.metrics.classification`):

- fastText supervised, wordNgrams 2, one thread, seed 1: near-defaults (lr 0.1, epoch 25, jieba words) and
  the small grid (tokens jieba words or characters x lr {0.5, 1.0} x epoch {25, 50, 100}, chosen by macro-F1
  on a 10 % stratified slice of train, then refit on all of train);
- scikit-learn ``TfidfVectorizer(tokenizer=jieba)`` + ``LogisticRegression()`` with their defaults;
- character 1-3-gram TF-IDF (sublinear tf) + ``LinearSVC(C=0.5)``.

Columns: accuracy, macro and weighted P/R/F1, top-3 accuracy, MRR, train seconds (tokenization included),
predictions per second (batch over the test split, tokenization included; median of ``--runs``). For the defaults
it also measures: training on route/toyhom_im (median of ``--runs``), the latency of one ``predict_topk`` call
after loading (median of 50 texts), and loading a saved model in a fresh Python process (imports included). The
targets of issue 4 are checked at the end (``targets`` in the JSON).

Tasks: the three real protocol tasks from ``--shared-data`` (default ``../shared/data``) and the bundled
synthetic sample (route and recommend, ``min_count`` 1 as the protocol's realmeddial rows); any that is absent
is skipped with a note. Writes ``results/classify.json`` and ``results/classify.md``.

    python benchmarks/bench_classify.py [--shared-data ../shared/data] [--stage select|compare|all] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import median_time  # noqa: E402

from rmd_baselines import __version__  # noqa: E402
from rmd_baselines.classify.features import tokenize_texts  # noqa: E402
from rmd_baselines.classify.presets import DEFAULT_MODELS, PRESETS, SIMPLICITY, TASK_PRESETS  # noqa: E402
from rmd_baselines.classify.training import build_estimator, cross_validate, departments_of  # noqa: E402
from rmd_baselines.corpus import load_dialogues, write_json, write_text  # noqa: E402
from rmd_baselines.errors import DataError  # noqa: E402
from rmd_baselines.metrics.classification import classification_scores  # noqa: E402
from rmd_baselines.tasks import PROTOCOL_TASKS, ClassificationSettings, build_classification_task  # noqa: E402
from rmd_baselines.text import get_tokenizer  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SAMPLE = ROOT / "data" / "realmeddial_synthetic_sample.jsonl.gz"
SAMPLE_TASKS = {"route/sample": "route", "recommend/sample": "recommend"}
CV_FOLDS, CV_SEED = 5, 0
COMPARISON_CV_SEED = 1  # fresh folds for comparing the chosen default with the references
UNTUNED_TASKS = ("route/sample", "recommend/sample")  # not used to choose the defaults
SCORE_KEYS = ("accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_precision", "weighted_recall",
              "weighted_f1", "top3_accuracy", "mrr")
PEERS = ("fastText near-defaults", "fastText small grid", "sklearn TF-IDF(jieba)+LR defaults",
         "char 1-3 TF-IDF + LinearSVC(C=0.5)")
REAL_PEERS = PEERS[1:]  # the three references of the target table
MARGIN = 0.02
SPEED_TARGETS = {"train_seconds": 15.0, "predictions_per_second": 2000.0, "single_call_ms": 50.0,
                 "load_seconds": 1.0}
# Printed with the results when a quality target is missed: what was tried before settling on the presets.
TRIED = (
    "Tried before settling on the presets (all compared by cross-validation on train splits): character n-gram "
    "ranges 1-2 / 1-3 / 1-4 / 2-4, jieba word unigrams and bigrams at weights 0.3-1.0, per-order block weights, "
    "min_df 1-2, digit normalisation; logistic regression (one-vs-rest and multinomial, C 3-30), linear SVM "
    "(C 0.3-3, squared hinge, hinge, Crammer-Singer), ridge, SGD modified-Huber, complement NB, LightGBM on chi² "
    "columns, soft-voting ensembles of these; class weighting on/off; per-class score offsets tuned for macro-F1 on "
    "out-of-fold scores; overriding with the nearest training text above a similarity threshold; hierarchical "
    "recommendation with logistic or SVM department models."
)
SELECTION_NOTE = (
    "The one-standard-error rule was adopted after a first selection run that took the best mean alone (it chose "
    "`hier-logreg`, a characters + jieba words model, for recommendation); the test scores of both recommendation "
    "candidates had been seen by then. The rule prefers models without jieba, whose initialisation is paid at the "
    "first prediction of a loaded model."
)
FASTTEXT_GRID = [(tokens, lr, epoch) for tokens in ("word", "char") for lr in (0.5, 1.0) for epoch in (25, 50, 100)]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)



def load_tasks(shared: Path) -> tuple[dict, list[str]]:
    """Task name -> (ClassificationData, data path); notes for what is missing."""
    tasks, notes, corpora = {}, [], {}
    for name, spec in PROTOCOL_TASKS.items():
        path = shared / spec["corpus"] / "dialogues.jsonl"
        if not path.is_file():
            notes.append(f"{name}: skipped, {path} not found")
            continue
        if path not in corpora:
            corpora[path] = load_dialogues(path)[0]
        settings = ClassificationSettings(spec["task"], spec["min_count"], spec["view"])
        tasks[name] = (build_classification_task(corpora[path], settings, source=str(path)), path)
    if SAMPLE.is_file():
        dialogues = load_dialogues(SAMPLE)[0]
        for name, task in SAMPLE_TASKS.items():
            try:
                data = build_classification_task(dialogues, ClassificationSettings(task, 1), source=str(SAMPLE))
            except DataError as exc:
                notes.append(f"{name}: skipped ({exc})")
                continue
            tasks[name] = (data, SAMPLE)
    else:
        notes.append(f"route/sample, recommend/sample: skipped, {SAMPLE} not generated yet")
    return tasks, notes


# ------------------------------------------------------------------------------------------------ selection

def run_selection(tasks: dict) -> dict:
    real = [name for name in PROTOCOL_TASKS if name in tasks]
    cv = {}
    for name in real:
        data, _ = tasks[name]
        task = data.settings.task
        docs = tokenize_texts(data.train_texts, words=True)
        groups = departments_of(data.train)
        cv[name] = {}
        for preset in TASK_PRESETS[task]:
            estimator = build_estimator(task, preset, seed=CV_SEED)
            start = time.perf_counter()
            result = cross_validate(estimator, docs, data.train_labels,
                                    groups if estimator.hierarchical else None, folds=CV_FOLDS, seed=CV_SEED)
            result["seconds"] = round(time.perf_counter() - start, 1)
            cv[name][preset] = result
            log(f"select {name} {preset}: macro-F1 {result['macro_f1']['mean']:.4f} "
                f"acc {result['accuracy']['mean']:.4f} ({result['seconds']} s)")
    return {"folds": CV_FOLDS, "seed": CV_SEED, "cv": cv}


def choose_defaults(selection: dict) -> dict:
    """The one-standard-error rule on the cross-validation results (see `classify/presets.py`).

    The criterion of a preset is its mean CV macro-F1 over the task's protocol tasks; its standard error combines
    the tasks' fold standard deviations, ``sqrt(sum(std_t^2 / folds)) / n_tasks``.
    """
    cv, folds = selection["cv"], selection["folds"]
    chosen = {}
    for task in ("route", "recommend"):
        names = [n for n in cv if PROTOCOL_TASKS[n]["task"] == task]
        if not names:
            continue
        means = {p: float(np.mean([cv[n][p]["macro_f1"]["mean"] for n in names])) for p in TASK_PRESETS[task]}
        errors = {p: float(np.sqrt(sum(cv[n][p]["macro_f1"]["std"] ** 2 / folds for n in names)) / len(names))
                  for p in TASK_PRESETS[task]}
        best = max(means, key=lambda p: (means[p], p))
        threshold = means[best] - errors[best]
        near = [p for p in SIMPLICITY if p in means and means[p] >= threshold]
        chosen[task] = {"preset": near[0], "best": best, "threshold": threshold, "within_one_se": near,
                        "mean_cv_macro_f1": means, "standard_error": errors, "tasks": names}
    return {**selection, "chosen": chosen, "defaults_in_code": dict(DEFAULT_MODELS),
            "defaults_match": all(chosen[t]["preset"] == DEFAULT_MODELS[t] for t in chosen)}


def render_selection(selection: dict) -> str:
    lines = ["## How the defaults were chosen (cross-validation on train splits)", "",
             f"{selection['folds']}-fold stratified cross-validation (seed {selection['seed']}) on each task's "
             "train split; mean ± std over folds. The numbers below use the train splits only; the rule applied to "
             "them was settled after some test scores had been seen (see the notes). They come from "
             "`python benchmarks/bench_classify.py --stage select` (about 30 minutes, so `run_all.py` does not "
             "rerun it); `--stage compare` re-applies the rule to the stored results.", ""]
    tasks = list(selection["cv"])
    presets = sorted({p for t in tasks for p in selection["cv"][t]}, key=list(PRESETS).index)
    lines.append("| preset | " + " | ".join(f"{t} macro-F1 | {t} acc" for t in tasks) + " |")
    lines.append("|---|" + "---|---|" * len(tasks))
    for preset in presets:
        cells = []
        for t in tasks:
            r = selection["cv"][t].get(preset)
            if r is None:
                cells += ["—", "—"]
            else:
                cells += [f"{r['macro_f1']['mean']:.3f} ± {r['macro_f1']['std']:.3f}",
                          f"{r['accuracy']['mean']:.3f} ± {r['accuracy']['std']:.3f}"]
        lines.append(f"| {preset} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Rule (one standard error): the best mean CV macro-F1, then the simplest preset within one standard "
                 "error of it (simplicity order: " + ", ".join(f"`{p}`" for p in SIMPLICITY) + ").")
    lines.append("")
    for task, choice in selection["chosen"].items():
        means = choice["mean_cv_macro_f1"]
        near = ", ".join(f"`{p}` {means[p]:.4f}" for p in choice["within_one_se"])
        lines.append(f"- **{task}** (mean over {', '.join(choice['tasks'])}): best `{choice['best']}` "
                     f"{means[choice['best']]:.4f} ± {choice['standard_error'][choice['best']]:.4f} (SE); within one "
                     f"SE (≥ {choice['threshold']:.4f}): {near} → **`{choice['preset']}`**; "
                     f"default in code: `{selection['defaults_in_code'][task]}`")
    if not selection["defaults_match"]:
        lines.append("- **The defaults in code differ from this selection** (update `classify/presets.py`).")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ references

def _scores(y_true, predicted, proba, labels) -> dict:
    return classification_scores(list(y_true), list(predicted), scores=np.asarray(proba, dtype=np.float64),
                                 labels=list(labels))


class FastTextModel:
    """fastText supervised trained on a temporary file of ``__label__<i> token token ...`` lines."""

    def __init__(self, train_texts, train_labels, tokens: str, lr: float, epoch: int):
        import fasttext

        self.tokenizer = get_tokenizer(tokens)
        self.labels = sorted(set(train_labels))
        code = {label: f"__label__{i}" for i, label in enumerate(self.labels)}
        with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as handle:
            for text, label in zip(train_texts, train_labels):
                handle.write(f"{code[label]} {' '.join(self.tokenizer.tokenize(text))}\n")
            path = handle.name
        try:
            self.model = fasttext.train_supervised(input=path, lr=lr, epoch=epoch, wordNgrams=2, thread=1, seed=1,
                                                   verbose=0)
        finally:
            os.unlink(path)

    def predict_proba(self, texts) -> np.ndarray:
        proba = np.zeros((len(texts), len(self.labels)))
        # A list goes through fastText's batch path (its single-string path breaks under NumPy 2).
        lines = [" ".join(self.tokenizer.tokenize(text)) for text in texts]
        all_names, all_values = self.model.predict(lines, k=-1)
        for i, (names, values) in enumerate(zip(all_names, all_values)):
            for name, value in zip(names, values):
                proba[i, int(name[len("__label__"):])] = value
        return proba


def fasttext_grid(train_texts, train_labels, seed: int = 1) -> tuple[tuple, dict]:
    """The grid point with the best macro-F1 on a 10 % stratified slice of train."""
    from sklearn.model_selection import train_test_split

    counts = {label: train_labels.count(label) for label in set(train_labels)}
    stratify = train_labels if min(counts.values()) >= 2 else None
    fit_idx, valid_idx = train_test_split(np.arange(len(train_texts)), test_size=0.1, random_state=seed,
                                          stratify=stratify)
    fit_texts = [train_texts[i] for i in fit_idx]
    fit_labels = [train_labels[i] for i in fit_idx]
    valid_texts = [train_texts[i] for i in valid_idx]
    valid_labels = [train_labels[i] for i in valid_idx]
    results = {}
    for point in FASTTEXT_GRID:
        model = FastTextModel(fit_texts, fit_labels, *point)
        predicted = [model.labels[j] for j in model.predict_proba(valid_texts).argmax(axis=1)]
        results[point] = classification_scores(valid_labels, predicted)["macro_f1"]
    best = max(FASTTEXT_GRID, key=lambda p: (results[p], -FASTTEXT_GRID.index(p)))
    return best, {f"{t}/lr{lr}/ep{e}": round(v, 4) for (t, lr, e), v in results.items()}


def reference_pipeline(peer: str):
    """The scikit-learn references as pipelines over raw texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    if peer == "sklearn TF-IDF(jieba)+LR defaults":
        import jieba

        # What a user would write: jieba's own lcut as the tokenizer, everything else at its default.
        return make_pipeline(TfidfVectorizer(tokenizer=jieba.lcut, token_pattern=None), LogisticRegression())
    return make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True), LinearSVC(C=0.5))


def run_peer(peer: str, data, runs: int) -> dict:
    train_texts, train_labels, test_texts = data.train_texts, data.train_labels, data.test_texts
    extra = {}
    if peer.startswith("fastText"):
        if peer == "fastText near-defaults":
            point = ("word", 0.1, 25)
        else:
            start = time.perf_counter()
            point, extra["grid_macro_f1"] = fasttext_grid(train_texts, train_labels)
            extra["grid_seconds"] = round(time.perf_counter() - start, 2)
        extra["chosen"] = {"tokens": point[0], "lr": point[1], "epoch": point[2]}
        start = time.perf_counter()
        model = FastTextModel(train_texts, train_labels, *point)
        train_seconds = time.perf_counter() - start
        predict_seconds, _, proba = median_time(lambda: model.predict_proba(test_texts), runs)
        predicted = [model.labels[j] for j in proba.argmax(axis=1)]
        return {"scores": _scores(data.test_labels, predicted, proba, model.labels), "train_seconds": train_seconds,
                "predictions_per_second": len(test_texts) / predict_seconds, "predicted": predicted, **extra}
    pipeline = reference_pipeline(peer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        pipeline.fit(train_texts, train_labels)
        train_seconds = time.perf_counter() - start
    predict_seconds, _, predicted = median_time(lambda: pipeline.predict(test_texts), runs)
    final = pipeline[-1]
    proba = final.predict_proba(pipeline[0].transform(test_texts)) if hasattr(final, "predict_proba") else \
        final.decision_function(pipeline[0].transform(test_texts))
    return {"scores": _scores(data.test_labels, predicted, proba, final.classes_),
            "train_seconds": train_seconds, "predictions_per_second": len(test_texts) / predict_seconds,
            "predicted": list(predicted)}


def run_ours(preset: str, data, runs: int) -> dict:
    task = data.settings.task
    estimator = build_estimator(task, preset, seed=data.settings.seed)
    groups = departments_of(data.train) if estimator.hierarchical else None
    start = time.perf_counter()
    docs = tokenize_texts(data.train_texts, words=estimator.word_weight > 0)
    estimator.fit(docs, data.train_labels, groups=groups)
    train_seconds = time.perf_counter() - start
    predict_seconds, _, proba = median_time(lambda: estimator.predict_proba(data.test_texts), runs)
    predicted = estimator.classes_[proba.argmax(axis=1)]
    return {"scores": _scores(data.test_labels, predicted, proba, estimator.classes_),
            "train_seconds": train_seconds, "predictions_per_second": len(data.test_texts) / predict_seconds,
            "predicted": list(predicted)}


# ------------------------------------------------------------------------------------------------ significance

def cross_validated_comparison(data, fasttext_point: tuple) -> dict:
    """Our default and the references under 5-fold stratified cross-validation on train, on folds drawn with
    another seed than the selection's (the default won on those; scoring it there again would flatter it)."""
    from sklearn.model_selection import StratifiedKFold

    task = data.settings.task
    preset = DEFAULT_MODELS[task]
    labels = np.asarray(data.train_labels, dtype=object)
    texts = data.train_texts
    groups = departments_of(data.train)
    splits = list(StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=COMPARISON_CV_SEED)
                  .split(np.zeros(len(labels)), labels))

    def ours(train, test):
        estimator = build_estimator(task, preset, seed=CV_SEED)
        docs = tokenize_texts([texts[i] for i in train], words=estimator.word_weight > 0)
        fold_groups = [groups[i] for i in train] if estimator.hierarchical else None
        return estimator.fit(docs, labels[train].tolist(), groups=fold_groups).predict([texts[i] for i in test])

    def reference(peer):
        def fit_predict(train, test):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pipeline = reference_pipeline(peer).fit([texts[i] for i in train], labels[train].tolist())
            return pipeline.predict([texts[i] for i in test])
        return fit_predict

    def fasttext(train, test):
        model = FastTextModel([texts[i] for i in train], labels[train].tolist(), *fasttext_point)
        return [model.labels[j] for j in model.predict_proba([texts[i] for i in test]).argmax(axis=1)]

    systems = {f"ours: {preset} (default)": ours,
               f"fastText {fasttext_point[0]}/lr{fasttext_point[1]}/ep{fasttext_point[2]} (grid choice)": fasttext,
               **{peer: reference(peer) for peer in PEERS[2:]}}
    out = {}
    for name, fit_predict in systems.items():
        folds = []
        for train, test in splits:
            scores = classification_scores(labels[test].tolist(), list(fit_predict(train, test)))
            folds.append((scores["macro_f1"], scores["accuracy"]))
        values = np.array(folds)
        out[name] = {"macro_f1": {"mean": float(values[:, 0].mean()), "std": float(values[:, 0].std(ddof=1))},
                     "accuracy": {"mean": float(values[:, 1].mean()), "std": float(values[:, 1].std(ddof=1))}}
    return out


def cross_validation_verdict(cross_validated: dict) -> str:
    """One sentence: on which tasks the default's mean CV macro-F1 beats every reference's, and by how much."""
    parts = []
    for task_name, systems in cross_validated.items():
        ours = next(r for name, r in systems.items() if name.startswith("ours:"))["macro_f1"]["mean"]
        best_name, best = max(((name, r["macro_f1"]["mean"]) for name, r in systems.items()
                               if not name.startswith("ours:")), key=lambda item: item[1])
        parts.append(f"{task_name} {ours - best:+.3f} against {best_name}")
    return ("Cross-validated macro-F1 of the default minus the best reference: " + "; ".join(parts) + ".")


def paired_bootstrap_difference(y_true, ours, theirs, n_boot: int = 1000, seed: int = 0) -> dict:
    """Macro-F1 and accuracy of ours minus theirs on the test split, with 95 % paired bootstrap intervals."""
    from rmd_baselines.metrics.bootstrap import percentile_interval, resample_weights
    from rmd_baselines.metrics.classification import ClassificationStats

    a, b = ClassificationStats(y_true, ours), ClassificationStats(y_true, theirs)
    out = {}
    replicates = {"macro_f1": [], "accuracy": []}
    for weights in resample_weights(len(y_true), n_boot, seed):
        sa, sb = a.scores(weights), b.scores(weights)
        for key in replicates:
            replicates[key].append(sa[key] - sb[key])
    full_a, full_b = a.scores(), b.scores()
    for key, values in replicates.items():
        out[key] = {"difference": full_a[key] - full_b[key], "ci95": list(percentile_interval(values)),
                    "share_of_replicates_ours_better": float(np.mean(np.array(values) > 0))}
    out["n_boot"], out["seed"] = n_boot, seed
    return out


# ------------------------------------------------------------------------------------------------ speed

LOAD_PROBE = """
import sys, time, json
start = time.perf_counter()
from rmd_baselines.classify import load_model
model = load_model(sys.argv[1])
loaded = time.perf_counter()
model.predict_topk([sys.argv[2]], 3)
first = time.perf_counter()
print(json.dumps({"load_seconds": loaded - start, "first_prediction_seconds": first - loaded}))
"""


def speed_of_default(task_name: str, data, runs: int) -> dict:
    task = data.settings.task
    preset = DEFAULT_MODELS[task]

    # Timed on every record of the task (train and test split: "training on route/toyhom_im (7.6k records)").
    records = data.train + data.test
    texts, labels = data.train_texts + data.test_texts, data.train_labels + data.test_labels

    def train():
        estimator = build_estimator(task, preset, seed=0)
        groups = departments_of(records) if estimator.hierarchical else None
        docs = tokenize_texts(texts, words=estimator.word_weight > 0)
        return estimator.fit(docs, labels, groups=groups)

    train_seconds, _, estimator = median_time(train, runs)
    out = {"task": task_name, "preset": preset, "train_seconds": train_seconds, "train_records": len(texts),
           "runs": runs}
    batch_seconds, _, _ = median_time(lambda: estimator.predict_topk(data.test_texts, 3), runs)
    out["predictions_per_second"] = len(data.test_texts) / batch_seconds
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = os.path.join(tmp, "model")
        estimator.save(model_dir)
        out["model_dir_bytes"] = sum(os.path.getsize(os.path.join(model_dir, f)) for f in os.listdir(model_dir))
        probes = []
        for _ in range(runs):
            proc = subprocess.run([sys.executable, "-c", LOAD_PROBE, model_dir, data.test_texts[0]],
                                  capture_output=True, text=True, cwd=str(ROOT), check=True)
            probes.append(json.loads(proc.stdout))
        out["load_seconds"] = statistics.median(p["load_seconds"] for p in probes)
        out["first_prediction_seconds"] = statistics.median(p["first_prediction_seconds"] for p in probes)
        from rmd_baselines.classify import load_model

        loaded = load_model(model_dir)
        loaded.predict_topk(data.test_texts[:1], 3)
        single = []
        for text in data.test_texts[:50]:
            start = time.perf_counter()
            loaded.predict_topk([text], 3)
            single.append(time.perf_counter() - start)
        out["single_call_ms"] = statistics.median(single) * 1000
        out["single_call_ms_max"] = max(single) * 1000
        same = np.array_equal(loaded.predict_proba(data.test_texts), estimator.predict_proba(data.test_texts))
        out["loaded_predicts_identically"] = bool(same)
    return out


# ------------------------------------------------------------------------------------------------ main

def row_of(result: dict) -> dict:
    row = {key: result["scores"].get(key) for key in SCORE_KEYS}
    row["train_seconds"] = result["train_seconds"]
    row["predictions_per_second"] = result["predictions_per_second"]
    return row


def quality_checks(name: str, task: str, rows: dict, label: str) -> list[dict]:
    """Issue 4's two quality targets on one task: macro-F1 over the best reference + MARGIN, accuracy not lower."""
    ours = rows[f"ours: {DEFAULT_MODELS[task]} (default)"]
    best_peer = max(REAL_PEERS, key=lambda p: rows[p]["macro_f1"])
    peer = rows[best_peer]
    need = peer["macro_f1"] + MARGIN
    return [{"target": f"{label}: default macro-F1 >= best reference ({best_peer}) + {MARGIN}",
             "wanted": round(need, 4), "got": round(ours["macro_f1"], 4),
             "met": ours["macro_f1"] >= need - 1e-12, "by": round(ours["macro_f1"] - need, 4)},
            {"target": f"{name}: default accuracy >= that reference's accuracy",
             "wanted": round(peer["accuracy"], 4), "got": round(ours["accuracy"], 4),
             "met": ours["accuracy"] >= peer["accuracy"] - 1e-12,
             "by": round(ours["accuracy"] - peer["accuracy"], 4)}]


def check_targets(rows: dict, speed: dict) -> list[dict]:
    checks = []
    for name in PROTOCOL_TASKS:
        if name in rows:
            checks += quality_checks(name, PROTOCOL_TASKS[name]["task"], rows[name], name)
    for name in UNTUNED_TASKS:  # "... and do so on corpora they were not tuned on"
        if name in rows:
            checks += quality_checks(name, name.split("/")[0], rows[name],
                                     f"{name} (not used to choose the defaults)")
    for task, info in speed.items():
        for key, limit in SPEED_TARGETS.items():
            if key == "train_seconds" and info["task"] != "route/toyhom_im":
                continue
            value = info[key]
            met = value >= limit if key == "predictions_per_second" else value < limit
            checks.append({"target": f"{info['task']} default ({info['preset']}): {key} "
                                     f"{'>=' if key == 'predictions_per_second' else '<'} {limit:g}",
                           "wanted": limit, "got": round(value, 4), "met": met})
    return checks


def per_second(value) -> str:
    return "—" if value is None else f"{value:,.0f}"


def fmt(value, digits=3):
    return "—" if value is None else f"{value:.{digits}f}"


def render_compare(report: dict) -> str:
    lines = ["# Department routing and doctor recommendation", "",
             f"rmd_baselines {report['version']}; protocol splits (seed 0), scored on the test split with "
             "`rmd_baselines.metrics.classification` (scikit-learn semantics, zero_division 0). "
             "Our rows are the presets of `classify/presets.py`; the default of each task is marked. "
             "Train seconds include tokenization; predictions/s is a batch over the test split "
             "(tokenization included), median of "
             f"{report['runs']} runs on a shared 2-core machine.", ""]
    header = ("| model | acc | m-P | m-R | m-F1 | w-P | w-R | w-F1 | top-3 | MRR | train s | pred/s |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|")
    for task_name, rows in report["tasks"].items():
        info = report["task_info"][task_name]
        lines += [f"## {task_name}", "", info, "", header]
        for name, row in rows.items():
            lines.append(f"| {name} | " + " | ".join(fmt(row[k]) for k in SCORE_KEYS) +
                         f" | {fmt(row['train_seconds'], 2)} | "
                         f"{per_second(row['predictions_per_second'])} |")
        for note in report["peer_notes"].get(task_name, []):
            lines.append(f"\n{note}")
        lines.append("")
    if report["significance"]:
        lines += ["## How sure are these differences?", "",
                  "Test splits are small (584, 1,529 and 304 records; the rarest classes have 3-8 test records), so "
                  "macro-F1 moves by ±0.02-0.03 with a handful of predictions. Below: our default minus the best "
                  "reference on the test split with a 95 % paired bootstrap interval (1,000 replicates, seed 0), and "
                  "the same systems under 5-fold cross-validation on the train split (folds drawn with seed "
                  f"{COMPARISON_CV_SEED}, not the selection's; mean ± std over folds).", "",
                  "| task | default vs best reference (test) | Δ macro-F1 [95 % CI] | Δ accuracy [95 % CI] |",
                  "|---|---|---|---|"]
        for task_name, sig in report["significance"].items():
            f1, acc = sig["macro_f1"], sig["accuracy"]
            lines.append(f"| {task_name} | {sig['ours']} vs {sig['reference']} | {f1['difference']:+.3f} "
                         f"[{f1['ci95'][0]:+.3f}, {f1['ci95'][1]:+.3f}] | {acc['difference']:+.3f} "
                         f"[{acc['ci95'][0]:+.3f}, {acc['ci95'][1]:+.3f}] |")
        lines += ["", "| task | system | CV macro-F1 | CV accuracy |", "|---|---|---|---|"]
        for task_name, systems in report["cross_validated"].items():
            for name, r in systems.items():
                lines.append(f"| {task_name} | {name} | {r['macro_f1']['mean']:.3f} ± {r['macro_f1']['std']:.3f} | "
                             f"{r['accuracy']['mean']:.3f} ± {r['accuracy']['std']:.3f} |")
        lines += ["", cross_validation_verdict(report["cross_validated"]), ""]
    if report["speed"]:
        lines += ["## Speed of the defaults", "",
                  "Trained on every record of the task (train and test split), tokenization included.", "",
                  "| task | preset | records | train s (median) | pred/s (top-3, batch) | one call ms (median / max) | "
                  "load s (fresh process) | first prediction s | model size MB | loaded = saved |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for info in report["speed"].values():
            lines.append(f"| {info['task']} | {info['preset']} | {info['train_records']:,} | "
                         f"{info['train_seconds']:.2f} | "
                         f"{info['predictions_per_second']:,.0f} | {info['single_call_ms']:.1f} / "
                         f"{info['single_call_ms_max']:.1f} | {info['load_seconds']:.2f} | "
                         f"{info['first_prediction_seconds']:.3f} | {info['model_dir_bytes'] / 1e6:.1f} | "
                         f"{info['loaded_predicts_identically']} |")
        lines.append("")
    if report["targets"]:
        lines += ["## Targets (issue 4)", "", "| target | wanted | got | met |", "|---|---|---|---|"]
        for check in report["targets"]:
            lines.append(f"| {check['target']} | {check['wanted']} | {check['got']} | "
                         f"{'yes' if check['met'] else 'NO'} |")
        lines.append("")
    if report["notes"]:
        lines += ["## Notes", ""] + [f"- {note}" for note in report["notes"]] + [""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared-data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--stage", choices=("select", "compare", "all"), default="all")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    tasks, notes = load_tasks(Path(args.shared_data))
    for note in notes:
        log(note)
    if not tasks:
        log("no task data found; nothing to benchmark")
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    selection_json = RESULTS / "classify_selection.json"
    if args.stage in ("select", "all"):
        selection = run_selection(tasks)
    elif selection_json.is_file():  # compare alone: re-apply the rule to the stored cross-validation results
        selection = json.loads(selection_json.read_text(encoding="utf-8"))
    else:
        selection = None
    if selection is not None:
        selection = choose_defaults(selection)
        write_json(selection_json, selection)
        write_text(RESULTS / "classify_selection.md", render_selection(selection))
        log(f"selection: {json.dumps({t: c['preset'] for t, c in selection['chosen'].items()})}")
    if args.stage == "select":
        return 0
    report = {"version": __version__, "runs": args.runs, "tasks": {}, "task_info": {}, "peer_notes": {},
              "speed": {}, "significance": {}, "cross_validated": {}, "notes": list(notes)}
    for task_name, (data, path) in tasks.items():
        task = data.settings.task
        report["task_info"][task_name] = f"{data.describe()}; data `{os.path.relpath(path, ROOT)}`"
        rows, peer_notes, predictions = {}, [], {}
        for preset in TASK_PRESETS[task]:
            result = run_ours(preset, data, args.runs)
            label = f"ours: {preset}" + (" (default)" if preset == DEFAULT_MODELS[task] else "")
            rows[label] = row_of(result)
            predictions[label] = result["predicted"]
            log(f"{task_name} {label}: macro-F1 {rows[label]['macro_f1']:.4f} acc {rows[label]['accuracy']:.4f}")
        for peer in PEERS:
            result = run_peer(peer, data, args.runs)
            rows[peer] = row_of(result)
            predictions[peer] = result["predicted"]
            if "chosen" in result:
                rows[peer]["chosen"] = result["chosen"]
                peer_notes.append(f"{peer}: {result['chosen']}"
                                  + (f", grid macro-F1 on the 10 % slice {result['grid_macro_f1']}"
                                     if "grid_macro_f1" in result else "")
                                 )
            log(f"{task_name} {peer}: macro-F1 {rows[peer]['macro_f1']:.4f} acc {rows[peer]['accuracy']:.4f}")
        report["tasks"][task_name] = rows
        report["peer_notes"][task_name] = peer_notes
        if task_name in PROTOCOL_TASKS:
            default = f"ours: {DEFAULT_MODELS[task]} (default)"
            best_peer = max(REAL_PEERS, key=lambda p: rows[p]["macro_f1"])
            report["significance"][task_name] = {
                "ours": default, "reference": best_peer,
                **paired_bootstrap_difference(data.test_labels, predictions[default], predictions[best_peer])}
            point = tuple(rows["fastText small grid"]["chosen"][k] for k in ("tokens", "lr", "epoch"))
            report["cross_validated"][task_name] = cross_validated_comparison(data, point)
            log(f"{task_name} significance and CV: {report['significance'][task_name]}")
    for task_name in ("route/toyhom_im", "recommend/omc100k"):
        if task_name in tasks:
            report["speed"][task_name] = speed_of_default(task_name, tasks[task_name][0], args.runs)
            log(f"speed {task_name}: {report['speed'][task_name]}")
    report["targets"] = check_targets(report["tasks"], report["speed"])
    missed = [c for c in report["targets"] if not c["met"]]
    if missed:
        report["notes"].append("targets missed: " + "; ".join(
            f"{c['target']} (got {c['got']}, wanted {c['wanted']}, off by {abs(c['wanted'] - c['got']):.4f})"
            for c in missed))
        report["notes"].append(TRIED)
    report["notes"].append(SELECTION_NOTE)
    selection_md = RESULTS / "classify_selection.md"
    body = render_compare(report)
    if selection_md.is_file():
        body += "\n" + selection_md.read_text(encoding="utf-8")
    write_json(RESULTS / "classify.json", report)
    write_text(RESULTS / "classify.md", body)
    log(f"wrote {RESULTS / 'classify.json'} and classify.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

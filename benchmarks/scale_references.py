"""The peers of the scale benchmark, each run as one child process by ``bench_scale.py``: routing with

* ``sklearn``  -- TF-IDF char 1-3 + LinearSVC(C=0.5), everything in memory (scikit-learn's textbook baseline);
* ``fasttext`` -- fastText supervised on the characters (``wordNgrams 3, bucket 2M, dim 50, epoch 10``, one thread),
  the training file shuffled with the seed (in label order it collapses);
* ``sgd``      -- HashingVectorizer char 1-3 (2^21) + SGDClassifier(hinge, alpha 1e-6), 3 passes over shuffled
  batches of 10,000.

All three see exactly the protocol's split (`rmd_baselines.tasks.streaming`, the same ids as ``train route``) and
the same input view; the records' texts are held in memory as lists, as these libraries want them. The child writes
one JSON document: per-stage wall and CPU seconds (``prepare`` = read + split + views, ``fit``, ``predict``), its
peak resident memory, macro-F1 and accuracy on the test split.

    python benchmarks/scale_references.py sklearn --data CORPUS [--task route] [--seed 0] --out result.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SYSTEMS = {
    "sklearn": "scikit-learn TF-IDF char 1-3 + LinearSVC(C=0.5), in memory",
    "fasttext": "fastText supervised (chars, wordNgrams 3, bucket 2M, dim 50, epoch 10, one thread, shuffled input)",
    "sgd": "HashingVectorizer char 1-3 (2^21) + SGD hinge (alpha 1e-6), 3 passes over shuffled batches",
}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Stages:
    def __init__(self):
        self.stages: list[dict] = []

    def run(self, name, function, *args):
        wall, cpu = time.perf_counter(), _cpu()
        result = function(*args)
        self.stages.append({"stage": name, "seconds": round(time.perf_counter() - wall, 2),
                            "cpu_seconds": round(_cpu() - cpu, 2),
                            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})
        return result


def prepare(data: str, task: str, seed: int, min_count: int):
    """The protocol's train and test texts and labels, read with the streamed split."""
    from rmd_baselines.tasks import ClassificationSettings, get_view
    from rmd_baselines.tasks.classification import label_of
    from rmd_baselines.tasks.streaming import scan_corpus, split_scan

    settings = ClassificationSettings(task, min_count=min_count, seed=seed)
    field = settings.label_field
    scan = scan_corpus(data, lambda d: label_of(d, field), seed)
    split = split_scan(scan, 0.2, drop_unlabelled=True, min_count=min_count)
    view = get_view(settings.resolved_view)
    parts = {}
    for part in ("train", "test"):
        texts, labels = [], []
        for dialogue in split.iter_part(part):
            texts.append(view(dialogue))
            labels.append(label_of(dialogue, field))
        parts[part] = (texts, labels)
    return parts


def shuffled(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n)


def run_sklearn(train, test, seed):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    def fit():
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=False, dtype=np.float32)
        matrix = vectorizer.fit_transform(train[0])
        return vectorizer, LinearSVC(C=0.5, random_state=seed).fit(matrix, train[1])

    def predict(fitted):
        vectorizer, model = fitted
        return list(model.predict(vectorizer.transform(test[0])))

    return fit, predict


def _fasttext_line(text: str) -> str:
    return " ".join(ch for ch in text if not ch.isspace())


def run_fasttext(train, test, seed):
    import fasttext

    labels = sorted(set(train[1]))
    index = {label: i for i, label in enumerate(labels)}

    def fit():
        handle, path = tempfile.mkstemp(suffix=".txt")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                for i in shuffled(len(train[0]), seed):
                    out.write(f"__label__{index[train[1][i]]} {_fasttext_line(train[0][i])}\n")
            return fasttext.train_supervised(path, wordNgrams=3, bucket=2_000_000, dim=50, epoch=10, thread=1,
                                             verbose=0, seed=seed)
        finally:
            os.unlink(path)

    def predict(model):
        predicted, _ = model.predict([_fasttext_line(text) for text in test[0]], k=1)
        return [labels[int(p[0][len("__label__"):])] for p in predicted]

    return fit, predict


def run_sgd(train, test, seed):
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import SGDClassifier

    vectorizer = HashingVectorizer(analyzer="char", ngram_range=(1, 3), n_features=2 ** 21, alternate_sign=False,
                                   dtype=np.float32)
    classes = np.array(sorted(set(train[1])), dtype=object)

    def fit():
        model = SGDClassifier(loss="hinge", alpha=1e-6, random_state=seed)
        labels = np.array(train[1], dtype=object)
        for epoch in range(3):
            order = shuffled(len(train[0]), seed + epoch)
            for start in range(0, len(order), 10_000):
                batch = order[start:start + 10_000]
                model.partial_fit(vectorizer.transform([train[0][i] for i in batch]), labels[batch], classes=classes)
        return model

    def predict(model):
        return list(model.predict(vectorizer.transform(test[0])))

    return fit, predict


RUNNERS = {"sklearn": run_sklearn, "fasttext": run_fasttext, "sgd": run_sgd}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("system", choices=sorted(SYSTEMS))
    parser.add_argument("--data", required=True)
    parser.add_argument("--task", default="route", choices=("route", "recommend"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-count", type=int, default=2)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    from sklearn.metrics import accuracy_score, f1_score

    stages = Stages()
    parts = stages.run("prepare", prepare, args.data, args.task, args.seed, args.min_count)
    fit, predict = RUNNERS[args.system](parts["train"], parts["test"], args.seed)
    model = stages.run("fit", fit)
    predicted = stages.run("predict", predict, model)
    gold = parts["test"][1]
    result = {"system": args.system, "description": SYSTEMS[args.system], "task": args.task,
              "train_records": len(parts["train"][0]), "test_records": len(gold),
              "macro_f1": f1_score(gold, predicted, average="macro", zero_division=0),
              "accuracy": accuracy_score(gold, predicted), "stages": stages.stages}
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(result, out, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

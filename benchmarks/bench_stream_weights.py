"""How the streamed router's and recommender's class-weight power, learning rate and hidden layer were chosen, on
training data only.

For each synthetic corpus size and task, the protocol's train split (``--min-count 2 --seed 0``, the split
``train route|recommend`` uses) is cut once more: the records whose ``sha256(f"{seed}:select:{id}")`` keys are in the
lowest 10 % form a *selection* slice, and `StreamedRouter`/`StreamedRecommender` is trained on the other 90 % (its
own early-stopping slice is carved from those) with every combination of ``hidden`` (units of a hidden ReLU layer, 0
for softmax regression), ``class_weight_power`` (the exponent of the balanced weights ``n / (k n_c)``: 1 is
scikit-learn's "balanced", 0 unweighted) and ``learning_rate``, then scored
on the selection slice. The test split is never read. Each configuration is trained in this process one after another
(CPU seconds from ``time.process_time``).

Writes ``benchmarks/results/stream_weights.json`` and ``stream_weights.md``.

    python benchmarks/bench_stream_weights.py [--sizes 100000 [1000000]] [--tasks route recommend]
        [--hidden 0] [--powers 0 0.3 0.5 1] [--learning-rates 0.1 0.2] [--work DIR] [--merge] [--render-only]

``--merge`` keeps the rows of the committed results for the (size, task, hidden) triples this run does not measure,
with the command that measured them, so a long 1M run can be added to the 100k grid.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_scale import code_version, ensure_corpus, machine  # noqa: E402
from rmd_baselines.classify.scale import streamed_task  # noqa: E402
from rmd_baselines.classify.streamed import (AUTO_HIDDEN, AUTO_HIDDEN_MIN_RECORDS, AUTO_LEARNING_RATE,  # noqa: E402
                                             STREAMED_FOR_TASK)
from rmd_baselines.corpus.writer import atomic_open  # noqa: E402
from rmd_baselines.metrics.classification import classification_scores  # noqa: E402
from rmd_baselines.tasks import ClassificationSettings  # noqa: E402
from rmd_baselines.tasks.shuffle import shuffle_keys  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SELECTION_FRACTION = 0.1
CHUNK = 4096


def selection_run(task: str, corpus: Path, seed: int, hiddens: list[int], powers: list[float], rates: list[float]
                  ) -> list[dict]:
    settings = ClassificationSettings(task=task, min_count=2, seed=seed)
    data = streamed_task(corpus, settings)
    index = {label: i for i, label in enumerate(data.labels)}
    threshold = np.uint64(int(SELECTION_FRACTION * 2 ** 64))
    chosen_texts, chosen_labels, selected = [], [], []
    fit_counts = np.zeros(len(data.labels), dtype=np.int64)
    # One pass decides each record's side (the records come back in the same file order every pass) and keeps the
    # selection slice; the fitting passes only read ``selected``.
    for dialogue, text, label in data.iter_records("train"):
        selected.append(bool(shuffle_keys([dialogue.id], seed, "select")[0] < threshold))
        if selected[-1]:
            chosen_texts.append(text)
            chosen_labels.append(label)
        else:
            fit_counts[index[label]] += 1

    def chunks():
        texts, codes, ids = [], [], []
        for chosen, (dialogue, text, label) in zip(selected, data.iter_records("train")):
            if chosen:
                continue
            texts.append(text)
            codes.append(index[label])
            ids.append(dialogue.id)
            if len(texts) == CHUNK:
                yield texts, np.array(codes, dtype=np.int32), ids
                texts, codes, ids = [], [], []
        if texts:
            yield texts, np.array(codes, dtype=np.int32), ids

    rows = []
    for hidden, rate, power in itertools.product(hiddens, rates, powers):
        estimator = STREAMED_FOR_TASK[task](hidden=hidden, learning_rate=rate, class_weight_power=power, seed=seed)
        started = time.process_time()
        estimator.fit_chunks(chunks, data.labels, fit_counts)
        cpu = time.process_time() - started
        scores = classification_scores(chosen_labels, list(estimator.predict(chosen_texts)))
        rows.append({"task": task, "fit_records": int(fit_counts.sum()), "selection_records": len(chosen_texts),
                     "hidden": hidden, "learning_rate": rate, "class_weight_power": power,
                     "macro_f1": round(scores["macro_f1"], 4), "accuracy": round(scores["accuracy"], 4),
                     "passes": estimator.training_["epochs"], "cpu_seconds": round(cpu, 1)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def task_defaults() -> dict[str, str]:
    """In words: the hidden units, learning rate and class-weight power each task's streamed estimator uses by
    default (``None`` means chosen by the training size, `streamed.AUTO_HIDDEN`)."""
    out = {}
    for task, cls in STREAMED_FOR_TASK.items():
        params = cls().get_params()
        hidden, rate = params["hidden"], params["learning_rate"]
        if hidden is None:
            learner = (f"softmax regression at learning rate {AUTO_LEARNING_RATE['softmax']} below "
                       f"{AUTO_HIDDEN_MIN_RECORDS:,} training records, {AUTO_HIDDEN} hidden units at "
                       f"{AUTO_LEARNING_RATE['hidden']} from there on")
        else:
            learner = f"hidden {hidden}, learning rate {rate}"
        out[task] = f"{learner}, power {params['class_weight_power']}"
    return out


def render(report: dict) -> str:
    lines = [
        "# Streamed classifiers: choosing the class-weight power, the learning rate and the hidden layer",
        "",
        f"Machine: {report['machine']}. Each table names the date, commit and command that measured it.",
        "",
        "Trained on 90 % of the protocol's train split of each synthetic corpus and scored on the other 10 % (the "
        "selection slice, records chosen by a seeded hash of their id); the test split is never read. Power 1 is "
        "scikit-learn's \"balanced\" weights, 0 no class weights; hidden 0 is softmax regression, otherwise the "
        "units of one hidden ReLU layer. Defaults: "
        + "; ".join(f"{task}: {defaults}" for task, defaults in task_defaults().items()) + ".",
        "",
    ]
    for size in report["sizes"]:
        for task in report["tasks"]:
            rows = [r for r in report["rows"] if r["dialogues"] == size and r["task"] == task]
            if not rows:
                continue
            lines += [f"## {task}, {size:,} dialogues ({rows[0]['fit_records']:,} records fitted, "
                      f"{rows[0]['selection_records']:,} scored)", ""]
            for run in sorted({(r["date"], r["code"], r["command"]) for r in rows}):
                lines.append(f"- measured {run[0]} (commit {run[1]}): `{run[2]}`")
            lines += ["", "| hidden | learning rate | power | macro-F1 | accuracy | passes | CPU s |",
                      "|---:|---:|---:|---:|---:|---:|---:|"]
            best = max(rows, key=lambda r: (r["macro_f1"], r["accuracy"]))
            for r in rows:
                mark = " **(best)**" if r is best else ""
                lines.append(f"| {r.get('hidden', 0)} | {r['learning_rate']} | {r['class_weight_power']}{mark} | "
                             f"{r['macro_f1']:.4f} | {r['accuracy']:.4f} | {r['passes']} | {r['cpu_seconds']:.1f} |")
            lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--tasks", nargs="+", choices=("route", "recommend"), default=["route", "recommend"])
    parser.add_argument("--hidden", type=int, nargs="+", default=[0])
    parser.add_argument("--powers", type=float, nargs="+", default=[0.0, 0.3, 0.5, 1.0])
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[0.1, 0.2])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "work"), help="Where the corpora are cached.")
    parser.add_argument("--merge", action="store_true", help="Keep the committed rows of sizes and tasks not run.")
    parser.add_argument("--render-only", action="store_true",
                        help="Rewrite stream_weights.md from the committed stream_weights.json; run nothing.")
    args = parser.parse_args()
    if args.render_only:
        report = json.loads((RESULTS / "stream_weights.json").read_text(encoding="utf-8"))
        with atomic_open(RESULTS / "stream_weights.md") as out:
            out.write(render(report) + "\n")
        return 0
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in args.sizes:
        corpus = ensure_corpus(work, size, args.seed)
        for task in args.tasks:
            for row in selection_run(task, corpus, args.seed, args.hidden, args.powers, args.learning_rates):
                rows.append({"dialogues": size, **row})
    command = "python benchmarks/bench_stream_weights.py " + " ".join(sys.argv[1:])
    stamp = {"date": datetime.date.today().isoformat(), "code": code_version(), "command": command}
    rows = [{**row, **stamp} for row in rows]
    def key(row: dict) -> tuple:
        return row["dialogues"], row["task"], row.get("hidden", 0)

    measured = {key(row) for row in rows}
    if args.merge and (RESULTS / "stream_weights.json").is_file():
        earlier = json.loads((RESULTS / "stream_weights.json").read_text(encoding="utf-8"))["rows"]
        rows = [{"hidden": 0, **row} for row in earlier if key(row) not in measured] + rows
    rows.sort(key=lambda row: (row["dialogues"], ("route", "recommend").index(row["task"]), row["hidden"]))
    report = {"machine": machine(), "seed": args.seed, "rows": rows,
              "sizes": sorted({row["dialogues"] for row in rows}), "tasks": ["route", "recommend"]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    with atomic_open(RESULTS / "stream_weights.json") as out:
        json.dump(report, out, ensure_ascii=False, indent=1)
        out.write("\n")
    with atomic_open(RESULTS / "stream_weights.md") as out:
        out.write(render(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

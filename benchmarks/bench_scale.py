"""How the cost of the default baselines grows with corpus size, on synthetic RealMedDial-shaped corpora.

For each size (default 10,000, 100,000 and 1,000,000 dialogues; generated once with ``rmd-baseline data synth``,
seed 0, cached in ``benchmarks/work/``) and each task -- department routing, doctor recommendation, retrieval of a
response -- a fresh child process reads the corpus, builds the protocol's split, trains the default model and
answers the test split (classification: every test record; retrieval: up to --queries test contexts, batched). We
record wall seconds per step, records or queries per second, and the child's peak resident memory (its own rusage
from ``os.wait4``; it includes the corpus held in memory).

A (task, size) run whose time or memory, extrapolated linearly from the previous size, would exceed --max-seconds
or --max-memory-gib is not started; the table says so and gives the projection instead of a number.

Writes ``benchmarks/results/scale.json`` and ``scale.md`` (with a log-log plot, ``scale.png``, when matplotlib is
installed: ``pip install -e .[plot]``).

    python benchmarks/bench_scale.py [--sizes 10000 100000 1000000] [--tasks route recommend retrieval]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORK = ROOT / "benchmarks" / "work"
RESULTS = ROOT / "benchmarks" / "results"
TASKS = ("route", "recommend", "retrieval")
SIZES = (10_000, 100_000, 1_000_000)


# ------------------------------------------------------------------------------------------------- child side


def child(task: str, data: str, queries: int, seed: int) -> dict:
    """Runs inside the measured process: read, split, train, predict; returns step timings."""
    from rmd_baselines.corpus import load_dialogues

    out: dict = {"task": task}
    t0 = time.perf_counter()
    dialogues, _ = load_dialogues(data)
    out["read_seconds"] = time.perf_counter() - t0
    out["dialogues"] = len(dialogues)
    if task in ("route", "recommend"):
        from rmd_baselines.classify import DEFAULT_MODELS, default_estimator, fit_on_data
        from rmd_baselines.tasks import ClassificationSettings, build_classification_task

        t0 = time.perf_counter()
        split = build_classification_task(dialogues, ClassificationSettings(task, seed=seed))
        del dialogues
        out["split_seconds"] = time.perf_counter() - t0
        out["train_records"], out["test_records"] = len(split.train_texts), len(split.test_texts)
        out["classes"] = len(split.labels)
        model = default_estimator(task, random_state=seed)
        out["model"] = f"{type(model).__name__}, preset {DEFAULT_MODELS[task]} (the default)"
        t0 = time.perf_counter()
        fit_on_data(model, split)  # tokenizing included
        out["train_seconds"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        predicted = model.predict(split.test_texts)
        seconds = time.perf_counter() - t0
        out["predict_per_second"] = len(split.test_texts) / seconds
        out["accuracy"] = sum(p == g for p, g in zip(predicted, split.test_labels)) / len(split.test_labels)
    else:
        from rmd_baselines.respond.retrieval import RetrievalResponder
        from rmd_baselines.tasks import GenerationSettings, build_generation_task

        t0 = time.perf_counter()
        data_split = build_generation_task(dialogues, GenerationSettings(seed=seed))
        del dialogues
        out["split_seconds"] = time.perf_counter() - t0
        out["train_records"], out["test_records"] = len(data_split.train), len(data_split.test)
        responder = RetrievalResponder()
        out["model"] = "RetrievalResponder(defaults): BM25 over char uni+bigrams of the contexts"
        t0 = time.perf_counter()
        responder.fit(data_split.train)
        out["train_seconds"] = time.perf_counter() - t0
        contexts = [instance.context for instance in data_split.test[:queries]]
        t0 = time.perf_counter()
        responder.respond_many(contexts)
        out["predict_per_second"] = len(contexts) / (time.perf_counter() - t0)
        out["queries"] = len(contexts)
    return out


# ------------------------------------------------------------------------------------------------ parent side


def corpus_path(size: int, seed: int) -> Path:
    return WORK / f"synthetic-{size}-seed{seed}.jsonl.gz"


def ensure_corpus(size: int, seed: int) -> Path:
    path = corpus_path(size, seed)
    if not path.is_file():
        print(f"generating {size} synthetic dialogues -> {path}", flush=True)
        subprocess.run([sys.executable, str(ROOT / "bin" / "rmd-baseline"), "data", "synth", "--dialogues",
                        str(size), "--seed", str(seed), "--out", str(path), "--quiet"], check=True, cwd=ROOT)
    return path


def measure(task: str, data: Path, queries: int, seed: int) -> dict:
    """Run the child; its result plus wall time and peak RSS of the child alone."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        result_path = handle.name
    command = [sys.executable, __file__, "--child", task, "--data", str(data), "--queries", str(queries),
               "--seed", str(seed), "--child-out", result_path]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    stderr = proc.stderr.read().decode("utf-8", "replace")
    proc.stderr.close()
    wall = time.perf_counter() - started
    try:
        if status != 0:
            return {"task": task, "error": stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {status}",
                    "wall_seconds": wall}
        with open(result_path, encoding="utf-8") as handle:
            result = json.load(handle)
    finally:
        os.unlink(result_path)
    result["wall_seconds"] = wall
    result["peak_rss_mib"] = usage.ru_maxrss / 1024  # Linux reports KiB
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return result


def projection(previous: dict | None, factor: float) -> tuple[float, float] | None:
    if not previous or "error" in previous or "skipped" in previous:
        return None
    return previous["wall_seconds"] * factor, previous["peak_rss_mib"] * factor / 1024


def render_markdown(report: dict, plot: str | None) -> str:
    lines = ["# Scale: cost of the default baselines as the corpus grows", "",
             f"Synthetic corpora from `rmd-baseline data synth` (seed {report['seed']}); each cell is one fresh child "
             f"process: read the corpus, build the protocol's split, train the default model, answer the test split "
             f"(retrieval: the first {report['queries']} test contexts, batched). Peak memory is the child's resident "
             "set and includes the corpus held in memory. Machine: " + report["machine"] + ".", ""]
    for task in report["tasks"]:
        rows = [r for r in report["runs"] if r["task"] == task]
        if not rows:
            continue
        model = next((r.get("model") for r in rows if r.get("model")), "")
        lines += [f"## {task}", "", f"Model: {model}", "",
                  "| dialogues | train records | read s | split s | train s | predictions/s | peak memory MiB | wall s |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in rows:
            if "skipped" in r:
                lines.append(f"| {r['dialogues']:,} | — | — | — | — | — | — | not run: {r['skipped']} |")
            elif "error" in r:
                lines.append(f"| {r['dialogues']:,} | — | — | — | — | — | — | failed: {r['error']} |")
            else:
                lines.append(f"| {r['dialogues']:,} | {r['train_records']:,} | {r['read_seconds']:.1f} | "
                             f"{r['split_seconds']:.1f} | {r['train_seconds']:.1f} | {r['predict_per_second']:,.0f} | "
                             f"{r['peak_rss_mib']:,.0f} | {r['wall_seconds']:.1f} |")
        lines.append("")
    if plot:
        lines += [f"![train time and peak memory against corpus size]({plot})", ""]
    return "\n".join(lines)


def write_plot(report: dict, path: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for task in report["tasks"]:
        rows = [r for r in report["runs"] if r["task"] == task and "train_seconds" in r]
        if rows:
            sizes = [r["dialogues"] for r in rows]
            left.plot(sizes, [r["train_seconds"] for r in rows], marker="o", label=task)
            right.plot(sizes, [r["peak_rss_mib"] for r in rows], marker="o", label=task)
    for axis, title in ((left, "train seconds"), (right, "peak memory (MiB)")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("dialogues")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path.name


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--tasks", nargs="*", choices=TASKS, default=list(TASKS))
    parser.add_argument("--queries", type=int, default=2000, help="Retrieval queries answered per size.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=600.0,
                        help="Do not start a run projected to take longer than this.")
    parser.add_argument("--max-memory-gib", type=float, default=16.0,
                        help="Do not start a run projected to need more memory than this.")
    parser.add_argument("--shared-data", default=None, help="Accepted for run_all.py; this benchmark needs none.")
    parser.add_argument("--child", choices=TASKS, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child(args.child, args.data, args.queries, args.seed)
        with open(args.child_out, "w", encoding="utf-8") as out:
            json.dump(result, out)
        return 0

    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {"seed": args.seed, "queries": args.queries, "tasks": args.tasks, "machine": machine(),
              "date": datetime.date.today().isoformat(), "command": " ".join(["python", *sys.argv]), "runs": []}
    previous: dict[str, dict] = {}
    last_size: dict[str, int] = {}
    for size in sorted(args.sizes):
        data = None  # generated only when some task at this size is run
        for task in args.tasks:
            projected = projection(previous.get(task), size / last_size[task]) if task in last_size else None
            if projected and (projected[0] > args.max_seconds or projected[1] > args.max_memory_gib):
                result = {"task": task, "dialogues": size,
                          "skipped": f"projected {projected[0]:.0f} s and {projected[1]:.1f} GiB from the previous "
                                     f"size (limits {args.max_seconds:.0f} s, {args.max_memory_gib:.0f} GiB)"}
            else:
                data = data or ensure_corpus(size, args.seed)
                print(f"{task} at {size} dialogues ...", flush=True)
                result = measure(task, data, args.queries, args.seed)
                result.setdefault("dialogues", size)
            report["runs"].append(result)
            previous[task], last_size[task] = result, size
            print(json.dumps(result, ensure_ascii=False), flush=True)
    plot = write_plot(report, RESULTS / "scale.png")
    from rmd_baselines.corpus import write_json, write_text

    write_json(RESULTS / "scale.json", report)
    write_text(RESULTS / "scale.md", render_markdown(report, plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())

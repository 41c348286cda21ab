"""How the default baselines cost and score as the corpus grows, up to MedDialog-CN size (issue 11), measured --
never projected -- on synthetic RealMedDial-shaped corpora (``rmd-baseline data synth --seed 0``, cached in
``--work``).

Every cell is one fresh process of the command a user would type, measured on its own (wall seconds, CPU seconds =
user + sys, and peak resident memory, from ``os.wait4``):

* ``route`` / ``recommend``: ``rmd-baseline train TASK --data CORPUS --min-count 2 --seed 0`` (reading and splitting
  included, the scale mode chosen by the tool), then ``rmd-baseline evaluate model`` on the whole test split;
* ``retrieval``: ``train respond --model retrieval`` (the index), then ``evaluate model --max-test Q`` (Q test
  contexts answered, default 2,000; queries/s from that command's answer stage);
* ``lm``: ``train respond --model ngram --order 5`` (the char Kneser-Ney model of the train responses), then
  ``evaluate model --max-test Q`` (perplexity on Q test instances);
* ``route-memory`` / ``recommend-memory`` (at ``--memory-sizes``) and ``route-stream`` / ``recommend-stream`` (at
  ``--stream-sizes``): the same with ``--scale memory`` / ``--scale stream`` forced, to compare the two modes where
  both run.

The peers of issue 11's table (``scale_references.py``: scikit-learn TF-IDF + LinearSVC, fastText, hashed SGD)
route the same split at the ``--reference-sizes``, in the same run. Sizes above ``--max-dialogues`` (default
1,000,000) are left out, so the 3.4M row runs only with ``--max-dialogues 3400000``; ``--merge`` keeps the cells
of the committed results that this run did not measure (each cell carries the date of its run), so a long row can be
measured once and the shorter ones refreshed. ``--targets`` checks issue 11's targets against the measured cells
(a cell that was not measured counts as missed).

Writes ``benchmarks/results/scale.json``, ``scale.md``, the plot ``scale.png`` (matplotlib, ``.[plot]``) and the
table between the ``scale-table`` markers of README's "Large corpora" section.

    python benchmarks/bench_scale.py [--sizes 10000 100000 1000000 3400000] [--max-dialogues 1000000]
        [--tasks route recommend retrieval lm] [--references sklearn fasttext sgd] [--reference-sizes 100000 1000000]
        [--memory-sizes 100000] [--stream-sizes 100000] [--queries 2000] [--work DIR] [--merge] [--from-log LOG ...]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.timing import run_child

RESULTS = ROOT / "benchmarks" / "results"
TASKS = ("route", "recommend", "retrieval", "lm")
# The scale mode forced (the default chooses it by size), for the comparisons where both modes run (100k).
MEMORY_TASKS = ("route-memory", "recommend-memory", "route-stream", "recommend-stream")
SIZES = (10_000, 100_000, 1_000_000, 3_400_000)
REFERENCES = ("sklearn", "fasttext", "sgd")
CLI = [sys.executable, str(ROOT / "bin" / "rmd-baseline")]

TRAIN_COMMANDS = {
    "route": ["train", "route", "--min-count", "2"],
    "recommend": ["train", "recommend", "--min-count", "2"],
    "retrieval": ["train", "respond", "--model", "retrieval"],
    "lm": ["train", "respond", "--model", "ngram", "--order", "5"],
    "route-memory": ["train", "route", "--min-count", "2", "--scale", "memory"],
    "recommend-memory": ["train", "recommend", "--min-count", "2", "--scale", "memory"],
    "route-stream": ["train", "route", "--min-count", "2", "--scale", "stream"],
    "recommend-stream": ["train", "recommend", "--min-count", "2", "--scale", "stream"],
}

# Issue 11's targets: size -> task -> limits. "cpu" and "wall" in seconds, memory in MiB; quality as named.
TARGETS = {
    100_000: {
        "route": {"peak_mib": 1024, "macro_f1": 0.76},
        "route-stream": {"macro_f1_within_0.005_of": "route-memory"},
    },
    1_000_000: {
        "route": {"peak_mib": 1024, "cpu": 600, "macro_f1": 0.786, "accuracy": 0.836},
        "recommend": {"peak_mib": 1536, "cpu": 900, "macro_f1_of": ("recommend-memory", 100_000)},
        "retrieval": {"peak_mib": 4096, "queries_per_cpu_second": 300},
        "lm": {"peak_mib": 4096, "wall": 15 * 60},
    },
    3_400_000: {
        "route": {"peak_mib": 2048, "wall": 30 * 60},
        "recommend": {"peak_mib": 3072, "wall": 45 * 60},
        "retrieval": {"peak_mib": 8192, "queries_per_cpu_second": 100},
        "lm": {"peak_mib": 8192, "wall": 45 * 60},
    },
}


def today() -> str:
    return datetime.date.today().isoformat()


_CODE_VERSION: str | None = None


def code_version() -> str:
    """The commit measured (``+dirty`` with uncommitted changes), read once when the run starts, so that merged
    cells say what they measured."""
    global _CODE_VERSION
    if _CODE_VERSION is None:
        _CODE_VERSION = _read_code_version()
    return _CODE_VERSION


def _read_code_version() -> str:
    import subprocess

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        # The results and README's table are what the benchmarks themselves write: not a change of the code.
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)benchmarks/results", ":(exclude)README.md"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def ensure_corpus(work: Path, size: int, seed: int) -> Path:
    path = work / f"synthetic-{size}-seed{seed}.jsonl.gz"
    if not path.is_file():
        print(f"generating {size:,} synthetic dialogues -> {path}", flush=True)
        run_child([*CLI, "data", "synth", "--dialogues", str(size), "--seed", str(seed), "--out", str(path), "-q"])
    return path


def measured(command: list[str]) -> dict:
    """One process: its cost and its ``--json`` output."""
    result = run_child(command)
    out = {"wall_seconds": round(result["wall_seconds"], 2), "cpu_seconds": round(result["cpu_seconds"], 2),
           "peak_rss_mib": round(result["peak_rss_bytes"] / 2 ** 20, 1)}
    stdout = result["stdout"].strip()
    out["output"] = json.loads(stdout) if stdout else {}
    return out


def answer_stage(stages: list[dict]) -> dict | None:
    """The stage of ``evaluate model`` that answered the test contexts."""
    for stage in stages or []:
        if stage.get("stage") == "answer":
            return stage
    return None


GENERATION_QUALITY = ("perplexity", "paper.bleu4", "dstc7.bleu4", "dstc7.nist4")


def run_task(task: str, corpus: Path, size: int, args, scratch: Path) -> dict:
    model_dir = scratch / f"{task}-{size}"
    load_before = os.getloadavg()[0]
    train = measured([*CLI, *TRAIN_COMMANDS[task], "--data", str(corpus), "--seed", str(args.seed),
                      "--out", str(model_dir), "--json", "-q"])
    evaluate_command = [*CLI, "evaluate", "model", str(model_dir), "--json", "-q"]
    if task in ("retrieval", "lm"):
        evaluate_command += ["--max-test", str(args.queries)]  # the sample's seed is the model's split seed
    evaluation = measured(evaluate_command)
    shutil.rmtree(model_dir, ignore_errors=True)
    scores = evaluation.pop("output")
    summary = train.pop("output")
    cell = {"kind": "task", "task": task, "dialogues": size, "date": today(), "code": code_version(),
            "model": summary.get("model") or summary.get("engine"), "scale": summary.get("scale"),
            "train_records": summary.get("train_records") or summary.get("train_instances"), "train": train,
            "evaluate": evaluation,
            "train_stages": summary.get("stages", []), "evaluate_stages": scores.get("stages", []),
            "test_records": scores.get("n") or scores.get("test_records"),
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    if task.split("-")[0] in ("route", "recommend"):
        cell["quality"] = {key: scores[key] for key in ("macro_f1", "accuracy") if key in scores}
    else:
        flat = flat_scores(scores)
        cell["quality"] = {key: flat[key] for key in GENERATION_QUALITY if key in flat}
        answer = answer_stage(cell["evaluate_stages"])
        if answer:
            n = cell["test_records"] = scores.get("instances")
            cell["queries"] = n
            cell["queries_per_second"] = round(n / max(answer["seconds"], 1e-9), 1)
            cell["queries_per_cpu_second"] = round(n / max(answer["cpu_seconds"], 1e-9), 1)
    return cell


def flat_scores(obj, prefix: str = "") -> dict:
    """Numeric leaves of an ``evaluate`` JSON document, keyed by their path (``scores.BLEU-4`` and so on)."""
    flat = {}
    if isinstance(obj, dict):
        if "score" in obj and isinstance(obj["score"], (int, float)) and "name" in obj:
            return {f"{prefix}{obj['name']}": obj["score"]}
        for key, value in obj.items():
            if key in ("model", "settings", "data", "stages", "timings"):
                continue
            flat.update(flat_scores(value, f"{prefix}{key}."))
    elif isinstance(obj, list):
        for value in obj:
            flat.update(flat_scores(value, prefix))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        flat[prefix.rstrip(".")] = obj
    return flat


def run_reference(system: str, corpus: Path, size: int, args) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out_path = handle.name
    try:
        cost = measured([sys.executable, str(ROOT / "benchmarks" / "scale_references.py"), system, "--data",
                         str(corpus), "--seed", str(args.seed), "--out", out_path])
        cost.pop("output")
        with open(out_path, encoding="utf-8") as handle:
            result = json.load(handle)
    finally:
        os.unlink(out_path)
    return {"kind": "reference", "task": "route", "system": system, "dialogues": size, "date": today(),
            "code": code_version(),
            "description": result["description"], "train_records": result["train_records"],
            "test_records": result["test_records"], "process": cost, "stages": result["stages"],
            "quality": {"macro_f1": result["macro_f1"], "accuracy": result["accuracy"]}}


def cell_key(cell: dict) -> tuple:
    return cell["kind"], cell.get("system") or cell["task"], cell["dialogues"]


def cells_of_log(path: str) -> list[dict]:
    """The cells an earlier run printed, one JSON document a line."""
    cells = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith('{"kind": '):
                cells.append(json.loads(line))
    return cells


def merge_cells(earlier: list[dict], newer: list[dict]) -> list[dict]:
    """``earlier`` cells that ``newer`` does not measure again, then ``newer``."""
    measured_now = {cell_key(cell) for cell in newer}
    return [cell for cell in earlier if cell_key(cell) not in measured_now] + newer


# ------------------------------------------------------------------------------------------------ targets


def check_targets(cells: list[dict]) -> list[dict]:
    rows = []
    by_key = {cell_key(cell): cell for cell in cells}
    for size, tasks in TARGETS.items():
        for task, limits in tasks.items():
            cell = by_key.get(("task", task, size))
            for name, limit in limits.items():
                row = {"dialogues": size, "task": task, "what": name, "limit": limit}
                if cell is None:
                    row.update(value=None, met=False)
                    rows.append(row)
                    continue
                if name == "peak_mib":
                    value = max(cell["train"]["peak_rss_mib"], cell["evaluate"]["peak_rss_mib"])
                    met = value <= limit
                elif name in ("cpu", "wall"):
                    value = cell["train"][f"{name}_seconds"]
                    met = value <= limit
                elif name.startswith("queries_per"):
                    value = cell.get(name)
                    met = value is not None and value >= limit
                elif name.startswith("macro_f1_of") or name.startswith("macro_f1_within"):
                    other_task, other_size = limit if isinstance(limit, tuple) else (limit, size)
                    other = by_key.get(("task", other_task, other_size))
                    slack = 0.005 if "within" in name else 0.0
                    reference = other["quality"].get("macro_f1") if other else None
                    value = cell["quality"].get("macro_f1")
                    row["limit"] = None if reference is None else reference - slack
                    row["what"] = (f"macro_f1 >= {other_task} at {other_size:,}"
                                     + (f" - {slack}" if slack else ""))
                    met = value is not None and reference is not None and value >= reference - slack
                else:
                    value = cell["quality"].get(name)
                    met = value is not None and value >= limit
                row.update(value=value, met=bool(met))
                rows.append(row)
    for row in rows:  # the keys run_all.py's target table reads
        row.update(name=f"{row['task']} at {row['dialogues']:,}: {row['what']}",
                   got="not measured" if row["value"] is None else row["value"], wanted=row["limit"])
    return rows


# ------------------------------------------------------------------------------------------------ report


def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (tuple, list)):
        return " at ".join(fmt(part) for part in value)
    return str(value)


def render_markdown(report: dict, plot: str | None) -> str:
    cells = report["cells"]
    lines = ["# Scale: the default baselines up to MedDialog-CN size", "",
             ("Measured, never projected: synthetic corpora from `rmd-baseline data synth --seed 0`; every cell is one "
              "fresh process of the user's command (`train ...`, then `evaluate model ...`), with its wall and CPU "
              "seconds (user + sys) and peak resident memory from `wait4`. Quality on the protocol's test split "
              f"(generation: {report['queries']:,} test instances, `--max-test`). Machine: {report['machine']}; "
              "`load` is the 1-minute load average when the cell started and ended (a shared machine: wall seconds "
              "stretch with it, CPU seconds much less, so speed targets use queries per CPU second). "
              f"Command: `{report['command']}`; each cell names the date and commit it measured."), ""]
    for task in TASKS + MEMORY_TASKS:
        rows = sorted((c for c in cells if c["kind"] == "task" and c["task"] == task), key=lambda c: c["dialogues"])
        if not rows:
            continue
        quality_keys = [k for k in ("macro_f1", "accuracy", *GENERATION_QUALITY) if any(k in c["quality"] for c in rows)]
        lines += [f"## {task}", "",
                  "| dialogues | model | scale | train records | train CPU s | train wall s | train peak MiB | "
                  "evaluate wall s | evaluate peak MiB | q/s (wall) | q/CPU s | load | " + " | ".join(quality_keys)
                  + " | measured |",
                  "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|" + "---:|" * len(quality_keys) + "---|"]
        for c in rows:
            quality = " | ".join(fmt(c["quality"].get(k), 3) for k in quality_keys)
            lines.append(f"| {c['dialogues']:,} | {c.get('model') or '—'} | {c.get('scale') or '—'} | "
                         f"{fmt(c.get('train_records'))} | {fmt(c['train']['cpu_seconds'])} | "
                         f"{fmt(c['train']['wall_seconds'])} | {fmt(c['train']['peak_rss_mib'], 0)} | "
                         f"{fmt(c['evaluate']['wall_seconds'])} | {fmt(c['evaluate']['peak_rss_mib'], 0)} | "
                         f"{fmt(c.get('queries_per_second'), 0)} | {fmt(c.get('queries_per_cpu_second'), 0)} | "
                         f"{'→'.join(map(str, c.get('load_average', []))) or '—'} | {quality} | {c['date']}, {c.get('code', '?')} |")
        stage_rows = [c for c in rows if c.get("train_stages")]
        if stage_rows:
            lines += ["", "Stages of training (seconds / CPU seconds / peak MiB so far):", ""]
            for c in stage_rows:
                parts = [f"{s['stage']} {fmt(s.get('seconds'))}/{fmt(s.get('cpu_seconds'))}/"
                         f"{fmt(s.get('peak_rss_mib'), 0)}" for s in c["train_stages"]]
                lines.append(f"- {c['dialogues']:,}: " + "; ".join(parts))
        lines.append("")
    refs = sorted((c for c in cells if c["kind"] == "reference"), key=lambda c: (c["dialogues"], c["system"]))
    if refs:
        lines += ["## Peers (routing, same split and view, one process each)", "",
                  "| dialogues | system | macro-F1 | acc | CPU s (process) | fit CPU s | peak MiB | wall s | measured |",
                  "|---:|---|---:|---:|---:|---:|---:|---:|---|"]
        for c in refs:
            fit = next((s["cpu_seconds"] for s in c["stages"] if s["stage"] == "fit"), None)
            lines.append(f"| {c['dialogues']:,} | {c['description']} | {c['quality']['macro_f1']:.3f} | "
                         f"{c['quality']['accuracy']:.3f} | {fmt(c['process']['cpu_seconds'])} | {fmt(fit)} | "
                         f"{fmt(c['process']['peak_rss_mib'], 0)} | {fmt(c['process']['wall_seconds'])} | "
                         f"{c['date']}, {c.get('code', '?')} |")
        lines.append("")
    lines += ["## Issue 11's targets", "", "| dialogues | task | target | limit | measured | met |",
              "|---:|---|---|---:|---:|---|"]
    for row in report["targets"]:
        value = "not measured" if row["value"] is None else fmt(row["value"], 3 if row["value"] < 10 else 1)
        lines.append(f"| {row['dialogues']:,} | {row['task']} | {row['what']} | {fmt(row['limit'], 3)} | {value} | "
                     f"{'yes' if row['met'] else 'NO'} |")
    lines.append("")
    if plot:
        lines += [f"![train CPU seconds and peak memory against corpus size]({plot})", ""]
    return "\n".join(lines)


def readme_table(report: dict) -> str:
    """The compact table of README's "Large corpora" section: what each task needed at each measured size."""
    lines = ["| task | dialogues | peak memory | train CPU s | train wall s | quality | measured |",
             "|---|---:|---:|---:|---:|---|---|"]
    for task in TASKS:
        for c in sorted((c for c in report["cells"] if c["kind"] == "task" and c["task"] == task),
                        key=lambda c: c["dialogues"]):
            peak = max(c["train"]["peak_rss_mib"], c["evaluate"]["peak_rss_mib"])
            quality = ", ".join(f"{key} {c['quality'][key]:.3f}" for key in ("macro_f1", "accuracy", *GENERATION_QUALITY)
                                if key in c["quality"])
            if c.get("queries_per_cpu_second"):
                quality += f"; {c['queries_per_cpu_second']:,.0f} queries per CPU second"
            lines.append(f"| {task} | {c['dialogues']:,} | {peak / 1024:.2f} GiB | {fmt(c['train']['cpu_seconds'], 0)} | "
                         f"{fmt(c['train']['wall_seconds'], 0)} | {quality} | {c['date']} |")
    return "\n".join(lines)


def update_readme(table: str) -> None:
    """Replace the block between README's scale-table markers (written by this script only)."""
    path = ROOT / "README.md"
    text = path.read_text("utf-8")
    start, end = "<!-- scale-table:start -->", "<!-- scale-table:end -->"
    if start not in text or end not in text:
        return
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    from rmd_baselines.corpus import write_text

    write_text(path, f"{head}{start}\n{table}\n{end}{tail}")


def write_plot(report: dict, path: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for task in TASKS:
        rows = sorted((c for c in report["cells"] if c["kind"] == "task" and c["task"] == task),
                      key=lambda c: c["dialogues"])
        if rows:
            sizes = [c["dialogues"] for c in rows]
            left.plot(sizes, [c["train"]["cpu_seconds"] for c in rows], marker="o", label=task)
            right.plot(sizes, [max(c["train"]["peak_rss_mib"], c["evaluate"]["peak_rss_mib"]) for c in rows],
                       marker="o", label=task)
    for system in REFERENCES:
        rows = sorted((c for c in report["cells"] if c["kind"] == "reference" and c["system"] == system),
                      key=lambda c: c["dialogues"])
        if rows:
            sizes = [c["dialogues"] for c in rows]
            left.plot(sizes, [c["process"]["cpu_seconds"] for c in rows], linestyle=":", marker="x",
                      label=f"peer: {system} (route)")
            right.plot(sizes, [c["process"]["peak_rss_mib"] for c in rows], linestyle=":", marker="x",
                       label=f"peer: {system} (route)")
    for axis, title in ((left, "train CPU seconds"), (right, "peak memory (MiB)")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("dialogues")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
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
    parser.add_argument("--max-dialogues", type=int, default=1_000_000,
                        help="Leave out sizes above this (the 3.4M row: --max-dialogues 3400000).")
    parser.add_argument("--tasks", nargs="*", choices=TASKS, default=list(TASKS))
    parser.add_argument("--memory-sizes", type=int, nargs="*", default=[100_000],
                        help="Sizes at which route and recommend are also trained with --scale memory.")
    parser.add_argument("--stream-sizes", type=int, nargs="*", default=[100_000],
                        help="Sizes at which route and recommend are also trained with --scale stream.")
    parser.add_argument("--references", nargs="*", choices=REFERENCES, default=list(REFERENCES))
    parser.add_argument("--reference-sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=2000, help="Test instances answered by the responders.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "work"), help="Where the corpora are cached.")
    parser.add_argument("--merge", action="store_true",
                        help="Keep the committed cells that this run does not measure.")
    parser.add_argument("--from-log", nargs="*", default=[], metavar="LOG",
                        help="Also merge the cells that earlier runs of this script printed (their standard output), "
                             "for runs that measured different sizes at the same time.")
    parser.add_argument("--shared-data", default=None, help="Accepted for run_all.py; this benchmark needs none.")
    args = parser.parse_args()
    code_version()

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    sizes = sorted(size for size in set(args.sizes) if size <= args.max_dialogues)
    cells: list[dict] = []
    with tempfile.TemporaryDirectory(dir=work) as scratch:
        for size in sizes:
            corpus = ensure_corpus(work, size, args.seed)
            tasks = list(args.tasks) + [f"{task}-{mode}" for mode, mode_sizes in (("memory", args.memory_sizes),
                                                                                  ("stream", args.stream_sizes))
                                        for task in ("route", "recommend") if task in args.tasks
                                        and size in mode_sizes]
            for task in tasks:
                print(f"{task} at {size:,} dialogues ...", flush=True)
                cells.append(run_task(task, corpus, size, args, Path(scratch)))
                print(json.dumps(cells[-1], ensure_ascii=False), flush=True)
            if size in args.reference_sizes:
                for system in args.references:
                    print(f"peer {system} at {size:,} dialogues ...", flush=True)
                    cells.append(run_reference(system, corpus, size, args))
                    print(json.dumps(cells[-1], ensure_ascii=False), flush=True)
    for log in args.from_log:
        cells = merge_cells(cells_of_log(log), cells)
    if args.merge and (RESULTS / "scale.json").is_file():
        with open(RESULTS / "scale.json", encoding="utf-8") as handle:
            cells = merge_cells(json.load(handle).get("cells", []), cells)
    cells.sort(key=lambda c: (c["kind"], c.get("system") or c["task"], c["dialogues"]))
    report = {"seed": args.seed, "queries": args.queries, "machine": machine(), "date": today(),
              "command": " ".join(["python", "benchmarks/bench_scale.py", *sys.argv[1:]]), "cells": cells}
    report["targets"] = check_targets(cells)
    plot = write_plot(report, RESULTS / "scale.png")
    from rmd_baselines.corpus import write_json, write_text

    write_json(RESULTS / "scale.json", report)
    write_text(RESULTS / "scale.md", render_markdown(report, plot))
    update_readme(readme_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

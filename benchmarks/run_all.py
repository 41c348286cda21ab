"""Run every benchmark of rmd_baselines, one after another, and regenerate benchmarks/RESULTS.md.

    python benchmarks/run_all.py [--shared-data ../shared/data] [--skip NAME ...] [--only NAME ...]

Each benchmark is its own script (run in a fresh Python process, so peak memory and timings don't leak between
them) that writes ``benchmarks/results/<name>.json`` and ``<name>.md``. This script records, for every table, the
command that produced it, when, on which machine and how long it took, and then rebuilds RESULTS.md from the result
files alone -- no number in RESULTS.md is typed by hand. ``--only`` with an existing results directory simply
re-renders RESULTS.md for the benchmarks not run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")

# (name, script, extra arguments, option naming the shared corpora, what it measures), in the order they run and
# appear in RESULTS.md. The classification benchmark's model-selection stage (5-fold cross-validation of every
# preset, about half an hour) is not rerun here: `python benchmarks/bench_classify.py --stage select` reruns it, and
# its stored results are part of classify.md.
BENCHMARKS = [
    ("classify", "bench_classify.py", ["--stage", "compare"], "--shared-data",
     "Department routing and doctor recommendation: our models beside fastText and scikit-learn references"),
    ("respond", "bench_respond.py", [], "--shared-data",
     "Response generation: our responders beside bm25s nearest neighbour and a random response"),
    ("lm", "bench_lm.py", [], "--data-dir",
     "Kneser-Ney language model: training, kenlm loading, perplexity, generation speed"),
    ("metrics", "bench_metrics.py", [], "--shared-data", "Metric speed beside sacrebleu and nltk"),
    ("compare", "bench_compare.py", [], None,
     "Comparing systems: our three responders on the bundled sample, with paired tests (the README example)"),
    ("synth", "bench_synth.py", ["--repeats", "2"], None,
     "Synthetic corpus generator at 1,000,000 dialogues; the bundled sample's statistics"),
    ("scale", "bench_scale.py", ["--sizes", "10000", "100000", "--reference-sizes", "100000", "--merge"], None,
     "Cost and quality as the corpus grows: refreshes the 10k and 100k rows and keeps the measured 1M and 3.4M "
     "rows (`python benchmarks/bench_scale.py --max-dialogues 3400000` remeasures them, several hours)"),
    ("explain", "bench_explain.py", [], None, "Explanation latency for a 300-character text on sample models"),
    ("stream_weights", "bench_stream_weights.py", ["--render-only"], None,
     "How the streamed classifiers' class weights, learning rates and hidden layer were chosen: the stored selection "
     "runs, re-rendered (`python benchmarks/bench_stream_weights.py` reruns them, about 12 minutes at 100k)"),
]


def machine() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo", encoding="utf-8") as handle:
            info["memory_gib"] = round(int(handle.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    return info


def describe_machine(info: dict) -> str:
    parts = [info.get("cpu", "unknown CPU"), f"{info.get('cpus')} cores"]
    if "memory_gib" in info:
        parts.append(f"{info['memory_gib']} GiB")
    parts.append(f"Python {info['python']}")
    return ", ".join(parts)


def run_one(name: str, script: str, extra: list[str], data_option: str | None, shared: str | None) -> dict:
    command = [sys.executable, os.path.join("benchmarks", script), *extra]
    if shared and data_option:
        command += [data_option, shared]
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    print(f"== {name}: {' '.join(command)}", flush=True)
    proc = subprocess.run(command, cwd=ROOT)
    return {
        "name": name,
        "command": " ".join(["python", *command[1:]]),
        "started": started.strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(time.perf_counter() - t0, 1),
        "exit_status": proc.returncode,
        "machine": machine(),
    }


def _number(value) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def targets_of(name: str, data: dict) -> list[tuple[str, str, bool]]:
    """(target, what was measured, met) for every target a results file records, whatever its layout."""
    rows = []
    targets = data.get("targets")
    if name == "synth":
        largest = max(data.get("scale", {}).get("rows", []), key=lambda r: r["dialogues"], default=None)
        if largest:
            rows.append((f"generator at {largest['dialogues']:,} dialogues: peak memory < 1 GiB",
                         f"{largest['peak_rss_bytes_max'] / 2**20:.0f} MiB", largest["peak_rss_bytes_max"] < 2**30))
            rows.append((f"generator at {largest['dialogues']:,} dialogues: under 5 minutes",
                         f"{largest['wall_seconds_median']:.0f} s wall", largest["wall_seconds_median"] < 300))
        return rows
    if isinstance(targets, dict):  # {flag: met}
        for key, met in targets.items():
            if isinstance(met, bool):
                rows.append((key.replace("_", " "), "", met))
        if name == "metrics":
            cpu, wall = data.get("cpu_seconds_median", {}), data.get("wall_seconds_median", {})
            for row in range(len(rows)):
                target, _, met = rows[row]
                clock, times = ("wall", wall) if target.endswith("wall") else ("CPU", cpu)
                if target.startswith("comparison"):
                    seconds = data["comparison"][f"{clock.lower()}_seconds_median"]
                    measured = f"{seconds} s ({clock})" if "under" in target else "same p-values in every run"
                elif "bleu" in target:
                    measured = (f"ours {times.get('ours_corpus_bleu')} s, sacrebleu "
                                f"{times.get('sacrebleu_corpus_bleu')} s ({clock})")
                elif "meteor" in target:
                    jar = data.get("meteor_jar", {})
                    measured = (f"{jar.get('ratio_' + clock.lower(), 0):.1f}x: ours {times.get('ours_meteor_jar')} s, "
                                f"jar {jar.get(clock.lower(), 0):.2f} s ({clock})")
                else:
                    measured = f"{times.get('ours_all')} s ({clock})"
                rows[row] = (target, measured, met)
        return rows
    for entry in targets or []:
        target = entry.get("target") or entry.get("name", "?")
        if "got" in entry:
            measured = f"{_number(entry['got'])} (wanted {_number(entry.get('wanted'))})"
        elif "ours" in entry:
            measured = _number(entry["ours"]) + (f" (peer {_number(entry['peer'])})" if entry.get("peer") is not None
                                                 else "")
        else:
            measured = f"{_number(entry.get('value'))} (target {entry.get('target', '')})"
            target = entry.get("name", target)
        rows.append((target, measured, bool(entry.get("met"))))
    return rows


def render_targets() -> str:
    """One table of every target of the issues, as the results files record it."""
    lines = ["| benchmark | target | measured | met |", "|---|---|---|---|"]
    for name, *_ in BENCHMARKS:
        path = os.path.join(RESULTS, f"{name}.json")
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        for target, measured, met in targets_of(name, data):
            lines.append(f"| {name} | {target} | {measured} | {'yes' if met else '**no**'} |")
    return "\n".join(lines)


def update_readme(summary: str) -> None:
    """Replace the block between the README's benchmark-summary markers with ``summary``."""
    path = os.path.join(ROOT, "README.md")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    start, end = "<!-- benchmark-summary:start -->", "<!-- benchmark-summary:end -->"
    if start not in text or end not in text:
        return
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(f"{head}{start}\n{summary}\n{end}{tail}")
    os.replace(tmp, path)


def render_results_md(runs: dict) -> str:
    lines = ["# Benchmark results", "",
             "Generated by `python benchmarks/run_all.py` from the files in `benchmarks/results/`; every number below",
             "was written by the benchmark script named above its table. Rerun a single one with its command.", "",
             "## Targets of the issues", "", render_targets(), ""]
    for name, _, _, _, about in BENCHMARKS:
        md_path = os.path.join(RESULTS, f"{name}.md")
        run = runs.get(name)
        lines.append(f"## {name}: {about}")
        lines.append("")
        if run:
            lines.append(f"- command: `{run['command']}`")
            lines.append(f"- run: {run['started']}, {run['seconds']} s wall, exit status {run['exit_status']}")
            lines.append(f"- machine: {describe_machine(run['machine'])}")
            if run["exit_status"] != 0:
                lines.append("- **this run failed**: the results below are those of an earlier run, if any")
            lines.append("")
        if os.path.isfile(md_path):
            with open(md_path, encoding="utf-8") as handle:
                body = handle.read().strip()
            # Our heading replaces the benchmark's own title, its other headings go one level down, and images
            # live next to the results files.
            body = re.sub(r"!\[([^\]]*)\]\((?!https?:|/)([^)]+)\)", r"![\1](results/\2)", body)
            body_lines = body.splitlines()
            if body_lines and body_lines[0].startswith("# "):
                body_lines = body_lines[1:]
            lines.extend(("#" + line) if line.startswith("#") else line for line in body_lines)
        else:
            lines.append("_No results file: this benchmark has not been run here._")
        lines.append("")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared-data", default=None, help="Directory of the shared corpora (default ../shared/data).")
    parser.add_argument("--only", nargs="*", default=None, help="Run only these benchmarks.")
    parser.add_argument("--skip", nargs="*", default=[], help="Do not run these benchmarks.")
    args = parser.parse_args()
    os.makedirs(RESULTS, exist_ok=True)
    runs_path = os.path.join(RESULTS, "run_all.json")
    runs = {}
    if os.path.isfile(runs_path):
        with open(runs_path, encoding="utf-8") as handle:
            runs = json.load(handle)
    failed = []
    t0 = time.perf_counter()
    for name, script, extra, data_option, _ in BENCHMARKS:
        if (args.only is not None and name not in args.only) or name in args.skip:
            continue
        runs[name] = run_one(name, script, extra, data_option, args.shared_data)
        if runs[name]["exit_status"] != 0:
            failed.append(name)
        with open(runs_path, "w", encoding="utf-8") as out:
            json.dump(runs, out, ensure_ascii=False, indent=1, sort_keys=True)
    tmp = os.path.join(HERE, ".RESULTS.md.tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(render_results_md(runs))
    os.replace(tmp, os.path.join(HERE, "RESULTS.md"))
    update_readme("Every target of the issues, as the results files record it (regenerated by `run_all.py`):\n\n"
                  + render_targets())
    print(f"RESULTS.md regenerated ({time.perf_counter() - t0:.0f} s in all)"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

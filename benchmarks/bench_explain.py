"""Benchmark of explanation latency (issue 14): how long ``explain`` takes for a 300-character text on models
trained on the bundled sample.

Models are trained here on the protocol's train split of ``data/realmeddial_synthetic_sample.jsonl.gz``, with the
same code as ``rmd-baseline train``. They are: route ``svm-char`` (the default) and ``lightgbm`` (the slowest
head to explain); recommend ``hier-logreg-char12`` (the default) and ``svm`` (a flat linear SVM over the 59
doctors, the largest linear head); respond ``retrieval``, ``ngram`` and ``rerank`` (the default).

The texts have exactly 300 characters: test-split consultations (patient view) joined and cut for route and
recommend, a test context of the maximum length (300) for respond, and test references joined and cut for lm.
For each command kind the script records:

- **warm**: the explanation in this process with the model loaded, the median of ``--runs`` (wall and CPU
  seconds). The playground pays this for every request, and it is the target (< 200 ms);
- **peer**: the same model's plain answer to the same text in the same run (``predict_topk``, ``respond``, the
  language model's token scores), and the ratio explain / peer;
- **cold**: the first explanation after loading. It includes jieba's dictionary and, for retrieval and rerank,
  reading the training file back for the training contexts;
- **load**: loading the model directory;
- **CLI**: the whole ``rmd-baseline explain ... --json`` command in a child process (interpreter start, imports,
  loading, explaining, printing), the median of 3, with the child's peak RSS;
- **peak RSS** of this process after each row (a high-water mark, so it includes the rows before).

Writes ``benchmarks/results/explain.json`` and ``explain.md``.

    python benchmarks/bench_explain.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from rmd_baselines import __version__  # noqa: E402
from rmd_baselines.classify.classifier import load_model  # noqa: E402
from rmd_baselines.classify.explain import explain_classification  # noqa: E402
from rmd_baselines.classify.training import train_model  # noqa: E402
from rmd_baselines.corpus.writer import write_json, write_text  # noqa: E402
from rmd_baselines.progress import peak_rss_mib  # noqa: E402
from rmd_baselines.respond.explain import ResponseExplainer  # noqa: E402
from rmd_baselines.respond.model import load_generation_data, load_responder, train_to_directory  # noqa: E402
from rmd_baselines.tasks.classification import ClassificationSettings  # noqa: E402
from rmd_baselines.tasks.generation import GenerationSettings  # noqa: E402

SAMPLE = ROOT / "data" / "realmeddial_synthetic_sample.jsonl.gz"
WORK = ROOT / "benchmarks" / "work" / "explain"
RESULTS = ROOT / "benchmarks" / "results"
TEXT_CHARS = 300
TARGET_SECONDS = 0.200
CLASSIFIERS = [("route", "svm-char", True), ("route", "lightgbm", False), ("recommend", "hier-logreg-char12", True),
               ("recommend", "svm", False)]
RESPONDERS = [("retrieval", False), ("ngram", False), ("rerank", True)]


def timed(function, runs: int) -> dict:
    """Median wall and CPU seconds of ``runs`` calls."""
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return {"wall": statistics.median(walls), "cpu": statistics.median(cpus), "runs": len(walls)}


def once(function) -> tuple[float, object]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def cut(texts, length: int = TEXT_CHARS) -> str:
    """Texts joined (with a space) until they hold ``length`` characters, cut to exactly that."""
    joined = ""
    for text in texts:
        joined = (joined + " " + text) if joined else text
        if len(joined) >= length:
            return joined[:length]
    raise SystemExit(f"the sample has fewer than {length} characters of such text")


def train_models(work: Path) -> dict:
    models = {}
    for task, preset, _ in CLASSIFIERS:
        directory = work / f"{task}-{preset}"
        if not (directory / "manifest.json").is_file():
            print(f"training {task} {preset} ...", flush=True)
            train_model(SAMPLE, ClassificationSettings(task=task), model=preset, out=directory)
        models[(task, preset)] = directory
    for name, _ in RESPONDERS:
        directory = work / f"respond-{name}"
        if not (directory / "manifest.json").is_file():
            print(f"training respond {name} ...", flush=True)
            train_to_directory(SAMPLE, directory, model=name)
        models[("respond", name)] = directory
    return models


def texts_of_300_characters() -> dict:
    """The benchmark's texts, from the test splits of the sample."""
    from rmd_baselines.classify.training import load_classification_data

    route = load_classification_data(SAMPLE, ClassificationSettings(task="route"))
    generation = load_generation_data(SAMPLE, GenerationSettings())
    return {"consultation": cut(route.test_texts),
            "context": next(i.context for i in generation.test if len(i.context) == TEXT_CHARS),
            "sentence": cut(i.response for i in generation.test)}


# Run from a small launcher process: a child forked straight from this process (hundreds of MiB once the models
# are loaded) would report this process's memory as its own peak RSS.
LAUNCHER = """
import json, os, subprocess, sys, tempfile, time
with open(os.devnull, "wb") as out, tempfile.TemporaryFile() as err:
    started = time.perf_counter()
    process = subprocess.Popen(sys.argv[1:], stdout=out, stderr=err)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    err.seek(0)
    print(json.dumps({"exit": os.waitstatus_to_exitcode(status), "stderr": err.read().decode("utf-8", "replace"),
                      "wall_seconds": wall, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                      "peak_rss_bytes": usage.ru_maxrss * 1024}))
"""


def run_child(command: list[str]) -> dict:
    """A command's wall time, CPU time and peak RSS (its own rusage, taken by the launcher); its output is
    discarded."""
    launched = subprocess.run([sys.executable, "-c", LAUNCHER, *command], cwd=ROOT, capture_output=True, text=True,
                              check=True)
    result = json.loads(launched.stdout)
    if result["exit"] != 0:
        raise SystemExit(f"{' '.join(command[2:4])} failed ({result['exit']}): {result['stderr']}")
    return result


def cli_row(arguments: list[str], runs: int = 3) -> dict:
    command = [sys.executable, str(ROOT / "bin" / "rmd-baseline"), *arguments, "--json", "--quiet"]
    results = [run_child(command) for _ in range(runs)]
    return {"wall": statistics.median(r["wall_seconds"] for r in results),
            "cpu": statistics.median(r["cpu_seconds"] for r in results),
            "peak_rss_mib": max(r["peak_rss_bytes"] for r in results) / 2**20, "runs": runs}


def measure(models: dict, texts: dict, runs: int) -> list[dict]:
    rows = []
    consultation = texts["consultation"]
    for task, preset, default in CLASSIFIERS:
        directory = models[(task, preset)]
        load_seconds, model = once(lambda: load_model(directory))
        cold, explanation = once(lambda: explain_classification(model, consultation))
        warm = timed(lambda: explain_classification(model, consultation), runs)
        peer = timed(lambda: model.predict_topk([consultation], 5), runs)
        rows.append({"kind": task, "model": preset, "default": default, "text_chars": len(consultation),
                     "load_seconds": load_seconds, "cold_seconds": cold, "warm": warm, "peer": peer,
                     "peer_is": "predict_topk (the route/recommend command's own work)",
                     "parts": len(explanation["parts"]),
                     "contributions": sum(len(p.get("contributions") or []) for p in explanation["parts"]),
                     "cli": cli_row(["explain", task, consultation, "--model", str(directory)]),
                     "peak_rss_mib": peak_rss_mib()})
        print(f"{task:9} {preset:19} warm {warm['wall'] * 1000:7.1f} ms (peer {peer['wall'] * 1000:.1f} ms)",
              flush=True)
    for name, default in RESPONDERS:
        directory = models[("respond", name)]
        load_seconds, loaded = once(lambda: load_responder(directory))
        explainer = ResponseExplainer(loaded)
        context = texts["context"]
        cold, _ = once(lambda: explainer.explain(context))
        warm = timed(lambda: explainer.explain(context), runs)
        peer = timed(lambda: loaded.responder.respond(context), runs)
        rows.append({"kind": "respond", "model": name, "default": default, "text_chars": len(context),
                     "load_seconds": load_seconds, "cold_seconds": cold, "warm": warm, "peer": peer,
                     "peer_is": "respond (the respond command's own work)",
                     "cli": cli_row(["explain", "respond", context, "--model", str(directory)]),
                     "peak_rss_mib": peak_rss_mib()})
        print(f"respond   {name:19} warm {warm['wall'] * 1000:7.1f} ms (peer {peer['wall'] * 1000:.1f} ms)",
              flush=True)
    directory = models[("respond", "rerank")]
    loaded = load_responder(directory)
    explainer = ResponseExplainer(loaded)
    sentence = texts["sentence"]
    ngram = loaded.perplexity_model
    cold, _ = once(lambda: explainer.explain_sentence(sentence))
    warm = timed(lambda: explainer.explain_sentence(sentence), runs)
    history = ngram.history_tokens("")
    peer = timed(lambda: ngram.lm_.continuation_log10probs(history, ngram.response_tokens(sentence)), runs)
    rows.append({"kind": "lm", "model": "rerank (its char LM)", "default": True, "text_chars": len(sentence),
                 "load_seconds": None, "cold_seconds": cold, "warm": warm, "peer": peer,
                 "peer_is": "the language model's token scores (continuation_log10probs)",
                 "cli": cli_row(["explain", "lm", sentence, "--model", str(directory)]),
                 "peak_rss_mib": peak_rss_mib()})
    print(f"lm        {'rerank':19} warm {warm['wall'] * 1000:7.1f} ms (peer {peer['wall'] * 1000:.3f} ms)", flush=True)
    return rows


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def render(result: dict) -> str:
    ms = lambda seconds: "" if seconds is None else f"{seconds * 1000:.1f}"  # noqa: E731
    lines = ["# Explanation latency", "",
             f"Generated by `benchmarks/bench_explain.py` (rmd_baselines {result['version']}, commit "
             f"{result['commit']}, {result['environment']['cpus']} CPUs shared with other jobs). Models were trained "
             "on the bundled sample's train split and texts have 300 characters. *Warm* is the explanation in a "
             f"process with the model loaded (what the playground pays per request), median of {result['runs']} "
             "runs; *peer* is the same model's plain answer to the same text in the same run. *CLI* is the whole "
             "`rmd-baseline explain ... --json` command in a child process (interpreter start, imports, loading), "
             "median of 3. Peak RSS: of this process after the row (a high-water mark), and of the CLI child.", ""]
    for target in result["targets"]:
        lines.append(f"- **{target['target']}**: {target['got'] * 1000:.1f} ms wall, "
                     f"{target['cpu'] * 1000:.1f} ms CPU (wanted < {target['wanted'] * 1000:.0f} ms) — "
                     f"{'met' if target['met'] else '**not met**'}")
    lines += ["", "| command | model | warm wall ms | warm CPU ms | peer wall ms | explain / peer | cold ms | load ms "
              "| CLI wall s | CLI CPU s | CLI peak RSS MiB | peak RSS MiB |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in result["rows"]:
        model = row["model"] + (" (default)" if row["default"] and row["kind"] != "lm" else "")
        ratio = row["warm"]["wall"] / row["peer"]["wall"] if row["peer"]["wall"] > 0 else float("nan")
        lines.append(
            f"| explain {row['kind']} | {model} | {ms(row['warm']['wall'])} | {ms(row['warm']['cpu'])} | "
            f"{ms(row['peer']['wall'])} | {ratio:.1f} | {ms(row['cold_seconds'])} | {ms(row['load_seconds'])} | "
            f"{row['cli']['wall']:.2f} | {row['cli']['cpu']:.2f} | {row['cli']['peak_rss_mib']:.0f} | "
            f"{row['peak_rss_mib']:.0f} |")
    lines += ["", "Peers: " + "; ".join(sorted({f"{r['kind']}: {r['peer_is']}" for r in result["rows"]})) + ".",
              "The cold call of route/recommend includes jieba's dictionary when the model uses words. For retrieval "
              "and rerank it includes reading the training file back to show the training context.", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="Runs per warm measurement (median).")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    models = train_models(WORK)
    texts = texts_of_300_characters()
    rows = measure(models, texts, args.runs)
    targets = []
    for row in rows:
        if row["default"]:
            targets.append({"target": f"explain {row['kind']} ({row['model']}) on a 300-character text, warm wall "
                                      "seconds",
                            "got": round(row["warm"]["wall"], 4), "cpu": round(row["warm"]["cpu"], 4),
                            "wanted": TARGET_SECONDS, "met": row["warm"]["wall"] < TARGET_SECONDS})
    slowest = max(rows, key=lambda row: row["warm"]["wall"])
    targets.append({"target": f"every explain row under 0.2 s warm wall (slowest: {slowest['kind']} "
                              f"{slowest['model']})",
                    "got": round(slowest["warm"]["wall"], 4), "cpu": round(slowest["warm"]["cpu"], 4),
                    "wanted": TARGET_SECONDS, "met": slowest["warm"]["wall"] < TARGET_SECONDS})
    result = {"benchmark": "explain", "version": __version__, "commit": commit(), "runs": args.runs,
              "environment": {"python": platform.python_version(), "cpus": os.cpu_count()},
              "texts": texts, "rows": rows, "targets": targets}
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "explain.json", result)
    write_text(RESULTS / "explain.md", render(result))
    print(f"wrote {RESULTS / 'explain.json'} and {RESULTS / 'explain.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

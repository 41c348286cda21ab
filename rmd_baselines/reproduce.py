"""`rmd-baseline reproduce`: the classical answer to the paper's three tables, for one corpus, in one command.

For a RealMedDial-format file (default: the bundled synthetic sample) this builds the protocol's splits, trains
the default router, recommender and every responder, evaluates them on the test splits, and writes

- ``results.json``: every score with its signature and 95 % bootstrap interval, the per-class report and confusion
  matrix of each classifier, response examples, the seeds, package versions, the data file's SHA-256, and timings;
- ``results.md``: Tables 4, 5 and 6 in the paper's layout, our rows beside the paper's transformer columns (their
  figures on RealMedDial, never mixed with ours).

Tasks that a corpus cannot serve (no departments, no doctors, no multi-turn dialogue) are skipped with the reason.
Same data and seed give a byte-identical ``results.json`` apart from its ``timings`` block.
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from importlib import metadata
from typing import Callable

from . import __version__, progress
from .corpus import load_dialogues
from .corpus.stats import corpus_statistics
from .corpus.writer import atomic_directory, write_json, write_text
from .errors import DataError
from .persist import file_sha256
from .tasks import ClassificationSettings, GenerationSettings, build_classification_task, build_generation_task
from .tasks.export import leakage

SAMPLE_NAME = "realmeddial_synthetic_sample.jsonl.gz"
SAMPLE_DIALOGUES = 2637
RESULTS_FORMAT = "rmd_baselines-results"
RESULTS_FORMAT_VERSION = 1
RESULTS_FILE = "results.json"
PACKAGES = ("numpy", "scipy", "scikit-learn", "jieba", "lightgbm", "kenlm", "click")
RESPONDERS = ("retrieval", "ngram", "rerank")
N_EXAMPLES = 6


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "rmd_baselines": __version__}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def bundled_sample(cache_dir: str | None = None) -> str:
    """The bundled synthetic sample: ``data/`` of a checkout, else regenerated (deterministically) into a cache."""
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(os.path.dirname(here), "data", SAMPLE_NAME), os.path.join("data", SAMPLE_NAME)):
        if os.path.isfile(candidate):
            return candidate
    from .corpus.synth import write_synthetic_corpus

    cache_dir = cache_dir or os.path.join(os.path.expanduser("~"), ".cache", "rmd_baselines")
    path = os.path.join(cache_dir, SAMPLE_NAME)
    if not os.path.isfile(path):
        write_synthetic_corpus(path, SAMPLE_DIALOGUES, seed=0)
    return path


def score_entries(values: dict, keys) -> dict:
    """``{key: {"value", "ci", "signature"}}`` from a metrics report with a ``ci`` block."""
    ci = values.get("ci", {})
    return {key: {"value": values[key], "ci": ci.get(key), "signature": values.get("signature")}
            for key in keys if key in values}


class Timer:
    """Wall-clock seconds per stage, kept apart from the results so that results stay reproducible."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def run(self, name: str, func: Callable, *args, **kwargs):
        started = time.perf_counter()
        with progress.stage(name):
            result = func(*args, **kwargs)
        self.seconds[name] = round(time.perf_counter() - started, 3)
        return result


# --------------------------------------------------------------------------------------------- classification

CLASSIFY_KEYS = ("accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_precision", "weighted_recall",
                 "weighted_f1", "top3_accuracy", "mrr")


def run_classification(dialogues, task: str, seed: int, n_boot: int, timer: Timer, source: str,
                       models_dir: str | None, max_test: int | None = None) -> dict:
    from .classify import DEFAULT_MODELS, default_estimator, fit_on_data
    from .metrics.classification import classification_scores, confusion_matrix, per_class_report
    from .tasks.splits import sample_by_order_key

    settings = ClassificationSettings(task=task, seed=seed)
    try:
        data = build_classification_task(dialogues, settings, source=source)
    except DataError as exc:
        return {"status": "skipped", "reason": str(exc)}
    if not data.test:
        return {"status": "skipped", "reason": f"{source}: the {task} test split is empty: no label has enough "
                                               f"records for the 4:1 split to put one in test"}
    model = timer.run(f"{task}: train", fit_on_data, default_estimator(task, random_state=seed), data)
    test = list(zip(data.test, data.test_texts, data.test_labels))
    sampled = sample_by_order_key(test, max_test, lambda item: item[0].id, seed)
    test_texts, test_labels = [text for _, text, _ in sampled], [label for _, _, label in sampled]
    ranked = timer.run(f"{task}: predict", model.predict_topk, test_texts, len(model.classes_))
    predictions = [labels_scores[0][0] for labels_scores in ranked]
    score_maps = [dict(labels_scores) for labels_scores in ranked]
    scores = classification_scores(test_labels, predictions, scores=score_maps, ci=True, n_boot=n_boot,
                                   seed=seed)
    labels, matrix = confusion_matrix(test_labels, predictions)
    if models_dir:
        from .classify import save_model

        save_model(model, os.path.join(models_dir, task), settings=settings, data_path=source)
    notes = [data.describe()]
    if len(sampled) < len(test):
        notes.append(f"scored on a seeded sample of {len(sampled)} of the {len(test)} test records (--max-test)")
    leak = leakage(data)
    if leak["seen_in_train"]:
        notes.append(f"{leak['seen_in_train']} of {leak['test']} test texts occur verbatim in train")
    return {
        "status": "ok",
        "settings": settings.to_json(),
        "model": f"{type(model).__name__}[{DEFAULT_MODELS[task]}]",
        "scale": "memory",
        "train_records": len(data.train),
        "test_records": len(data.test),
        "scored_records": len(sampled),
        "scores": score_entries(scores, CLASSIFY_KEYS),
        "ci_method": scores.get("ci_method"),
        "per_class": per_class_report(test_labels, predictions),
        "confusion": {"labels": labels, "matrix": matrix},
        "notes": notes,
    }


def run_classification_streamed(path: str, task: str, seed: int, n_boot: int, timer: Timer, models_dir: str | None,
                                budget: int, max_test: int | None = None) -> dict:
    """`run_classification` for corpora too large for memory: the streamed split, the streamed model
    (`classify.scale`), and only the test split (or its ``max_test`` sample) held."""
    from .classify.scale import load_test_split, streamed_task, train_streamed
    from .metrics.classification import classification_scores, confusion_matrix, per_class_report

    settings = ClassificationSettings(task=task, seed=seed)
    try:
        task_data = timer.run(f"{task}: split", streamed_task, path, settings)
    except DataError as exc:
        return {"status": "skipped", "reason": str(exc)}
    if not task_data.n_test:
        return {"status": "skipped", "reason": f"{path}: the {task} test split is empty: no label has enough "
                                               f"records for the 4:1 split to put one in test"}
    out = os.path.join(models_dir, task) if models_dir else None
    model, _ = timer.run(f"{task}: train", train_streamed, task_data, path, budget, out=out)
    test = timer.run(f"{task}: read test", load_test_split, task_data, max_test)
    ranked = []
    for start in range(0, len(test.texts), 20_000):
        ranked += model.predict_topk(test.texts[start:start + 20_000], len(model.classes_))
    predictions = [labels_scores[0][0] for labels_scores in ranked]
    score_maps = [dict(labels_scores) for labels_scores in ranked]
    scores = classification_scores(test.labels, predictions, scores=score_maps, ci=True, n_boot=n_boot, seed=seed)
    labels, matrix = confusion_matrix(test.labels, predictions)
    return {
        "status": "ok",
        "settings": settings.to_json(),
        "model": f"{type(model).__name__}[stream]",
        "scale": "stream",
        "train_records": task_data.n_train,
        "test_records": task_data.n_test,
        "scored_records": len(test.texts),
        "training": model.training_,
        "corpus_records": len(task_data.split.scan),
        "scores": score_entries(scores, CLASSIFY_KEYS),
        "ci_method": scores.get("ci_method"),
        "per_class": per_class_report(test.labels, predictions),
        "confusion": {"labels": labels, "matrix": matrix},
        "notes": [test.description, "streamed: the verbatim train/test overlap check is not run (it needs every "
                                    "train text in memory)"],
    }


# ------------------------------------------------------------------------------------------------- generation

GENERATION_KEYS = ("bleu2", "bleu4", "nist4", "meteor", "entropy4", "dist1", "dist2")


def example_indices(n: int, k: int = N_EXAMPLES) -> list[int]:
    """``k`` test instances spread evenly over the test split (deterministic)."""
    k = min(k, n)
    return sorted({round(i * (n - 1) / max(k - 1, 1)) for i in range(k)})


def run_generation(dialogues, seed: int, n_boot: int, timer: Timer, source: str, models_dir: str | None) -> dict:
    from .metrics.generation import evaluate_generation
    from .respond.model import DEFAULT_MODEL, make_responder, perplexity_model, respond_all, save_responder

    settings = GenerationSettings(seed=seed)
    try:
        data = build_generation_task(dialogues, settings, source=source)
    except DataError as exc:
        return {"status": "skipped", "reason": str(exc)}
    contexts = [instance.context for instance in data.test]
    references = [instance.response for instance in data.test]
    departments = [instance.department for instance in data.test]
    systems, responses = {}, {}
    for name in RESPONDERS:
        responder = make_responder(name, seed=seed)
        responder = timer.run(f"respond/{name}: train", responder.fit, data.train, data.valid)
        replies = timer.run(f"respond/{name}: respond", respond_all, responder, contexts, departments)
        hyps = [reply.response for reply in replies]
        logprobs = [[-value for value in row]
                    for row in perplexity_model(responder).response_nll(contexts, references)]
        report = timer.run(f"respond/{name}: score", evaluate_generation, hyps, [[r] for r in references],
                           tokenize="char", family="both", logprobs=logprobs, ci=True, seed=seed, n_boot=n_boot)
        lm = perplexity_model(responder)
        systems[name] = {
            family: {"signature": report[family]["signature"], **score_entries(report[family], GENERATION_KEYS)}
            for family in ("paper", "dstc7")
        }
        systems[name]["perplexity"] = {
            "value": report["dstc7"]["perplexity"],
            "ci": report["dstc7"]["ci"].get("perplexity"),
            "signature": f"PPL|variant:token|unit:nat|eos:included|{lm.signature}",
        }
        systems[name]["default"] = name == DEFAULT_MODEL
        responses[name] = hyps
        if models_dir:
            save_responder(responder, os.path.join(models_dir, f"respond-{name}"), settings, source,
                           len(data.train), len(data.valid))
    leak = leakage(data)
    notes = [data.describe(),
             f"{leak['seen_in_train']} of {leak['test']} test contexts occur verbatim in train "
             "(benchmark-protocol.md section 3.4)",
             "Perplexity: reference responses under each responder's char-level Kneser-Ney model, end of response "
             "included (protocol section 4)."]
    examples = [{"context": contexts[i], "reference": references[i],
                 "responses": {name: responses[name][i] for name in RESPONDERS}}
                for i in example_indices(len(contexts))]
    return {"status": "ok", "settings": settings.to_json(), "default": DEFAULT_MODEL,
            "train_instances": len(data.train), "valid_instances": len(data.valid), "test_instances": len(data.test),
            "systems": systems, "examples": examples, "notes": notes}


# ------------------------------------------------------------------------------------------------------ tables


def table_texts(results: dict) -> dict[str, str]:
    """Tables 4, 5 and 6 (or the reason a task was skipped) as plain text."""
    from .metrics.classification import format_classification_table
    from .metrics.generation import format_table4

    out = {}
    respond = results["tasks"]["respond"]
    if respond["status"] == "ok":
        reports = {}
        for name, system in respond["systems"].items():
            label = f"{name}{' (default)' if system.get('default') else ''}"
            reports[label] = {family: {**{k: v["value"] for k, v in system[family].items() if isinstance(v, dict)},
                                       "perplexity": system["perplexity"]["value"],
                                       "signature": system[family]["signature"]}
                              for family in ("paper", "dstc7")}
        out["respond"] = "Table 4 - medical response generation\n" + format_table4(reports)
    else:
        out["respond"] = f"Table 4 - medical response generation: skipped ({respond['reason']})"
    for task, title in (("route", "Table 5 - department routing"), ("recommend", "Table 6 - doctor recommendation")):
        result = results["tasks"][task]
        if result["status"] != "ok":
            out[task] = f"{title}: skipped ({result['reason']})"
            continue
        values = {k: v["value"] for k, v in result["scores"].items()}
        out[task] = f"{title}\n" + format_classification_table({f"{result['model']} (ours)": values}, task)
    return out


def results_markdown(results: dict, tables: dict[str, str]) -> str:
    data = results["data"]
    lines = [f"# rmd_baselines {results['version']} - reproduce",
             "",
             f"- data: `{data['path']}` ({data['records']} dialogues, sha256 `{data['sha256']}`)",
             f"- command: `{results['command']}`",
             f"- seed: {results['seed']}; bootstrap: {results['bootstrap']}",
             f"- signature: `{results['signature']}`",
             ""]
    for task in ("respond", "route", "recommend"):
        lines += ["```", tables[task], "```", ""]
        for note in results["tasks"][task].get("notes", []):
            lines.append(f"- {note}")
        lines.append("")
    return "\n".join(lines)


def corpus_records(path: str) -> int:
    """How many valid records a corpus file has (one validating pass; nothing is kept)."""
    from .corpus.reader import ReadReport, read_dialogues

    report = ReadReport(path)
    return sum(1 for _ in read_dialogues(path, report=report))


def reproduce(data_path: str | None = None, out_dir: str = "rmd-results", seed: int = 0, n_boot: int = 1000,
              save_models: bool = True, scale: str = "auto", memory_budget: str | int = "1G",
              max_test: int | None = None) -> tuple[dict, dict[str, str]]:
    """Run everything, write ``results.json``, ``results.md`` (and ``models/``) into ``out_dir``; returns
    (results, tables). ``out_dir`` is built beside its place and replaces an earlier run's folder as a whole
    (no stale model of an earlier run is left), and only when everything succeeded: a failure, Ctrl-C or SIGTERM
    leaves the earlier folder as it was. A second run writing the same ``out_dir`` meanwhile fails cleanly.

    ``scale`` (auto/memory/stream, as ``train route --scale``) decides whether the corpus is read into memory;
    ``stream`` (chosen by auto when the in-memory routing would exceed ``memory_budget``) trains the streamed
    router/recommender and holds only test splits; the in-memory responders are then skipped with the reason.
    ``max_test`` scores a seeded sample of at most that many test records of each classification task.
    """
    from .classify.scale import parse_max_test, parse_memory_budget

    if scale not in ("auto", "memory", "stream"):
        from .errors import UsageError

        raise UsageError(f"--scale must be one of auto, memory, stream, got {scale!r}")
    budget = parse_memory_budget(memory_budget)
    max_test = parse_max_test(max_test)
    path = data_path or bundled_sample()
    with progress.recording() as stages:
        with atomic_directory(out_dir, RESULTS_FILE, "a reproduce results directory") as tmp:
            return _reproduce(data_path, path, tmp, seed, n_boot, save_models, scale, budget, max_test, stages)


def _reproduce(data_path: str | None, path: str, out_dir: str, seed: int, n_boot: int, save_models: bool,
               scale: str, budget: int, max_test: int | None, stages: list) -> tuple[dict, dict[str, str]]:
    from .classify.scale import choose_scale

    timer = Timer()
    started = time.perf_counter()
    if scale == "memory":
        chosen = "memory"
    else:
        records = timer.run("count records", corpus_records, path) if scale == "auto" else 0
        chosen = choose_scale(scale, "route", records, budget)
    models_dir = os.path.join(out_dir, "models") if save_models else None
    sha = file_sha256(path)
    if chosen == "stream":
        return _reproduce_streamed(path, data_path, out_dir, seed, n_boot, timer, started, models_dir, sha, budget,
                                   max_test, stages)
    dialogues, report = timer.run("read corpus", load_dialogues, path)
    results = _results_header(data_path, seed, n_boot, max_test, "memory", sha, len(dialogues),
                              corpus_statistics(dialogues))
    source = os.fspath(path)
    results["tasks"]["respond"] = run_generation(dialogues, seed, n_boot, timer, source, models_dir)
    for task in ("route", "recommend"):
        results["tasks"][task] = run_classification(dialogues, task, seed, n_boot, timer, source, models_dir,
                                                    max_test)
    return _finish(results, timer, started, out_dir, stages)


def _results_header(data_path, seed: int, n_boot: int, max_test, scale: str, sha: str, records, statistics) -> dict:
    """What every results file starts with: format, the options that decide the results (not --out, so that the same
    run gives the same file), the signature and the data."""
    return {
        "format": RESULTS_FORMAT,
        "format_version": RESULTS_FORMAT_VERSION,
        "version": __version__,
        "command": "rmd-baseline reproduce" + (f" --data {data_path}" if data_path else "")
                   + f" --seed {seed} --n-boot {n_boot}" + (f" --max-test {max_test}" if max_test else ""),
        "scale": scale,
        "max_test": max_test,
        "seed": seed,
        "bootstrap": f"percentile, 95%, {n_boot} replicates over test items, seed {seed}",
        "signature": f"rmd_baselines:{__version__}|data:sha256:{sha[:16]}|seed:{seed}|split:protocol-v1|"
                     f"n_boot:{n_boot}|tok:char",
        "data": {"path": os.fspath(data_path) if data_path else SAMPLE_NAME, "sha256": sha,
                 "records": records, "statistics": statistics},
        "packages": package_versions(),
        "tasks": {},
    }


def _finish(results: dict, timer: Timer, started: float, out_dir: str, stages: list) -> tuple[dict, dict[str, str]]:
    timer.seconds["total"] = round(time.perf_counter() - started, 3)
    results["timings"] = {"seconds": timer.seconds,
                          "finished": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
                          "stages": list(stages), "peak_rss_mib": progress.peak_rss_mib()}
    tables = table_texts(results)
    write_json(os.path.join(out_dir, RESULTS_FILE), results)
    write_text(os.path.join(out_dir, "results.md"), results_markdown(results, tables))
    return results, tables


def _reproduce_streamed(path, data_path, out_dir, seed, n_boot, timer, started, models_dir, sha, budget, max_test,
                        stages) -> tuple[dict, dict[str, str]]:
    """`reproduce` without reading the corpus into memory (see `reproduce`)."""
    results = _results_header(data_path, seed, n_boot, max_test, "stream", sha, None, None)
    source = os.fspath(path)
    results["tasks"]["respond"] = {
        "status": "skipped",
        "reason": f"{source}: too large for the in-memory responders within the memory budget "
                  f"({budget // (1024 * 1024)} MiB); train them with 'train respond' or raise --memory-budget"}
    for task in ("route", "recommend"):
        results["tasks"][task] = run_classification_streamed(source, task, seed, n_boot, timer, models_dir, budget,
                                                             max_test)
    for task in ("route", "recommend"):
        records = results["tasks"][task].pop("corpus_records", None)
        if records is not None:
            results["data"]["records"] = records
    return _finish(results, timer, started, out_dir, stages)

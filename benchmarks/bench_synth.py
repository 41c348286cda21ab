"""Benchmark of the synthetic corpus generator and a portrait of the bundled sample.

1. Scale: ``rmd-baseline data synth`` run in a child process for 10,000, 100,000 and --dialogues (default
   1,000,000) dialogues into ``.jsonl.gz`` (or ``.jsonl`` with --format plain), --repeats times each: wall time
   (median), CPU time, peak resident memory of the child (``os.wait4`` rusage, the child alone), output size,
   and whether the repeats wrote byte-identical files. A child that only imports the package gives the
   interpreter's own footprint for comparison. Targets from issue 2: peak memory under 1 GiB; the brief asks for
   well under 5 minutes for 1M dialogues.
2. The sample ``data/realmeddial_synthetic_sample.jsonl.gz``: whether regenerating it (2,637 dialogues, seed 0)
   gives the committed bytes, and its statistics computed from the records beside the paper's (Tables 2-3).
   For response generation: the char-bag F1 of the nearest train context's response (TF-IDF characters 1-2)
   beside a random train response, on the protocol's 8:1:1 split -- does the context say what comes next?
3. Calibration: how learnable the sample is with a plain scikit-learn baseline -- TF-IDF over characters 1-3
   (sublinear tf) + logistic regression, on the protocol's 4:1 split (`build_classification_task`), for department
   routing (patient view) and doctor recommendation (dialogue view), scored by `rmd_baselines.metrics`; also on
   corpora from other generator seeds (--calibration-seeds) to show the spread. The paper's best transformer (CPT)
   is printed beside as the paper's figure on RealMedDial, not a comparable number.

Writes ``benchmarks/results/synth.json`` and its rendering ``benchmarks/results/synth.md``.

    python benchmarks/bench_synth.py [--dialogues 1000000] [--repeats 3] [--format gz|plain]
                                     [--calibration-seeds 1,2] [--skip-scale] [--skip-calibration]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rmd_baselines import __version__, paper  # noqa: E402
from rmd_baselines.corpus import read_dialogues, write_json, write_text  # noqa: E402
from rmd_baselines.corpus.synth import (  # noqa: E402
    ENGLISH_NAMES, GENERATOR_VERSION, generate_dialogues, write_synthetic_corpus)
from rmd_baselines.metrics.classification import classification_scores  # noqa: E402
from rmd_baselines.persist import file_sha256  # noqa: E402
from timing import run_child  # noqa: E402
from rmd_baselines.tasks import (  # noqa: E402
    ClassificationSettings, GenerationSettings, build_classification_task, build_generation_task)

SAMPLE = ROOT / "data" / "realmeddial_synthetic_sample.jsonl.gz"
WORK = ROOT / "benchmarks" / "work"
RESULTS = ROOT / "benchmarks" / "results"
TIME_TARGET_SECONDS = 300.0
MEMORY_TARGET_BYTES = 2**30
PAPER_TABLE3 = {  # benchmark-protocol.md section 6: English name -> (doctors, dialogues)
    "Cardiovascular": (7, 240), "Andrology": (3, 35), "Dermatology": (6, 272), "Internal Medicine": (6, 326),
    "Gastroenterology": (9, 150), "Orthopedics": (4, 182), "Anorectal": (3, 116), "Obstetrics": (3, 130),
    "Gynecology": (2, 48), "Rheumatology": (6, 424), "Chinese Medicine": (4, 202), "Urology": (1, 26),
    "Endocrinology": (2, 86), "Nephrology": (3, 260), "Brain": (1, 26), "Respiratory": (1, 4), "Pediatrics": (2, 110),
}
PAPER_TABLE2 = {"dialogues": 2637, "utterances": 24255, "utterances_mean": 9.20, "utterances_median": 8,
                "utterances_min": 2, "utterances_max": 48, "doctors": 59, "dialogues_per_doctor_min": 4,
                "dialogues_per_doctor_max": 184, "departments": 17}
CALIBRATION_C = (1.0, 10.0)


def measure_scale(sizes: list[int], repeats: int, fmt: str, seed: int) -> dict:
    WORK.mkdir(parents=True, exist_ok=True)
    baseline = run_child([sys.executable, "-c", "import rmd_baselines.cli.main, rmd_baselines.corpus.synth"])
    rows = []
    for n in sizes:
        out = WORK / f"synth_{n}.{'jsonl.gz' if fmt == 'gz' else 'jsonl'}"
        runs, digests = [], []
        for _ in range(repeats):
            command = [sys.executable, str(ROOT / "bin" / "rmd-baseline"), "data", "synth", "--dialogues", str(n),
                       "--seed", str(seed), "--out", str(out), "--quiet", "--json"]
            run = run_child(command)
            summary = json.loads(run.pop("stdout"))
            run["bytes"] = os.path.getsize(out)
            digests.append(file_sha256(out))
            runs.append(run)
            print(f"  {n:>9,} dialogues: {run['wall_seconds']:.1f} s wall, "
                  f"{run['peak_rss_bytes'] / 2**20:.1f} MiB peak RSS, {run['bytes'] / 2**20:.1f} MiB", flush=True)
        out.unlink()
        wall = statistics.median(r["wall_seconds"] for r in runs)
        rows.append({
            "dialogues": n,
            "utterances": summary["utterances"],
            "departments": summary["departments"],
            "doctors": summary["doctors"],
            "format": out.name.split(".", 1)[1],
            "repeats": repeats,
            "wall_seconds_median": round(wall, 2),
            "wall_seconds_runs": [round(r["wall_seconds"], 2) for r in runs],
            "cpu_seconds_median": round(statistics.median(r["cpu_seconds"] for r in runs), 2),
            "dialogues_per_second": round(n / wall),
            "peak_rss_bytes_max": max(r["peak_rss_bytes"] for r in runs),
            "output_bytes": runs[0]["bytes"],
            "sha256": digests[0],
            "identical_across_repeats": len(set(digests)) == 1,
        })
    largest = rows[-1]
    return {
        "command": f"rmd-baseline data synth --dialogues N --seed {seed} --out FILE --quiet (child process)",
        "interpreter_baseline_peak_rss_bytes": baseline["peak_rss_bytes"],
        "rows": rows,
        "targets": {
            "peak_rss_under_1_gib": largest["peak_rss_bytes_max"] < MEMORY_TARGET_BYTES,
            "wall_under_5_minutes": largest["wall_seconds_median"] < TIME_TARGET_SECONDS,
            "at_dialogues": largest["dialogues"],
        },
    }


def sample_portrait(dialogues: list) -> dict:
    lengths = [len(d.turns) for d in dialogues]
    per_doctor = Counter(d.doctor for d in dialogues)
    doctors_of, dialogues_of = defaultdict(set), Counter()
    diseases_of, symptoms_of = defaultdict(set), defaultdict(set)
    for d in dialogues:
        doctors_of[d.department].add(d.doctor)
        dialogues_of[d.department] += 1
        diseases_of[d.department].update(d.diseases)
        symptoms_of[d.department].update(d.symptoms)
    pairs = [(a.speaker, b.speaker) for d in dialogues for a, b in zip(d.turns, d.turns[1:])]
    turns = [t for d in dialogues for t in d.turns]
    departments = []
    for name in sorted(dialogues_of, key=lambda n: list(PAPER_TABLE3).index(ENGLISH_NAMES[n])):
        english = ENGLISH_NAMES[name]
        departments.append({"department": name, "english": english, "doctors": len(doctors_of[name]),
                            "dialogues": dialogues_of[name], "paper_doctors": PAPER_TABLE3[english][0],
                            "paper_dialogues": PAPER_TABLE3[english][1], "diseases": len(diseases_of[name]),
                            "symptoms": len(symptoms_of[name])})
    return {
        "table2": {
            "dialogues": len(dialogues),
            "utterances": sum(lengths),
            "utterances_mean": round(statistics.mean(lengths), 3),
            "utterances_median": statistics.median(lengths),
            "utterances_min": min(lengths),
            "utterances_max": max(lengths),
            "doctors": len(per_doctor),
            "dialogues_per_doctor_min": min(per_doctor.values()),
            "dialogues_per_doctor_max": max(per_doctor.values()),
            "departments": len(dialogues_of),
        },
        "paper_table2": PAPER_TABLE2,
        "per_department": departments,
        "shape": {
            "question_like_titles": round(sum(d.title.endswith(("？", "吗")) for d in dialogues) / len(dialogues), 3),
            "consecutive_same_speaker_pairs": round(sum(a == b for a, b in pairs) / len(pairs), 3),
            "doctor_turn_share": round(sum(t.speaker == "doctor" for t in turns) / len(turns), 3),
            "mean_characters_per_utterance": round(statistics.mean(len(t.text) for t in turns), 1),
            "distinct_diseases": len({x for d in dialogues for x in d.diseases}),
            "distinct_symptoms": len({x for d in dialogues for x in d.symptoms}),
        },
    }


def calibration_row(dialogues: list, task: str, view: str, c: float) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    data = build_classification_task(dialogues, ClassificationSettings(task, view=view))
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    train = vectorizer.fit_transform(data.train_texts)
    model = LogisticRegression(C=c, max_iter=2000).fit(train, data.train_labels)
    predicted = model.predict(vectorizer.transform(data.test_texts))
    scores = classification_scores(data.test_labels, list(predicted))
    metric_signature = scores.pop("signature")
    signature = (f"calibration|task:{task}|view:{view}|split:protocol-4:1|split_seed:{data.settings.seed}|"
                 f"features:tfidf-char-1-3-sublinear|model:sklearn-logreg-C{c:g}|{metric_signature}")
    return {"task": task, "view": view, "C": c, "classes": len(data.labels), "train": len(data.train),
            "test": len(data.test), "scores": {k: round(v, 4) for k, v in scores.items()}, "signature": signature}


def calibrate(seeds: list[int], sample: list) -> dict:
    rows = []
    for task, view in (("route", "patient"), ("recommend", "dialogue")):
        for c in CALIBRATION_C:
            row = calibration_row(sample, task, view, c)
            rows.append({"corpus": "sample (seed 0)", **row})
            print(f"  sample {task} C={c:g}: accuracy {row['scores']['accuracy']:.3f}, "
                  f"macro-F1 {row['scores']['macro_f1']:.3f}", flush=True)
    for seed in seeds:
        corpus = list(generate_dialogues(2637, seed))
        for task, view in (("route", "patient"), ("recommend", "dialogue")):
            row = calibration_row(corpus, task, view, max(CALIBRATION_C))
            rows.append({"corpus": f"generator seed {seed}", **row})
            print(f"  seed {seed} {task}: accuracy {row['scores']['accuracy']:.3f}", flush=True)
    return {
        "rows": rows,
        "paper_cpt": {"route": {k: v[0] for k, v in paper.TABLE5.items()},
                      "recommend": {k: v[0] for k, v in paper.TABLE6.items()}},
        "paper_label": paper.PAPER_LABEL,
        "targets": "routing accuracy about 0.65-0.85 with macro-F1 clearly lower; recommendation accuracy about "
                   "0.45-0.70; never 1.0",
    }


def char_f1(hypothesis: str, reference: str) -> float:
    """F1 of the two texts' bags of non-space characters (a quick overlap indicator, not a paper metric)."""
    hyp, ref = Counter(c for c in hypothesis if not c.isspace()), Counter(c for c in reference if not c.isspace())
    common = sum((hyp & ref).values())
    return 0.0 if common == 0 else 2 * common / (sum(hyp.values()) + sum(ref.values()))


def response_learnability(dialogues: list, seed: int = 0) -> dict:
    """Does the context tell which response comes? Nearest train context's response vs a random train response."""
    import random

    from sklearn.feature_extraction.text import TfidfVectorizer

    data = build_generation_task(dialogues, GenerationSettings(seed=seed))
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)
    train = vectorizer.fit_transform([i.context for i in data.train])
    test = vectorizer.transform([i.context for i in data.test])
    nearest = (test @ train.T).toarray().argmax(axis=1)
    rng = random.Random(seed)
    random_picks = [rng.randrange(len(data.train)) for _ in data.test]
    references = [i.response for i in data.test]
    nn = statistics.mean(char_f1(data.train[j].response, ref) for j, ref in zip(nearest, references))
    rnd = statistics.mean(char_f1(data.train[j].response, ref) for j, ref in zip(random_picks, references))
    mentions = sum(any(term in i.response for term in (*d.diseases, *d.symptoms) if term in i.context)
                   for d in data.dialogues.test for i in data.test if i.dialogue_id == d.id)
    return {"instances": {"train": len(data.train), "valid": len(data.valid), "test": len(data.test)},
            "nearest_neighbour_char_f1": round(nn, 4), "random_response_char_f1": round(rnd, 4),
            "test_responses_reusing_a_context_term": round(mentions / len(data.test), 3),
            "signature": f"char-bag-F1|retrieval:tfidf-char-1-2-cosine|split:protocol-8:1:1|seed:{seed}|"
                         f"context:{data.settings.max_context_chars}|response:{data.settings.max_response_chars}|"
                         f"version:{__version__}"}


def render_markdown(results: dict) -> str:
    lines = ["# Synthetic corpus generator", "",
             f"Generator `{results['generator']}`, rmd_baselines {results['version']}, Python "
             f"{results['machine']['python']} on {results['machine']['cpus']} CPUs (shared; timings are noisy).", ""]
    scale = results.get("scale")
    if scale:
        lines += ["## Generating at scale", "",
                  f"`{scale['command']}`; median of {scale['rows'][-1]['repeats']} runs. "
                  f"A child that only imports the package peaks at "
                  f"{scale['interpreter_baseline_peak_rss_bytes'] / 2**20:.1f} MiB.", "",
                  "| dialogues | utterances | format | wall s (median) | runs | CPU s | dialogues/s | peak RSS MiB "
                  "| output MiB | identical repeats |",
                  "|---:|---:|---|---:|---|---:|---:|---:|---:|---|"]
        for row in scale["rows"]:
            lines.append(
                f"| {row['dialogues']:,} | {row['utterances']:,} | {row['format']} | {row['wall_seconds_median']} "
                f"| {', '.join(str(x) for x in row['wall_seconds_runs'])} | {row['cpu_seconds_median']} "
                f"| {row['dialogues_per_second']:,} | {row['peak_rss_bytes_max'] / 2**20:.1f} "
                f"| {row['output_bytes'] / 2**20:.1f} | "
                f"{'n/a (one run)' if row['repeats'] < 2 else 'yes' if row['identical_across_repeats'] else 'NO'} |")
        targets = scale["targets"]
        lines += ["", f"At {targets['at_dialogues']:,} dialogues: peak RSS under 1 GiB: "
                      f"**{'yes' if targets['peak_rss_under_1_gib'] else 'NO'}**; wall time under 5 minutes: "
                      f"**{'yes' if targets['wall_under_5_minutes'] else 'NO'}**.", ""]
    sample = results["sample"]
    t2, p2 = sample["table2"], sample["paper_table2"]
    lines += ["## The bundled sample", "",
              f"`{sample['path']}`: {sample['bytes'] / 2**20:.2f} MiB; regenerating it with "
              f"`rmd-baseline data synth --dialogues 2637 --seed 0` gives the same bytes: "
              f"**{'yes' if sample['reproducible'] else 'NO'}**.", "",
              "| statistic (Table 2) | sample | paper (RealMedDial) |", "|---|---:|---:|"]
    for key, value in t2.items():
        lines.append(f"| {key.replace('_', ' ')} | {value} | {p2[key]} |")
    lines += ["", "| department | paper's name | doctors | dialogues | paper doctors | paper dialogues "
                  "| distinct diseases | distinct symptoms |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in sample["per_department"]:
        lines.append(f"| {row['department']} | {row['english']} | {row['doctors']} | {row['dialogues']} "
                     f"| {row['paper_doctors']} | {row['paper_dialogues']} | {row['diseases']} | {row['symptoms']} |")
    lines += ["", "| shape | value |", "|---|---:|"]
    lines += [f"| {key.replace('_', ' ')} | {value} |" for key, value in sample["shape"].items()]
    learn = sample["responses"]
    lines += ["", "Response generation (protocol 8:1:1 split, "
              f"{learn['instances']['train']}/{learn['instances']['valid']}/{learn['instances']['test']} "
              "train/valid/test instances): the response of the most similar train context (TF-IDF characters "
              f"1-2) overlaps the reference with char-bag F1 **{learn['nearest_neighbour_char_f1']:.3f}**, a random "
              f"train response **{learn['random_response_char_f1']:.3f}**; "
              f"{learn['test_responses_reusing_a_context_term']:.1%} of test responses repeat a disease or "
              f"symptom named in their context. Signature `{learn['signature']}`.", ""]
    calibration = results.get("calibration")
    if calibration:
        lines += ["## Calibration: how learnable the sample is", "",
                  "TF-IDF characters 1-3 (sublinear tf) + scikit-learn logistic regression, protocol 4:1 split "
                  "(seed 0), all labels kept. Target: " + calibration["targets"] + ".", "",
                  "| corpus | task | view | C | classes | train/test | accuracy | macro-P | macro-R | macro-F1 "
                  "| weighted-F1 |", "|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|"]
        for row in calibration["rows"]:
            s = row["scores"]
            lines.append(f"| {row['corpus']} | {row['task']} | {row['view']} | {row['C']:g} | {row['classes']} "
                         f"| {row['train']}/{row['test']} | {s['accuracy']:.3f} | {s['macro_precision']:.3f} "
                         f"| {s['macro_recall']:.3f} | {s['macro_f1']:.3f} | {s['weighted_f1']:.3f} |")
        for task, cpt in calibration["paper_cpt"].items():
            lines.append(f"| CPT* | {task} | — | — | — | — | {cpt['accuracy']:.3f} | {cpt['macro_precision']:.3f} "
                         f"| {cpt['macro_recall']:.3f} | {cpt['macro_f1']:.3f} | {cpt['weighted_f1']:.3f} |")
        lines += ["", f"\\* {calibration['paper_label']} (Tables 5-6, best transformer): a different corpus and "
                      "model, shown only as the neighbourhood the sample aims for.", "",
                  "Signatures: " + "; ".join(f"`{row['signature']}`" for row in calibration["rows"][:4]), ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dialogues", type=int, default=1_000_000, help="Largest corpus to generate.")
    parser.add_argument("--repeats", type=int, default=3, help="Runs per size (the median is reported).")
    parser.add_argument("--format", choices=("gz", "plain"), default="gz", help="Write .jsonl.gz or .jsonl.")
    parser.add_argument("--seed", type=int, default=0, help="Generator seed for the scale runs.")
    parser.add_argument("--calibration-seeds", default="1,2",
                        help="Other generator seeds to calibrate on, comma-separated ('' for none).")
    parser.add_argument("--skip-scale", action="store_true", help="Only the sample and the calibration.")
    parser.add_argument("--skip-calibration", action="store_true", help="No classifier training.")
    parser.add_argument("--shared-data", default=None, help="Accepted for run_all.py; this benchmark needs none.")
    args = parser.parse_args()
    if args.dialogues < 1 or args.repeats < 1:
        parser.error("--dialogues and --repeats must be positive")

    results = {"generator": GENERATOR_VERSION, "version": __version__,
               "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "platform": platform.platform()}}
    if not args.skip_scale:
        sizes = [n for n in (10_000, 100_000) if n < args.dialogues] + [args.dialogues]
        print(f"scale: {', '.join(f'{n:,}' for n in sizes)} dialogues x {args.repeats}", flush=True)
        results["scale"] = measure_scale(sizes, args.repeats, args.format, args.seed)

    print("sample", flush=True)
    if not SAMPLE.is_file():
        raise SystemExit(f"{SAMPLE} is missing: run rmd-baseline data synth --dialogues 2637 --seed 0 --out {SAMPLE}")
    with tempfile.TemporaryDirectory() as tmp:
        regenerated = Path(tmp) / "sample.jsonl.gz"
        write_synthetic_corpus(regenerated, 2637, seed=0)
        reproducible = file_sha256(regenerated) == file_sha256(SAMPLE)
    sample = list(read_dialogues(SAMPLE))
    results["sample"] = {"path": str(SAMPLE.relative_to(ROOT)), "bytes": os.path.getsize(SAMPLE),
                         "sha256": file_sha256(SAMPLE), "reproducible": reproducible, **sample_portrait(sample),
                         "responses": response_learnability(sample)}

    if not args.skip_calibration:
        print("calibration", flush=True)
        seeds = [int(s) for s in args.calibration_seeds.split(",") if s.strip()]
        results["calibration"] = calibrate(seeds, sample)

    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "synth.json", results)
    write_text(RESULTS / "synth.md", render_markdown(results))
    print(f"wrote {RESULTS / 'synth.json'} and {RESULTS / 'synth.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

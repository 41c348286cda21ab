"""Speed (and agreement) of the metrics package beside sacrebleu and nltk on 10,000 Chinese segment pairs.

Data: 10,000 (hypothesis, reference) pairs of doctor responses -- each doctor turn paired with the next doctor turn
of the same dialogue -- from the real corpora in ../shared/data (imcs_v2_dev, covid_zh, toyhom_im, in that order);
when they are absent or too small the rest comes from a seeded synthetic vocabulary (the result file says which).
Everything is char-tokenized once; the peers get the same tokens joined by spaces.

Timed (median of --runs, one process, BLAS/OpenMP pinned to one thread):
- ``ours_all``: `evaluate_generation(tokenize="char", family="both")` end to end -- tokenization, BLEU-2/4,
  NIST-4, METEOR, Entropy-4, Dist-1/2 of both families;
- ``ours_corpus_bleu`` vs ``sacrebleu_corpus_bleu``: corpus BLEU-4 from the space-joined strings
  (ours: split + `bleu.corpus_bleu`; sacrebleu: ``BLEU(tokenize='none')``), values compared;
- ``ours_all_ci_100``: the same with ``ci=True, n_boot=100`` (one run), the cost of bootstrap intervals;
- ``nltk_sentence_loops``: the paper family's per-segment NLTK calls (sentence_bleu for BLEU-2 and BLEU-4,
  sentence_nist, single_meteor_score) -- WordNet data is not installed here, so NLTK's METEOR gets an empty
  synonym source (exact and Porter-stem matches only); values compared with our paper family;
- ``ours_meteor_jar`` / ``ours_meteor_optimal``: the dstc7 METEOR alone (`meteor.corpus_meteor` from the char
  tokens, ``-norm`` view included) with the jar-faithful alignment and with the minimum-chunk one, beside
  ``meteor_jar``: ``java -Xmx2G -jar meteor-1.5.jar HYP REF -l en -norm -m exact`` on the same tokens written to
  files (median of --jar-runs; CPU = the child's user+system time; ``--meteor-jar`` or ``RMD_METEOR_JAR`` names the
  jar, default the oracle's build under ~/.cache/rmd-oracle). Where Java or the jar is missing the results say so;
- ``comparison``: `compare_generation` on 3 systems x 2,000 segments (see `comparison_systems`), every metric of
  both families, 1,000 bootstrap resamples and 10,000 randomization trials, seed 0 -- each run in a fresh child
  process (its own CPU and wall seconds for the comparison, tokenization included, and the child's peak RSS);
  the runs' results are compared to check that the p-values are deterministic for the seed.

Peak RSS is the benchmark process's own peak so far after each row (and the jar child's peak for the jar row).

Writes ``benchmarks/results/metrics.json`` and ``benchmarks/results/metrics.md``.

    python benchmarks/bench_metrics.py [--shared-data ../shared/data] [--runs 5] [--pairs 10000] [--meteor-jar JAR]
                                       [--jar-runs 3] [--compare-runs 3]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rmd_baselines import __version__  # noqa: E402
from rmd_baselines.corpus.writer import write_json, write_text  # noqa: E402
from rmd_baselines.metrics.bleu import corpus_bleu  # noqa: E402
from rmd_baselines.metrics.generation import evaluate_generation  # noqa: E402
from rmd_baselines.metrics.meteor import corpus_meteor  # noqa: E402
from rmd_baselines.text import get_tokenizer  # noqa: E402
from timing import run_child  # noqa: E402

CORPORA = ("imcs_v2_dev", "covid_zh", "toyhom_im")
RESULTS = ROOT / "benchmarks" / "results"


def real_pairs(data_dir: Path, limit: int) -> tuple[list[tuple[str, str]], list[str]]:
    pairs, used = [], []
    for name in CORPORA:
        path = data_dir / name / "dialogues.jsonl"
        if not path.is_file():
            continue
        used.append(name)
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                doctor = [t["text"] for t in record["turns"] if t["speaker"] == "doctor" and t["text"].strip()]
                pairs.extend(zip(doctor, doctor[1:]))
                if len(pairs) >= limit:
                    return pairs[:limit], used
    return pairs, used


def synthetic_pairs(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """Pairs from a seeded vocabulary of common medical characters (a reference shares part of its hypothesis)."""
    rng = random.Random(seed)
    vocabulary = list("的是了我你在有不这个医生建议多喝水注意休息复查血常规发烧咳嗽几天最高体温吃药按时饮食清淡，。？")
    pairs = []
    for _ in range(count):
        hyp = "".join(rng.choice(vocabulary) for _ in range(rng.randint(4, 40)))
        cut = rng.randint(0, len(hyp))
        ref = hyp[:cut] + "".join(rng.choice(vocabulary) for _ in range(rng.randint(2, 30)))
        pairs.append((hyp, ref))
    return pairs


def median_time(function, runs: int) -> dict:
    """Wall-clock and CPU seconds of ``runs`` calls (medians and every run) and the last result.

    CPU time (``time.process_time``) is what "on one core" means on a machine shared with other jobs: wall time
    also counts the time this single-threaded process waited for a core.
    """
    wall, cpu, result = [], [], None
    for _ in range(runs):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return {"wall": statistics.median(wall), "cpu": statistics.median(cpu), "wall_runs": wall, "cpu_runs": cpu,
            "result": result, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def meteor_jar_runs(jar: Path, hyp_joined: list[str], ref_joined: list[str], runs: int) -> dict:
    """METEOR 1.5's jar on the same pairs (``-l en -norm -m exact``): wall and CPU seconds per run, the child's
    peak RSS and its final score -- or why it could not run."""
    java = shutil.which("java")
    if java is None:
        return {"unavailable": "java is not on PATH, so the METEOR 1.5 jar was not run"}
    if not jar.is_file():
        return {"unavailable": f"{jar} not found (../shared/oracle/setup.sh builds it), so it was not run"}
    wall, cpu, final = [], [], None
    with tempfile.TemporaryDirectory(prefix="bench-meteor-") as folder:
        hyp_path, ref_path = Path(folder, "hyp.txt"), Path(folder, "ref.txt")
        hyp_path.write_text("".join(h + "\n" for h in hyp_joined), encoding="utf-8")
        ref_path.write_text("".join(r + "\n" for r in ref_joined), encoding="utf-8")
        command = [java, "-Xmx2G", "-jar", str(jar), str(hyp_path), str(ref_path), "-l", "en", "-norm", "-m", "exact"]
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            proc = subprocess.run(command, capture_output=True, text=True)
            wall.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            lines = [line for line in proc.stdout.splitlines() if line.startswith("Final score:")]
            if proc.returncode != 0 or not lines:
                return {"unavailable": f"the jar failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"}
            final = float(lines[-1].split()[-1])
    return {"wall": statistics.median(wall), "cpu": statistics.median(cpu), "wall_runs": wall, "cpu_runs": cpu,
            "final_score": final, "command": " ".join(["java", *command[1:3], "meteor-1.5.jar", "HYP", "REF",
                                                          *command[6:]]),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


class _NoSynonyms:
    """Stands in for WordNet (not installed here): NLTK's METEOR then uses exact and stem matches only."""

    @staticmethod
    def synsets(_word):
        return []


def nltk_paper_family(hyp_tokens, ref_tokens):
    from nltk.translate.bleu_score import sentence_bleu
    from nltk.translate.meteor_score import single_meteor_score
    from nltk.translate.nist_score import sentence_nist

    totals = [0.0, 0.0, 0.0, 0.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for hyp, ref in zip(hyp_tokens, ref_tokens):
            totals[0] += sentence_bleu([ref], hyp, weights=(0.5, 0.5))
            totals[1] += sentence_bleu([ref], hyp)
            totals[2] += sentence_nist([ref], hyp, 4) if len(hyp) >= 4 and len(ref) >= 4 else 0.0
            totals[3] += single_meteor_score(ref, hyp, wordnet=_NoSynonyms())
    n = len(hyp_tokens)
    return dict(zip(("bleu2", "bleu4", "nist4", "meteor"), (t / n for t in totals)))


def golden_agreement(vector_dir: Path) -> dict:
    """Largest |ours - reference program| per metric over the golden vectors (../shared/metrics-vectors)."""
    worst: dict[str, dict] = {}

    def record(metric: str, name: str, ours: float, reference: float) -> None:
        diff = abs(ours - reference)
        entry = worst.setdefault(metric, {"max_abs_diff": 0.0, "vectors": [], "worst_vector": None})
        entry["vectors"].append(name)
        if diff > entry["max_abs_diff"]:
            entry["max_abs_diff"], entry["worst_vector"] = diff, name

    for path in sorted(vector_dir.glob("*.json")):
        data = json.loads(path.read_text("utf-8"))
        if "hyps" not in data:
            continue
        name, scores = path.stem, data["scores"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = evaluate_generation(data["hyps"], data["refs"], tokenize="none")
            gpt2 = evaluate_generation(data["hyps"], data["refs"], tokenize="none", family="paper",
                                       paper_smoothing="method1")
        mteval = scores["mteval_v14c_dialogpt_xml"]["fullprec"]
        record("dstc7 BLEU-2 vs mteval-v14c", name, report["dstc7"]["bleu2"], mteval["bleu"][1])
        record("dstc7 BLEU-4 vs mteval-v14c", name, report["dstc7"]["bleu4"], mteval["bleu"][3])
        record("dstc7 NIST-4 vs mteval-v14c", name, report["dstc7"]["nist4"], mteval["nist"][3])
        exact = scores["meteor15_en_norm_exact_only"]
        if "final" in exact:
            label = "zh" if name.startswith("zh_") else "en"
            record(f"dstc7 METEOR vs METEOR 1.5 -m exact, {label}", name, report["dstc7"]["meteor"], exact["final"])
        for key, table, index in (("entropy4", "dstc7_entropy_1to4", 3), ("dist1", "dstc7_dist_1to2", 0),
                                  ("dist2", "dstc7_dist_1to2", 1)):
            record(f"{key} vs DSTC7 code", name, report["dstc7"][key], scores[table][index])
        nltk = scores["nltk_3_10"]
        for key in ("bleu2", "bleu4", "nist4", "meteor"):
            label = key if key != "meteor" or name.startswith("zh_") else "meteor, en (out of scope)"
            record(f"paper {label} vs NLTK 3.10 (UCSD bertGPT)", name, report["paper"][key], nltk["ucsd_bertgpt"][key])
        for key in ("bleu2", "bleu4"):
            record(f"paper {key} method1 vs NLTK 3.10 (UCSD gpt2)", name, gpt2["paper"][key], nltk["ucsd_gpt2"][key])
    classification = vector_dir / "classification.json"
    if classification.is_file():
        from rmd_baselines.metrics.classification import classification_scores

        for name, case in json.loads(classification.read_text("utf-8"))["cases"].items():
            for zd in ("0", "1"):
                ours = classification_scores(case["y_true"], case["y_pred"], zero_division=float(zd))
                record("accuracy vs scikit-learn 1.9.1", name, ours["accuracy"], case["accuracy"])
                for average in ("macro", "weighted"):
                    for metric in ("precision", "recall", "f1"):
                        record(f"{average} P/R/F1 vs scikit-learn 1.9.1", f"{name} (zero_division={zd})",
                               ours[f"{average}_{metric}"], case[f"{average}_zero_division={zd}"][metric])
    ppl = vector_dir / "perplexity.json"
    if ppl.is_file():
        from rmd_baselines.metrics.perplexity import perplexity

        data = json.loads(ppl.read_text("utf-8"))
        record("perplexity token-weighted", "perplexity", perplexity(data["per_token_nll"]).value,
               data["token_weighted_exp_mean_nll"])
        record("perplexity sample_mean (UCSD)", "perplexity",
               perplexity(data["per_token_nll"], variant="sample_mean").value,
               data["mean_of_per_sample_ppl (UCSD bertGPT/gpt2_ppl with batch_size=1)"])
    for entry in worst.values():
        entry["n_cases"] = len(entry.pop("vectors"))
    return worst


COMPARISON = {"systems": 3, "segments": 2000, "n_boot": 1000, "n_trials": 10000, "seed": 0, "target_seconds": 60.0}


def comparison_systems(pairs: list[tuple[str, str]], segments: int) -> tuple[dict, list]:
    """Three systems answering the first ``segments`` references: the doctor turn before each reference (related
    text), and real doctor turns from ``segments`` and 2 x ``segments`` pairs further on (unrelated text)."""
    hyps = [h for h, _ in pairs]
    refs = [[r] for _, r in pairs[:segments]]
    systems = {"previous_turn": hyps[:segments]}
    for offset, name in ((segments, "other_turn_1"), (2 * segments, "other_turn_2")):
        systems[name] = [hyps[(i + offset) % len(hyps)] for i in range(segments)]
    return systems, refs


def comparison_child(data_path: str) -> None:
    """One timed comparison, in a fresh process; prints its seconds and result as JSON."""
    with open(data_path, encoding="utf-8") as handle:
        data = json.load(handle)
    from rmd_baselines.metrics.generation import compare_generation

    start_wall, start_cpu = time.perf_counter(), time.process_time()
    result = compare_generation(data["systems"], data["refs"], tokenize="char", family="both",
                                n_boot=COMPARISON["n_boot"], n_trials=COMPARISON["n_trials"], seed=COMPARISON["seed"])
    seconds = {"cpu": time.process_time() - start_cpu, "wall": time.perf_counter() - start_wall}
    print(json.dumps({"seconds": seconds, "result": result}, ensure_ascii=False, allow_nan=False))


def time_comparison(pairs: list[tuple[str, str]], runs: int) -> dict:
    """The comparison row: ``runs`` child processes, medians of their CPU and wall seconds, their peak RSS."""
    import tempfile

    systems, refs = comparison_systems(pairs, COMPARISON["segments"])
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8", delete=False) as handle:
        json.dump({"systems": systems, "refs": refs}, handle, ensure_ascii=False)
    try:
        children = [run_child([sys.executable, __file__, "--comparison-child", handle.name]) for _ in range(runs)]
    finally:
        os.unlink(handle.name)
    outputs = [json.loads(child["stdout"]) for child in children]
    cpu = [output["seconds"]["cpu"] for output in outputs]
    wall = [output["seconds"]["wall"] for output in outputs]
    result = outputs[0]["result"]
    p_values = {name: {key: [comparison["dstc7"][key]["p_bootstrap"], comparison["dstc7"][key]["p_randomization"]]
                       for key in ("bleu4", "nist4", "meteor", "entropy4", "dist2")}
                for name, comparison in result["comparisons"].items()}
    return {**COMPARISON, "runs": runs, "cpu_seconds_runs": [round(x, 3) for x in cpu],
            "wall_seconds_runs": [round(x, 3) for x in wall], "cpu_seconds_median": round(statistics.median(cpu), 3),
            "wall_seconds_median": round(statistics.median(wall), 3),
            "peak_rss_mib_max": round(max(child["peak_rss_bytes"] for child in children) / 2**20, 1),
            "deterministic_for_seed": all(output["result"] == result for output in outputs),
            "dstc7_p_values_bootstrap_randomization": p_values}


def render_comparison(comparison: dict) -> list[str]:
    target = comparison["target_seconds"]
    lines = [
        "## Comparing systems", "",
        f"`compare_generation`: {comparison['systems']} systems x {comparison['segments']:,} segments (the doctor turn "
        "before each reference, and two unrelated real doctor turns), every metric of both families, "
        f"{comparison['n_boot']:,} bootstrap resamples and {comparison['n_trials']:,} randomization trials, seed "
        f"{comparison['seed']}; {comparison['runs']} runs, each in a fresh process (tokenization and scoring "
        "included).",
        "",
        "| what | CPU s (median) | wall s (median) | CPU s, all runs | peak RSS MiB |",
        "|---|---:|---:|---|---:|",
        f"| comparison, 3 x 2,000 | {comparison['cpu_seconds_median']:.2f} | {comparison['wall_seconds_median']:.2f} | "
        f"{', '.join(f'{x:.2f}' for x in comparison['cpu_seconds_runs'])} | {comparison['peak_rss_mib_max']:.0f} |",
        "",
        f"- Target 'under {target:.0f} s': CPU "
        f"{'met' if comparison['cpu_seconds_median'] < target else 'MISSED'}, wall "
        f"{'met' if comparison['wall_seconds_median'] < target else 'MISSED'}.",
        f"- Same p-values in every run (seed {comparison['seed']}): "
        f"{'yes' if comparison['deterministic_for_seed'] else 'NO'}.",
        "",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared-data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=10000)
    parser.add_argument("--vectors", default=None, help="golden vectors (default: metrics-vectors beside --shared-data)")
    parser.add_argument("--compare-runs", type=int, default=3, help="runs of the comparison row")
    parser.add_argument("--comparison-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--meteor-jar", default=os.environ.get(
        "RMD_METEOR_JAR", str(Path.home() / ".cache" / "rmd-oracle" / "meteor-1.5" / "meteor-1.5.jar")),
        help="meteor-1.5.jar to time beside ours (default: $RMD_METEOR_JAR or the oracle's build)")
    parser.add_argument("--jar-runs", type=int, default=3)
    args = parser.parse_args()
    if args.comparison_child:
        comparison_child(args.comparison_child)
        return
    vector_dir = Path(args.vectors) if args.vectors else Path(args.shared_data).parent / "metrics-vectors"

    pairs, used = real_pairs(Path(args.shared_data), args.pairs)
    n_real = len(pairs)
    if n_real < args.pairs:
        pairs += synthetic_pairs(args.pairs - n_real)
    hyps = [h for h, _ in pairs]
    refs = [[r] for _, r in pairs]
    tokenizer = get_tokenizer("char")
    hyp_tokens = tokenizer.tokenize_many(hyps)
    ref_tokens = [tokenizer.tokenize(r[0]) for r in refs]
    hyp_joined = [" ".join(t) for t in hyp_tokens]
    ref_joined = [" ".join(t) for t in ref_tokens]

    from sacrebleu.metrics import BLEU

    sacre = BLEU(max_ngram_order=4, tokenize="none")
    timings = {}
    timings["ours_all"] = median_time(lambda: evaluate_generation(hyps, refs, tokenize="char", family="both"), args.runs)
    timings["ours_corpus_bleu"] = median_time(
        lambda: corpus_bleu([h.split() for h in hyp_joined], [[r.split()] for r in ref_joined]), args.runs)
    timings["sacrebleu_corpus_bleu"] = median_time(lambda: sacre.corpus_score(hyp_joined, [ref_joined]), args.runs)
    timings["ours_all_ci_100"] = median_time(
        lambda: evaluate_generation(hyps, refs, tokenize="char", family="both", ci=True, n_boot=100), 1)
    nltk_runs = max(1, min(args.runs, 3))
    timings["nltk_sentence_loops"] = median_time(lambda: nltk_paper_family(hyp_tokens, ref_tokens), nltk_runs)
    ref_sets = [[r] for r in ref_tokens]
    timings["ours_meteor_jar"] = median_time(lambda: corpus_meteor(hyp_tokens, ref_sets, align="jar"), args.runs)
    timings["ours_meteor_optimal"] = median_time(lambda: corpus_meteor(hyp_tokens, ref_sets, align="optimal"),
                                                 args.runs)
    jar = meteor_jar_runs(Path(args.meteor_jar), hyp_joined, ref_joined, args.jar_runs)
    meteor_targets = {}
    if "unavailable" not in jar:
        ours = timings["ours_meteor_jar"]
        jar["ratio_cpu"] = jar["cpu"] / ours["cpu"]
        jar["ratio_wall"] = jar["wall"] / ours["wall"]
        jar["final_score_abs_diff_vs_ours"] = abs(jar["final_score"] - ours["result"])
        meteor_targets = {"meteor_jar_faithful_5x_faster_than_the_jar_cpu": jar["ratio_cpu"] >= 5.0,
                          "meteor_jar_faithful_5x_faster_than_the_jar_wall": jar["ratio_wall"] >= 5.0}

    report = timings["ours_all"]["result"]
    ours_bleu = timings["ours_corpus_bleu"]["result"]
    sacre_score = timings["sacrebleu_corpus_bleu"]["result"].score / 100
    nltk_values = timings["nltk_sentence_loops"]["result"]
    agreement = {"corpus_bleu4_ours_vs_sacrebleu_abs_diff": abs(ours_bleu[3] - sacre_score)}
    for key, value in nltk_values.items():
        agreement[f"paper_{key}_ours_vs_nltk_abs_diff"] = abs(report["paper"][key] - value)

    result = {
        "benchmark": "metrics",
        "version": __version__,
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "data": {"pairs": len(pairs), "real_pairs": n_real, "corpora": used,
                 "synthetic_pairs": len(pairs) - n_real,
                 "mean_hyp_chars": statistics.mean(map(len, hyp_tokens)),
                 "mean_ref_chars": statistics.mean(map(len, ref_tokens)),
                 "max_hyp_chars": max(map(len, hyp_tokens)), "max_ref_chars": max(map(len, ref_tokens))},
        "runs": args.runs, "nltk_runs": nltk_runs,
        "cpu_seconds_median": {name: round(t["cpu"], 3) for name, t in timings.items()},
        "wall_seconds_median": {name: round(t["wall"], 3) for name, t in timings.items()},
        "cpu_seconds_all_runs": {name: [round(x, 3) for x in t["cpu_runs"]] for name, t in timings.items()},
        "wall_seconds_all_runs": {name: [round(x, 3) for x in t["wall_runs"]] for name, t in timings.items()},
        "peak_rss_mib_process_so_far": {name: round(t["peak_rss_mib"], 1) for name, t in timings.items()},
        "meteor_jar": {key: ([round(x, 3) for x in value] if isinstance(value, list) else value)
                       for key, value in jar.items()},
        "meteor_values": {"ours_jar_faithful": timings["ours_meteor_jar"]["result"],
                          "ours_optimal": timings["ours_meteor_optimal"]["result"]},
        "targets": {
            "ours_corpus_bleu_not_slower_than_sacrebleu_cpu": timings["ours_corpus_bleu"]["cpu"] <= timings["sacrebleu_corpus_bleu"]["cpu"],
            "ours_corpus_bleu_not_slower_than_sacrebleu_wall": timings["ours_corpus_bleu"]["wall"] <= timings["sacrebleu_corpus_bleu"]["wall"],
            "ours_all_under_5s_cpu": timings["ours_all"]["cpu"] < 5.0,
            "ours_all_under_5s_wall": timings["ours_all"]["wall"] < 5.0,
            **meteor_targets,
        },
        "scores": {"ours": {f: {k: v for k, v in report[f].items() if k != "signature"} for f in report},
                   "signatures": {f: report[f]["signature"] for f in report},
                   "sacrebleu_bleu4": sacre_score, "ours_corpus_bleu4": ours_bleu[3], "nltk_paper_family": nltk_values},
        "agreement": agreement,
        "golden_agreement": golden_agreement(vector_dir) if vector_dir.is_dir() else None,
        "comparison": time_comparison(pairs, args.compare_runs),
    }
    comparison, limit = result["comparison"], COMPARISON["target_seconds"]
    result["targets"].update(comparison_3x2000_under_60s_cpu=comparison["cpu_seconds_median"] < limit,
                             comparison_3x2000_under_60s_wall=comparison["wall_seconds_median"] < limit,
                             comparison_p_values_deterministic_for_a_seed=comparison["deterministic_for_seed"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "metrics.json", result)
    write_text(RESULTS / "metrics.md", render(result))
    print(render(result))


def render(result: dict) -> str:
    data, cpu, wall = result["data"], result["cpu_seconds_median"], result["wall_seconds_median"]
    source = f"{data['real_pairs']:,} real pairs ({', '.join(data['corpora']) or 'none'})"
    if data["synthetic_pairs"]:
        source += f" + {data['synthetic_pairs']:,} synthetic"
    lines = [
        "# Metrics speed and agreement",
        "",
        f"{data['pairs']:,} char-tokenized Chinese segment pairs: {source}; mean length "
        f"{data['mean_hyp_chars']:.1f} / {data['mean_ref_chars']:.1f} characters (max {data['max_hyp_chars']} / "
        f"{data['max_ref_chars']}). Median of {result['runs']} runs (nltk: {result['nltk_runs']}), one process, "
        f"{result['machine']['cpus']} shared cores, Python {result['machine']['python']}.",
        "",
        "CPU seconds are the process's own time on one core; wall seconds also include waiting for a core on this "
        "shared machine.",
        "",
        "| what | CPU s (median) | wall s (median) | CPU s, all runs | peak RSS MiB |",
        "|---|---:|---:|---|---:|",
    ]
    labels = {
        "ours_all": "ours: both families, all metrics (BLEU-2/4, NIST-4, METEOR, Entropy-4, Dist-1/2), incl. tokenization",
        "ours_corpus_bleu": "ours: corpus BLEU (mteval) from space-joined strings",
        "sacrebleu_corpus_bleu": "sacrebleu 2.x: corpus BLEU, tokenize='none'",
        "nltk_sentence_loops": "nltk: sentence_bleu ×2, sentence_nist, meteor per segment (paper family)",
        "ours_all_ci_100": "ours: all metrics with 95% bootstrap intervals, 100 replicates (one run)",
        "ours_meteor_jar": "ours: dstc7 METEOR alone, jar-faithful alignment (default), incl. -norm",
        "ours_meteor_optimal": "ours: dstc7 METEOR alone, minimum-chunk alignment (--meteor-align optimal)",
    }
    rss = result.get("peak_rss_mib_process_so_far", {})
    for key, label in labels.items():
        if key not in cpu:
            continue
        runs = ", ".join(f"{x:.2f}" for x in result["cpu_seconds_all_runs"][key])
        lines.append(f"| {label} | {cpu[key]:.2f} | {wall[key]:.2f} | {runs} | {rss.get(key, '')} |")
    jar = result.get("meteor_jar", {})
    if "unavailable" not in jar and jar:
        runs = ", ".join(f"{x:.2f}" for x in jar["cpu_runs"])
        lines.append(f"| METEOR 1.5 jar (`{jar['command']}`, JVM start included) | {jar['cpu']:.2f} | "
                     f"{jar['wall']:.2f} | {runs} | {jar['peak_rss_mib']:.1f} (child) |")
    targets = result["targets"]

    def verdict(key: str) -> str:
        return "met" if targets[key] else "MISSED"

    lines += [
        "",
        f"- Target 'our corpus BLEU at least as fast as sacrebleu': CPU {verdict('ours_corpus_bleu_not_slower_than_sacrebleu_cpu')} "
        f"({cpu['ours_corpus_bleu']:.2f} s vs {cpu['sacrebleu_corpus_bleu']:.2f} s), wall "
        f"{verdict('ours_corpus_bleu_not_slower_than_sacrebleu_wall')} "
        f"({wall['ours_corpus_bleu']:.2f} s vs {wall['sacrebleu_corpus_bleu']:.2f} s).",
        f"- Target 'whole set under 5 s on one core': CPU {verdict('ours_all_under_5s_cpu')} ({cpu['ours_all']:.2f} s), "
        f"wall {verdict('ours_all_under_5s_wall')} ({wall['ours_all']:.2f} s).",
    ]
    if "unavailable" in jar or not jar:
        lines.append(f"- Target 'jar-faithful METEOR at least 5x faster than the jar': not measured -- "
                     f"{jar.get('unavailable', 'no jar row in these results')}.")
    else:
        lines.append(
            f"- Target 'jar-faithful METEOR at least 5x faster than the jar on the same pairs': CPU "
            f"{verdict('meteor_jar_faithful_5x_faster_than_the_jar_cpu')} ({jar['ratio_cpu']:.1f}x: "
            f"{cpu['ours_meteor_jar']:.2f} s vs {jar['cpu']:.2f} s), wall "
            f"{verdict('meteor_jar_faithful_5x_faster_than_the_jar_wall')} ({jar['ratio_wall']:.1f}x: "
            f"{wall['ours_meteor_jar']:.2f} s vs {jar['wall']:.2f} s). Same corpus score: |ours - jar| = "
            f"{jar['final_score_abs_diff_vs_ours']:.3g} ({jar['final_score']!r}); the minimum-chunk variant gives "
            f"{result['meteor_values']['ours_optimal']:.6f}.")
    lines += [
        "",
        "| agreement | absolute difference |",
        "|---|---:|",
    ]
    for key, value in result["agreement"].items():
        lines.append(f"| {key} | {value:.3g} |")
    if result.get("golden_agreement"):
        lines += ["", "Golden vectors (outputs of the reference programs, ../shared/metrics-vectors):", "",
                  "| metric | cases | max abs difference | worst case |", "|---|---:|---:|---|"]
        for metric, entry in result["golden_agreement"].items():
            lines.append(f"| {metric} | {entry['n_cases']} | {entry['max_abs_diff']:.3g} | "
                         f"{entry['worst_vector'] or '—'} |")
    scores = result["scores"]["ours"]
    lines += ["", "| family | " + " | ".join(k for k in scores["dstc7"]) + " |",
              "|---|" + "---:|" * len(scores["dstc7"])]
    for family, values in scores.items():
        lines.append(f"| {family} | " + " | ".join(f"{v:.4f}" for v in values.values()) + " |")
    lines += ["", "NLTK's METEOR ran without WordNet (not installed): exact and Porter-stem matches only.", ""]
    if result.get("comparison"):
        lines += render_comparison(result["comparison"])
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""The README's "Comparing systems" example, from scratch: our three responders compared on the bundled sample.

Every stage runs the command line in a child process; its wall and CPU seconds and peak RSS are recorded.
1. split: ``rmd-baseline data split SAMPLE --task respond --seed 0 --out WORK/split`` (``test.instances.jsonl``
   holds the context and the reference ``text`` of every test instance);
2. train: ``rmd-baseline train respond --data SAMPLE --model NAME --seed 0 --out WORK/models/NAME`` for retrieval,
   ngram and rerank (each on the protocol's train split of the sample, the same one ``data split`` wrote);
3. respond: ``rmd-baseline respond --input WORK/split/test.instances.jsonl --model WORK/models/NAME --json``; the
   responses become ``WORK/NAME.jsonl`` (``{"text": response}`` a line);
4. compare: in ``WORK``, ``rmd-baseline evaluate generate --hyp retrieval.jsonl --hyp ngram.jsonl --hyp
   rerank.jsonl --ref split/test.instances.jsonl --seed 0`` (1,000 bootstrap resamples, 10,000 randomization
   trials), with ``--json`` for the numbers and without for the table.

Writes ``benchmarks/results/compare.json`` (the comparison's JSON, every stage's cost, the commands) and
``compare.md``, and puts the command and its table into README.md between ``<!-- compare-example:start -->`` and
``<!-- compare-example:end -->``.

    python benchmarks/bench_compare.py [--work benchmarks/work/compare]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rmd_baselines import __version__  # noqa: E402
from rmd_baselines.corpus.writer import write_json, write_jsonl, write_text  # noqa: E402
from timing import run_child  # noqa: E402

SAMPLE = ROOT / "data" / "realmeddial_synthetic_sample.jsonl.gz"
RESULTS = ROOT / "benchmarks" / "results"
CLI = [sys.executable, str(ROOT / "bin" / "rmd-baseline")]
RESPONDERS = ("retrieval", "ngram", "rerank")
SEED = 0
MARKERS = ("<!-- compare-example:start -->", "<!-- compare-example:end -->")


def stage(name: str, arguments: list[str], cwd: Path = ROOT, stdout_path: Path | None = None) -> dict:
    """Run ``rmd-baseline ARGUMENTS`` as a child; its cost (wall, CPU, peak RSS), command and output."""
    print(f"== {name}: rmd-baseline {' '.join(arguments)}", flush=True)
    run = run_child([*CLI, *arguments, "--quiet"], cwd=cwd, stdout_path=stdout_path)
    return {"stage": name, "command": "rmd-baseline " + " ".join(arguments), "cwd": os.path.relpath(cwd, ROOT),
            "wall_seconds": round(run["wall_seconds"], 2), "cpu_seconds": round(run["cpu_seconds"], 2),
            "peak_rss_mib": round(run["peak_rss_bytes"] / 2**20, 1), "stdout": run["stdout"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "work" / "compare"))
    args = parser.parse_args()
    work = Path(args.work).resolve()
    models = work / "models"
    models.mkdir(parents=True, exist_ok=True)
    here = lambda path: os.path.relpath(path, ROOT)  # noqa: E731 -- commands as typed from the checkout
    sample = here(SAMPLE)
    stages = [stage("split", ["data", "split", sample, "--task", "respond", "--seed", str(SEED),
                              "--out", here(work / "split")])]
    instances = work / "split" / "test.instances.jsonl"
    for name in RESPONDERS:
        stages.append(stage(f"train {name}", ["train", "respond", "--data", sample, "--model", name,
                                              "--seed", str(SEED), "--out", here(models / name)]))
        replies = work / f"{name}.replies.jsonl"
        stages.append(stage(f"respond {name}", ["respond", "--input", here(instances), "--model", here(models / name),
                                                "--json"], stdout_path=replies))
        with open(replies, encoding="utf-8") as handle:
            write_jsonl(work / f"{name}.jsonl", ({"text": json.loads(line)["response"]} for line in handle))
    compare = ["evaluate", "generate", *(arg for name in RESPONDERS for arg in ("--hyp", f"{name}.jsonl")),
               "--ref", os.path.relpath(instances, work), "--seed", str(SEED)]
    stages.append(stage("compare (--json)", [*compare, "--json"], cwd=work))
    stages.append(stage("compare (table)", compare, cwd=work))
    comparison = json.loads(stages[-2].pop("stdout"))
    table = stages[-1].pop("stdout").rstrip("\n")
    for entry in stages:
        entry.pop("stdout", None)
    result = {"benchmark": "compare", "version": __version__,
              "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
              "data": sample, "test_instances": comparison["n_segments"], "seed": SEED, "stages": stages,
              "table_command": "rmd-baseline " + " ".join(compare), "table": table, "comparison": comparison}
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "compare.json", result)
    write_text(RESULTS / "compare.md", render(result))
    update_readme(result)
    print(render(result))


def example(result: dict) -> str:
    """The README block: how the files were made, the command and the table it printed."""
    how = (f"On the bundled sample's {result['test_instances']:,} test instances (`data split --task respond` writes "
           "them to `split/test.instances.jsonl`, whose `text` field is the reference), each responder trained with "
           "`train respond --model NAME`, its answers from `respond --input split/test.instances.jsonl --json` "
           "written one `{\"text\": ...}` a line to `NAME.jsonl`:")
    return "\n".join([*textwrap.wrap(how, width=117, break_on_hyphens=False), "",
                      "```", result["table_command"], "", result["table"], "```"])


def render(result: dict) -> str:
    lines = ["# Comparing our three responders on the bundled sample", "",
             f"{result['test_instances']:,} test instances of {result['data']}, seed {result['seed']}. Every stage is "
             "a child process (CPU seconds and peak RSS are its own).", "",
             "| stage | command | wall s | CPU s | peak RSS MiB |", "|---|---|---:|---:|---:|"]
    for entry in result["stages"]:
        lines.append(f"| {entry['stage']} | `{entry['command']}` | {entry['wall_seconds']:.1f} | "
                     f"{entry['cpu_seconds']:.1f} | {entry['peak_rss_mib']:.0f} |")
    lines += ["", example(result), ""]
    return "\n".join(lines)


def update_readme(result: dict) -> None:
    """Replace the README's block between the compare-example markers with the example of this run."""
    path = ROOT / "README.md"
    text = path.read_text("utf-8")
    start, end = MARKERS
    if start not in text or end not in text:
        return
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    write_text(path, f"{head}{start}\n{example(result)}\n{end}{tail}")


if __name__ == "__main__":
    main()

"""``rmd-baseline reproduce`` (the paper's three tables in one command) and ``rmd-baseline report`` (its HTML page)."""

from __future__ import annotations

import os

import click

from .base import EXISTING_FILE, SEED, common, echo_json


@click.command("reproduce")
@click.option("--data", "data_path", type=EXISTING_FILE, default=None,
              help="RealMedDial-format corpus (default: the bundled synthetic sample).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="rmd-results", show_default=True,
              help="Directory for results.json, results.md and the trained models.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Split, sampling and bootstrap seed.")
@click.option("--n-boot", type=click.IntRange(min=10), default=1000, show_default=True,
              help="Bootstrap replicates for the 95 % intervals.")
@click.option("--no-models", is_flag=True, help="Do not save the trained models under OUT/models.")
@click.option("--scale", type=click.Choice(["auto", "memory", "stream"]), default="auto", show_default=True,
              help="memory: read the corpus into memory (every task); stream: streamed router and recommender, only "
                   "test splits held, responders skipped; auto: stream when the corpus would not fit "
                   "--memory-budget (see 'train route --help').")
@click.option("--memory-budget", default="1G", show_default=True, help="Memory budget for --scale auto, e.g. 4G.")
@click.option("--max-test", type=click.IntRange(min=1), default=None,
              help="Score a seeded sample of at most N test records per classification task (printed in the notes "
                   "and recorded in results.json).")
@click.option("--json", "as_json", is_flag=True,
              help="Print results.json on stdout instead of the tables (seconds and peak memory per stage under "
                   "'timings').")
@common
def reproduce_command(data_path, out_dir, seed, n_boot, no_models, scale, memory_budget, max_test, as_json):
    """The paper's Tables 4, 5 and 6 with classical baselines, in one command.

    Builds the protocol's splits of the corpus, trains the default router, recommender and the responders,
    evaluates them and prints the three tables in the paper's layout: our rows, then the paper's transformer
    rows in their own columns (their figures on RealMedDial). Writes OUT/results.json (every score with its
    signature and 95 % bootstrap interval, seeds, package versions, timings, data hash) and OUT/results.md.
    Tasks a corpus cannot serve (no departments, no doctors, no multi-turn dialogue) are skipped with the reason.

    \b
    Example:
      rmd-baseline reproduce
      rmd-baseline reproduce --data ../shared/data/omc100k/dialogues.jsonl --out runs/omc100k
    """
    from ..errors import UsageError
    from ..reproduce import reproduce

    if data_path == "":  # not "no --data" (the bundled sample): an empty path names no file
        raise UsageError("--data: an empty path names no file (leave --data out for the bundled sample)")
    if out_dir == "":
        raise UsageError("--out: an empty path names no folder")
    results, tables = reproduce(data_path, out_dir, seed=seed, n_boot=n_boot, save_models=not no_models, scale=scale,
                                memory_budget=memory_budget, max_test=max_test)
    if as_json:
        echo_json(results)
        return
    for task in ("respond", "route", "recommend"):
        click.echo(tables[task])
        click.echo()
    click.echo(f"results: {os.path.join(out_dir, 'results.json')}, {os.path.join(out_dir, 'results.md')} "
               f"({results['timings']['seconds']['total']:.0f} s)")


@click.command("report")
@click.argument("results_dir", type=click.Path(file_okay=False))
@click.option("--html", "html_path", type=click.Path(dir_okay=False), required=True, help="The HTML file to write.")
@common
def report_command(results_dir, html_path):
    """Write one self-contained HTML page for a reproduce run: the three tables with their intervals,
    confusion-matrix heatmaps, per-class F1 bars, response examples and the run's signature.

    \b
    Example:
      rmd-baseline reproduce --out rmd-results && rmd-baseline report rmd-results --html report.html
    """
    from ..report import write_report

    click.echo(f"wrote {write_report(results_dir, html_path)}")


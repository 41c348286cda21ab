"""``rmd-baseline data``: validate, statistics, protocol splits, format conversion, synthetic corpora."""

from __future__ import annotations

import click

from .base import (EXISTING_FILE, SEED, SKIP_INVALID, RmdGroup, common, echo_json, load_corpus,
                   refuse_ignored)


@click.group(cls=RmdGroup)
def data():
    """Corpus tools: validate, statistics, protocol splits, format conversion, synthetic corpora."""


@data.command("synth")
@click.option("--dialogues", "n_dialogues", type=click.IntRange(min=1), default=2637, show_default=True,
              help="How many dialogues; 2637 mirrors the paper's corpus, other sizes scale its shape.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed: same N and seed, same bytes.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), required=True,
              help="Output file, .jsonl or .jsonl.gz (written atomically).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON document.")
@common
def data_synth(n_dialogues, seed, out_file, as_json):
    """Generate a synthetic RealMedDial-shaped corpus (made-up doctors and patients, no real consultations).

    With --dialogues 2637 it has the paper's 17 departments with their doctor and dialogue counts, 59 doctors
    and about 9.2 utterances per dialogue; other sizes keep that shape proportionally. Streams to any size
    (1,000,000 dialogues in bounded memory). The bundled sample is --dialogues 2637 --seed 0.

    \b
    Example:
      rmd-baseline data synth --dialogues 2637 --seed 0 --out data/realmeddial_synthetic_sample.jsonl.gz
    """
    from ..corpus.synth import write_synthetic_corpus

    summary = write_synthetic_corpus(out_file, n_dialogues, seed=seed, show_progress=True)
    if as_json:
        echo_json(summary)
    else:
        click.echo(f"wrote {summary['dialogues']} synthetic dialogues ({summary['utterances']} utterances, "
                   f"{summary['departments']} departments, {summary['doctors']} doctors, seed {seed}) "
                   f"to {out_file}")


@data.command("validate")
@click.argument("file", type=EXISTING_FILE)
@SKIP_INVALID
@common
def data_validate(file, skip_invalid):
    """Check every record of a RealMedDial-format JSONL file and print a one-line verdict.

    Problems are reported as FILE:LINE: field: what is wrong; exit status 2 if any record is invalid (with
    --skip-invalid: every problem, up to 20, and the verdict on stdout, one error line on stderr).

    \b
    Example:
      rmd-baseline data validate data/realmeddial_synthetic_sample.jsonl.gz
    """
    from ..corpus import ReadReport, read_dialogues

    from ..errors import DataError

    report = ReadReport(file)
    for _ in read_dialogues(file, skip_invalid=skip_invalid, report=report):
        pass
    if not report.records and not report.skipped:
        raise DataError(f"{file}: no records (the corpus is empty)")
    if report.skipped:
        for problem in report.problems[:20]:
            click.echo(problem)
        if report.skipped > 20:
            click.echo(f"... and {report.skipped - 20} more")
        click.echo(f"invalid: {report.summary()}")
        shown = "listed above" if report.skipped <= 20 else "the first 20 listed above"
        raise DataError(f"{file}: {report.skipped} invalid records ({shown})")
    click.echo(f"ok: {report.summary()}")
    return 0


@data.command("stats")
@click.argument("file", type=EXISTING_FILE)
@click.option("--task", type=click.Choice(["route", "recommend", "respond"]), default=None,
              help="Also check the protocol's split for this task: test inputs seen verbatim in train.")
@click.option("--min-count", type=int, default=None, help="Label filter for --task route/recommend.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Split seed for --task.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@SKIP_INVALID
@common
def data_stats(file, task, min_count, seed, as_json, skip_invalid):
    """Print the paper's Table 2 (corpus) and Table 3 (per department) for any corpus.

    Also reports duplicate dialogues (identical turn lists under different ids), which leak across splits.

    \b
    Example:
      rmd-baseline data stats ../shared/data/omc100k/dialogues.jsonl --json
      rmd-baseline data stats ../shared/data/covid_zh/dialogues.jsonl --task respond
    """
    from ..corpus.stats import corpus_statistics, format_statistics
    from ..tasks.export import build_task, leakage

    if task is None:
        refuse_ignored("is only used with --task", "min_count", "seed")
    elif task == "respond":
        refuse_ignored("is only used with --task route or recommend", "min_count")
    dialogues, _ = load_corpus(file, skip_invalid)
    stats = corpus_statistics(dialogues)
    if task:
        stats["leakage"] = leakage(build_task(dialogues, task, min_count, None, seed, source=file))
    if as_json:
        echo_json(stats)
    else:
        click.echo(format_statistics(stats, source=file))


@data.command("split")
@click.argument("file", type=EXISTING_FILE)
@click.option("--task", type=click.Choice(["route", "recommend", "respond"]), required=True,
              help="Which task's split (classification 4:1 per label; generation 8:1:1 per department).")
@click.option("--min-count", type=int, default=None,
              help="Keep labels with at least this many records (route/recommend; default 2).")
@click.option("--view", type=click.Choice(["patient", "dialogue"]), default=None,
              help="Input view recorded for route/recommend (default: patient for route, dialogue for recommend).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Split seed (the order-key salt).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Output directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the split summary as JSON.")
@SKIP_INVALID
@common
def data_split(file, task, min_count, view, seed, out_dir, as_json, skip_invalid):
    """Write the protocol's split of FILE: train.jsonl, test.jsonl (and valid.jsonl for respond).

    For respond, *.instances.jsonl hold the (context, reference) instances; give test.instances.jsonl to
    'evaluate generate --ref' to score any system on exactly our references.

    \b
    Example:
      rmd-baseline data split ../shared/data/omc100k/dialogues.jsonl --task route --min-count 10 --out splits/route
    """
    from ..tasks.export import export_split

    if task == "respond":
        refuse_ignored("is only used with --task route or recommend", "min_count", "view")
    dialogues, _ = load_corpus(file, skip_invalid)
    summary = export_split(dialogues, task, out_dir, min_count=min_count, view=view, seed=seed, source=file)
    if as_json:
        echo_json(summary)
        return
    parts = ", ".join(f"{part} {summary[part]['dialogues']}" for part in ("train", "valid", "test") if part in summary)
    leak = summary["leakage"]
    click.echo(f"{task} split of {file} (seed {seed}) written to {out_dir}: {parts} dialogues; "
               f"{leak['seen_in_train']} of {leak['test']} test inputs occur verbatim in train")


@data.command("convert")
@click.argument("in_file", type=EXISTING_FILE)
@click.argument("out_file", type=click.Path(dir_okay=False))
@click.option("--from", "fmt", type=click.Choice(["csv", "meddialog", "json"]), required=True,
              help="Input format: Toyhom-style CSV, MedDialog-CN/COVID-Dialogue raw text, or a JSON list.")
@click.option("--encoding", type=click.Choice(["auto", "utf-8", "gb18030", "big5", "shift_jis"]), default="auto",
              show_default=True,
              help="Input encoding; auto tries UTF-8 then GB18030, and refuses a file that decodes as GB18030 only "
                   "to rare characters (Big5 or Shift-JIS read wrongly): name the encoding then.")
@click.option("--id-prefix", default=None, help="Prefix of generated ids (default: the input file's name).")
@SKIP_INVALID
@common
def data_convert(in_file, out_file, fmt, encoding, id_prefix, skip_invalid):
    """Convert a published corpus format into canonical RealMedDial JSONL (written atomically).

    \b
    Example:
      rmd-baseline data convert toyhom.csv toyhom.jsonl --from csv
      rmd-baseline data convert COVID-Dialogue-Dataset-Chinese.txt covid.jsonl --from meddialog
    """
    from ..corpus.adapters import convert

    report = convert(in_file, out_file, fmt, encoding=encoding, id_prefix=id_prefix, skip_invalid=skip_invalid)
    click.echo(f"{report.summary()} to {out_file} (encoding {report.encoding})")


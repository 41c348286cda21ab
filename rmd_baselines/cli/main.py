"""``rmd-baseline``: the command line. This module only parses arguments and calls library functions.

Conventions for every command: ``--json`` prints one JSON document on stdout (Chinese kept readable);
progress bars go to stderr and are silent when stderr is not a terminal or with ``--quiet``; exit status 0 on
success, 1 on a runtime failure, 2 on bad usage or bad data, always with a one-line message and no traceback
(``--debug`` shows it).
"""

from __future__ import annotations

import json
import os
import sys
import traceback

import click

from .. import __version__, progress
from ..errors import RmdError

_DEBUG = {"on": bool(os.environ.get("RMD_DEBUG"))}
PROG = "rmd-baseline"


class RmdGroup(click.Group):
    """A click group whose failures are one line on stderr with the toolkit's exit statuses."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args=args, prog_name=prog_name or PROG, complete_var=complete_var,
                              standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
            code = 2
        except click.UsageError as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            click.echo(f"{PROG}: error: {exc.format_message()}{where}", err=True)
            code = 2
        except click.Abort:
            click.echo(f"{PROG}: aborted", err=True)
            code = 1
        except RmdError as exc:
            _report(exc)
            code = exc.exit_code
        except KeyboardInterrupt:
            click.echo(f"{PROG}: interrupted", err=True)
            code = 130
        except BrokenPipeError:
            code = 0
        except (OSError, MemoryError) as exc:
            _report(exc)
            code = 1
        except Exception as exc:  # a bug: still one line, the traceback on request
            _report(exc, prefix="internal error: " + type(exc).__name__ + ": ")
            code = 1
        else:
            code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def _report(exc: BaseException, prefix: str = "") -> None:
    if _DEBUG["on"]:
        traceback.print_exception(exc, file=sys.stderr)
    message = " ".join(str(exc).split()) or type(exc).__name__
    hint = "" if _DEBUG["on"] or isinstance(exc, RmdError) else " (rerun with --debug for the traceback)"
    click.echo(f"{PROG}: error: {prefix}{message}{hint}", err=True)


def _set_quiet(ctx, param, value):
    if value:
        progress.set_quiet(True)
    return value


def _set_debug(ctx, param, value):
    if value:
        _DEBUG["on"] = True
    return value


def common(func):
    """``--quiet`` and ``--debug`` on every command."""
    func = click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
                        help="Show the traceback of an error.")(func)
    func = click.option("--quiet", "-q", is_flag=True, expose_value=False, is_eager=True, callback=_set_quiet,
                        help="No progress output on stderr.")(func)
    return func


def echo_json(obj) -> None:
    """One JSON document on stdout, Chinese kept readable."""
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))


EXISTING_FILE = click.Path(exists=False, dir_okay=False)  # existence is checked by the readers (exit 2, one line)


@click.group(cls=RmdGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name=PROG)
@common
def cli():
    """Classical baselines for RealMedDial: department routing, doctor recommendation and medical response
    generation, scored with exactly the paper's metrics.

    \b
    Example:
      rmd-baseline data stats data/realmeddial_synthetic_sample.jsonl.gz
    """


# =====================================================================================================================
# data: validate, stats, split, convert, synth
# =====================================================================================================================


@cli.group(cls=RmdGroup)
def data():
    """Corpus tools: validate, statistics, protocol splits, format conversion, synthetic corpora."""


def _load(path, skip_invalid):
    """Read a corpus; with --skip-invalid say on stderr how many records were skipped."""
    from ..corpus import load_dialogues

    dialogues, report = load_dialogues(path, skip_invalid=skip_invalid)
    if report.skipped:
        click.echo(f"{PROG}: {report.summary()}; first problem: {report.problems[0]}", err=True)
    return dialogues, report


SKIP_INVALID = click.option("--skip-invalid", is_flag=True,
                            help="Skip malformed records (and say how many) instead of stopping at the first.")


@data.command("validate")
@click.argument("file", type=EXISTING_FILE)
@SKIP_INVALID
@common
def data_validate(file, skip_invalid):
    """Check every record of a RealMedDial-format JSONL file and print a one-line verdict.

    Problems are reported as FILE:LINE: field: what is wrong; exit status 2 if any record is invalid.

    \b
    Example:
      rmd-baseline data validate data/realmeddial_synthetic_sample.jsonl.gz
    """
    from ..corpus import ReadReport, read_dialogues

    report = ReadReport(file)
    for _ in read_dialogues(file, skip_invalid=skip_invalid, report=report):
        pass
    if report.skipped:
        for problem in report.problems[:20]:
            click.echo(problem, err=True)
        click.echo(f"invalid: {report.summary()}")
        return 2
    click.echo(f"ok: {report.summary()}")
    return 0


@data.command("stats")
@click.argument("file", type=EXISTING_FILE)
@click.option("--task", type=click.Choice(["route", "recommend", "respond"]), default=None,
              help="Also check the protocol's split for this task: test inputs seen verbatim in train.")
@click.option("--min-count", type=int, default=None, help="Label filter for --task route/recommend.")
@click.option("--seed", type=int, default=0, show_default=True, help="Split seed for --task.")
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

    dialogues, _ = _load(file, skip_invalid)
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
@click.option("--seed", type=int, default=0, show_default=True, help="Split seed (the order-key salt).")
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

    dialogues, _ = _load(file, skip_invalid)
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
@click.option("--encoding", type=click.Choice(["auto", "utf-8", "gb18030"]), default="auto", show_default=True,
              help="Input encoding; auto tries UTF-8 then GB18030.")
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


# =====================================================================================================================
# evaluate: generate, classify, model
# =====================================================================================================================


@cli.group(cls=RmdGroup)
def evaluate():
    """Score any system's outputs with the paper's metrics, or evaluate a trained model."""


@evaluate.command("model")
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.option("--data", "data_path", type=EXISTING_FILE, default=None,
              help="Corpus to rebuild the test split from (default: the file the model was trained on).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of the table.")
@common
def evaluate_model(model_dir, data_path, as_json):
    """Evaluate a trained router, recommender or responder on the protocol's test split.

    The split settings saved in MODEL_DIR (task, --min-count, view, seed) rebuild exactly the test split the
    model never saw; the table prints our row beside the paper's transformer rows (their figures on
    RealMedDial, in separate columns).

    \b
    Example:
      rmd-baseline evaluate model runs/router --data data/realmeddial_synthetic_sample.jsonl.gz
    """
    from ..persist import read_kind

    kind = read_kind(model_dir)
    if kind in ("route", "recommend"):
        from ..classify.evaluation import evaluate_model_dir
    else:
        from ..respond.evaluation import evaluate_model_dir
    report, table = evaluate_model_dir(model_dir, data_path=data_path)
    if as_json:
        echo_json(report)
    else:
        click.echo(table)


# =====================================================================================================================
# train: route, recommend, respond
# =====================================================================================================================


@cli.group(cls=RmdGroup)
def train():
    """Train a router, recommender or responder on the protocol's train split."""


# =====================================================================================================================
# route / recommend (classification)
# =====================================================================================================================


# =====================================================================================================================
# respond (generation)
# =====================================================================================================================


# =====================================================================================================================
# reproduce / report
# =====================================================================================================================


def main() -> None:
    cli.main(prog_name=PROG)


if __name__ == "__main__":
    main()

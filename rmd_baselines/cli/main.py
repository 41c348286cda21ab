"""``rmd-baseline``: the command line. This module only parses arguments and calls library functions.

Conventions for every command: ``--json`` prints one JSON document on stdout (Chinese kept readable);
progress bars go to stderr and are silent when stderr is not a terminal or with ``--quiet``; exit status 0 on
success, 1 on a runtime failure, 2 on bad usage or bad data, always with a one-line message and no traceback
(``--debug`` shows it).
"""

from __future__ import annotations

import io
import json
import os
import sys
import traceback

import click

from .. import __version__, progress
from ..errors import RmdError

_DEBUG = {"on": bool(os.environ.get("RMD_DEBUG"))}
PROG = "rmd-baseline"


class _ClosedPipe(Exception):
    """The reader of our output went away (``rmd-baseline ... | head``); raised past click, which would exit 1."""


class RmdGroup(click.Group):
    """A click group whose failures are one line on stderr with the toolkit's exit statuses."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise _ClosedPipe() from None

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
        except click.Abort as exc:
            # click turns Ctrl-C into Abort; the cause tells an interrupt from an aborted prompt.
            if isinstance(exc.__cause__, KeyboardInterrupt):
                click.echo(f"{PROG}: interrupted", err=True)
                code = 130
            else:
                click.echo(f"{PROG}: aborted", err=True)
                code = 1
        except RmdError as exc:
            _report(exc)
            code = exc.exit_code
        except KeyboardInterrupt:
            click.echo(f"{PROG}: interrupted", err=True)
            code = 130
        except (_ClosedPipe, BrokenPipeError):
            _discard_stdout()
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


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit does not fail on the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass  # not a real file descriptor (e.g. captured in tests): nothing will be flushed to a pipe


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


@data.command("synth")
@click.option("--dialogues", "n_dialogues", type=click.IntRange(min=1), default=2637, show_default=True,
              help="How many dialogues; 2637 mirrors the paper's corpus, other sizes scale its shape.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed: same N and seed, same bytes.")
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


# ---- evaluate generate / evaluate classify (metrics package) ----


def _echo_warnings(caught) -> None:
    for warning in caught:
        click.echo(f"{PROG}: warning: {warning.message}", err=True)


@evaluate.command("generate")
@click.option("--hyp", "hyp_path", type=EXISTING_FILE, required=True,
              help="Hypotheses, one segment a line (or JSONL with a 'text' field); an empty line is an empty response.")
@click.option("--ref", "ref_paths", type=EXISTING_FILE, multiple=True, required=True,
              help="References, parallel to --hyp; repeat for several references (the paper family uses the first).")
@click.option("--family", type=click.Choice(["paper", "dstc7", "both"]), default="both", show_default=True,
              help="Metric family: paper = NLTK sentence-level (UCSD scripts), dstc7 = mteval/METEOR 1.5 corpus.")
@click.option("--tokenize", type=click.Choice(["char", "word", "none"]), default="char", show_default=True,
              help="Metric tokenization: characters, jieba words, or the files' own whitespace tokens.")
@click.option("--ci", is_flag=True, help="Add 95% bootstrap confidence intervals over segments.")
@click.option("--n-boot", type=click.IntRange(1), default=1000, show_default=True,
              help="Bootstrap replicates for --ci.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--logprobs", "logprobs_path", type=EXISTING_FILE, default=None,
              help="JSONL, one array per segment of the reference tokens' natural-log probabilities: adds perplexity.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (raw values) instead of the table.")
@common
def evaluate_generate(hyp_path, ref_paths, family, tokenize, ci, n_boot, seed, logprobs_path, as_json):
    """Score any system's responses with both metric families, laid out as the paper's Table 4.

    The table prints the paper family's BLEU/NIST/METEOR x100 as the paper does, the dstc7 family raw, and the
    paper's transformer figures in separate, labelled columns; --json prints raw values with a signature per family.

    \b
    Example:
      rmd-baseline evaluate generate --hyp out/hyp.txt --ref data/ref.txt --ci
    """
    import warnings

    from ..metrics.generation import evaluate_generation_files, format_table4

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = evaluate_generation_files(hyp_path, list(ref_paths), logprobs_path=logprobs_path, tokenize=tokenize,
                                           family=family, ci=ci, seed=seed, n_boot=n_boot)
    _echo_warnings(caught)
    if as_json:
        echo_json(report)
    else:
        click.echo(format_table4(report, paper=True))


@evaluate.command("classify")
@click.option("--gold", "gold_path", type=EXISTING_FILE, required=True, help="True labels, one a line.")
@click.option("--pred", "pred_path", type=EXISTING_FILE, required=True, help="Predicted labels, parallel to --gold.")
@click.option("--scores", "scores_path", type=EXISTING_FILE, default=None,
              help="JSONL of label -> score maps, parallel to --gold: adds top-3 accuracy and MRR.")
@click.option("--task", type=click.Choice(["route", "recommend"]), default=None,
              help="Print the paper's Table 5 (route) or Table 6 (recommend) columns beside ours.")
@click.option("--ci", is_flag=True, help="Add 95% bootstrap confidence intervals over samples.")
@click.option("--n-boot", type=click.IntRange(1), default=1000, show_default=True,
              help="Bootstrap replicates for --ci.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of the table.")
@common
def evaluate_classify(gold_path, pred_path, scores_path, task, ci, n_boot, seed, as_json):
    """Accuracy, macro and weighted precision/recall/F1 (zero_division=0), as the paper's Tables 5/6.

    \b
    Example:
      rmd-baseline evaluate classify --gold gold.txt --pred pred.txt --scores scores.jsonl --task route
    """
    from ..metrics.classification import evaluate_classification_files, format_classification_table

    result = evaluate_classification_files(gold_path, pred_path, scores_path, ci=ci, n_boot=n_boot, seed=seed)
    if as_json:
        echo_json(result)
    else:
        click.echo(format_classification_table({"ours": result}, task))


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


# ---- train route / train recommend (department routing, doctor recommendation) ----

_CLASSIFY_MODEL_HELP = ("Model preset (see rmd_baselines/classify/presets.py; default: {default}, the best in "
                        "cross-validation on the benchmarks' train splits).")


def _classify_train_options(task: str):
    from ..classify.presets import DEFAULT_MODELS, TASK_PRESETS
    from ..tasks.classification import DEFAULT_MIN_COUNT

    def decorate(func):
        for option in reversed([
            click.option("--data", "data_path", type=EXISTING_FILE, required=True,
                         help="Corpus in the canonical JSONL format (.jsonl or .jsonl.gz)."),
            click.option("--min-count", type=int, default=DEFAULT_MIN_COUNT, show_default=True,
                         help="Drop labels with fewer records (a label with one record cannot be split)."),
            click.option("--view", type=click.Choice(["patient", "dialogue"]), default=None,
                         help=f"Input view (default: {'patient' if task == 'route' else 'dialogue'})."),
            click.option("--model", type=click.Choice(TASK_PRESETS[task]), default=None,
                         help=_CLASSIFY_MODEL_HELP.format(default=DEFAULT_MODELS[task])),
            click.option("--seed", type=int, default=0, show_default=True,
                         help="Seed of the protocol split (0 = the protocol's) and of the model."),
            click.option("--cv", "cv", type=click.IntRange(2), default=None,
                         help="Also run K-fold cross-validation on the train split (stratified by label) and "
                              "report mean ± std of accuracy and macro-F1."),
            click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
                         help="Model directory to write (replaced atomically)."),
            click.option("--json", "as_json", is_flag=True, help="Print the training summary as one JSON document."),
        ]):
            func = option(func)
        return func

    return decorate


def _train_classifier(task, data_path, min_count, view, model, seed, cv, out_dir, as_json):
    from ..classify.training import train_model
    from ..tasks import ClassificationSettings

    settings = ClassificationSettings(task=task, min_count=min_count, view=view, seed=seed)
    _, summary = train_model(data_path, settings, model=model, out=out_dir, cv=cv)
    if as_json:
        echo_json(summary)
        return
    role = "router" if task == "route" else "recommender"
    click.echo(f"trained {summary['model']} {role} on {summary['train_records']} records ({summary['split']}) "
               f"in {summary['train_seconds']:.1f} s; saved to {out_dir}")
    if "cv" in summary:
        result = summary["cv"]
        click.echo(f"{result['folds']}-fold cross-validation on train: accuracy {result['accuracy']['mean']:.3f} ± "
                   f"{result['accuracy']['std']:.3f}, macro-F1 {result['macro_f1']['mean']:.3f} ± "
                   f"{result['macro_f1']['std']:.3f}")
        if "note" in result:
            click.echo(f"note: {result['note']}")


@train.command("route")
@_classify_train_options("route")
@common
def train_route(data_path, min_count, view, model, seed, cv, out_dir, as_json):
    """Train a department router on the protocol's train split of the --data file; save it with its split settings.

    \b
    Example:
      rmd-baseline train route --data data/realmeddial_synthetic_sample.jsonl.gz --cv 5 --out runs/router
    """
    _train_classifier("route", data_path, min_count, view, model, seed, cv, out_dir, as_json)


@train.command("recommend")
@_classify_train_options("recommend")
@common
def train_recommend(data_path, min_count, view, model, seed, cv, out_dir, as_json):
    """Train a doctor recommender on the protocol's train split of the --data file; save it with its split settings.

    The hierarchical presets (hier-*) learn departments first, then doctors within each department.

    \b
    Example:
      rmd-baseline train recommend --data data/realmeddial_synthetic_sample.jsonl.gz --out runs/recommender
    """
    _train_classifier("recommend", data_path, min_count, view, model, seed, cv, out_dir, as_json)


# ---- train respond (retrieval / n-gram / rerank responders) ----


@train.command("respond")
@click.option("--data", "data_path", type=EXISTING_FILE, required=True,
              help="Corpus in the canonical JSONL format (.jsonl or .jsonl.gz).")
@click.option("--model", type=click.Choice(["retrieval", "ngram", "rerank"]), default="rerank", show_default=True,
              help="retrieval: BM25 nearest context; ngram: Kneser-Ney generator; rerank: retrieval candidates "
                   "re-scored with weights tuned on the valid split (the best on the benchmarks).")
@click.option("--order", type=click.IntRange(2, 6), default=5, show_default=True,
              help="Order of the char-level Kneser-Ney language model every responder carries.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the protocol split (0 = the protocol's) and of the n-gram responder's sampling.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Model directory to write (replaced atomically).")
@click.option("--json", "as_json", is_flag=True, help="Print the training summary as one JSON document.")
@common
def train_respond(data_path, model, order, seed, out_dir, as_json):
    """Train a responder on the protocol's generation train split and save it with its split settings.

    \b
    Example:
      rmd-baseline train respond --data data/realmeddial_synthetic_sample.jsonl.gz --model rerank --out runs/responder
    """
    from ..respond.model import train_to_directory

    summary = train_to_directory(data_path, out_dir, model=model, order=order, seed=seed)
    if as_json:
        echo_json(summary)
    else:
        click.echo(f"trained {summary['model']} responder on {summary['train_instances']} instances "
                   f"({summary['split']}) in {summary['train_seconds']:.1f} s; saved to {out_dir}")


# =====================================================================================================================
# route / recommend (classification)
# =====================================================================================================================


def _classify_inputs(kind, text, model_dir, input_path, top_k, as_json):
    """Shared body of `route` and `recommend`: load the model, read the texts, print the ranked labels."""
    import sys

    from ..classify.classifier import load_model
    from ..classify.evaluation import InputText, check_text, model_view, predict_inputs, read_inputs, read_stream
    from ..errors import UsageError

    if text is not None and input_path is not None:
        raise UsageError("give either TEXT or --input FILE, not both")
    if text is None and input_path is None and sys.stdin.isatty():
        raise UsageError("give a TEXT, --input FILE, or texts on standard input")
    if text is not None:
        check_text(text, "TEXT")
    model = load_model(model_dir, kinds=kind)
    if text is not None:
        inputs = [InputText(text, "TEXT")]
    elif input_path is not None and input_path != "-":
        inputs = read_inputs(input_path, model_view(model, model_dir))
    else:
        inputs = read_stream(sys.stdin.buffer, model_view(model, model_dir))
    results = predict_inputs(model, inputs, top_k)
    if text is not None:
        if as_json:
            echo_json(results[0])
        elif top_k == 1:
            click.echo(results[0]["label"])
        else:
            for rank, (label, score) in enumerate(results[0]["top_k"], 1):
                click.echo(f"{rank}\t{score:.4f}\t{label}")
        return
    for result in results:
        if as_json:
            click.echo(json.dumps(result, ensure_ascii=False))
        else:
            click.echo("\t".join(f"{label}\t{score:.4f}" for label, score in result["top_k"])
                       if top_k > 1 else result["label"])


def _classify_command_options(what: str):
    def decorate(func):
        for option in reversed([
            click.argument("text", required=False),
            click.option("--model", "model_dir", type=click.Path(file_okay=False), required=True,
                         help=f"A model directory written by 'train {what}'."),
            click.option("--input", "input_path", type=click.Path(dir_okay=False, allow_dash=True), default=None,
                         help="Batch input: canonical JSONL records (rendered through the model's input view) or "
                              "one text a line; '-' reads standard input."),
            click.option("--top-k", "top_k", type=click.IntRange(1), default=1, show_default=True,
                         help="How many ranked labels to list."),
            click.option("--json", "as_json", is_flag=True,
                         help='JSON {"label": ..., "top_k": [[label, score], ...]}; one document a line for '
                              'batches.'),
        ]):
            func = option(func)
        return func

    return decorate


@cli.command("route")
@_classify_command_options("route")
@common
def route(text, model_dir, input_path, top_k, as_json):
    """Route a patient to a department with a trained router.

    TEXT is what the patient wrote. Without TEXT and --input, texts are read from standard input. Batches print
    one label a line (tab-separated label/probability pairs with --top-k, one JSON document a line with --json).

    \b
    Examples:
      rmd-baseline route "胸口疼，心慌气短，血压有点高" --model runs/router --top-k 3
      rmd-baseline route --input queries.jsonl --model runs/router --json
    """
    _classify_inputs("route", text, model_dir, input_path, top_k, as_json)


@cli.command("recommend")
@_classify_command_options("recommend")
@common
def recommend(text, model_dir, input_path, top_k, as_json):
    """Recommend a doctor for a consultation with a trained recommender.

    TEXT is the consultation so far. Without TEXT and --input, texts are read from standard input. Batches print
    one doctor a line (tab-separated doctor/probability pairs with --top-k, one JSON document a line with --json).

    \b
    Examples:
      rmd-baseline recommend "孩子反复咳嗽两周，夜里加重" --model runs/recommender --top-k 3 --json
      rmd-baseline recommend --input consultations.jsonl --model runs/recommender
    """
    _classify_inputs("recommend", text, model_dir, input_path, top_k, as_json)


# =====================================================================================================================
# respond (generation)
# =====================================================================================================================


@cli.command("respond")
@click.argument("context", required=False)
@click.option("--model", "model_dir", type=click.Path(file_okay=False), required=True,
              help="A responder directory written by 'train respond'.")
@click.option("--input", "input_path", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              help="Batch input: one context a line (turns separated by \\n), or JSONL with a 'context' field "
                   "(and optionally 'department'); '-' reads standard input.")
@click.option("--department", default=None,
              help="Department of CONTEXT (only retrieval/rerank responders built with same_department=True use it).")
@click.option("--top-k", "top_k", type=click.IntRange(1), default=1, show_default=True,
              help="How many ranked candidates to list.")
@click.option("--json", "as_json", is_flag=True,
              help='JSON {"response": ..., "candidates": [[text, score], ...]}; one document per line for batches.')
@common
def respond(context, model_dir, input_path, department, top_k, as_json):
    """Answer a patient with a trained responder.

    CONTEXT is the dialogue so far, turns separated by newlines or by the two characters \\n, optionally with
    speaker tags (病人：/医生：/患者：/patient:/doctor:). Without CONTEXT and --input, contexts are read from
    standard input. Batches print one response a line (or one JSON document a line with --json).

    \b
    Examples:
      rmd-baseline respond "病人：孩子发烧两天了\\n医生：多少度？\\n病人：38度5" --model runs/responder
      rmd-baseline respond --input contexts.jsonl --model runs/responder --json --top-k 3
    """
    import sys

    from ..errors import UsageError
    from ..respond.model import load_responder, parse_context, read_contexts, respond_all

    if context is not None and input_path is not None:
        raise UsageError("give either CONTEXT or --input FILE, not both")
    if context is None and input_path is None and sys.stdin.isatty():
        raise UsageError("give a CONTEXT, --input FILE, or contexts on standard input")
    loaded = load_responder(model_dir)
    if context is not None:
        contexts, departments = [parse_context(context)], [department]
    else:
        contexts, departments = read_contexts(input_path or "-")
    replies = respond_all(loaded.responder, contexts, departments, k=top_k)
    if context is not None:
        reply = replies[0]
        if as_json:
            echo_json(reply.to_json())
        elif top_k == 1:
            click.echo(reply.response)
        else:
            for rank, (text, score) in enumerate(reply.candidates, 1):
                click.echo(f"{rank}\t{score:.4f}\t{text}")
        return
    for reply in replies:
        if as_json:
            click.echo(json.dumps(reply.to_json(), ensure_ascii=False))
        else:
            click.echo(reply.response.replace("\n", " "))


# =====================================================================================================================
# reproduce / report
# =====================================================================================================================


@cli.command("reproduce")
@click.option("--data", "data_path", type=EXISTING_FILE, default=None,
              help="RealMedDial-format corpus (default: the bundled synthetic sample).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="rmd-results", show_default=True,
              help="Directory for results.json, results.md and the trained models.")
@click.option("--seed", type=int, default=0, show_default=True, help="Split, sampling and bootstrap seed.")
@click.option("--n-boot", type=click.IntRange(min=10), default=1000, show_default=True,
              help="Bootstrap replicates for the 95 % intervals.")
@click.option("--no-models", is_flag=True, help="Do not save the trained models under OUT/models.")
@click.option("--json", "as_json", is_flag=True, help="Print results.json on stdout instead of the tables.")
@common
def reproduce_command(data_path, out_dir, seed, n_boot, no_models, as_json):
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
    from ..reproduce import reproduce

    results, tables = reproduce(data_path, out_dir, seed=seed, n_boot=n_boot, save_models=not no_models)
    if as_json:
        echo_json(results)
        return
    for task in ("respond", "route", "recommend"):
        click.echo(tables[task])
        click.echo()
    click.echo(f"results: {os.path.join(out_dir, 'results.json')}, {os.path.join(out_dir, 'results.md')} "
               f"({results['timings']['seconds']['total']:.0f} s)")


@cli.command("report")
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


def main() -> None:
    cli.main(prog_name=PROG)


if __name__ == "__main__":
    main()

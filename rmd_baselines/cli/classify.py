"""``rmd-baseline route`` and ``rmd-baseline recommend``: predictions of a trained router or recommender."""

from __future__ import annotations

import click

from .base import common, echo_json


def _classify_inputs(kind, text, model_dir, input_path, top_k, as_json):
    """Shared body of `route` and `recommend`: load the model, read the texts, print the ranked labels."""
    import sys

    from ..classify.classifier import load_model
    from ..corpus.writer import json_text
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
            click.echo(json_text(result))
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


@click.command("route")
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


@click.command("recommend")
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


"""``rmd-baseline respond``: answers of a trained responder."""

from __future__ import annotations

import click

from .base import common, echo_json, refuse_ignored

MAX_TOP_K = 100  # = rmd_baselines.respond.model.MAX_TOP_K (not imported here: the CLI starts without numpy)


@click.command("respond")
@click.argument("context", required=False)
@click.option("--model", "model_dir", type=click.Path(file_okay=False), required=True,
              help="A responder directory written by 'train respond'.")
@click.option("--input", "input_path", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              help="Batch input: one context a line (turns separated by \\n), or JSONL with a 'context' field "
                   "(and optionally 'department'); '-' reads standard input.")
@click.option("--department", default=None,
              help="Department of CONTEXT (only retrieval/rerank responders built with same_department=True use it).")
@click.option("--top-k", "top_k", type=click.IntRange(1, MAX_TOP_K), default=1, show_default=True,
              help=f"How many ranked candidates to list (at most {MAX_TOP_K}).")
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

    from ..corpus.writer import json_text
    from ..errors import UsageError
    from ..respond.model import load_responder, parse_context, read_contexts, respond_all

    if context is not None and input_path is not None:
        raise UsageError("give either CONTEXT or --input FILE, not both")
    if context is None and input_path is None and sys.stdin.isatty():
        raise UsageError("give a CONTEXT, --input FILE, or contexts on standard input")
    if context is None:
        refuse_ignored("is for a CONTEXT argument (with --input, give each line a 'department' field)",
                       "department")
    loaded = load_responder(model_dir)
    if department is not None and not _uses_departments(loaded.responder):
        refuse_ignored(f"is not used by this {getattr(loaded.responder, 'name', '')} responder (only retrieval and "
                       "rerank responders built with same_department=True use it)", "department")
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
            click.echo(json_text(reply.to_json()))
        else:
            click.echo(reply.response.replace("\n", " "))



def _uses_departments(responder) -> bool:
    retriever = getattr(responder, "retriever_", responder)  # a rerank responder's retrieval stage
    return bool(getattr(retriever, "same_department", False))

"""``rmd-baseline explain route|recommend|respond|lm``: exact explanations of a trained model's decisions
(library code in `rmd_baselines.classify.explain` and `rmd_baselines.respond.explain`)."""

from __future__ import annotations

import os
import sys

import click

from .base import common, echo_json


def _ansi() -> bool:
    """Colour the text only on a terminal (and never with NO_COLOR set)."""
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


@click.group("explain")
def explain():
    """Why a trained model decided as it did: exact additive explanations.

    Every number is decomposed into parts that add up to the score the model ranks by (see each command's help).
    """


def _classification_command(kind: str, what: str, example: str):
    @click.command(kind, help=(
        f"Why a {what} ranks a label as it does: the predicted label (or --label L) and the exact decomposition of "
        "the score the model ranks labels by: one contribution per feature of the text (character or word n-gram: "
        "TF-IDF value × weight) plus the intercept, summing to the score. Ensembles and hierarchical models are "
        "decomposed part by part (each member; the department and doctor stages).\n\n"
        "Text output lists the top N features each way and colours the text by each character's share (on a "
        "terminal). --json prints every contribution.\n\n"
        f"\b\nExample:\n  {example}"))
    @click.argument("text")
    @click.option("--model", "model_dir", type=click.Path(file_okay=False), required=True,
                  help=f"A model directory written by 'train {kind}'.")
    @click.option("--label", default=None, help="Explain this label instead of the predicted one.")
    @click.option("--top", type=click.IntRange(1), default=10, show_default=True,
                  help="How many features to list each way (text output).")
    @click.option("--json", "as_json", is_flag=True,
                  help="JSON: label, score, score_is, intercept, contributions ([feature, contribution], all of "
                       "them), features, char_shares, parts, top_k.")
    @common
    def command(text, model_dir, label, top, as_json):
        from ..classify.classifier import load_model
        from ..classify.explain import explain_classification, format_classification

        explanation = explain_classification(load_model(model_dir, kinds=kind), text, label=label, top_k=5)
        if as_json:
            echo_json(explanation)
        else:
            click.echo(format_classification(explanation, top=top, ansi=_ansi()))

    return command


route = _classification_command(
    "route", "router", 'rmd-baseline explain route "胸口闷，爬楼梯就喘，血压有点高" --model runs/router --top 5')
recommend = _classification_command(
    "recommend", "recommender", 'rmd-baseline explain recommend "孩子反复咳嗽两周" --model runs/recommender --json')


@click.command("respond")
@click.argument("context")
@click.option("--model", "model_dir", type=click.Path(file_okay=False), required=True,
              help="A responder directory written by 'train respond'.")
@click.option("--department", default=None, help="Department of CONTEXT (as for 'respond').")
@click.option("--top", type=click.IntRange(1), default=5, show_default=True,
              help="How many alternatives (retrieval), candidates (rerank) and terms to list.")
@click.option("--json", "as_json", is_flag=True, help="JSON with every contribution and token.")
@common
def respond(context, model_dir, department, top, as_json):
    """Why a responder answers CONTEXT as it does.

    Retrieval: the training context and dialogue id retrieved, its BM25 score as one contribution per shared
    query term, and the top alternatives. n-gram: every character's log10 probability and the n-gram order used,
    summing to kenlm's sentence score. Rerank: every candidate with each component of its combined score, and the
    chosen one's retrieval and language-model explanations. CONTEXT is read as by 'respond'.

    \b
    Example:
      rmd-baseline explain respond "病人：孩子发烧两天了\\n医生：多少度？\\n病人：38度5" --model runs/responder
    """
    from ..respond.explain import explain_response, format_response

    explanation = explain_response(model_dir, context, department=department, alternatives=top)
    if as_json:
        echo_json(explanation)
    else:
        click.echo(format_response(explanation, top=top, ansi=_ansi()))


@click.command("lm")
@click.argument("sentence")
@click.option("--model", "model_dir", type=click.Path(file_okay=False), required=True,
              help="A responder directory written by 'train respond' (every one carries a char-level model).")
@click.option("--context", default=None,
              help="Score SENTENCE as the answer to this context (default: no context, after <s> <sep>).")
@click.option("--json", "as_json", is_flag=True, help="JSON with every token's row.")
@common
def lm(sentence, model_dir, context, as_json):
    """The log10 probability of every character of SENTENCE under a responder's Kneser-Ney language model, the
    n-gram order used and the back-off weights paid, summing to kenlm's sentence score; and the perplexity.

    \b
    Example:
      rmd-baseline explain lm "多喝水，注意休息" --model runs/responder
    """
    from ..respond.explain import explain_sentence, format_lm

    explanation = explain_sentence(model_dir, sentence, context=context)
    if as_json:
        echo_json(explanation)
    else:
        click.echo(format_lm(explanation, ansi=_ansi()))


for _command in (route, recommend, respond, lm):
    explain.add_command(_command)

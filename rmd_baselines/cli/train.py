"""``rmd-baseline train``: routers, recommenders and responders on the protocol's train split."""

from __future__ import annotations

import click

from .base import EXISTING_FILE, SEED, RmdGroup, common, echo_json


@click.group(cls=RmdGroup)
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
            click.option("--seed", type=SEED, default=0, show_default=True,
                         help="Seed of the protocol split (0 = the protocol's) and of the model."),
            click.option("--cv", "cv", type=click.IntRange(2), default=None,
                         help="Also run K-fold cross-validation on the train split (stratified by label) and "
                              "report mean ± std of accuracy and macro-F1."),
            click.option("--scale", type=click.Choice(["auto", "memory", "stream"]), default="auto",
                         show_default=True,
                         help="memory: an in-memory preset (--model); stream: the bounded-memory hashed char "
                              "n-gram softmax, trained in passes over a seeded shuffle on disk; auto: stream when "
                              "the in-memory path's predicted peak exceeds --memory-budget (200 MiB + 7 KB a "
                              "record for route, 8 KB for recommend); an explicit --model or "
                              "--cv means memory."),
            click.option("--memory-budget", default="1G", show_default=True,
                         help="Memory the training may use, e.g. 4G, 512M (binary units; at least 64M): decides "
                              "--scale auto and sizes the streamed model's hashed columns."),
            click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
                         help="Model directory to write (replaced atomically)."),
            click.option("--json", "as_json", is_flag=True,
                         help="Print the training summary as one JSON document (with seconds, CPU seconds and "
                              "peak memory per stage)."),
        ]):
            func = option(func)
        return func

    return decorate


def _train_classifier(task, data_path, min_count, view, model, seed, cv, scale, memory_budget, out_dir, as_json):
    from ..classify.scale import train_classifier
    from ..tasks import ClassificationSettings

    settings = ClassificationSettings(task=task, min_count=min_count, view=view, seed=seed)
    _, summary = train_classifier(data_path, settings, model=model, out=out_dir, cv=cv, scale=scale,
                                  memory_budget=memory_budget)
    if as_json:
        echo_json(summary)
        return
    role = "router" if task == "route" else "recommender"
    click.echo(f"trained {summary['model']} {role} on {summary['train_records']} records ({summary['split']}) "
               f"in {summary['train_seconds']:.1f} s (--scale {summary['scale']}; peak memory "
               f"{summary['peak_rss_mib']:.0f} MiB); saved to {out_dir}")
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
def train_route(data_path, min_count, view, model, seed, cv, scale, memory_budget, out_dir, as_json):
    """Train a department router on the protocol's train split of the --data file; save it with its split settings.

    \b
    Example:
      rmd-baseline train route --data data/realmeddial_synthetic_sample.jsonl.gz --cv 5 --out runs/router
    """
    _train_classifier("route", data_path, min_count, view, model, seed, cv, scale, memory_budget, out_dir, as_json)


@train.command("recommend")
@_classify_train_options("recommend")
@common
def train_recommend(data_path, min_count, view, model, seed, cv, scale, memory_budget, out_dir, as_json):
    """Train a doctor recommender on the protocol's train split of the --data file; save it with its split settings.

    The hierarchical presets (hier-*) learn departments first, then doctors within each department.

    \b
    Example:
      rmd-baseline train recommend --data data/realmeddial_synthetic_sample.jsonl.gz --out runs/recommender
    """
    _train_classifier("recommend", data_path, min_count, view, model, seed, cv, scale, memory_budget, out_dir, as_json)


# ---- train respond (retrieval / n-gram / rerank responders) ----


@train.command("respond")
@click.option("--data", "data_path", type=EXISTING_FILE, required=True,
              help="Corpus in the canonical JSONL format (.jsonl or .jsonl.gz).")
@click.option("--model", type=click.Choice(["retrieval", "ngram", "rerank"]), default="rerank", show_default=True,
              help="retrieval: BM25 nearest context; ngram: Kneser-Ney generator; rerank: retrieval candidates "
                   "re-scored with weights tuned on the valid split (the best on the benchmarks).")
@click.option("--order", type=click.IntRange(2, 6), default=5, show_default=True,
              help="Order of the char-level Kneser-Ney language model every responder carries.")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Seed of the protocol split (0 = the protocol's) and of the n-gram responder's sampling.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Model directory to write (replaced atomically).")
@click.option("--prune", "prune", metavar="THRESHOLDS", default=None,
              help="Count pruning of the n-gram model (--model ngram), lmplz style: one threshold per order from "
                   "unigrams, the last repeated; an n-gram seen at most that often is dropped. E.g. '0 0 1' drops "
                   "trigrams and longer seen once. Stated in the ARPA header and the model's JSON.")
@click.option("--json", "as_json", is_flag=True, help="Print the training summary as one JSON document.")
@common
def train_respond(data_path, model, order, seed, out_dir, prune, as_json):
    """Train a responder on the protocol's generation train split and save it with its split settings.

    \b
    Example:
      rmd-baseline train respond --data data/realmeddial_synthetic_sample.jsonl.gz --model rerank --out runs/responder
    """
    from ..respond.lm.kneser_ney import parse_prune
    from ..respond.model import train_to_directory

    summary = train_to_directory(data_path, out_dir, model=model, order=order, seed=seed,
                                 prune=None if prune is None else parse_prune(prune))
    if as_json:
        echo_json(summary)
    else:
        click.echo(f"trained {summary['model']} responder on {summary['train_instances']} instances "
                   f"({summary['split']}) in {summary['train_seconds']:.1f} s; saved to {out_dir}")


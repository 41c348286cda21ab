"""``rmd-baseline evaluate``: score any system's outputs with the paper's metrics, or a trained model on its
test split."""

from __future__ import annotations

import click

from .base import EXISTING_FILE, RmdGroup, common, echo_json, echo_warnings


@click.group(cls=RmdGroup)
def evaluate():
    """Score any system's outputs with the paper's metrics, or evaluate a trained model."""


# ---- evaluate generate / evaluate classify (metrics package) ----


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
@click.option("--meteor-align", type=click.Choice(["jar", "optimal"]), default="jar", show_default=True,
              help="dstc7 METEOR alignment: jar = METEOR 1.5's beam search as it runs, optimal = the fewest chunks.")
@click.option("--nist-variant", type=click.Choice(["mteval", "corrected"]), default="mteval", show_default=True,
              help="dstc7 NIST: mteval = mteval-v14c as it runs (its '0'-prefix quirk), corrected = the formula.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (raw values) instead of the table.")
@common
def evaluate_generate(hyp_path, ref_paths, family, tokenize, ci, n_boot, seed, logprobs_path, meteor_align,
                      nist_variant, as_json):
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
                                           family=family, ci=ci, seed=seed, n_boot=n_boot,
                                           meteor_align=meteor_align, nist_variant=nist_variant)
    echo_warnings(caught)
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


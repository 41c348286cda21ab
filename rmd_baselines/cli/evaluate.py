"""``rmd-baseline evaluate``: score any system's outputs with the paper's metrics, or a trained model on its
test split."""

from __future__ import annotations

import click

from .base import EXISTING_FILE, SEED, RmdGroup, common, echo_json, echo_warnings, refuse_ignored


@click.group(cls=RmdGroup)
def evaluate():
    """Score any system's outputs with the paper's metrics, or evaluate a trained model."""


# ---- evaluate generate / evaluate classify (metrics package) ----


@evaluate.command("generate")
@click.option("--hyp", "hyp_paths", type=EXISTING_FILE, multiple=True, required=True,
              help="Hypotheses, one segment a line (or JSONL with a 'text' field); an empty line is an empty response. "
                   "Repeat to compare systems: each is tested against the first (the baseline).")
@click.option("--ref", "ref_paths", type=EXISTING_FILE, multiple=True, required=True,
              help="References, parallel to --hyp; repeat for several references (the paper family uses the first).")
@click.option("--family", type=click.Choice(["paper", "dstc7", "both"]), default="both", show_default=True,
              help="Metric family: paper = NLTK sentence-level (UCSD scripts), dstc7 = mteval/METEOR 1.5 corpus.")
@click.option("--tokenize", type=click.Choice(["char", "word", "none"]), default="char", show_default=True,
              help="Metric tokenization: characters, jieba words, or the files' own whitespace tokens.")
@click.option("--ci", is_flag=True, help="Add each system's 95% bootstrap confidence intervals over segments.")
@click.option("--n-boot", type=click.IntRange(1), default=1000, show_default=True,
              help="Bootstrap replicates, for --ci and for comparing systems (paired bootstrap).")
@click.option("--n-trials", type=click.IntRange(1), default=10000, show_default=True,
              help="Approximate-randomization trials when comparing systems (several --hyp).")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Seed of the bootstrap and of the randomization.")
@click.option("--logprobs", "logprobs_paths", type=EXISTING_FILE, multiple=True,
              help="JSONL, one array per segment of the reference tokens' natural-log probabilities: adds perplexity. "
                   "When comparing, one per --hyp in the same order (each system's model), or none.")
@click.option("--segments", "segments_path", type=click.Path(dir_okay=False), default=None,
              help="Also write per-segment scores to this JSONL file (atomically), one line per segment per system: "
                   "system (its --hyp file), segment (1-based line), hyp, refs, and for each family bleu2, bleu4, "
                   "nist4, meteor -- raw sentence-level scores (dstc7: the family's corpus formula applied to that "
                   "one segment; paper: NLTK's sentence scores).")
@click.option("--meteor-align", type=click.Choice(["jar", "optimal"]), default="jar", show_default=True,
              help="dstc7 METEOR alignment: jar = METEOR 1.5's beam search as it runs, optimal = the fewest chunks.")
@click.option("--nist-variant", type=click.Choice(["mteval", "corrected"]), default="mteval", show_default=True,
              help="dstc7 NIST: mteval = mteval-v14c as it runs (its '0'-prefix quirk), corrected = the formula.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (raw values) instead of the table.")
@common
def evaluate_generate(hyp_paths, ref_paths, family, tokenize, ci, n_boot, n_trials, seed, logprobs_paths,
                      segments_path, meteor_align, nist_variant, as_json):
    """Score any system's responses with both metric families, laid out as the paper's Table 4; with several
    --hyp, compare them.

    The table prints the paper family's BLEU/NIST/METEOR x100 as the paper does, the dstc7 family raw, and the
    paper's transformer figures in separate, labelled columns; --json prints raw values with a signature per family.

    With several --hyp every system is scored with every metric and tested against the first with the paired
    bootstrap (--n-boot resamples) and approximate randomization (--n-trials trials), both seeded with --seed:
    the table gives each difference, its 95% interval and both p-values, marked * (both p < 0.05) or ** (< 0.01);
    --json carries all of it (see README "Comparing systems").

    \b
    Example:
      rmd-baseline evaluate generate --hyp out/hyp.txt --ref data/ref.txt --ci
      rmd-baseline evaluate generate --hyp base.txt --hyp new.txt --ref ref.txt --segments seg.jsonl
    """
    import warnings

    from ..metrics import generation
    from ..metrics.io import check_one_per_system

    check_one_per_system("--logprobs", len(logprobs_paths), "--hyp", len(hyp_paths))
    if len(hyp_paths) == 1:
        refuse_ignored("is only used when comparing systems (several --hyp)", "n_trials")
        if not ci:
            refuse_ignored("is only used with --ci or when comparing systems (several --hyp)", "n_boot", "seed")
    if family == "paper":
        refuse_ignored("is only used by the dstc7 family (--family dstc7 or both)", "meteor_align", "nist_variant")
    options = dict(tokenize=tokenize, family=family, n_boot=n_boot, seed=seed, ci=ci, meteor_align=meteor_align,
                   nist_variant=nist_variant)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if len(hyp_paths) == 1:
            report = generation.evaluate_generation_files(
                hyp_paths[0], list(ref_paths), logprobs_path=logprobs_paths[0] if logprobs_paths else None,
                segments_path=segments_path, **options)
        else:
            report = generation.compare_generation_files(hyp_paths, list(ref_paths), logprobs_paths,
                                                         segments_path=segments_path, n_trials=n_trials, **options)
    echo_warnings(caught)
    if as_json:
        echo_json(report)
    elif len(hyp_paths) == 1:
        click.echo(generation.format_table4(report, paper=True))
    else:
        click.echo(generation.format_comparison(report))


@evaluate.command("classify")
@click.option("--gold", "gold_path", type=EXISTING_FILE, required=True, help="True labels, one a line.")
@click.option("--pred", "pred_paths", type=EXISTING_FILE, multiple=True, required=True,
              help="Predicted labels, parallel to --gold. Repeat to compare systems: each is tested against the "
                   "first (the baseline).")
@click.option("--scores", "scores_paths", type=EXISTING_FILE, multiple=True,
              help="JSONL of label -> score maps, parallel to --gold: adds top-3 accuracy and MRR. When comparing, "
                   "one per --pred in the same order, or none.")
@click.option("--task", type=click.Choice(["route", "recommend"]), default=None,
              help="Print the paper's Table 5 (route) or Table 6 (recommend) columns beside ours (one --pred).")
@click.option("--ci", is_flag=True, help="Add 95% bootstrap confidence intervals over samples.")
@click.option("--n-boot", type=click.IntRange(1), default=1000, show_default=True,
              help="Bootstrap replicates, for --ci and for comparing systems (paired bootstrap).")
@click.option("--n-trials", type=click.IntRange(1), default=10000, show_default=True,
              help="Approximate-randomization trials when comparing systems (several --pred).")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Seed of the bootstrap and of the randomization.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of the table.")
@common
def evaluate_classify(gold_path, pred_paths, scores_paths, task, ci, n_boot, n_trials, seed, as_json):
    """Accuracy, macro and weighted precision/recall/F1 (zero_division=0), as the paper's Tables 5/6; with
    several --pred, compare them.

    With several --pred every metric is tested against the first system with the paired bootstrap and
    approximate randomization, and accuracy also with McNemar's exact test; differences are marked * (every
    p < 0.05) or ** (< 0.01).

    \b
    Example:
      rmd-baseline evaluate classify --gold gold.txt --pred pred.txt --scores scores.jsonl --task route
      rmd-baseline evaluate classify --gold gold.txt --pred base.txt --pred new.txt
    """
    from ..errors import UsageError
    from ..metrics import classification
    from ..metrics.io import check_one_per_system

    check_one_per_system("--scores", len(scores_paths), "--pred", len(pred_paths))
    if len(pred_paths) == 1:
        result = classification.evaluate_classification_files(
            gold_path, pred_paths[0], scores_paths[0] if scores_paths else None, ci=ci, n_boot=n_boot, seed=seed)
    else:
        if task is not None:
            raise UsageError("--task prints the paper's columns beside one system; leave it out when comparing "
                             "several --pred")
        result = classification.compare_classification_files(gold_path, pred_paths, scores_paths, ci=ci,
                                                             n_boot=n_boot, n_trials=n_trials, seed=seed)
    if as_json:
        echo_json(result)
    elif len(pred_paths) == 1:
        click.echo(classification.format_classification_table({"ours": result}, task))
    else:
        click.echo(classification.format_classification_comparison(result))


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


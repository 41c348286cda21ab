"""Benchmark of the Kneser-Ney language model and the n-gram responder.

For each corpus (covid_zh and imcs_v2_dev from ../shared/data, and the bundled synthetic sample; any that is
absent is skipped with a note) on the protocol's generation split:

- training time of `NgramResponder(order=5, unit="char")` (tokenization and estimation; median of --runs), with
  ARPA writing and kenlm loading times, the ARPA file size and the n-gram counts;
- char-level perplexity of the test references (token-weighted, end of response included) for orders 3-6, and
  of the word-level model per jieba word; covid_zh also without the test instances whose context occurs
  verbatim in train (protocol section 3.4);
- parity: the largest difference between kenlm's log10 probabilities on our ARPA file and our own, over all test
  references;
- scoring speed of our estimator beside kenlm's ``full_scores`` on the same references;
- generation speed (responses per second, median of --runs) for top-k sampling (the default), greedy and beam
  decoding, beside the peer the issue rules out: a top-k sampler that asks kenlm for every vocabulary entry at
  every step;
- the validation perplexity for a few context-tail lengths (the default is order-2 characters);
- when kenlm's ``lmplz`` binary is available (``--lmplz PATH``; the kenlm Python module has none), the same
  training sequences estimated by lmplz: whether both ARPA files list the same n-grams, the largest differences
  of their log10 probabilities and back-off weights, and both training times.

Writes ``benchmarks/results/lm.json`` and its rendering ``benchmarks/results/lm.md``.

    python benchmarks/bench_lm.py [--data-dir ../shared/data] [--runs 3]
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import median_time  # noqa: E402

from rmd_baselines import __version__  # noqa: E402
from rmd_baselines.corpus import load_dialogues, write_json, write_text  # noqa: E402
from rmd_baselines.persist import ModelReader, model_writer  # noqa: E402
from rmd_baselines.respond.lm import (  # noqa: E402
    BOS, BOS_ID, EOS, EOS_ID, UNK, UNK_ID, KneserNeyLM, kenlm_model, modified_kneser_ney_discounts, read_arpa,
    validate_arpa)
from rmd_baselines.respond.ngram import NgramResponder  # noqa: E402
from rmd_baselines.tasks import GenerationSettings, build_generation_task  # noqa: E402

TRAIN_TARGET_SECONDS = 30.0
GENERATION_TARGET_PER_SECOND = 20.0
GENERATION_CONTEXTS = 200
PEER_CONTEXTS = 20



def perplexity_of(responder: NgramResponder, instances) -> float | None:
    if not instances:
        return None
    return responder.perplexity([i.context for i in instances], [i.response for i in instances])


def kenlm_sampler_responses(model, responder: NgramResponder, contexts: list[str], seed: int) -> list[str]:
    """The peer: top-k sampling that asks kenlm for the score of every vocabulary entry at every step."""
    import kenlm

    vocab = responder.lm_.vocab_
    candidates = [i for i in range(len(vocab)) if i not in (UNK_ID, BOS_ID, responder._sep_id)]
    words = [vocab[i] for i in candidates]
    rng = np.random.default_rng(seed)
    responses = []
    for context in contexts:
        state = kenlm.State()
        model.BeginSentenceWrite(state)
        for token in responder.history_tokens(context)[1:]:
            following = kenlm.State()
            model.BaseScore(state, token, following)
            state = following
        generated: list[str] = []
        while len("".join(generated)) < responder.max_chars:
            scores = np.empty(len(words))
            states = []
            for j, word in enumerate(words):
                following = kenlm.State()
                scores[j] = model.BaseScore(state, word, following)
                states.append(following)
            probabilities = 10.0 ** scores
            if not generated:
                probabilities[candidates.index(EOS_ID)] = 0.0
            best = np.sort(np.argpartition(-probabilities, responder.top_k - 1)[: responder.top_k])
            cumulative = np.cumsum(probabilities[best])
            pick = int(best[min(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"),
                                len(best) - 1)])
            if candidates[pick] == EOS_ID:
                break
            generated.append(words[pick])
            state = states[pick]
        responses.append("".join(generated))
    return responses


def discounts_with_lmplz_flush_count(model: KneserNeyLM, sequences: list[list[str]]) -> np.ndarray:
    """Our discounts recomputed the way lmplz counts n1..n4: for every order below the highest, the n-gram it
    flushes last (the greatest in its suffix order, words numbered by first appearance) enters the
    count-of-counts with its raw count instead of its adjusted count."""
    first_seen = {UNK: 0, BOS: 1, EOS: 2}
    for tokens in sequences:
        for token in tokens:
            first_seen.setdefault(token, len(first_seen))
    lmplz_ids = np.array([first_seen[token] for token in model.vocab_])
    discounts = model.discounts_.copy()
    for k in range(1, model.order):
        words = model.ngram_words(k)
        last = int(np.lexsort(lmplz_ids[words].T)[-1])  # lexsort's primary key is the last word
        gram = [model.vocab_[i] for i in words[last]]
        raw = sum(1 for tokens in sequences for window in _windows([BOS, *tokens, EOS], k) if window == gram)
        counts = model.count_of_counts_[k - 1].copy()
        adjusted = int(model.tables_[k - 1].adjusted_count[last])
        for count, change in ((adjusted, -1), (raw, +1)):
            if 1 <= count <= 4:
                counts[count - 1] += change
        discounts[k - 1] = modified_kneser_ney_discounts(counts)[0]
    return discounts


def _windows(tokens: list[str], k: int):
    return (tokens[i:i + k] for i in range(len(tokens) - k + 1))


def compare_with_lmplz(lmplz: str, responder: NgramResponder, instances, runs: int) -> dict:
    """Estimate the same model with ``lmplz --discount_fallback`` and compare the two ARPA files entry by entry
    (lmplz writes p(<s>) as log10 1 = 0 where we write -99; nothing reads it, so it is left out)."""
    sequences = responder.training_sequences(instances)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        text = os.path.join(tmp, "train.txt")
        write_text(text, "".join(" ".join(s) + "\n" for s in sequences))
        for order in (3, 5):
            theirs_path, ours_path = os.path.join(tmp, "lmplz.arpa"), os.path.join(tmp, "ours.arpa")
            command = [lmplz, "-o", str(order), "--discount_fallback", "-S", "10%", "-T", tmp, "--text", text,
                       "--arpa", theirs_path]
            lmplz_seconds, lmplz_times, completed = median_time(
                lambda: subprocess.run(command, check=True, capture_output=True, text=True), runs)
            lmplz_discounts = [[float(d) for d in match] for match in re.findall(
                r"^\d+ \d+ D1=(\S+) D2=(\S+) D3\+=(\S+)$", completed.stderr, re.M)]

            def fit_and_write(order=order, ours_path=ours_path) -> KneserNeyLM:
                model = KneserNeyLM(order=order, unit=responder.unit).fit(sequences)
                model.write_arpa(ours_path)
                return model

            ours_seconds, ours_times, ours_model = median_time(fit_and_write, runs)
            discount_diff = flush_diff = None
            if len(lmplz_discounts) == order:
                discount_diff = float(np.abs(np.array(lmplz_discounts) - ours_model.discounts_).max())
                flush_diff = float(np.abs(np.array(lmplz_discounts)
                                          - discounts_with_lmplz_flush_count(ours_model, sequences)).max())
            theirs, ours = read_arpa(theirs_path), read_arpa(ours_path)
            same_ngrams, prob_diff, backoff_diff = theirs.counts == ours.counts, 0.0, 0.0
            for k in range(order):
                lookup = {g: i for i, g in enumerate(ours.ngrams[k])}
                if set(lookup) != set(theirs.ngrams[k]):
                    same_ngrams = False
                    continue
                if not lookup:
                    continue
                index = np.array([lookup[g] for g in theirs.ngrams[k]])
                keep = np.array([g != ("<s>",) for g in theirs.ngrams[k]])
                prob_diff = max(prob_diff, float(np.abs(theirs.log10_probs[k] - ours.log10_probs[k][index])[keep].max()))
                backoff_diff = max(backoff_diff, float(np.abs(theirs.log10_backoffs[k] - ours.log10_backoffs[k][index]).max()))
            rows.append({"order": order, "unit": responder.unit, "ngram_counts": theirs.counts,
                         "same_ngrams": same_ngrams, "lmplz_discounts": lmplz_discounts,
                         "max_abs_discount_difference": discount_diff,
                         "max_abs_discount_difference_with_lmplz_flush_count": flush_diff,
                         "max_abs_log10_prob_difference": prob_diff,
                         "max_abs_log10_backoff_difference": backoff_diff,
                         "lmplz_seconds_median": round(lmplz_seconds, 3), "lmplz_runs": lmplz_times,
                         "ours_fit_and_write_arpa_seconds_median": round(ours_seconds, 3), "ours_runs": ours_times})
    return {"lmplz": lmplz, "models": rows}


def bench_corpus(name: str, path: Path, runs: int, lmplz: str | None) -> dict:
    dialogues, _ = load_dialogues(path)
    data = build_generation_task(dialogues, GenerationSettings(), source=str(path))
    train_contexts = {i.context for i in data.train}
    unseen_test = [i for i in data.test if i.context not in train_contexts]
    result: dict = {
        "data": str(path),
        "split": data.describe(),
        "test_contexts_seen_in_train": len(data.test) - len(unseen_test),
    }

    # --- training (char, order 5: the default responder)
    train_seconds, train_runs, responder = median_time(
        lambda: NgramResponder(order=5, unit="char").fit(data.train), runs)
    with tempfile.TemporaryDirectory() as tmp:
        arpa_path = os.path.join(tmp, "lm.arpa")
        arpa_seconds, _, _ = median_time(lambda: responder.lm_.write_arpa(arpa_path), 1)
        arpa_bytes = os.path.getsize(arpa_path)
        validate_seconds, _, _ = median_time(lambda: validate_arpa(arpa_path), 1)
        load_seconds, load_runs, model = median_time(lambda: kenlm_model(arpa_path, validate=False), runs)
        save_seconds, _, _ = median_time(lambda: _save(responder, os.path.join(tmp, "model")), 1)
        reload_seconds, _, _ = median_time(
            lambda: NgramResponder.load(ModelReader(os.path.join(tmp, "model"))), runs)

        # --- parity and scoring speed on the test references
        histories = [responder.history_tokens(i.context) for i in data.test]
        references = [responder.response_tokens(i.response) for i in data.test]
        sentences = [h[1:] + r for h, r in zip(histories, references)]  # without the <s> kenlm adds itself
        ours_seconds, _, ours = median_time(lambda: [responder.lm_.score_tokens(s) for s in sentences], runs)
        kenlm_seconds, _, theirs = median_time(
            lambda: [np.array([x[0] for x in model.full_scores(" ".join(s))]) for s in sentences], runs)
        parity = max(float(np.abs(a - b).max()) for a, b in zip(ours, theirs))
        scored_tokens = sum(len(s) + 1 for s in sentences)

        # --- generation speed: ours (three decoders) and the per-vocabulary-entry kenlm peer
        contexts = [i.context for i in data.test[:GENERATION_CONTEXTS]]
        generation = {}
        for decoding in ("topk", "greedy", "beam"):
            decoder = copy.copy(responder).set_params(decoding=decoding)  # shares the fitted language model
            seconds, times, replies = median_time(lambda: decoder.respond_many(contexts), runs)
            lengths = [len(r.response) for r in replies]
            generation[decoding] = {"contexts": len(contexts), "seconds_median": round(seconds, 3), "runs": times,
                                    "responses_per_second": round(len(contexts) / seconds, 1),
                                    "mean_response_chars": round(statistics.mean(lengths), 1)}
        peer_contexts = contexts[:PEER_CONTEXTS]
        peer_seconds, peer_times, _ = median_time(
            lambda: kenlm_sampler_responses(model, responder, peer_contexts, seed=0), max(1, runs - 1))
        generation["peer_kenlm_per_vocabulary_entry_topk"] = {
            "contexts": len(peer_contexts), "seconds_median": round(peer_seconds, 3), "runs": peer_times,
            "responses_per_second": round(len(peer_contexts) / peer_seconds, 2)}

    result["train"] = {
        "model": "NgramResponder(order=5, unit='char')",
        "instances": len(data.train),
        "context_tail_chars": responder.context_tail_,
        "training_tokens": responder.lm_.n_tokens_,
        "vocabulary": len(responder.lm_.vocab_),
        "ngram_counts": [len(t) for t in responder.lm_.tables_],
        "discounts": [[round(d, 4) for d in row] for row in responder.lm_.discounts_.tolist()],
        "discount_fallback": responder.lm_.discount_fallback_.tolist(),
        "train_seconds_median": round(train_seconds, 3),
        "train_runs": train_runs,
        "write_arpa_seconds": round(arpa_seconds, 3),
        "arpa_bytes": arpa_bytes,
        "validate_arpa_seconds": round(validate_seconds, 3),
        "kenlm_load_seconds_median": round(load_seconds, 3),
        "kenlm_load_runs": load_runs,
        "save_model_dir_seconds": round(save_seconds, 3),
        "load_model_dir_seconds_median": round(reload_seconds, 3),
    }
    result["scoring"] = {
        "references": len(sentences), "tokens": scored_tokens,
        "parity_max_abs_log10_difference_kenlm_vs_ours": parity,
        "ours_tokens_per_second": round(scored_tokens / ours_seconds),
        "kenlm_full_scores_tokens_per_second": round(scored_tokens / kenlm_seconds),
    }
    result["generation"] = generation

    # --- perplexity of the test references, several orders and both units
    perplexities = []
    for order, unit in ((3, "char"), (4, "char"), (5, "char"), (6, "char"), (5, "word")):
        model_ = responder if (order, unit) == (5, "char") else NgramResponder(order=order, unit=unit).fit(data.train)
        row = {"order": order, "unit": unit, "signature": model_.signature,
               "test_perplexity": round(perplexity_of(model_, data.test), 3)}
        if result["test_contexts_seen_in_train"]:
            row["test_perplexity_without_contexts_seen_in_train"] = round(perplexity_of(model_, unseen_test), 3)
        perplexities.append(row)
    result["perplexity"] = perplexities

    # --- kenlm's own estimator on the same sequences, when an lmplz binary is available
    result["lmplz"] = compare_with_lmplz(lmplz, responder, data.train, runs) if lmplz else {
        "skipped": "no lmplz binary (pass --lmplz PATH or put it on PATH; the kenlm Python module has none)"}

    # --- context tail (validation split only)
    tails = []
    for tail in sorted({0, responder.context_tail_, 8, 20}):
        tuned = NgramResponder(order=5, context_tail=tail).fit(data.train)
        tails.append({"context_tail_chars": tail, "valid_perplexity": round(perplexity_of(tuned, data.valid), 3)})
    result["context_tail_valid_perplexity"] = tails
    return result


def _save(responder: NgramResponder, directory: str) -> None:
    with model_writer(directory, "respond") as writer:
        responder.save(writer)


def render_markdown(report: dict) -> str:
    lines = ["# Kneser-Ney language model and n-gram responder", "",
             f"Generated by `benchmarks/bench_lm.py` (rmd_baselines {report['version']}, commit "
             f"{report['environment']['commit']}, {report['environment']['cpus']} CPUs shared with other jobs; "
             f"training, loading, scoring and generation times are medians of {report['runs']} runs; writing, "
             "validating and saving the ARPA file single runs).", ""]
    for target in report["targets"]:
        status = "met" if target["met"] else "MISSED"
        lines.append(f"- **{target['name']}**: {target['value']} (target {target['target']}) — {status}")
    lines.append("")
    for name, corpus in report["corpora"].items():
        lines += [f"## {name}", ""]
        if "skipped" in corpus:
            lines += [f"Skipped: {corpus['skipped']}", ""]
            continue
        train, scoring = corpus["train"], corpus["scoring"]
        lines += [f"{corpus['split']}; {corpus['test_contexts_seen_in_train']} test contexts occur verbatim in "
                  f"train.", "",
                  "| training (order 5, char) | value |", "|---|---|",
                  f"| training tokens / vocabulary | {train['training_tokens']:,} / {train['vocabulary']:,} |",
                  f"| n-grams per order | {', '.join(f'{c:,}' for c in train['ngram_counts'])} |",
                  f"| train time (median) | {train['train_seconds_median']} s |",
                  f"| write ARPA | {train['write_arpa_seconds']} s, {train['arpa_bytes'] / 1e6:.1f} MB |",
                  f"| validate ARPA (our line-by-line check) | {train['validate_arpa_seconds']} s |",
                  f"| kenlm load of the ARPA (median) | {train['kenlm_load_seconds_median']} s |",
                  f"| save / load model directory | {train['save_model_dir_seconds']} s / "
                  f"{train['load_model_dir_seconds_median']} s |",
                  f"| kenlm vs ours, max abs log10 difference | {scoring['parity_max_abs_log10_difference_kenlm_vs_ours']:.2e} |",
                  f"| scoring tokens/s: ours / kenlm full_scores | {scoring['ours_tokens_per_second']:,} / "
                  f"{scoring['kenlm_full_scores_tokens_per_second']:,} |", ""]
        lines += ["| decoding | contexts | responses/s | mean chars |", "|---|---|---|---|"]
        for decoding, row in corpus["generation"].items():
            chars = row.get("mean_response_chars", "")
            lines.append(f"| {decoding} | {row['contexts']} | {row['responses_per_second']} | {chars} |")
        lines += ["", "| model | test perplexity | without contexts seen in train | signature |", "|---|---|---|---|"]
        for row in corpus["perplexity"]:
            without = row.get("test_perplexity_without_contexts_seen_in_train", "")
            lines.append(f"| order {row['order']}, {row['unit']} | {row['test_perplexity']} | {without} | "
                         f"`{row['signature']}` |")
        lmplz = corpus["lmplz"]
        if "skipped" in lmplz:
            lines += ["", f"lmplz comparison skipped: {lmplz['skipped']}."]
        else:
            lines += ["", "| same sequences through kenlm's lmplz | same n-grams | max abs discount difference "
                      "(with lmplz's flush count) | max abs log10 p difference | max abs log10 back-off difference | "
                      "lmplz s | ours (fit + write ARPA) s |", "|---|---|---|---|---|---|---|"]
            for row in lmplz["models"]:
                discount, flush = row["max_abs_discount_difference"], row["max_abs_discount_difference_with_lmplz_flush_count"]
                lines.append(f"| order {row['order']}, {row['unit']} ({', '.join(f'{c:,}' for c in row['ngram_counts'])}"
                             f" n-grams) | {'yes' if row['same_ngrams'] else 'NO'} | "
                             f"{'n/a' if discount is None else f'{discount:.1e} ({flush:.1e})'} | "
                             f"{row['max_abs_log10_prob_difference']:.1e} | {row['max_abs_log10_backoff_difference']:.1e} | "
                             f"{row['lmplz_seconds_median']} | {row['ours_fit_and_write_arpa_seconds_median']} |")
        lines += ["", "| context tail (chars) | valid perplexity (order 5, char) |", "|---|---|"]
        for row in corpus["context_tail_valid_perplexity"]:
            lines.append(f"| {row['context_tail_chars']} | {row['valid_perplexity']} |")
        lines.append("")
    lines += ["Perplexity: exp(total NLL / tokens) of the test references given the context tail and `<sep>`, the "
              "end-of-response token included; char models per character, the word model per jieba word (not "
              "comparable with the char rows).", "",
              "lmplz: lmplz prints its discounts with 6 digits and its probabilities with about 8, so differences "
              "below 1e-6 are rounding. Where the discounts differ by more, it is lmplz adding the raw instead of "
              "the adjusted count of the last n-gram of each lower order to its count-of-counts (see the "
              "docstring of `rmd_baselines/respond/lm/kneser_ney.py`); the probabilities then move with the "
              "discounts. The number in brackets recomputes our discounts with that count and shows it accounts "
              "for the whole difference.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("RMD_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lmplz", default=os.environ.get("LMPLZ") or shutil.which("lmplz"),
                        help="kenlm's lmplz binary, to compare our ARPA files with its (optional)")
    args = parser.parse_args()

    corpora = {
        "covid_zh": Path(args.data_dir) / "covid_zh" / "dialogues.jsonl",
        "imcs_v2_dev": Path(args.data_dir) / "imcs_v2_dev" / "dialogues.jsonl",
        "synthetic_sample": ROOT / "data" / "realmeddial_synthetic_sample.jsonl.gz",
    }
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    import kenlm  # noqa: F401  (its version is not exposed; the wheel is recorded by pip)

    report: dict = {
        "benchmark": "lm",
        "version": __version__,
        "runs": args.runs,
        "environment": {"python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count(),
                        "machine": platform.machine(), "commit": commit},
        "corpora": {},
    }
    for name, path in corpora.items():
        if not path.is_file():
            print(f"{name}: skipped ({path} not found)", file=sys.stderr)
            report["corpora"][name] = {"skipped": f"{path} not found"}
            continue
        print(f"{name}: benchmarking ...", file=sys.stderr)
        report["corpora"][name] = bench_corpus(name, path, args.runs, args.lmplz)

    targets = []
    covid = report["corpora"].get("covid_zh", {})
    if "train" in covid:
        seconds = covid["train"]["train_seconds_median"]
        targets.append({"name": "n-gram training on covid_zh (char, order 5), seconds", "value": seconds,
                        "target": f"< {TRAIN_TARGET_SECONDS:g}", "met": seconds < TRAIN_TARGET_SECONDS})
        rate = covid["generation"]["topk"]["responses_per_second"]
        targets.append({"name": "generation on covid_zh (top-k 50), responses/s", "value": rate,
                        "target": f">= {GENERATION_TARGET_PER_SECOND:g}", "met": rate >= GENERATION_TARGET_PER_SECOND})
    parities = [c["scoring"]["parity_max_abs_log10_difference_kenlm_vs_ours"]
                for c in report["corpora"].values() if "scoring" in c]
    if parities:
        targets.append({"name": "kenlm parity, max abs log10 difference over all test references",
                        "value": float(f"{max(parities):.3g}"), "target": "< 1e-4", "met": max(parities) < 1e-4})
    report["targets"] = targets

    out = Path(args.out)
    write_json(out / "lm.json", report)
    write_text(out / "lm.md", render_markdown(report))
    print(render_markdown(report))


if __name__ == "__main__":
    main()

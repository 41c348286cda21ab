"""Response-generation evaluation: both metric families in one pass, and the paper's Table 4 layout.

`evaluate_generation` tokenizes every hypothesis and reference exactly once with
`rmd_baselines.text.get_tokenizer(tokenize)` and shares those token lists with every metric. The ``dstc7`` family
then scores them the way its reference programs see the same text written to files with single spaces: BLEU/NIST
through mteval-v14c's normalisation (ASCII lowercased, ASCII punctuation split, see `normalize`), METEOR through
METEOR 1.5's ``-norm`` view, Entropy/Dist on the tokens as they are. By default NIST and METEOR reproduce the
programs as they run, quirks included (`nist`, `meteor_jar`); ``nist_variant="corrected"`` and
``meteor_align="optimal"`` are the named clean variants, and the signature says which was used. The ``paper``
family uses the tokens as they are and the first reference only (METEOR lowercases, as NLTK does). Both families report RAW values
(BLEU 0-1, NIST ≥ 0); the Table 4 layout multiplies the paper family's BLEU/NIST/METEOR by 100 as the paper prints
them.

Report shape::

    {"paper": {"bleu2", "bleu4", "nist4", "meteor", "entropy4", "dist1", "dist2", ["perplexity"], "signature",
               ["ci": {key: [low, high]}]},
     "dstc7": {...same keys...}}
"""

from __future__ import annotations

import math
import warnings
from typing import Mapping, Sequence

import numpy as np

from .. import paper as paper_figures
from ..errors import UsageError
from ..text import get_tokenizer
from .bleu import BleuStats, nltk_sentence_bleu
from .bootstrap import bootstrap_ci
from .dist import dist_from_array, dist_from_counts
from .entropy import entropy_from_array, entropy_from_counts
from .meteor import ALIGNMENTS as METEOR_ALIGNMENTS, MeteorAligner, MeteorStats, nltk_meteor
from .ngrams import PooledNgrams, all_ngram_counts, clip_by_order, closest_length, max_counts
from .nist import VARIANTS as NIST_VARIANTS, NistStats, nltk_sentence_nist
from .normalize import MeteorNormalizer, MtevalNormalizer, mostly_latin
from .perplexity import VARIANTS as PPL_VARIANTS, PerplexityStats
from .score import Score, make_signature
from .tables import render

FAMILIES = ("paper", "dstc7")
REPORT_KEYS = ("bleu2", "bleu4", "nist4", "meteor", "entropy4", "dist1", "dist2")
MAX_ORDER = 4
_DIVERSITY_KEYS = ("entropy4", "dist1", "dist2")


class LatinScriptWarning(UserWarning):
    """Hypotheses are mostly Latin script: METEOR here is exact-match only, English METEOR's other modules are out
    of scope."""


def _families(family: str) -> tuple[str, ...]:
    if family == "both":
        return FAMILIES
    if family in FAMILIES:
        return (family,)
    raise UsageError(f"unknown metric family {family!r} (choose from paper, dstc7, both)")


def _check_inputs(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> int:
    if isinstance(hyps, str) or not all(isinstance(h, str) for h in hyps):
        raise UsageError("hyps must be a list of strings, one per segment")
    if len(hyps) == 0:
        raise UsageError("no segments to score")
    if len(refs) != len(hyps):
        raise UsageError(f"{len(hyps)} hypotheses but {len(refs)} reference sets")
    n_refs = None
    for index, ref_set in enumerate(refs):
        if isinstance(ref_set, str) or not all(isinstance(r, str) for r in ref_set):
            raise UsageError(f"refs[{index}] must be a list of reference strings")
        if len(ref_set) == 0:
            raise UsageError(f"refs[{index}] is empty: every segment needs at least one reference")
        if n_refs is None:
            n_refs = len(ref_set)
        elif len(ref_set) != n_refs:
            raise UsageError(f"refs[{index}] has {len(ref_set)} references but refs[0] has {n_refs}: every segment "
                             "needs the same number (NIST uses the average length over the reference sets)")
    return n_refs


class GenerationStats:
    """Everything both families need, computed once per segment; corpus scores for any bootstrap weights."""

    def __init__(self, hyp_tokens: Sequence[Sequence[str]], ref_tokens: Sequence[Sequence[Sequence[str]]],
                 families: Sequence[str] = FAMILIES, paper_smoothing: str = "none", dstc7_normalize: bool = True,
                 meteor_align: str = "jar", nist_variant: str = "mteval"):
        if paper_smoothing not in ("none", "method1"):
            raise UsageError(f"unknown paper smoothing {paper_smoothing!r} (choose from none, method1)")
        _check_variants(meteor_align, nist_variant)
        self.families = tuple(families)
        self.n = len(hyp_tokens)
        self.n_refs = len(ref_tokens[0])
        self.meteor_align, self.nist_variant = meteor_align, nist_variant
        self.pool = PooledNgrams(hyp_tokens, (1, 2, 4))
        self._score_segments(hyp_tokens, ref_tokens, paper_smoothing, dstc7_normalize)

    def _score_segments(self, hyp_tokens, ref_tokens, smoothing: str, normalize: bool) -> None:
        """One pass over the segments; n-gram counts are shared wherever a family sees the same tokens."""
        do_dstc7, do_paper = "dstc7" in self.families, "paper" in self.families
        identity = lambda tokens: tokens  # noqa: E731
        mteval = MtevalNormalizer() if normalize else identity
        meteor_view = MeteorNormalizer() if normalize else (lambda tokens: [t.lower() for t in tokens])
        bleu_rows, clips, hyp_lens, norm_refs, meteor_hyps, meteor_refs = [], [], [], [], [], []
        paper_rows = []
        for hyp, ref_set in zip(hyp_tokens, ref_tokens):
            hyp_counts = all_ngram_counts(hyp, MAX_ORDER)
            ref_counts = [all_ngram_counts(r, MAX_ORDER) for r in ref_set]
            if do_dstc7:
                hyp_n = mteval(hyp)
                refs_n = [mteval(r) for r in ref_set]
                hyp_counts_n = hyp_counts if hyp_n is hyp else all_ngram_counts(hyp_n, MAX_ORDER)
                ref_counts_n = [c if r_n is r else all_ngram_counts(r_n, MAX_ORDER)
                                for c, r, r_n in zip(ref_counts, ref_set, refs_n)]
                found, matches = clip_by_order(hyp_counts_n, max_counts(ref_counts_n), MAX_ORDER)
                hyp_len = len(hyp_n)
                bleu_rows.append(matches + [max(0, hyp_len - k) for k in range(MAX_ORDER)]
                                 + [closest_length(hyp_len, [len(r) for r in refs_n])])
                clips.append(found)
                hyp_lens.append(hyp_len)
                norm_refs.append(refs_n)
                meteor_hyps.append(meteor_view(hyp))
                meteor_refs.append([meteor_view(r) for r in ref_set])
            if do_paper:
                ref = ref_set[0]
                if do_dstc7 and len(ref_set) == 1 and hyp_counts_n is hyp_counts and ref_counts_n[0] is ref_counts[0]:
                    found_p, matches_p = found, matches
                else:
                    found_p, matches_p = clip_by_order(hyp_counts, ref_counts[0], MAX_ORDER)
                hyp_len_p, ref_len_p = len(hyp), len(ref)
                paper_rows.append((
                    nltk_sentence_bleu(matches_p, hyp_len_p, ref_len_p, 2, smoothing),
                    nltk_sentence_bleu(matches_p, hyp_len_p, ref_len_p, 4, smoothing),
                    nltk_sentence_nist(found_p, ref_counts[0], hyp_len_p, ref_len_p, 4),
                    nltk_meteor([t.lower() for t in hyp], [t.lower() for t in ref]),
                ))
        if do_dstc7:
            self.bleu = BleuStats(np.asarray(bleu_rows, dtype=np.float64), MAX_ORDER)
            self.nist = NistStats(clips, hyp_lens, norm_refs, MAX_ORDER, self.nist_variant)
            self.meteor = MeteorStats(MeteorAligner(self.meteor_align).segments(meteor_hyps, meteor_refs))
        if do_paper:
            self.paper_segments = np.asarray(paper_rows, dtype=np.float64).reshape(-1, 4)

    def diversity(self, weights: np.ndarray | None = None) -> dict[str, float]:
        if weights is None:
            return {
                "entropy4": entropy_from_counts(self.pool.counts(4).values()),
                "dist1": dist_from_counts(self.pool.counts(1).values()),
                "dist2": dist_from_counts(self.pool.counts(2).values()),
            }
        return {
            "entropy4": entropy_from_array(self.pool.weighted_counts(4, weights)),
            "dist1": dist_from_array(self.pool.weighted_counts(1, weights)),
            "dist2": dist_from_array(self.pool.weighted_counts(2, weights)),
        }

    def family_scores(self, family: str, weights: np.ndarray | None = None,
                      keys: Sequence[str] = REPORT_KEYS) -> dict[str, float]:
        out: dict[str, float] = {}
        if family == "dstc7":
            if "bleu2" in keys or "bleu4" in keys:
                bleu = self.bleu.scores(weights)
                out["bleu2"], out["bleu4"] = bleu[1], bleu[3]
            if "nist4" in keys:
                out["nist4"] = self.nist.scores(weights)[3]
            if "meteor" in keys:
                out["meteor"] = self.meteor.score(weights)
        else:
            w = np.ones(self.n) if weights is None else weights
            means = (w @ self.paper_segments) / w.sum()
            out.update(bleu2=float(means[0]), bleu4=float(means[1]), nist4=float(means[2]), meteor=float(means[3]))
        out = {k: float(v) for k, v in out.items()}
        if any(k in keys for k in ("entropy4", "dist1", "dist2")):
            out.update(self.diversity(weights))
        return {k: out[k] for k in REPORT_KEYS if k in keys}

    def statistic(self, weights: np.ndarray | None = None, keys: Sequence[str] = REPORT_KEYS) -> dict[str, float]:
        """``{"family.key": value}`` for every family (the bootstrap's statistic)."""
        values = {}
        for family in self.families:
            for key, value in self.family_scores(family, weights, keys).items():
                values[f"{family}.{key}"] = value
        return values


def _check_variants(meteor_align: str, nist_variant: str) -> None:
    if meteor_align not in METEOR_ALIGNMENTS:
        raise UsageError(f"unknown METEOR alignment {meteor_align!r} (choose from {', '.join(METEOR_ALIGNMENTS)})")
    if nist_variant not in NIST_VARIANTS:
        raise UsageError(f"unknown NIST variant {nist_variant!r} (choose from {', '.join(NIST_VARIANTS)})")


# The dstc7 family's NIST and METEOR variants as signatures name them (the defaults reproduce the programs).
_NIST_SIGNATURE = {"mteval": "mteval-v14c", "corrected": "corrected"}
_METEOR_SIGNATURE = {"jar": "1.5-jar", "optimal": "optimal"}


def family_signature(family: str, tokenizer_signature: str, n_refs: int, paper_smoothing: str = "none",
                     dstc7_normalize: bool = True, ppl: str | None = None, meteor_align: str = "jar",
                     nist_variant: str = "mteval") -> str:
    """The signature of one family's report: tokenization, every metric's variant, references, version."""
    if family == "dstc7":
        return make_signature(
            "dstc7", tok=tokenizer_signature, norm="mteval-v14c+meteor-norm" if dstc7_normalize else "none",
            nrefs=n_refs, bleu="mteval-v14c-corpus,bp:closest,smooth:mteval",
            nist=f"{_NIST_SIGNATURE[nist_variant]},corpus,lp:avgref",
            meteor=f"{_METEOR_SIGNATURE[meteor_align]},exact,rank:a0.85-b0.20-g0.60-d0.75,corpus",
            entropy="ln,pooled", dist="pooled", ppl=ppl)
    return make_signature(
        "paper", tok=tokenizer_signature, nrefs=f"{n_refs}(first-used)",
        bleu=f"nltk-sentence-avg,smooth:{paper_smoothing}", nist="nltk-sentence-avg,0-if-shorter-than-4",
        meteor="nltk-exact,a0.9-b3-g0.5,lower,sentence-avg", entropy="ln,pooled", dist="pooled", ppl=ppl)


_NAMES = {"bleu2": "BLEU-2", "bleu4": "BLEU-4", "nist4": "NIST-4", "meteor": "METEOR", "entropy4": "Entropy-4",
          "dist1": "Dist-1", "dist2": "Dist-2", "perplexity": "PPL"}


def scores_from_report(report: Mapping) -> list[Score]:
    """The report as `Score` objects (raw values), each signed ``NAME|<family signature>``, with its interval."""
    out = []
    for family in FAMILIES:
        values = report.get(family)
        if not values:
            continue
        intervals = values.get("ci", {})
        for key, name in _NAMES.items():
            if key in values:
                ci = tuple(intervals[key]) if key in intervals else None
                out.append(Score(name, values[key], family, f"{name}|{values['signature']}", ci))
    return out


def generation_statistic(hyps: Sequence[str], refs: Sequence[Sequence[str]], tokenize: str = "char",
                         family: str = "both", paper_smoothing: str = "none", dstc7_normalize: bool = True,
                         meteor_align: str = "jar", nist_variant: str = "mteval"):
    """A function ``(weights, keys=REPORT_KEYS) -> {"family.key": value}`` for bootstrap tests."""
    _check_inputs(hyps, refs)
    tokenizer = get_tokenizer(tokenize)
    stats = GenerationStats(tokenizer.tokenize_many(hyps), [tokenizer.tokenize_many(r) for r in refs],
                            _families(family), paper_smoothing, dstc7_normalize, meteor_align, nist_variant)
    return stats.statistic


def evaluate_generation(hyps: Sequence[str], refs: Sequence[Sequence[str]], tokenize: str = "char",
                        family: str = "both", logprobs: Sequence[Sequence[float]] | None = None, ci: bool = False,
                        seed: int = 0, n_boot: int = 1000, paper_smoothing: str = "none",
                        dstc7_normalize: bool = True, ppl_variant: str = "token", meteor_align: str = "jar",
                        nist_variant: str = "mteval") -> dict:
    """Score hypotheses against reference sets with both metric families (see the module docstring).

    ``refs[i]`` is the list of reference strings of segment i (the same number for every segment; the ``paper``
    family uses the first). ``logprobs`` (per segment, the natural-log probabilities of the reference tokens)
    adds ``perplexity`` (``ppl_variant`` token or sample_mean). ``ci=True`` adds 95 % bootstrap intervals over
    segments (``n_boot`` replicates, ``seed``). ``paper_smoothing="method1"`` gives the MedDialog GPT-2 script's
    BLEU; ``dstc7_normalize=False`` scores the tokens exactly as given (sacreBLEU ``tokenize='none'`` parity).
    ``meteor_align`` (``jar`` = METEOR 1.5's beam search as it runs, ``optimal`` = the minimum-chunk alignment)
    and ``nist_variant`` (``mteval`` = mteval-v14c as it runs, ``corrected``) choose the ``dstc7`` family's
    variants; each is named in the signature.
    """
    families = _families(family)
    _check_variants(meteor_align, nist_variant)
    n_refs = _check_inputs(hyps, refs)
    tokenizer = get_tokenizer(tokenize)
    hyp_tokens = tokenizer.tokenize_many(hyps)
    ref_tokens = [tokenizer.tokenize_many(ref_set) for ref_set in refs]
    if mostly_latin(hyp_tokens):
        warnings.warn("hypotheses are mostly Latin script: METEOR here is exact-match only (METEOR 1.5 -m exact; no "
                      "English stemmer, synonyms or paraphrases) and will not equal METEOR 1.5's default modules or "
                      "NLTK on English", LatinScriptWarning,
                      stacklevel=2)
    stats = GenerationStats(hyp_tokens, ref_tokens, families, paper_smoothing, dstc7_normalize, meteor_align,
                            nist_variant)
    ppl_stats = None
    if logprobs is not None:
        if ppl_variant not in PPL_VARIANTS:
            raise UsageError(f"unknown perplexity variant {ppl_variant!r} (choose from {', '.join(PPL_VARIANTS)})")
        if len(logprobs) != len(hyps):
            raise UsageError(f"{len(logprobs)} log-probability rows for {len(hyps)} segments")
        ppl_stats = PerplexityStats([[-value for value in row] for row in _check_logprobs(logprobs)])
    report: dict = {}
    for fam in families:
        values = stats.family_scores(fam)
        if ppl_stats is not None:
            values["perplexity"] = ppl_stats.value(ppl_variant)
        values["signature"] = family_signature(fam, tokenizer.signature, n_refs, paper_smoothing, dstc7_normalize,
                                               ppl_variant if ppl_stats is not None else None, meteor_align,
                                               nist_variant)
        report[fam] = values
    if ci:
        def statistic(weights):
            values = stats.statistic(weights)
            if ppl_stats is not None:
                for fam in families:
                    values[f"{fam}.perplexity"] = ppl_stats.value(ppl_variant, weights)
            return values

        shifted = {f"{fam}.{key}": report[fam][key] for fam in families for key in _DIVERSITY_KEYS}
        ranges = {f"{fam}.{key}": (0.0, math.inf if key.startswith("entropy") else 1.0)
                  for fam in families for key in _DIVERSITY_KEYS}
        intervals = bootstrap_ci(statistic, len(hyps), n_boot=n_boot, seed=seed, bias_shift=shifted, limits=ranges)
        for fam in families:
            report[fam]["ci"] = {key.split(".", 1)[1]: list(bounds) for key, bounds in intervals.items()
                                 if key.startswith(fam + ".")}
            report[fam]["ci_method"] = (f"percentile-bootstrap,95%,n_boot:{n_boot},seed:{seed},"
                                        "entropy/dist:bias-shifted")
    return report


def _check_logprobs(logprobs: Sequence[Sequence[float]]) -> Sequence[Sequence[float]]:
    from ..errors import DataError

    for index, row in enumerate(logprobs):
        for value in row:
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise DataError(f"segment {index + 1}: logprobs: {value!r} is not a finite number")
            if value > 0:
                raise DataError(f"segment {index + 1}: logprobs: {value!r} is positive (log-probabilities are <= 0)")
    return logprobs


# --- Table 4 ---------------------------------------------------------------------------------------------------------

# Decimals per row: (paper family ×100, dstc7 raw).
_DIGITS = {"perplexity": (2, 2), "nist4": (3, 4), "bleu2": (3, 4), "bleu4": (3, 4), "meteor": (3, 4),
           "entropy4": (2, 2), "dist1": (3, 3), "dist2": (3, 3)}
_SCALED = ("nist4", "bleu2", "bleu4", "meteor")
# The paper's own columns keep the decimals it prints.
_PAPER_DIGITS = {"perplexity": 2, "nist4": 2, "bleu2": 3, "bleu4": 3, "meteor": 3, "entropy4": 2, "dist1": 3,
                 "dist2": 3}


def _is_report(obj: Mapping) -> bool:
    return any(fam in obj and isinstance(obj[fam], Mapping) and "bleu4" in obj[fam] for fam in FAMILIES)


def _cell(report: Mapping, family: str, key: str) -> str:
    value = report.get(family, {}).get(key)
    if value is None:
        return "—"
    digits = _DIGITS[key][0 if family == "paper" else 1]
    if family == "paper" and key in _SCALED:
        value = value * 100.0
    return f"{value:.{digits}f}"


def format_table4(report: Mapping, paper: bool = True) -> str:
    """The paper's Table 4 as text, for one report or ``{system name: report}``.

    Our columns come first: the ``paper`` family with BLEU/NIST/METEOR ×100 as the paper prints them, then the
    ``dstc7`` family raw. With ``paper=True`` the paper's three transformer columns follow, labelled as the paper's
    figures on RealMedDial. Signatures (and intervals, when present) are printed under the table.
    """
    systems = {"ours": report} if _is_report(report) else dict(report)
    if not systems or not all(_is_report(r) for r in systems.values()):
        raise UsageError("format_table4 needs an evaluate_generation report or a {name: report} mapping")
    header, columns = ["Metric"], []
    for name, rep in systems.items():
        for fam in FAMILIES:
            if fam in rep:
                header.append(f"{name} {fam}" + (" (×100)" if fam == "paper" else " (raw)"))
                columns.append((rep, fam))
    if paper:
        header += [f"{system}*" for system in paper_figures.TABLE4_SYSTEMS]
    rows = []
    for key, label in paper_figures.TABLE4_ROWS:
        cells = [_cell(rep, fam, key) for rep, fam in columns]
        if paper:
            cells += [f"{value:.{_PAPER_DIGITS[key]}f}" for value in paper_figures.TABLE4[key]]
        rows.append([label, *cells])
    notes = []
    if paper:
        notes.append(f"* {paper_figures.PAPER_LABEL}: transformers we do not run, as printed in the paper "
                     "(BLEU/NIST/METEOR ×100, sentence-level NLTK family; metrics-spec.md section 9).")
    notes.append("×100: the paper family's BLEU/NIST/METEOR multiplied by 100 as the paper prints them; "
                 "Entropy (nats), Dist and perplexity are raw.")
    # Systems scored the same way share a signature: print each once, naming the columns it applies to.
    signature_columns: dict[str, list[str]] = {}
    for name, rep in systems.items():
        for fam in FAMILIES:
            if fam in rep:
                signature_columns.setdefault(rep[fam].get("signature", ""), []).append(f"{name} {fam}")
    for signature, names in signature_columns.items():
        notes.append(f"{', '.join(names)}: {signature}")
    for name, rep in systems.items():
        for fam in FAMILIES:
            if fam not in rep:
                continue
            if "ci" in rep[fam]:
                notes.append(f"{name} {fam}:")
                parts = [f"{key} [{low:.4f}, {high:.4f}]" for key, (low, high) in rep[fam]["ci"].items()]
                notes.append("  95% CI (raw): " + ", ".join(parts))
    return render(header, rows, notes)



def evaluate_generation_files(hyp_path: str, ref_paths: Sequence[str], logprobs_path: str | None = None,
                              **options) -> dict:
    """`evaluate_generation` on files (see `rmd_baselines.metrics.io` for the formats); parallel files are checked."""
    from .io import check_same_length, read_logprobs, read_segments

    if not ref_paths:
        raise UsageError("at least one reference file is needed (--ref FILE)")
    hyps = read_segments(hyp_path)
    reference_sets = []
    for path in ref_paths:
        segments = read_segments(path)
        check_same_length(hyp_path, len(hyps), path, len(segments), "segments")
        reference_sets.append(segments)
    logprobs = None
    if logprobs_path is not None:
        logprobs = read_logprobs(logprobs_path)
        check_same_length(hyp_path, len(hyps), logprobs_path, len(logprobs), "rows")
    refs = [list(group) for group in zip(*reference_sets)]
    return evaluate_generation(hyps, refs, logprobs=logprobs, **options)

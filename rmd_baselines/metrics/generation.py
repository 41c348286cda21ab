"""Response-generation evaluation: both metric families in one pass, and the paper's Table 4 layout.

`evaluate_generation` tokenizes every hypothesis and reference exactly once with
`rmd_baselines.text.get_tokenizer(tokenize)` and shares those token lists with every metric. The ``dstc7`` family
then scores them the way its reference programs see the same text written to files with single spaces: BLEU/NIST
through mteval-v14c's normalisation (ASCII lowercased, ASCII punctuation split, see `normalize`), METEOR through
METEOR 1.5's ``-norm`` view, Entropy/Dist on the tokens as they are. By default NIST and METEOR reproduce the
programs as they run, quirks included (`nist`, `meteor_jar`); ``nist_variant="corrected"`` and
``meteor_align="optimal"`` are the named clean variants, and the signature says which was used. The ``paper``
family uses the tokens as they are and the first reference only (METEOR lowercases, as NLTK does). Both families
report RAW values
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
from typing import Iterator, Mapping, Sequence

import numpy as np

from .. import paper as paper_figures
from ..errors import UsageError
from ..text import get_tokenizer
from . import significance
from .bleu import BleuStats, mteval_bleu, nltk_sentence_bleu
from .bootstrap import intervals, resample_weight_chunks
from .dist import dist_from_array, dist_from_counts
from .entropy import entropy_from_array, entropy_from_counts
from .meteor import ALIGNMENTS as METEOR_ALIGNMENTS, MeteorAligner, MeteorStats, meteor15_from_stats, nltk_meteor
from .ngrams import PooledNgrams, all_ngram_counts, clip_by_order, closest_length, max_counts
from .nist import VARIANTS as NIST_VARIANTS, NistStats, nltk_sentence_nist
from .normalize import MeteorNormalizer, MtevalNormalizer, mostly_latin
from .perplexity import VARIANTS as PPL_VARIANTS, PerplexityStats
from .pooled import PooledCounts, WeightBlock, dist as pooled_dist, entropy as pooled_entropy, ngram_rows
from .score import Score, make_signature
from .tables import render

FAMILIES = ("paper", "dstc7")
REPORT_KEYS = ("bleu2", "bleu4", "nist4", "meteor", "entropy4", "dist1", "dist2")
MAX_ORDER = 4
_DIVERSITY_KEYS = ("entropy4", "dist1", "dist2")
# Metrics whose bootstrap replicates are biased, so that their intervals are shifted (see `bootstrap`): the pooled
# diversity metrics of both families, and dstc7 NIST, whose information weights come from the pooled references.
_BIASED = tuple(f"{family}.{key}" for family in FAMILIES for key in _DIVERSITY_KEYS) + ("dstc7.nist4",)
_SHIFTED_NAMES = "Entropy/Dist and dstc7 NIST"
# Columns of `GenerationStats.paper_segments`, and the keys of per-segment scores in both families.
SEGMENT_KEYS = ("bleu2", "bleu4", "nist4", "meteor")


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


def _bleu_of_rows(rows: np.ndarray) -> np.ndarray:
    """mteval BLEU-1..4 of each row of BLEU statistics (matches 1..4, totals 1..4, effective reference length)."""
    return np.array([mteval_bleu(row[:MAX_ORDER], row[MAX_ORDER:2 * MAX_ORDER], row[2 * MAX_ORDER], MAX_ORDER)
                     for row in rows]).reshape(-1, MAX_ORDER)


class GenerationStats:
    """Everything both families need, computed once per segment; corpus scores for any bootstrap weights."""

    def __init__(self, hyp_tokens: Sequence[Sequence[str]], ref_tokens: Sequence[Sequence[Sequence[str]]],
                 families: Sequence[str] = FAMILIES, paper_smoothing: str = "none", dstc7_normalize: bool = True,
                 meteor_align: str = "jar", nist_variant: str = "mteval"):
        if paper_smoothing not in ("none", "method1"):
            raise UsageError(f"unknown paper smoothing {paper_smoothing!r} (choose from none, method1)")
        _check_variants(meteor_align, nist_variant)
        self.meteor_align, self.nist_variant = meteor_align, nist_variant
        self.families = tuple(families)
        self.n = len(hyp_tokens)
        self.n_refs = len(ref_tokens[0])
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

    def linear_rows(self) -> dict[str, np.ndarray]:
        """Per-segment statistics whose column sums over any multiset of segments give the corpus metrics:
        ``bleu`` (mteval matches 1..4, totals 1..4, effective reference length), ``meteor`` (METEOR 1.5's seven
        counts), ``nist`` (information-weighted matches and totals, the corpus's reference pool: exact when the
        references stay put, as in approximate randomization), ``paper`` (the sentence-level scores)."""
        rows = {}
        if "dstc7" in self.families:
            rows.update(bleu=self.bleu.rows, meteor=self.meteor.rows, nist=self.nist.fixed_pool_rows())
        if "paper" in self.families:
            rows["paper"] = self.paper_segments
        return rows

    def scores_from_sums(self, sums: Mapping[str, np.ndarray], segments: np.ndarray) -> dict[str, np.ndarray]:
        """``{"family.key": values}`` from summed `linear_rows` (one row of sums per replicate; ``segments`` is how
        many segments each replicate holds), for the keys whose rows are given."""
        out: dict[str, np.ndarray] = {}
        if "bleu" in sums:
            bleu = _bleu_of_rows(sums["bleu"])
            out["dstc7.bleu2"], out["dstc7.bleu4"] = bleu[:, 1], bleu[:, 3]
        if "nist" in sums:
            out["dstc7.nist4"] = np.array([self.nist.score_fixed_pool(row)[3] for row in sums["nist"]])
        if "meteor" in sums:
            out["dstc7.meteor"] = np.array([meteor15_from_stats(row) for row in sums["meteor"]])
        if "paper" in sums:
            means = sums["paper"] / np.asarray(segments, dtype=np.float64)[:, None]
            out.update({f"paper.{key}": means[:, column] for column, key in enumerate(SEGMENT_KEYS)})
        return out

    def segment_scores(self) -> dict[str, dict[str, np.ndarray]]:
        """Sentence-level BLEU-2/4, NIST-4 and METEOR of every segment: ``{family: {key: values}}``. For ``dstc7``,
        each is the family's corpus formula applied to that one segment (mteval BLEU with its smoothing, NIST with
        information weights from that segment's references, METEOR 1.5's segment score); ``paper`` is NLTK's."""
        out = {}
        if "dstc7" in self.families:
            bleu = _bleu_of_rows(self.bleu.rows)
            out["dstc7"] = {"bleu2": bleu[:, 1], "bleu4": bleu[:, 3], "nist4": self.nist.segment_scores()[:, 3],
                            "meteor": np.array(self.meteor.segment_scores())}
        if "paper" in self.families:
            out["paper"] = {key: self.paper_segments[:, column] for column, key in enumerate(SEGMENT_KEYS)}
        return out


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


DIVERSITY_ORDERS = (1, 2, 4)
# What Entropy-4 and Dist-1/2 need from each order's pool.
_POOL_QUANTITIES = {1: ("total", "distinct"), 2: ("total", "distinct"), 4: ("total", "xlogx")}


class SystemStatistics:
    """One system's statistics for `significance.paired_tests` and bootstrap intervals: every metric of its
    families (and perplexity, when log-probabilities are given) recomputed exactly from rows computed once, for
    segment weights (the bootstrap) or with its segments swapped with another system's (approximate randomization).

    Linear statistics are summed, then the metric's formula is applied: dstc7 BLEU and METEOR, NIST with the
    corpus's reference pool, the paper family's sentence scores (`GenerationStats.linear_rows`), perplexity's
    log-likelihood sums and token counts. A bootstrap replicate resamples the references too, so NIST re-pools its
    information weights per replicate (`nist.NistStats.scores`); a swap leaves them alone. Entropy/Dist come from
    pooled n-gram counts (`pooled.PooledCounts`), the same in both families.
    """

    def __init__(self, stats: GenerationStats, nll: Sequence[Sequence[float]] | None = None,
                 ppl_variant: str = "token"):
        self.stats = stats
        self.n = stats.n
        self.families = stats.families
        self.nll = nll
        self.ppl_variant = ppl_variant
        self.perplexity = PerplexityStats(nll) if nll is not None else None
        self._rows: dict[str, np.ndarray] | None = None
        self._own_counts: dict[int, PooledCounts] | None = None

    @property
    def rows(self) -> dict[str, np.ndarray]:
        """`GenerationStats.linear_rows`, computed on first use (plain scoring never needs them)."""
        if self._rows is None:
            self._rows = self.stats.linear_rows()
        return self._rows

    def observed(self) -> dict[str, float]:
        values = self.stats.statistic()
        if self.perplexity is not None:
            value = self.perplexity.value(self.ppl_variant)
            values.update({f"{family}.perplexity": value for family in self.families})
        return values

    def _diversity(self, pools: Mapping[int, PooledCounts], weights: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Entropy-4, Dist-1, Dist-2 under each weight row, for the pools (and their mirrors) of `PooledCounts`."""
        weights = WeightBlock(weights)
        unigrams = pools[1].evaluate(weights, _POOL_QUANTITIES[1])
        bigrams = pools[2].evaluate(weights, _POOL_QUANTITIES[2])
        fourgrams = pools[4].evaluate(weights, _POOL_QUANTITIES[4])
        out = []
        for side in range(len(unigrams)):
            values = {"entropy4": pooled_entropy(fourgrams[side]["total"], fourgrams[side]["xlogx"]),
                      "dist1": pooled_dist(unigrams[side]["total"], unigrams[side]["distinct"]),
                      "dist2": pooled_dist(bigrams[side]["total"], bigrams[side]["distinct"])}
            out.append({f"{family}.{key}": value for family in self.families for key, value in values.items()})
        return out

    def _perplexities(self, stats: PerplexityStats, weights: np.ndarray) -> dict[str, np.ndarray]:
        values = np.array([stats.value(self.ppl_variant, row) for row in weights])
        return {f"{family}.perplexity": values for family in self.families}

    def replicates(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric for each row of a (replicates x segments) matrix of multiplicities."""
        weights = np.asarray(weights, dtype=np.float64)
        if self._own_counts is None:
            self._own_counts = {order: PooledCounts(ngram_rows([self.stats.pool.token_lists], order)[0],
                                                    quantities=_POOL_QUANTITIES[order])
                                for order in DIVERSITY_ORDERS}
        sums = {name: weights @ rows for name, rows in self.rows.items() if name != "nist"}
        values = self.stats.scores_from_sums(sums, weights.sum(axis=1))
        if "dstc7" in self.families:
            values["dstc7.nist4"] = np.array([self.stats.nist.scores(row)[3] for row in weights])
        values.update(self._diversity(self._own_counts, weights)[0])
        if self.perplexity is not None:
            values.update(self._perplexities(self.perplexity, weights))
        return self._in_report_order(values)

    def _in_report_order(self, values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {f"{family}.{key}": values[f"{family}.{key}"] for family in self.families
                for key in (*REPORT_KEYS, "perplexity") if f"{family}.{key}" in values}

    def randomization(self, other: "SystemStatistics"):
        """The function of a (trials x segments) boolean mask giving the metrics of both pseudo-systems: the first
        takes this system's segment where the mask is True and ``other``'s elsewhere, the second the reverse."""
        if (self.perplexity is None) != (other.perplexity is None):
            raise UsageError("perplexity needs log-probabilities for every system or for none")
        moved_rows = {name: rows - other.rows[name] for name, rows in self.rows.items()}
        totals = ({name: rows.sum(axis=0) for name, rows in other.rows.items()},
                  {name: rows.sum(axis=0) for name, rows in self.rows.items()})
        pools = {}
        for order in DIVERSITY_ORDERS:
            mine, theirs = ngram_rows([self.stats.pool.token_lists, other.stats.pool.token_lists], order)
            pooled_mine, pooled_theirs = np.asarray(mine.sum(axis=0)).ravel(), np.asarray(theirs.sum(axis=0)).ravel()
            pools[order] = PooledCounts(mine - theirs, base=pooled_theirs, mirror=pooled_mine + pooled_theirs,
                                        max_weight=1, quantities=_POOL_QUANTITIES[order])
        both = PerplexityStats(list(self.nll) + list(other.nll)) if self.perplexity is not None else None

        def pseudo_systems(masks: np.ndarray) -> tuple[dict, dict]:
            taken = np.asarray(masks, dtype=np.float64)
            segments = np.full(len(taken), float(self.n))
            moved = {name: taken @ rows for name, rows in moved_rows.items()}
            diversity = self._diversity(pools, masks)
            out = []
            for side, sign in ((0, 1.0), (1, -1.0)):
                values = self.stats.scores_from_sums(
                    {name: totals[side][name] + sign * moved[name] for name in moved}, segments)
                values.update(diversity[side])
                if both is not None:
                    stacked = np.hstack([taken, 1.0 - taken]) if side == 0 else np.hstack([1.0 - taken, taken])
                    values.update(self._perplexities(both, stacked))
                out.append(self._in_report_order(values))
            return out[0], out[1]

        return pseudo_systems

    def bootstrap_table(self, n_boot: int, seed: int) -> dict[str, np.ndarray]:
        """Every metric on each of the ``n_boot`` seeded bootstrap replicates (`bootstrap.resample_weight_chunks`)."""
        parts: dict[str, list] = {}
        for weights in resample_weight_chunks(self.n, n_boot, seed):
            for key, values in self.replicates(weights).items():
                parts.setdefault(key, []).append(values)
        return {key: np.concatenate(values) for key, values in parts.items()}


def _score_systems(hyps_by_system: Sequence[Sequence[str]], refs: Sequence[Sequence[str]], tokenize: str,
                   family: str, logprobs_by_system: Sequence, paper_smoothing: str, dstc7_normalize: bool,
                   ppl_variant: str, **metric_options) -> tuple[list[SystemStatistics], list[dict]]:
    """Tokenize every text once, compute each system's statistics and its report (values and signatures).

    ``metric_options`` (metric variants) go unchanged to `GenerationStats` and `family_signature`.
    """
    families = _families(family)
    if ppl_variant not in PPL_VARIANTS:
        raise UsageError(f"unknown perplexity variant {ppl_variant!r} (choose from {', '.join(PPL_VARIANTS)})")
    n_refs = 0
    for hyps in hyps_by_system:
        n_refs = _check_inputs(hyps, refs)
    tokenizer = get_tokenizer(tokenize)
    ref_tokens = [tokenizer.tokenize_many(ref_set) for ref_set in refs]
    hyp_tokens_by_system = [tokenizer.tokenize_many(hyps) for hyps in hyps_by_system]
    if any(mostly_latin(tokens) for tokens in hyp_tokens_by_system):
        warnings.warn("hypotheses are mostly Latin script: METEOR here is exact-match only (METEOR 1.5 -m exact; no "
                      "English stemmer, synonyms or paraphrases) and will not equal METEOR 1.5's default modules or "
                      "NLTK on English", LatinScriptWarning,
                      stacklevel=3)
    systems, reports = [], []
    for hyp_tokens, logprobs in zip(hyp_tokens_by_system, logprobs_by_system):
        stats = GenerationStats(hyp_tokens, ref_tokens, families, paper_smoothing, dstc7_normalize, **metric_options)
        nll = None
        if logprobs is not None:
            if len(logprobs) != len(hyp_tokens):
                raise UsageError(f"{len(logprobs)} log-probability rows for {len(hyp_tokens)} segments")
            nll = [[-value for value in row] for row in _check_logprobs(logprobs)]
        system = SystemStatistics(stats, nll, ppl_variant)
        report: dict = {}
        for fam in families:
            values = stats.family_scores(fam)
            if system.perplexity is not None:
                values["perplexity"] = system.perplexity.value(ppl_variant)
            values["signature"] = family_signature(fam, tokenizer.signature, n_refs, paper_smoothing, dstc7_normalize,
                                                   ppl_variant if nll is not None else None, **metric_options)
            report[fam] = values
        systems.append(system)
        reports.append(report)
    return systems, reports


def _add_intervals(report: dict, replicates: Mapping[str, np.ndarray], n_boot: int, seed: int) -> None:
    """95 % intervals of one system's metrics from its bootstrap replicates (Entropy/Dist, dstc7 NIST bias-shifted)."""
    families = [fam for fam in FAMILIES if fam in report]
    shifted = {name: report[name.split(".")[0]][name.split(".")[1]] for name in _BIASED
               if name.split(".")[0] in families}
    ranges = {name: (0.0, 1.0 if ".dist" in name else math.inf) for name in shifted}
    bounds = intervals(replicates, bias_shift=shifted, limits=ranges)
    for fam in families:
        report[fam]["ci"] = {key.split(".", 1)[1]: [significance.finite_or_none(value) for value in pair]
                             for key, pair in bounds.items() if key.startswith(fam + ".")}
        report[fam]["ci_method"] = (f"percentile-bootstrap,95%,n_boot:{n_boot},seed:{seed},entropy/dist"
                                    f"{'/nist' if fam == 'dstc7' else ''}:bias-shifted")


def _evaluate(hyps, refs, tokenize="char", family="both", logprobs=None, ci=False, seed=0, n_boot=1000,
              paper_smoothing="none", dstc7_normalize=True, ppl_variant="token", **metric_options):
    (system,), (report,) = _score_systems([hyps], refs, tokenize, family, [logprobs], paper_smoothing,
                                          dstc7_normalize, ppl_variant, **metric_options)
    if ci:
        _add_intervals(report, system.bootstrap_table(n_boot, seed), n_boot, seed)
    return report, system


def evaluate_generation(hyps: Sequence[str], refs: Sequence[Sequence[str]], tokenize: str = "char",
                        family: str = "both", logprobs: Sequence[Sequence[float]] | None = None, ci: bool = False,
                        seed: int = 0, n_boot: int = 1000, paper_smoothing: str = "none",
                        dstc7_normalize: bool = True, ppl_variant: str = "token", **metric_options) -> dict:
    """Score hypotheses against reference sets with both metric families (see the module docstring).

    ``refs[i]`` is the list of reference strings of segment i (the same number for every segment; the ``paper``
    family uses the first). ``logprobs`` (per segment, the natural-log probabilities of the reference tokens)
    adds ``perplexity`` (``ppl_variant`` token or sample_mean). ``ci=True`` adds 95 % bootstrap intervals over
    segments (``n_boot`` replicates, ``seed``). ``paper_smoothing="method1"`` gives the MedDialog GPT-2 script's
    BLEU; ``dstc7_normalize=False`` scores the tokens exactly as given (sacreBLEU ``tokenize='none'`` parity).
    ``metric_options`` (metric variants) are passed unchanged to `GenerationStats` and `family_signature`.
    """
    return _evaluate(hyps, refs, tokenize, family, logprobs, ci, seed, n_boot, paper_smoothing, dstc7_normalize,
                     ppl_variant, **metric_options)[0]


def _compare(systems, refs, tokenize="char", family="both", logprobs=None, n_boot=significance.DEFAULT_RESAMPLES,
             n_trials=significance.DEFAULT_TRIALS, seed=0, ci=False, paper_smoothing="none", dstc7_normalize=True,
             ppl_variant="token", **metric_options):
    names = significance.named(significance.comparison_names(systems))
    hyps_by_system = list(systems.values()) if isinstance(systems, Mapping) else list(systems)
    if not hyps_by_system:
        raise UsageError("no systems to compare")
    if logprobs is None:
        logprobs = [None] * len(hyps_by_system)
    else:
        logprobs = list(logprobs.values()) if isinstance(logprobs, Mapping) else list(logprobs)
        if len(logprobs) != len(hyps_by_system) or any(rows is None for rows in logprobs):
            raise UsageError(f"log-probabilities are needed for every system or for none ({len(hyps_by_system)} "
                             "systems)")
    scored, reports = _score_systems(hyps_by_system, refs, tokenize, family, logprobs, paper_smoothing,
                                     dstc7_normalize, ppl_variant, **metric_options)
    families = scored[0].families
    tests = significance.paired_tests(scored, n_boot, n_trials, seed, bias_shifted=_BIASED)
    if ci:
        for report, replicates in zip(reports, tests["replicates"]):
            _add_intervals(report, replicates, n_boot, seed)
    comparisons = {}
    for name, results in zip(names[1:], tests["comparisons"]):
        comparisons[name] = {fam: {key.split(".", 1)[1]: result for key, result in results.items()
                                   if key.startswith(fam + ".")} for fam in families}
    result = {"systems": names, "baseline": names[0], "n_segments": scored[0].n,
              "method": significance.method_description(n_boot, n_trials, seed, _SHIFTED_NAMES),
              "scores": dict(zip(names, reports)), "comparisons": comparisons}
    return result, scored, names, hyps_by_system


def compare_generation(systems: Mapping[str, Sequence[str]] | Sequence[Sequence[str]],
                       refs: Sequence[Sequence[str]], tokenize: str = "char", family: str = "both",
                       logprobs: Mapping[str, Sequence] | Sequence[Sequence[Sequence[float]]] | None = None,
                       n_boot: int = significance.DEFAULT_RESAMPLES, n_trials: int = significance.DEFAULT_TRIALS,
                       seed: int = 0, ci: bool = False, paper_smoothing: str = "none", dstc7_normalize: bool = True,
                       ppl_variant: str = "token", **metric_options) -> dict:
    """Score several systems on the same references and test each against the first (`significance`).

    ``systems`` maps names to hypotheses (or is a list, named system1, system2...); ``logprobs``, when given, has
    one entry per system (each as in `evaluate_generation`) and adds perplexity. Every metric of the chosen
    families is tested with the paired bootstrap (``n_boot`` resamples) and approximate randomization
    (``n_trials`` trials; 0 skips it), both seeded with ``seed``. Returns ``{"systems", "baseline", "n_segments",
    "method", "scores": {name: report as evaluate_generation's}, "comparisons": {name: {family: {key: result}}}}``
    with a result as in `significance.paired_tests`. ``ci=True`` adds each system's own 95 % intervals, from the
    same replicates. ``metric_options`` go unchanged to `GenerationStats` and `family_signature`.
    """
    return _compare(systems, refs, tokenize, family, logprobs, n_boot, n_trials, seed, ci, paper_smoothing,
                    dstc7_normalize, ppl_variant, **metric_options)[0]


def segment_records(names: Sequence[str], hyps_by_system: Sequence[Sequence[str]],
                    refs: Sequence[Sequence[str]], systems: Sequence[SystemStatistics]) -> Iterator[dict]:
    """One record per system and segment, systems in order: ``{"system", "segment" (1-based line), "hyp", "refs",
    family: {"bleu2", "bleu4", "nist4", "meteor"}}`` with the sentence-level scores of `GenerationStats.segment_scores`
    (raw values)."""
    for name, hyps, system in zip(names, hyps_by_system, systems):
        scores = system.stats.segment_scores()
        for index, hyp in enumerate(hyps):
            record = {"system": name, "segment": index + 1, "hyp": hyp, "refs": list(refs[index])}
            for fam, values in scores.items():
                record[fam] = {key: float(values[key][index]) for key in SEGMENT_KEYS}
            yield record


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
    notes.append(_SCALE_NOTE)
    notes += _signature_notes(systems) + _interval_notes(systems)
    return render(header, rows, notes)


_SCALE_NOTE = ("×100: the paper family's BLEU/NIST/METEOR multiplied by 100 as the paper prints them; Entropy (nats), "
               "Dist and perplexity are raw.")


def _signature_notes(systems: Mapping[str, Mapping]) -> list[str]:
    """Systems scored the same way share a signature: each is printed once, naming the columns it applies to."""
    signature_columns: dict[str, list[str]] = {}
    for name, rep in systems.items():
        for fam in FAMILIES:
            if fam in rep:
                signature_columns.setdefault(rep[fam].get("signature", ""), []).append(f"{name} {fam}")
    return [f"{', '.join(names)}: {signature}" for signature, names in signature_columns.items()]


def _interval_notes(systems: Mapping[str, Mapping]) -> list[str]:
    notes = []
    for name, rep in systems.items():
        for fam in FAMILIES:
            if fam in rep and "ci" in rep[fam]:
                notes.append(f"{name} {fam}:")
                parts = [f"{key} [{'—' if low is None else f'{low:.4f}'}, {'—' if high is None else f'{high:.4f}'}]"
                         for key, (low, high) in rep[fam]["ci"].items()]
                notes.append("  95% CI (raw): " + ", ".join(parts))
    return notes


def format_comparison(result: Mapping) -> str:
    """A `compare_generation` result as text: one table per family, each metric's score per system and, for every
    system after the baseline, Δ (marked * / **), its 95 % interval and both p-values; the method, the signatures
    and (with ``ci``) each system's own intervals underneath. The paper family's BLEU/NIST/METEOR are ×100 as in
    Table 4."""
    names = result["systems"]
    scores = result["scores"]
    header = [*significance.COMPARISON_HEADER, *(title for title, _ in significance.P_COLUMNS)]
    blocks = []
    for fam in FAMILIES:
        if fam not in scores[names[0]]:
            continue
        rows = []
        for key, label in paper_figures.TABLE4_ROWS:
            if key not in scores[names[0]][fam]:
                continue
            scale = 100.0 if fam == "paper" and key in _SCALED else 1.0
            rows += significance.comparison_rows(
                label, names, [scores[name][fam][key] for name in names],
                [result["comparisons"][name][fam][key] for name in names[1:]],
                _DIGITS[key][0 if fam == "paper" else 1], scale)
        title = "paper family (BLEU/NIST/METEOR ×100)" if fam == "paper" else "dstc7 family (raw)"
        blocks.append(title + "\n" + render(header, rows, left=2))
    notes = significance.comparison_notes(result, _SHIFTED_NAMES)
    notes += ([_SCALE_NOTE] if "paper" in scores[names[0]] else []) + _signature_notes(scores) + _interval_notes(scores)
    return "\n\n".join(blocks) + "\n\n" + "\n".join(notes)


def _read_generation_inputs(hyp_paths: Sequence[str], ref_paths: Sequence[str], logprobs_paths: Sequence[str]):
    """Hypotheses per system, reference sets per segment and log-probabilities per system (or None), read from
    files that are checked to be parallel to the first hypothesis file."""
    from .io import check_one_per_system, check_same_length, read_logprobs, read_segments

    if not ref_paths:
        raise UsageError("at least one reference file is needed (--ref FILE)")
    check_one_per_system("--logprobs", len(logprobs_paths), "--hyp", len(hyp_paths))
    first = hyp_paths[0]
    hyps_by_system = [read_segments(first)]
    count = len(hyps_by_system[0])
    for path in hyp_paths[1:]:
        hyps_by_system.append(read_segments(path))
        check_same_length(first, count, path, len(hyps_by_system[-1]), "segments")
    reference_sets = []
    for path in ref_paths:
        reference_sets.append(read_segments(path))
        check_same_length(first, count, path, len(reference_sets[-1]), "segments")
    logprobs_by_system = []
    for path in logprobs_paths:
        logprobs_by_system.append(read_logprobs(path))
        check_same_length(first, count, path, len(logprobs_by_system[-1]), "rows")
    refs = [list(group) for group in zip(*reference_sets)]
    return hyps_by_system, refs, logprobs_by_system or [None] * len(hyp_paths)


def _write_segments(path: str, names, hyps_by_system, refs, systems) -> None:
    from ..corpus.writer import write_jsonl

    write_jsonl(path, segment_records(names, hyps_by_system, refs, systems))


def evaluate_generation_files(hyp_path: str, ref_paths: Sequence[str], logprobs_path: str | None = None,
                              segments_path: str | None = None, **options) -> dict:
    """`evaluate_generation` on files (see `rmd_baselines.metrics.io` for the formats); parallel files are checked.
    ``segments_path`` also writes the per-segment scores there (JSONL, `segment_records`, atomically)."""
    logprobs_paths = [logprobs_path] if logprobs_path else []
    (hyps,), refs, (logprobs,) = _read_generation_inputs([hyp_path], ref_paths, logprobs_paths)
    report, system = _evaluate(hyps, refs, logprobs=logprobs, **options)
    if segments_path is not None:
        _write_segments(segments_path, [str(hyp_path)], [hyps], refs, [system])
    return report


def compare_generation_files(hyp_paths: Sequence[str], ref_paths: Sequence[str],
                             logprobs_paths: Sequence[str] = (), segments_path: str | None = None, **options) -> dict:
    """`compare_generation` on files, each system named by its hypothesis file; ``logprobs_paths`` one per system
    or none; ``segments_path`` also writes every system's per-segment scores (JSONL, atomically)."""
    hyps_by_system, refs, logprobs = _read_generation_inputs(list(hyp_paths), ref_paths, list(logprobs_paths))
    names = significance.named([str(path) for path in hyp_paths])
    result, systems, names, _ = _compare(dict(zip(names, hyps_by_system)), refs,
                                         logprobs=None if logprobs[0] is None else logprobs, **options)
    if segments_path is not None:
        _write_segments(segments_path, names, hyps_by_system, refs, systems)
    return result

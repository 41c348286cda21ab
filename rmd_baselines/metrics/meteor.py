"""METEOR in the two families (metrics-spec.md section 4).

``dstc7`` -- METEOR 1.5 as DSTC7/DialoGPT run it (``meteor-1.5.jar -l en -norm``, ranking parameters α 0.85,
β 0.20, γ 0.60, δ 0.75), with the exact module. For Chinese that is the whole metric: every CJK character is its
own token after METEOR's normaliser, and the English stemmer, synonym and paraphrase modules cannot match CJK
tokens, so the jar's result equals ``-m exact``. Per segment: P = weighted matches / weighted hypothesis length and
R likewise on the reference, content tokens weighted δ and function tokens 1-δ; Fmean = 1 / ((1-α)/P + α/R);
frag = chunks / mean matched length (0 for a perfect match); score = Fmean · (1 - γ·frag^β), NaN → 0, never below
0. With several references the best-scoring one is kept (the first on ties). The corpus score is *not* a mean of
segment scores: the segments' sufficient statistics are summed (a perfect segment adds 0 chunks) and the formula
is applied once.

What the program does, reproduced by default (each with a repro from the program, char tokens unless said):

- **Its alignment is a beam search** (width 40) with its own order of partial alignments and ties, which can return
  more chunks than the fewest possible: H ``宝，宝宝查一下``, R ``，宝宝一下，查一下`` → 0.329427 (3 chunks; the
  minimum-chunk alignment gives 0.357486). See `metrics.meteor_jar`.
- **Function words are METEOR's full English list** (``resources/function/english.words``, 93 entries:
  `FUNCTION_WORDS`), looked up on every token after ``-norm``, Chinese text included: H ``好的——``, R ``好的`` →
  0.454923 (the em dash is one); ``II`` → ``i`` and ``SCL`` → ``s`` count too.
- **Tokens are equal when their Java hash codes are**: ``c0`` matches ``an`` (none-tokenized ``c0 x`` / ``an x``
  → 1.0), and 😀 matches 🧡.
- **The ``-norm`` normaliser** with Moses' English non-breaking prefixes (``Dr. Smith`` keeps ``dr.``) and only
  METEOR's own list of spaces (U+180E stays a token); see `metrics.normalize`.

Named variant: ``align="optimal"`` (``meteor:optimal`` in the signature, ``--meteor-align optimal``) replaces the
beam search by the provably minimum-chunk alignment (`metrics.meteor_optimal`) with plain string equality; the
rest (function words, normaliser, formula) is the same. Tokens are never stemmed: English text matches METEOR 1.5
``-m exact``, not its default modules.

``paper`` -- NLTK ``meteor_score`` as the UCSD scripts call it (α 0.9, β 3, γ 0.5, ``str.lower``): exact matches
assigned greedily from the end of the hypothesis to the last unused equal reference token, chunks counted along
the hypothesis, frag = chunks / matches, score = (1 - γ·frag^β) · P·R / (α·P + (1-α)·R), 0 when nothing
matches, averaged over segments. NLTK's stem and WordNet stages never fire on Chinese tokens and are not implemented.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Sequence

import numpy as np

from ..errors import UsageError
from .meteor_jar import BEAM_SIZE, jar_alignments
from .meteor_optimal import matches_and_chunks

ALPHA, BETA, GAMMA, DELTA = 0.85, 0.20, 0.60, 0.75
NLTK_ALPHA, NLTK_BETA, NLTK_GAMMA = 0.9, 3.0, 0.5
# METEOR 1.5's English function words (resources/function/english.words), looked up on every token after -norm.
FUNCTION_WORDS = frozenset((
    "the", ",", ".", "to", "of", "and", "a", "in", "that", "for", '"', "is", "on", "'s", "it", "with", "was", "as",
    "said", "at", "he", "by", "be", "from", "have", "has", "are", "his", "but", "an", "this", "not", "i", "will",
    "\u2019", "they", ")", "-rrb-", "(", "-lrb-", "who", "their", "had", "we", "which", "were", "been", "more", "or",
    "s", "its", "would", "about", "new", "one", "after", "you", ":", "also", "up", "when", "there", "than", "$",
    "all", "out", "her", "people", "she", "year", "two", "-", "can", "if", "last", "first", "\u201c", "over", "other",
    "\u201d", "into", "some", "what", "so", "--", "no", "time", "years", "could", "?", "'t", "\u2014", "'",
))
ALIGNMENTS = ("jar", "optimal")

# Columns of a segment's sufficient statistics.
TEST_LEN, REF_LEN, TEST_FUNC, REF_FUNC, MATCHES, FUNC_MATCHES, CHUNKS, REF_FUNC_MATCHES = range(8)


# --- METEOR 1.5 scoring ----------------------------------------------------------------------------------------------


def _div(a: float, b: float) -> float:
    """Java double division: x/0 is ±Infinity, 0/0 is NaN."""
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.inf if a > 0 else -math.inf
    return a / b


def meteor15_from_stats(stats: Sequence[float]) -> float:
    """METEOR 1.5's formula on (summed) sufficient statistics, with Java's floating-point edge cases.

    ``stats`` has the columns ``TEST_LEN`` … ``CHUNKS`` and optionally ``REF_FUNC_MATCHES`` (without it the
    reference side's function-word matches equal the hypothesis side's, as they do unless two different tokens
    matched through a Java hash collision).
    """
    test_len, ref_len, test_func, ref_func, matches, func_matches, chunks = stats[:7]
    ref_func_matches = stats[REF_FUNC_MATCHES] if len(stats) > REF_FUNC_MATCHES else func_matches
    test_weighted_len = DELTA * (test_len - test_func) + (1.0 - DELTA) * test_func
    ref_weighted_len = DELTA * (ref_len - ref_func) + (1.0 - DELTA) * ref_func
    test_weighted_matches = (matches - func_matches) * 1.0 * DELTA + func_matches * 1.0 * (1.0 - DELTA)
    ref_weighted_matches = (matches - ref_func_matches) * 1.0 * DELTA + ref_func_matches * 1.0 * (1.0 - DELTA)
    precision = _div(test_weighted_matches, test_weighted_len)
    recall = _div(ref_weighted_matches, ref_weighted_len)
    fmean = _div(1.0, _div(1.0 - ALPHA, precision) + _div(ALPHA, recall))
    if matches == test_len and matches == ref_len and chunks == 1:
        frag = 0.0
    else:
        frag = _div(chunks, (matches + matches) / 2.0)
    penalty = GAMMA * (frag ** BETA) if not math.isnan(frag) else math.nan
    score = fmean * (1.0 - penalty)
    if math.isnan(score):
        return 0.0
    return max(score, 0.0)


class MeteorAligner:
    """Segment statistics with one alignment variant: ``jar`` (default, the program's search) or ``optimal``.

    Tokens must already be in METEOR's ``-norm`` view (`metrics.normalize.MeteorNormalizer`).
    """

    def __init__(self, align: str = "jar", beam_size: int = BEAM_SIZE):
        if align not in ALIGNMENTS:
            raise UsageError(f"unknown METEOR alignment {align!r} (choose from {', '.join(ALIGNMENTS)})")
        self.align = align
        self.beam_size = beam_size

    def segments(self, hyps: Sequence[Sequence[str]], refs: Sequence[Sequence[Sequence[str]]]) -> list[list[int]]:
        """One statistics row per segment: its best-scoring reference (the first on ties), as the program keeps."""
        pairs = [(hyp, ref) for hyp, ref_set in zip(hyps, refs) for ref in ref_set]
        if self.align == "jar":
            alignments = jar_alignments(pairs, FUNCTION_WORDS, self.beam_size)
        else:
            alignments = []
            for hyp, ref in pairs:
                matches, chunks = matches_and_chunks(hyp, ref)
                function_matches = _function_matches(hyp, ref)
                alignments.append((matches, chunks, function_matches, function_matches))
        is_function = FUNCTION_WORDS.__contains__
        rows, index = [], 0
        for hyp, ref_set in zip(hyps, refs):
            test_func = sum(map(is_function, hyp))
            best, best_score = None, -1.0
            for ref in ref_set:
                matches, chunks, func_matches, ref_func_matches = alignments[index]
                index += 1
                stats = [len(hyp), len(ref), test_func, sum(map(is_function, ref)), matches, func_matches, chunks,
                         ref_func_matches]
                if len(ref_set) == 1:
                    best = stats
                    break
                score = meteor15_from_stats(stats)
                if score > best_score:
                    best, best_score = stats, score
            rows.append(best)
        return rows

    def segment(self, hyp: Sequence[str], refs: Sequence[Sequence[str]]) -> list[int]:
        """The statistics row of one segment."""
        return self.segments([hyp], [refs])[0]


def _function_matches(hyp: Sequence[str], ref: Sequence[str]) -> int:
    """Function words matched by any maximum exact matching: min(count in hyp, count in ref) per function word."""
    hyp_counts = Counter(t for t in hyp if t in FUNCTION_WORDS)
    if not hyp_counts:
        return 0
    ref_counts = Counter(t for t in ref if t in FUNCTION_WORDS)
    return sum(min(count, ref_counts[t]) for t, count in hyp_counts.items() if t in ref_counts)


def meteor15_segment(hyp: Sequence[str], refs: Sequence[Sequence[str]], align: str = "jar") -> list[int]:
    """Sufficient statistics of the best-scoring reference for one segment (tokens already normalised)."""
    return MeteorAligner(align).segment(hyp, refs)


def _is_perfect(stats: Sequence[float]) -> bool:
    return stats[MATCHES] == stats[TEST_LEN] and stats[MATCHES] == stats[REF_LEN] and stats[CHUNKS] == 1


class MeteorStats:
    """Per-segment METEOR 1.5 statistics; the corpus score sums them (perfect segments add no chunks).

    Rows have the 7 columns ``TEST_LEN`` … ``CHUNKS`` or, as `MeteorAligner` writes them, an eighth
    ``REF_FUNC_MATCHES``; 7-column rows get it as a copy of ``FUNC_MATCHES``.
    """

    def __init__(self, rows: Sequence[Sequence[int]]):
        table = np.asarray(rows, dtype=np.float64)
        if table.size == 0:
            table = table.reshape(0, 8)
        elif table.ndim != 2 or table.shape[1] not in (7, 8):
            raise ValueError(f"METEOR statistics need 7 or 8 columns, got shape {table.shape}")
        if table.shape[1] == 7:
            table = np.column_stack([table, table[:, FUNC_MATCHES]])
        perfect = np.array([_is_perfect(row) for row in table], dtype=bool) if len(table) else np.zeros(0, dtype=bool)
        table[perfect, CHUNKS] = 0.0
        self.rows = table

    def score(self, weights: np.ndarray | None = None) -> float:
        sums = self.rows.sum(axis=0) if weights is None else weights @ self.rows
        return meteor15_from_stats([float(value) for value in sums])

    def segment_scores(self) -> list[float]:
        return [meteor15_from_stats([float(value) for value in row]) for row in self.rows]


def corpus_meteor(hyps: Sequence[Sequence[str]], refs: Sequence[Sequence[Sequence[str]]],
                  normalize: bool = True, align: str = "jar") -> float:
    """METEOR 1.5 (exact module) corpus score; ``normalize`` applies METEOR's ``-norm`` view to the tokens first."""
    if normalize:
        from .normalize import MeteorNormalizer

        view = MeteorNormalizer()
        hyps = [view(h) for h in hyps]
        refs = [[view(r) for r in ref_set] for ref_set in refs]
    return MeteorStats(MeteorAligner(align).segments(hyps, refs)).score()


# --- NLTK meteor_score (paper family) --------------------------------------------------------------------------------


def nltk_meteor(hyp: Sequence[str], ref: Sequence[str]) -> float:
    """NLTK ``single_meteor_score`` restricted to exact matches, on tokens already lowercased."""
    if not hyp or not ref:
        return 0.0
    positions: dict[str, list[int]] = defaultdict(list)
    for j, token in enumerate(ref):
        positions[token].append(j)
    matched = []
    for i in range(len(hyp) - 1, -1, -1):
        free = positions.get(hyp[i])
        if free:
            matched.append((i, free.pop()))
    count = len(matched)
    if count == 0:
        return 0.0
    matched.reverse()
    chunks = 1
    for (i, j), (k, m) in zip(matched, matched[1:]):
        if not (k == i + 1 and m == j + 1):
            chunks += 1
    precision = count / len(hyp)
    recall = count / len(ref)
    fmean = (precision * recall) / (NLTK_ALPHA * precision + (1 - NLTK_ALPHA) * recall)
    penalty = NLTK_GAMMA * (chunks / count) ** NLTK_BETA
    return (1 - penalty) * fmean


def sentence_meteor_nltk(hyp: Sequence[str], ref: Sequence[str]) -> float:
    """The ``paper`` family's per-segment METEOR (lowercases with ``str.lower`` as NLTK does)."""
    return nltk_meteor([t.lower() for t in hyp], [t.lower() for t in ref])

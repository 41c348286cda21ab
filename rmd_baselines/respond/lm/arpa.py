"""ARPA files: the standard text format of back-off n-gram language models, which kenlm loads.

Layout (log10 values; fields separated by tabs, the words of an n-gram by single spaces)::

    <blank line>
    \\data\\
    ngram 1=<number of unigrams>
    ngram 2=<number of bigrams>
    ...
    <blank line>
    \\1-grams:
    <log10 p(w)>            w          <log10 backoff(w)>
    ...
    \\2-grams:
    <log10 p(v | w)>        w v        <log10 backoff(w v)>
    ...
    \\N-grams:               (highest order: no backoff column)
    <log10 p(...)>          u ... v
    <blank line>
    \\end\\

A model in this "back-off form" scores ``p(v | history)`` as the probability of the longest n-gram ``(suffix of
history, v)`` that is listed, times the back-off weights of the longer history suffixes that are listed as
n-grams (a missing one has weight 1 = log10 0). `write_arpa` writes such a file from arrays; `read_arpa` and
`validate_arpa` read one back, checking every line, so a truncated or edited file fails with one
``FILE:LINE: problem`` message (`ModelFormatError`) rather than somewhere inside kenlm. `kenlm_model` loads an
ARPA file with kenlm.

kenlm's Python module only loads and scores models: it cannot write kenlm's binary format (that is the
``build_binary`` program), so ARPA is the format this toolkit ships.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np

from ...corpus.writer import atomic_open
from ...errors import ModelFormatError

# How probabilities and back-off weights are printed: six decimals keep every log10 value within 5e-7 of the
# estimator's own (kenlm stores them as 32-bit floats anyway).
VALUE_FORMAT = "{:.6f}"
_COUNT_LINE = re.compile(r"ngram (\d+)=(\d+)$")
_SECTION_HEADER = re.compile(r"\\(\d+)-grams:$")


WRITE_BLOCK = 1 << 16  # n-grams formatted at a time: the file is written in bounded memory


def write_arpa(path: str | os.PathLike, vocab: Sequence[str], ngram_words: Sequence[np.ndarray],
               log10_probs: Sequence[np.ndarray], log10_backoffs: Sequence[np.ndarray],
               comments: Sequence[str] = ()) -> None:
    """Write an ARPA file atomically.

    ``ngram_words[k-1]`` is an integer array of shape ``(count, k)``: the word ids (indices into ``vocab``) of
    every k-gram, in the order they are written (or a callable ``(start, stop) -> rows`` giving them a block at a
    time); ``log10_probs[k-1]`` their log10 probabilities and, for every order but the highest,
    ``log10_backoffs[k-1]`` their log10 back-off weights. ``comments`` become ``# ...`` lines before the header
    (kenlm and `read_arpa` skip them). The same arrays always give the same bytes.
    """
    order = len(ngram_words)
    words = np.asarray(vocab, dtype=object)
    with atomic_open(path, "w") as out:
        for comment in comments:
            out.write(f"# {comment}\n")
        out.write("\n\\data\\\n")
        for k in range(1, order + 1):
            out.write(f"ngram {k}={len(log10_probs[k - 1])}\n")
        for k in range(1, order + 1):
            out.write(f"\n\\{k}-grams:\n")
            rows_of = ngram_words[k - 1]
            count = len(log10_probs[k - 1])
            for start in range(0, count, WRITE_BLOCK):
                stop = min(start + WRITE_BLOCK, count)
                rows = rows_of(start, stop) if callable(rows_of) else rows_of[start:stop]
                grams = [" ".join(row) for row in words[rows].tolist()]
                probs = [VALUE_FORMAT.format(p) for p in log10_probs[k - 1][start:stop].tolist()]
                if k < order:
                    backoffs = [VALUE_FORMAT.format(b) for b in log10_backoffs[k - 1][start:stop].tolist()]
                    out.writelines(f"{p}\t{g}\t{b}\n" for p, g, b in zip(probs, grams, backoffs))
                else:
                    out.writelines(f"{p}\t{g}\n" for p, g in zip(probs, grams))
        out.write("\n\\end\\\n")


@dataclass
class ArpaModel:
    """The contents of an ARPA file: per order, the n-grams (tuples of words), log10 probabilities and log10
    back-off weights (0.0 where the file gives none)."""

    path: str
    counts: list[int]
    ngrams: list[list[tuple[str, ...]]] = field(default_factory=list)
    log10_probs: list[np.ndarray] = field(default_factory=list)
    log10_backoffs: list[np.ndarray] = field(default_factory=list)

    @property
    def order(self) -> int:
        return len(self.counts)


def _numbered_lines(path: str) -> Iterator[tuple[int, str]]:
    """``(line number, text without the newline)``; invalid UTF-8 is a `ModelFormatError` for its line."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise ModelFormatError(f"{path}: no such ARPA file") from None
    except OSError as exc:
        raise ModelFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield number, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise ModelFormatError(f"{path}:{number}: invalid UTF-8 at byte {exc.start}") from None


def _parse_float(path: str, number: int, text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ModelFormatError(f"{path}:{number}: {what} {text!r} is not a number") from None
    if value != value:
        raise ModelFormatError(f"{path}:{number}: {what} is NaN")
    return value


def _read(path: str | os.PathLike, keep: bool) -> ArpaModel:
    path = os.fspath(path)
    model = ArpaModel(path=path, counts=[])
    lines = _numbered_lines(path)
    last_number = 0

    def next_line(expecting: str) -> tuple[int, str]:
        nonlocal last_number
        for number, text in lines:
            last_number = number
            return number, text
        raise ModelFormatError(f"{path}:{last_number + 1}: unexpected end of file (truncated?), expected {expecting}")

    # Header: blank or '#' lines, then \data\ and the consecutive "ngram k=count" lines, ended by a blank line.
    number, text = next_line("\\data\\")
    while not text.strip() or text.startswith("#"):
        number, text = next_line("\\data\\")
    if text.strip() != "\\data\\":
        raise ModelFormatError(f"{path}:{number}: not an ARPA file: expected \\data\\, found {text[:40]!r}")
    number, text = next_line("an 'ngram 1=count' line")
    while text.strip():
        match = _COUNT_LINE.match(text.strip())
        if not match:
            raise ModelFormatError(f"{path}:{number}: expected 'ngram k=count' in the \\data\\ header, found {text[:40]!r}")
        k, count = int(match.group(1)), int(match.group(2))
        if k != len(model.counts) + 1:
            raise ModelFormatError(f"{path}:{number}: n-gram orders in the header must be 1, 2, 3, ...; found {k}")
        model.counts.append(count)
        number, text = next_line("a blank line after the \\data\\ header")
    if not model.counts:
        raise ModelFormatError(f"{path}:{number}: the \\data\\ header lists no n-gram counts")
    order = model.order

    unigrams: set[str] = set()
    for k in range(1, order + 1):
        number, text = next_line(f"the \\{k}-grams: section")
        while not text.strip():
            number, text = next_line(f"the \\{k}-grams: section")
        match = _SECTION_HEADER.match(text.strip())
        if not match and k > 1:
            raise ModelFormatError(f"{path}:{number}: the header says {model.counts[k - 2]} {k - 1}-grams but the "
                                   f"section has more")
        if not match or int(match.group(1)) != k:
            raise ModelFormatError(f"{path}:{number}: expected the \\{k}-grams: section, found {text[:40]!r}")
        expected = model.counts[k - 1]
        grams: list[tuple[str, ...]] = []
        probs = np.zeros(expected if keep else 0)
        backoffs = np.zeros(expected if keep else 0)
        for i in range(expected):
            number, text = next_line(f"{expected - i} more {k}-grams (the header says {expected})")
            fields = text.split()
            if not fields:
                raise ModelFormatError(f"{path}:{number}: blank line after {i} of the {expected} {k}-grams "
                                       f"the header announces")
            if _SECTION_HEADER.match(text.strip()) or text.strip() == "\\end\\":
                raise ModelFormatError(
                    f"{path}:{number}: the header says {expected} {k}-grams but the section has only {i}")
            width = len(fields) - 1
            if width == k + 1 and k < order:
                backoff = _parse_float(path, number, fields[-1], "back-off weight")
                width = k
            elif width == k:
                backoff = 0.0
            else:
                raise ModelFormatError(f"{path}:{number}: a {k}-gram line needs a log10 probability, {k} words"
                                       f"{' and an optional back-off weight' if k < order else ''}; "
                                       f"found {len(fields)} fields")
            prob = _parse_float(path, number, fields[0], "log10 probability")
            if prob > 0:
                raise ModelFormatError(f"{path}:{number}: positive log10 probability {fields[0]}")
            if k == 1:
                unigrams.add(fields[1])
            if keep:
                grams.append(tuple(fields[1:1 + k]))
                probs[i] = prob
                backoffs[i] = backoff
        if keep:
            model.ngrams.append(grams)
            model.log10_probs.append(probs)
            model.log10_backoffs.append(backoffs)
        if k == 1:
            for marker in ("<s>", "</s>"):
                if marker not in unigrams:
                    raise ModelFormatError(f"{path}:{number}: the unigrams do not include {marker}")

    number, text = next_line("\\end\\")
    while not text.strip():
        number, text = next_line("\\end\\")
    if text.strip() != "\\end\\":
        if _SECTION_HEADER.match(text.strip()):
            raise ModelFormatError(f"{path}:{number}: section {text.strip()} is not listed in the \\data\\ header")
        raise ModelFormatError(
            f"{path}:{number}: the header says {model.counts[-1]} {order}-grams but the section has more")
    return model


def read_arpa(path: str | os.PathLike) -> ArpaModel:
    """Parse and check a whole ARPA file (meant for small models and tests; large ones: `validate_arpa`)."""
    return _read(path, keep=True)


def validate_arpa(path: str | os.PathLike) -> list[int]:
    """Check every line of an ARPA file without keeping it; returns the n-gram counts of its header."""
    return _read(path, keep=False).counts


def read_arpa_counts(path: str | os.PathLike) -> list[int]:
    """Only the ``\\data\\`` header's n-gram counts (fast: stops at the first section)."""
    path = os.fspath(path)
    counts: list[int] = []
    seen_data = False
    number = 0
    for number, text in _numbered_lines(path):
        stripped = text.strip()
        if not seen_data:
            if not stripped or stripped.startswith("#"):
                continue
            if stripped != "\\data\\":
                raise ModelFormatError(f"{path}:{number}: not an ARPA file: expected \\data\\, found {stripped[:40]!r}")
            seen_data = True
            continue
        if not stripped:
            if counts:
                return counts
            continue
        match = _COUNT_LINE.match(stripped)
        if not match or int(match.group(1)) != len(counts) + 1:
            raise ModelFormatError(f"{path}:{number}: expected 'ngram {len(counts) + 1}=count', found {stripped[:40]!r}")
        counts.append(int(match.group(2)))
    raise ModelFormatError(f"{path}:{number + 1}: unexpected end of file inside the ARPA header (truncated?)")


def kenlm_model(path: str | os.PathLike, validate: bool = True):
    """Load an ARPA (or kenlm binary) file with kenlm, quietly; any problem is a one-line `ModelFormatError`.

    With ``validate`` (the default) an ARPA file is first checked line by line by `validate_arpa`, so the
    message names the file and line; kenlm's own errors are reduced to their first line.
    """
    import kenlm

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFormatError(f"{path}: no such language model file")
    with open(path, "rb") as handle:
        is_binary = handle.read(4) == b"mmap"  # kenlm binary files start with "mmap lm ..."
    if validate and not is_binary:
        validate_arpa(path)
    config = kenlm.Config()
    config.show_progress = False
    config.arpa_complain = kenlm.ARPALoadComplain.NONE
    try:
        return kenlm.Model(path, config)
    except Exception as exc:  # kenlm raises OSError/RuntimeError with multi-line C++ messages
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise ModelFormatError(f"{path}: kenlm cannot load this model: {first}") from None

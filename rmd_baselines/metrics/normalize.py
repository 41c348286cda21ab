"""Metric-side text normalisation of the reference programs, applied to already tokenized segments.

The toolkit tokenizes each text once (`rmd_baselines.text`); the reference programs of the ``dstc7`` family then
re-normalise those whitespace tokens their own way before scoring, and we do the same so that our numbers equal theirs:

- `mteval_tokens`: what ``mteval-v14c.pl`` (default, non-international tokenization, no ``-c``) does to each
  whitespace token before BLEU/NIST: tokens starting with ``http://``/``https://`` are kept whole; any other token
  has ASCII ``A-Z`` lowercased, ASCII punctuation split off, ``.``/``,`` split unless between digits and ``-`` split
  after a digit. Non-ASCII characters (Chinese, full-width punctuation) are never touched, so a segment without
  printable ASCII passes through unchanged (the fast path). The DSTC7 XML writer blanks ``&`` and ``<`` before
  mteval sees the text; we do the same.
- `meteor_tokens`: what METEOR 1.5 ``-l en -norm`` does before aligning: its Western normaliser (every character
  that is not a Latin/Cyrillic letter or digit, whitespace or one of ``. ' ` , - ‘ ’`` becomes its own token, so
  each CJK character is a token whatever the input segmentation; runs of dots, commas outside numbers, quotes,
  dashes and English contractions are handled as METEOR does; a word ending in ``.`` keeps its dot when it is on
  METEOR's English list of non-breaking prefixes (``Dr.``; ``No.`` only before a number) or the next word starts
  with a lowercase ASCII letter), then Java's lowercasing and Java's tokenizer. Only the spaces METEOR lists
  (U+0020, U+00A0, U+2000-U+200A, U+202F, U+205F, U+3000) are whitespace there: U+180E, for one, stays a token.
- `mostly_latin`: whether hypotheses are mostly Latin script, for the warning that English METEOR (stemmer,
  synonyms, paraphrases, the full English function-word list) is out of scope.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

# --- mteval-v14c ---------------------------------------------------------------------------------------------------

_HAS_PRINTABLE_ASCII = re.compile(r"[!-~]")
_MTEVAL_PUNCT = re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])")
_MTEVAL_DOT_AFTER = re.compile(r"([^0-9])([\.,])")
_MTEVAL_DOT_BEFORE = re.compile(r"([\.,])([^0-9])")
_MTEVAL_DASH = re.compile(r"([0-9])(-)")
_ASCII_UPPER = str.maketrans({chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)})


def _mteval_token(token: str) -> list[str]:
    """mteval-v14c's tokenization of one whitespace token (the DSTC7 writer's ``&``/``<`` blanking included)."""
    if token.startswith(("http://", "https://")):
        return [token]
    text = token.replace("&", " ").replace("<", " ")
    text = " " + text.translate(_ASCII_UPPER) + " "
    text = _MTEVAL_PUNCT.sub(r" \1 ", text)
    text = _MTEVAL_DOT_AFTER.sub(r"\1 \2 ", text)
    text = _MTEVAL_DOT_BEFORE.sub(r" \1 \2", text)
    text = _MTEVAL_DASH.sub(r"\1 \2 ", text)
    return text.split()


class MtevalNormalizer:
    """Applies `_mteval_token` with a per-token cache (a corpus has few distinct tokens)."""

    def __init__(self) -> None:
        self._cache: dict[str, list[str]] = {}

    def __call__(self, tokens: Sequence[str]) -> Sequence[str]:
        if not _HAS_PRINTABLE_ASCII.search("".join(tokens)):
            return tokens
        out: list[str] = []
        cache = self._cache
        for token in tokens:
            pieces = cache.get(token)
            if pieces is None:
                pieces = cache[token] = _mteval_token(token)
            out.extend(pieces)
        return out


def mteval_tokens(tokens: Sequence[str]) -> Sequence[str]:
    """The tokens mteval-v14c scores for a segment given as whitespace tokens."""
    return MtevalNormalizer()(tokens)


# --- METEOR 1.5 -norm (English / Western normaliser) ---------------------------------------------------------------

_ALPHA = "A-Za-zŠŽšžŸÀ-ÖØ-öø-ž" + "Ѐ-ӿԀ-ԧꙀ-ꙮ꙾-ꚗᴀ-ᵿ"
_ALNUM = "0-9" + _ALPHA
# Java's \s (no UNICODE_CHARACTER_CLASS) is ASCII whitespace only.
_SEP_OTHER = re.compile("([^" + _ALNUM + r" \t\n\x0b\f\r\.\'\`\,\-‘’])")
_MULTI_DOT = re.compile(r"\.([\.]+)")
_MULTI_DOT2 = re.compile(r"DOTMULTI\.([^\.])")
_COMMA1 = re.compile(r"([^0-9])[,]([^0-9])")
_COMMA2 = re.compile(r"([0-9])[,]([^0-9])")
_COMMA3 = re.compile(r"([^0-9])[,]([0-9])")
_QUOTE1 = re.compile(r"([`‘’])")
_QUOTE2 = re.compile(r"([“”]|'')")
_RM_DASH = re.compile("([" + _ALNUM + r"\.])[\-]([" + _ALNUM + "])")
_CONT_EN1 = re.compile("([^" + _ALPHA + "])[']([^" + _ALPHA + "])")
_CONT_EN2 = re.compile("([^" + _ALPHA + "0-9])[']([" + _ALPHA + "])")
_CONT_EN3 = re.compile("([" + _ALPHA + "])[']([^" + _ALPHA + "])")
_CONT_EN4 = re.compile("([" + _ALPHA + "])[']([" + _ALPHA + "])")
_CONT_EN5 = re.compile(r"([0-9])[']([s])")
_HAS_ALPHA = re.compile("[" + _ALPHA + "]")
# The spaces METEOR's normaliser turns into one space (its r_white), and what Java's StringTokenizer splits on.
_WHITE = re.compile("[ \u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_JAVA_TOKEN_SPLIT = re.compile(r"[ \t\n\r\f]+")
_NOT_ONE_TOKEN = re.compile("[ \t\n\r\f\u00a0\u2000-\u200a\u202f\u205f\u3000]")
# METEOR 1.5's English non-breaking prefixes (resources/nonbreaking/english.prefixes, from Moses): a word ending in
# "." keeps its dot when the rest is one of these; the numeric-only ones keep it only before a number.
_NONBREAKING = frozenset(
    "A B C D E F G H I J K L M N O P Q R S T U V W X Y Z Adj Adm Adv Asst Bart Bldg Brig Bros Capt Cmdr Col Comdr "
    "Con Corp Cpl DR Dr Drs Ens Gen Gov Hon Hr Hosp Insp Lt MM MR MRS MS Maj Messrs Mlle Mme Mr Mrs Ms Msgr Op Ord "
    "Pfc Ph Prof Pvt Rep Reps Res Rev Rt Sen Sens Sfc Sgt Sr St Supt Surg v vs i.e rev e.g Nos Nr".split())
_NONBREAKING_BEFORE_NUMBER = frozenset(("No", "Art", "pp"))


def _java_trim(text: str) -> str:
    start, end = 0, len(text)
    while start < end and text[start] <= " ":
        start += 1
    while end > start and text[end - 1] <= " ":
        end -= 1
    return text[start:end]


def meteor_normalize_line(line: str) -> str:
    """METEOR 1.5's English normaliser (keep punctuation) applied to one line, before lowercasing."""
    text = " " + line + " "
    text = _SEP_OTHER.sub(r" \1 ", text)
    # Runs of dots are escaped so the later rules treat them as one word, exactly as METEOR does.
    text = _MULTI_DOT.sub(r" DOTMULTI\1", text)
    while "DOTMULTI." in text:
        text = _MULTI_DOT2.sub(r"DOTDOTMULTI \1", text)
        text = text.replace("DOTMULTI.", "DOTDOTMULTI")
    text = _COMMA1.sub(r"\1 , \2", text)
    text = _COMMA2.sub(r"\1 , \2", text)
    text = _COMMA3.sub(r"\1 , \2", text)
    text = _QUOTE1.sub("'", text)
    text = _QUOTE2.sub(' " ', text)
    text = text.replace("–", "-").replace("--", "-")
    text = _RM_DASH.sub(r"\1 \2", text)
    text = _CONT_EN1.sub(r"\1 ' \2", text)
    text = _CONT_EN2.sub(r"\1 ' \2", text)
    text = _CONT_EN3.sub(r"\1 ' \2", text)
    text = _CONT_EN4.sub(r"\1 '\2", text)
    text = _CONT_EN5.sub(r"\1 '\2", text)
    words = [w for w in _JAVA_TOKEN_SPLIT.split(text) if w]
    rebuilt = []
    for index, word in enumerate(words):
        if len(word) > 1 and word.endswith("."):
            prefix = word[:-1]
            following = words[index + 1][:1] if index + 1 < len(words) else ""
            if "." in prefix and _HAS_ALPHA.search(prefix):
                rebuilt.append(word.replace(".", ""))  # U.S. -> US
            elif prefix in _NONBREAKING or ("a" <= following <= "z"):
                rebuilt.append(word)
            elif prefix in _NONBREAKING_BEFORE_NUMBER and "0" <= following <= "9":
                rebuilt.append(word)
            else:
                rebuilt.append(prefix + " .")
        else:
            rebuilt.append(word)
    text = " ".join(rebuilt) + " "
    while "DOTDOTMULTI" in text:
        text = text.replace("DOTDOTMULTI", "DOTMULTI.")
    text = text.replace("DOTMULTI", ".")
    return _java_trim(_WHITE.sub(" ", text))


_SINGLE_CHAR_MAP = str.maketrans({"`": "'", "‘": "'", "’": "'", "“": '"', "”": '"', "–": "-"})


class MeteorNormalizer:
    """METEOR's ``-norm`` view of a token list: normalised, lowercased, re-split.

    Single-character tokens (the ``char`` tokenization) take a fast path: for them the normaliser only maps quotes
    and the en dash and lowercases, which a translation table does in one pass.
    """

    def __call__(self, tokens: Sequence[str]) -> list[str]:
        joined = "".join(tokens)
        if len(joined) == len(tokens):
            mapped = joined.translate(_SINGLE_CHAR_MAP).lower()
            if len(mapped) == len(tokens) and not _NOT_ONE_TOKEN.search(mapped):
                return list(mapped)
        return [w for w in _JAVA_TOKEN_SPLIT.split(meteor_normalize_line(" ".join(tokens)).lower()) if w]


def meteor_tokens(tokens: Sequence[str]) -> list[str]:
    """The tokens METEOR 1.5 ``-l en -norm`` aligns for a segment given as whitespace tokens."""
    return MeteorNormalizer()(tokens)


# --- script detection ------------------------------------------------------------------------------------------------


def mostly_latin(texts: Iterable[Sequence[str]]) -> bool:
    """True when more than half of the letters in these token lists are Latin script (ASCII or Latin-1/Extended)."""
    latin = letters = 0
    for tokens in texts:
        for token in tokens:
            for ch in token:
                if ch.isalpha():
                    letters += 1
                    if ch <= "\u024f":
                        latin += 1
    return letters > 0 and latin * 2 > letters

"""The one tokenizer module every other module uses.

Schemes:
- ``char``: every non-whitespace character is one token (ASCII letters and digits too: ``"CT123"`` is five
  tokens). Whitespace is what `str.isspace` says. This is the convention of the character-level Chinese
  tokenizers behind the paper's numbers.
- ``word``: jieba words (whitespace tokens dropped). jieba is initialised once per process and reused; a
  tokenizer with a user dictionary (e.g. a corpus's disease/symptom annotations, so medical terms stay whole)
  gets its own jieba instance, also cached.
- ``none``: the caller's own whitespace-separated tokens (``str.split()``).

Tokenize each text once per run: `Tokenizer.tokenize_many` returns lists you can keep and reuse.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Iterable, Sequence

from ..errors import UsageError

SCHEMES = ("char", "word", "none")

_JIEBA_LOCK = threading.Lock()
_JIEBA_CACHE: dict[str, object] = {}


def char_tokens(text: str) -> list[str]:
    """Every non-whitespace character, in order."""
    return [ch for ch in text if not ch.isspace()]


def whitespace_tokens(text: str) -> list[str]:
    """Split on any Unicode whitespace (the ``none`` scheme)."""
    return text.split()


def _jieba_instance(user_words: tuple[str, ...]):
    """One initialised jieba tokenizer per distinct user dictionary, created on first use."""
    key = hashlib.sha256("\n".join(user_words).encode("utf-8")).hexdigest() if user_words else ""
    with _JIEBA_LOCK:
        instance = _JIEBA_CACHE.get(key)
        if instance is None:
            import jieba

            # jieba announces its dictionary loading on stderr; that is noise for a command-line tool.
            jieba.setLogLevel(logging.WARNING)
            instance = jieba.Tokenizer()
            instance.initialize()
            for word in user_words:
                instance.add_word(word)
            _JIEBA_CACHE[key] = instance
        return instance


class Tokenizer:
    """A named tokenization scheme; ``Tokenizer("word", user_words=[...])`` keeps those words whole."""

    def __init__(self, scheme: str = "char", user_words: Iterable[str] = ()):
        if scheme not in SCHEMES:
            raise UsageError(f"unknown tokenization {scheme!r} (choose from {', '.join(SCHEMES)})")
        self.scheme = scheme
        self.user_words = tuple(sorted({w.strip() for w in user_words if w and w.strip() and not any(c.isspace() for c in w.strip())}))
        if self.user_words and scheme != "word":
            raise UsageError("a user dictionary only applies to the 'word' tokenization")

    def __repr__(self) -> str:
        extra = f", user_words=<{len(self.user_words)} words>" if self.user_words else ""
        return f"Tokenizer({self.scheme!r}{extra})"

    @property
    def signature(self) -> str:
        """How this tokenizer is named in metric signatures: ``char``, ``word`` (jieba version) or ``none``."""
        if self.scheme == "word":
            import jieba

            user = f"+userdict{len(self.user_words)}" if self.user_words else ""
            return f"word(jieba-{jieba.__version__}{user})"
        return self.scheme

    def tokenize(self, text: str) -> list[str]:
        if self.scheme == "char":
            return char_tokens(text)
        if self.scheme == "none":
            return whitespace_tokens(text)
        return [w for w in _jieba_instance(self.user_words).lcut(text, HMM=True) if w.strip()]

    def tokenize_many(self, texts: Sequence[str]) -> list[list[str]]:
        """Tokenize a batch; the result is meant to be kept and reused rather than recomputed."""
        return [self.tokenize(t) for t in texts]

    __call__ = tokenize


def get_tokenizer(scheme: str = "char", user_words: Iterable[str] = ()) -> Tokenizer:
    """The tokenizer for a scheme name (`char`, `word`, `none`)."""
    return Tokenizer(scheme, user_words)


def annotation_words(dialogues: Iterable) -> list[str]:
    """The disease and symptom annotations of a corpus, as a jieba user dictionary (sorted, distinct)."""
    words: set[str] = set()
    for dialogue in dialogues:
        for term in (*dialogue.diseases, *dialogue.symptoms):
            term = term.strip()
            # Long free-text "diseases" (whole sentences in some corpora) are not dictionary terms.
            if 2 <= len(term) <= 12 and not any(c.isspace() for c in term):
                words.add(term)
    return sorted(words)

"""What every responder engine shares and nothing else: the `Reply` it returns, the `Responder` protocol and the
argument checks of ``respond_many``. The engines (`retrieval`, `ngram`, `rerank`) import this module, and
`rmd_baselines.respond.model` (which builds engines by name) re-exports it, so no engine imports `model`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

from ..errors import DataError, UsageError


@dataclass
class Reply:
    """A responder's answer to one context: the response and the ranked candidates it was chosen from, each as
    ``(text, score)`` (what the score means depends on the responder and is documented there)."""

    response: str
    candidates: list[tuple[str, float]] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"response": self.response, "candidates": [[text, float(score)] for text, score in self.candidates]}


@runtime_checkable
class Responder(Protocol):
    """The interface of every responder (scikit-learn style: hyper-parameters in ``__init__``, ``fit`` returns
    self, fitted state in attributes ending in ``_``)."""

    name: str

    def fit(self, instances: Sequence, valid: Sequence | None = None) -> "Responder": ...

    def respond(self, context: str, k: int = 1) -> Reply: ...

    def respond_many(self, contexts: Sequence[str], k: int = 1) -> list[Reply]: ...

    def save(self, writer) -> None: ...

    @classmethod
    def load(cls, reader) -> "Responder": ...


def check_contexts(contexts: Sequence[str]) -> list[str]:
    """The contexts as a list, or a `DataError` naming the first empty one."""
    contexts = list(contexts)
    for number, context in enumerate(contexts):
        if not isinstance(context, str) or not context.strip():
            raise DataError(f"context {number}: empty context")
    return contexts


MAX_TOP_K = 100  # ranked candidates one answer may list: an n-gram responder draws one sample per candidate


def check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise UsageError(f"k must be a positive integer, got {k!r}")
    if k > MAX_TOP_K:
        raise UsageError(f"top-k {k} is more candidates than a responder lists (at most {MAX_TOP_K})")
    return k

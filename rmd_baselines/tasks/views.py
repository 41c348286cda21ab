"""Input views: the text a classifier sees of a dialogue (benchmark-protocol.md section 2)."""

from __future__ import annotations

from typing import Callable

from ..corpus.model import Dialogue
from ..errors import UsageError


def _title_lines(dialogue: Dialogue) -> list[str]:
    title = dialogue.title
    return [title] if title is not None and title.strip() else []


def patient_view(dialogue: Dialogue) -> str:
    """The title (when present), then every patient turn, joined with newlines."""
    return "\n".join(_title_lines(dialogue) + [t.text for t in dialogue.turns if t.speaker == "patient"])


def dialogue_view(dialogue: Dialogue) -> str:
    """The title (when present), then every turn, joined with newlines."""
    return "\n".join(_title_lines(dialogue) + [t.text for t in dialogue.turns])


VIEWS: dict[str, Callable[[Dialogue], str]] = {"patient": patient_view, "dialogue": dialogue_view}


def get_view(name: str) -> Callable[[Dialogue], str]:
    try:
        return VIEWS[name]
    except KeyError:
        raise UsageError(f"unknown input view {name!r} (choose from {', '.join(VIEWS)})") from None

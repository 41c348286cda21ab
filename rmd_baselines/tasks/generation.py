"""Response-generation instances (benchmark-protocol.md section 3).

Consecutive turns of one speaker are merged (joined with a space); every doctor turn at position ``i >= 1`` of
the merged dialogue yields an instance whose context is turns ``0..i-1`` joined with newlines, cut to its last
``max_context_chars`` characters, and whose response is the turn's text cut to its first ``max_response_chars``.
Splits are by dialogue, stratified by department, 8:1:1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

from ..corpus.model import Dialogue, Turn
from ..errors import DataError
from .splits import DEFAULT_SEED, Split, generation_split

MAX_CONTEXT_CHARS = 300
MAX_RESPONSE_CHARS = 100


@dataclass(frozen=True)
class GenerationSettings:
    """Everything needed to rebuild the generation split and instances; saved with every responder."""

    seed: int = DEFAULT_SEED
    max_context_chars: int = MAX_CONTEXT_CHARS
    max_response_chars: int = MAX_RESPONSE_CHARS

    def to_json(self) -> dict:
        return {"task": "respond", "seed": self.seed, "max_context_chars": self.max_context_chars,
                "max_response_chars": self.max_response_chars}

    @classmethod
    def from_json(cls, obj: dict) -> "GenerationSettings":
        return cls(seed=int(obj["seed"]), max_context_chars=int(obj["max_context_chars"]),
                   max_response_chars=int(obj["max_response_chars"]))


@dataclass(frozen=True)
class Instance:
    """One (context, response) pair; ``turn`` is the response's index in the merged dialogue."""

    dialogue_id: str
    turn: int
    context: str
    response: str
    department: str | None = None
    doctor: str | None = None

    def to_json(self) -> dict:
        """JSONL form; ``text`` holds the reference so the file can be given to ``evaluate generate --ref``."""
        return {"dialogue_id": self.dialogue_id, "turn": self.turn, "department": self.department,
                "doctor": self.doctor, "context": self.context, "text": self.response}


def merge_same_speaker(turns: Sequence[Turn]) -> list[Turn]:
    """Merge runs of consecutive turns by one speaker into one turn (texts joined with a single space).

    Linear in the total text: each run is joined once (a turn alone in its run is kept as it is)."""
    merged: list[Turn] = []
    run: list[Turn] = []

    def close_run() -> None:
        if len(run) == 1:
            merged.append(run[0])
        elif run:
            merged.append(Turn(run[0].speaker, " ".join(t.text for t in run)))

    for turn in turns:
        if run and run[-1].speaker != turn.speaker:
            close_run()
            run = []
        run.append(turn)
    close_run()
    return merged


def cut_context(context: str, max_chars: int = MAX_CONTEXT_CHARS) -> str:
    """The last ``max_chars`` characters (code points) of a context."""
    return context[-max_chars:] if max_chars and len(context) > max_chars else context


def cut_response(response: str, max_chars: int = MAX_RESPONSE_CHARS) -> str:
    """The first ``max_chars`` characters (code points) of a response."""
    return response[:max_chars] if max_chars else response


def context_tails(texts: Sequence[str], max_chars: int = MAX_CONTEXT_CHARS) -> Iterator[str]:
    """``cut_context("\\n".join(texts[:i]), max_chars)`` for i = 1 .. len(texts), in time linear in the texts
    (with a cut, each step keeps only the last ``max_chars`` characters and copies at most ``2 * max_chars + 1``;
    without one, ``max_chars`` 0, the contexts themselves grow quadratically)."""
    if not max_chars or max_chars < 0:  # no cut (a negative cut is kept as cut_context treats it)
        parts: list[str] = []
        for text in texts:
            parts.append(text)
            yield cut_context("\n".join(parts), max_chars)
        return
    tail = None
    for text in texts:
        # the last max_chars characters of the join come from the previous tail and the end of this text
        tail = cut_context(text[-max_chars:] if tail is None else tail + "\n" + text[-max_chars:], max_chars)
        yield tail


def dialogue_instances(dialogue: Dialogue, settings: GenerationSettings = GenerationSettings()) -> list[Instance]:
    """All instances of one dialogue, in turn order (linear in the dialogue's length)."""
    turns = merge_same_speaker(dialogue.turns)
    out = []
    contexts = context_tails([t.text for t in turns], settings.max_context_chars)
    for i, context in enumerate(contexts, start=1):  # context = turns[:i]
        if i >= len(turns):
            break
        if turns[i].speaker != "doctor":
            continue
        out.append(Instance(
            dialogue_id=dialogue.id,
            turn=i,
            context=context,
            response=cut_response(turns[i].text, settings.max_response_chars),
            department=dialogue.department,
            doctor=dialogue.doctor,
        ))
    return out


def build_instances(dialogues: Iterable[Dialogue], settings: GenerationSettings = GenerationSettings()) -> list[Instance]:
    """Instances of many dialogues, dialogue by dialogue."""
    return [inst for d in dialogues for inst in dialogue_instances(d, settings)]


@dataclass
class GenerationData:
    """The protocol's generation split: dialogues and instances per part."""

    settings: GenerationSettings
    dialogues: Split[Dialogue]
    train: list[Instance]
    valid: list[Instance]
    test: list[Instance]

    def describe(self) -> str:
        d = self.dialogues
        return (f"respond: {len(d.train)}/{len(d.valid)}/{len(d.test)} train/valid/test dialogues, "
                f"{len(self.train)}/{len(self.valid)}/{len(self.test)} instances (seed {self.settings.seed})")


def build_generation_task(dialogues: Sequence[Dialogue], settings: GenerationSettings = GenerationSettings(),
                          source: str = "corpus") -> GenerationData:
    """Split by dialogue (8:1:1 per department) and build the instances of each part."""
    split = generation_split(dialogues, lambda d: d.department if d.department and d.department.strip() else None,
                             lambda d: d.id, settings.seed)
    data = GenerationData(settings, split, build_instances(split.train, settings),
                          build_instances(split.valid, settings), build_instances(split.test, settings))
    if not data.train and not data.valid and not data.test:
        raise DataError(
            f"{source}: the respond task needs multi-turn dialogues with a doctor reply after the first turn; "
            f"got 0 train and 0 test instances"
        )
    if not data.train or not data.test:
        raise DataError(
            f"{source}: too few dialogues for the respond task's 8:1:1 split per department: "
            f"{len(split.train)} train and {len(split.test)} test dialogues give {len(data.train)} train and "
            f"{len(data.test)} test instances"
        )
    return data

"""Response-generation instances (benchmark-protocol.md section 3).

Consecutive turns of one speaker are merged (joined with a space); every doctor turn at position ``i >= 1`` of
the merged dialogue yields an instance whose context is turns ``0..i-1`` joined with newlines, cut to its last
``max_context_chars`` characters, and whose response is the turn's text cut to its first ``max_response_chars``.
Splits are by dialogue, stratified by department, 8:1:1.

For corpora too large to hold, `stream_generation_split` decides the same split from one scan of the file
(`tasks.streaming`) and reads a part's instances back: in file order (`StreamedGenerationSplit.iter_instances`,
bounded memory, for training) or in protocol order, optionally as a seeded sample (`StreamedGenerationSplit.instances`,
holding that part or that sample only; `streamed_generation_test` for ``evaluate`` and ``reproduce``).
"""

from __future__ import annotations

import heapq
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from ..corpus.model import Dialogue, Turn
from ..errors import DataError
from ..errors import UsageError
from .splits import DEFAULT_SEED, Split, generation_split, order_key

if TYPE_CHECKING:
    import numpy as np

    from .streaming import StreamedSplit

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


def generation_label(dialogue: Dialogue) -> str | None:
    """The generation split's stratification label: the department, None when absent or blank."""
    return dialogue.department if dialogue.department and dialogue.department.strip() else None


def _check_instance_counts(source: str, dialogues: tuple[int, int], instances: tuple[int, int, int]) -> None:
    """The `DataError`s of a split without train or test instances; ``dialogues`` = (train, test) and
    ``instances`` = (train, valid, test)."""
    n_train, n_valid, n_test = instances
    if not n_train and not n_valid and not n_test:
        raise DataError(
            f"{source}: the respond task needs multi-turn dialogues with a doctor reply after the first turn; "
            f"got 0 train and 0 test instances"
        )
    if not n_train or not n_test:
        raise DataError(
            f"{source}: too few dialogues for the respond task's 8:1:1 split per department: "
            f"{dialogues[0]} train and {dialogues[1]} test dialogues give {n_train} train and "
            f"{n_test} test instances"
        )


def build_generation_task(dialogues: Sequence[Dialogue], settings: GenerationSettings = GenerationSettings(),
                          source: str = "corpus") -> GenerationData:
    """Split by dialogue (8:1:1 per department) and build the instances of each part."""
    split = generation_split(dialogues, generation_label, lambda d: d.id, settings.seed)
    data = GenerationData(settings, split, build_instances(split.train, settings),
                          build_instances(split.valid, settings), build_instances(split.test, settings))
    _check_instance_counts(source, (len(split.train), len(split.test)),
                           (len(data.train), len(data.valid), len(data.test)))
    return data


# ------------------------------------------------------------------------------------------- streamed (large corpora)


def count_instances(dialogue: Dialogue) -> int:
    """How many instances `dialogue_instances` makes of a dialogue, without building them: the doctor runs after
    the first merged turn."""
    count, previous = 0, None
    for turn in dialogue.turns:
        if turn.speaker != previous:
            if turn.speaker == "doctor" and previous is not None:
                count += 1
            previous = turn.speaker
    return count


def instance_sample_id(instance: Instance) -> str:
    """The id a ``--max-test`` sample orders instances by: ``dialogue_id:turn``."""
    return f"{instance.dialogue_id}:{instance.turn}"


def check_sample_size(max_instances) -> int | None:
    """``max_instances`` if it is None or an integer >= 1; otherwise a `UsageError`."""
    if max_instances is None:
        return None
    if isinstance(max_instances, bool) or not isinstance(max_instances, int) or max_instances < 1:
        raise UsageError(f"the test sample size must be an integer >= 1, got {max_instances!r}")
    return max_instances


@dataclass
class StreamedGenerationSplit:
    """The protocol's generation split of a corpus file, decided from one scan (`stream_generation_split`):
    ``split`` knows each record's part, ``instance_counts`` each record's number of instances."""

    settings: GenerationSettings
    split: "StreamedSplit"
    instance_counts: "np.ndarray"  # int32 per scanned record

    @property
    def path(self) -> str:
        return self.split.path

    def count_dialogues(self, part: str) -> int:
        return self.split.count(part)

    def count_instances(self, part: str) -> int:
        from .streaming import PART_CODES

        return int(self.instance_counts[self.split.parts == PART_CODES[part]].sum())

    def describe(self) -> str:
        """As `GenerationData.describe`."""
        d = [self.count_dialogues(p) for p in ("train", "valid", "test")]
        n = [self.count_instances(p) for p in ("train", "valid", "test")]
        return (f"respond: {d[0]}/{d[1]}/{d[2]} train/valid/test dialogues, "
                f"{n[0]}/{n[1]}/{n[2]} instances (seed {self.settings.seed})")

    def check(self, source: str | None = None) -> "StreamedGenerationSplit":
        """The `DataError`s `build_generation_task` raises for the same corpus."""
        _check_instance_counts(source or self.path, (self.count_dialogues("train"), self.count_dialogues("test")),
                               tuple(self.count_instances(p) for p in ("train", "valid", "test")))
        return self

    def iter_dialogues(self, part: str) -> Iterator[tuple[int, Dialogue]]:
        """``(line number, dialogue)`` of the part's dialogues, in file order. Only the part's lines are parsed
        (the scan validated every record already)."""
        from ..corpus.reader import decode_line, iter_lines, parse_record

        import numpy as np

        lines = self.split.part_lines(part)
        if not len(lines):
            return
        wanted = np.zeros(int(lines[-1]) + 1, dtype=bool)
        wanted[lines] = True
        limit, path = len(wanted), self.path
        for number, raw in iter_lines(path):
            if number >= limit:
                break
            if wanted[number]:
                yield number, parse_record(f"{path}:{number}", decode_line(path, number, raw))

    def iter_instances(self, part: str) -> Iterator[Instance]:
        """The part's instances dialogue by dialogue in file order, one dialogue in memory at a time (what
        training needs: the order of training instances does not change a Kneser-Ney model)."""
        for _, dialogue in self.iter_dialogues(part):
            yield from dialogue_instances(dialogue, self.settings)

    def instances(self, part: str, max_instances: int | None = None, sample_seed: int | None = None) -> list[Instance]:
        """The part's instances in protocol order, equal to ``build_generation_task(...)``'s list for the part.

        With ``max_instances`` N below the part's size: the seeded sample `splits.sample_by_order_key` draws from
        that list (key ``sha256(f"{sample_seed}:sample:{dialogue_id}:{turn}")``, the N smallest; ``sample_seed``
        defaults to the split's seed), in protocol order, holding only N instances while reading."""
        import numpy as np

        max_instances = check_sample_size(max_instances)
        ordered_lines = self.split.protocol_order(part)
        rank_of_line = np.full(int(ordered_lines.max()) + 1 if len(ordered_lines) else 0, -1, dtype=np.int64)
        rank_of_line[ordered_lines] = np.arange(len(ordered_lines))
        if max_instances is None or max_instances >= self.count_instances(part):
            slots: list[list[Instance] | None] = [None] * len(ordered_lines)
            for line, dialogue in self.iter_dialogues(part):
                slots[int(rank_of_line[line])] = dialogue_instances(dialogue, self.settings)
            return [instance for slot in slots if slot for instance in slot]
        seed = self.settings.seed if sample_seed is None else sample_seed
        heap: list[tuple[int, int, int, Instance]] = []  # the N smallest keys, as a max-heap of negated entries
        for line, dialogue in self.iter_dialogues(part):
            rank = int(rank_of_line[line])
            for instance in dialogue_instances(dialogue, self.settings):
                key = int(order_key(f"sample:{instance_sample_id(instance)}", seed), 16)
                entry = (-key, -rank, -instance.turn, instance)
                if len(heap) < max_instances:
                    heapq.heappush(heap, entry)
                elif entry > heap[0]:
                    heapq.heapreplace(heap, entry)
        return [entry[3] for entry in sorted(heap, key=lambda e: (-e[1], -e[2]))]


def stream_generation_split(path: str | os.PathLike, settings: GenerationSettings = GenerationSettings(),
                            skip_invalid: bool = False) -> StreamedGenerationSplit:
    """The generation split of a corpus file from one scan (`tasks.streaming.scan_corpus`), holding about 40 bytes
    a record: the same dialogues per part as `build_generation_task` on the loaded corpus."""
    import numpy as np

    from .streaming import scan_corpus, split_scan

    counts: list[int] = []
    scan = scan_corpus(path, generation_label, settings.seed, skip_invalid=skip_invalid,
                       on_record=lambda _line, dialogue: counts.append(count_instances(dialogue)))
    split = split_scan(scan, test_fraction=1 / 10, valid_fraction=1 / 10)
    return StreamedGenerationSplit(settings, split, np.asarray(counts, dtype=np.int32))


@dataclass
class StreamedGenerationTest:
    """The test instances of a corpus file (all, or a seeded ``max_test`` sample), from `streamed_generation_test`."""

    stream: StreamedGenerationSplit
    instances: list[Instance]
    total_instances: int  # of the whole test part
    max_test: int | None

    @property
    def settings(self) -> GenerationSettings:
        return self.stream.settings

    @property
    def sampled(self) -> bool:
        return len(self.instances) < self.total_instances

    def describe(self) -> str:
        text = self.stream.describe()
        if self.sampled:
            text += f"; test sample of {len(self.instances)} of {self.total_instances} instances (--max-test)"
        return text


def streamed_generation_test(path: str | os.PathLike, settings: GenerationSettings = GenerationSettings(),
                             max_test: int | None = None, skip_invalid: bool = False,
                             source: str | None = None) -> StreamedGenerationTest:
    """The protocol's test instances of a corpus without holding more than them (or than the ``max_test``
    sample): equal to ``build_generation_task(...).test`` (or its `splits.sample_by_order_key` sample with
    `instance_sample_id`), with the same `DataError`s for a corpus too small for the split."""
    max_test = check_sample_size(max_test)
    stream = stream_generation_split(path, settings, skip_invalid=skip_invalid).check(source)
    return StreamedGenerationTest(stream, stream.instances("test", max_test), stream.count_instances("test"), max_test)

"""Write the protocol's split of a corpus to files, and check a split for test inputs seen verbatim in train.

`export_split` writes ``train.jsonl``/``test.jsonl`` (and ``valid.jsonl`` for ``respond``) as canonical records,
groups in protocol order, plus ``{part}.instances.jsonl`` for ``respond`` (context, reference ``text``) so other
systems can be trained and scored on exactly the same instances, and ``split.json`` with the settings and counts.
"""

from __future__ import annotations

import os
from typing import Sequence

from ..corpus.model import Dialogue
from ..corpus.stats import split_leakage
from ..corpus.writer import atomic_directory, write_dialogues, write_json, write_jsonl
from ..errors import UsageError
from .classification import ClassificationSettings, build_classification_task
from .generation import GenerationSettings, build_generation_task
from .shuffle import shuffled

TASKS = ("route", "recommend", "respond")
SPLIT_FILE = "split.json"


def build_task(dialogues: Sequence[Dialogue], task: str, min_count: int | None = None, view: str | None = None,
               seed: int = 0, source: str = "corpus"):
    """`ClassificationData` for route/recommend or `GenerationData` for respond."""
    if task == "respond":
        return build_generation_task(dialogues, GenerationSettings(seed=seed), source=source)
    if task not in TASKS:
        raise UsageError(f"unknown task {task!r} (choose from {', '.join(TASKS)})")
    settings = ClassificationSettings(task=task, view=view, seed=seed,
                                      **({} if min_count is None else {"min_count": min_count}))
    return build_classification_task(dialogues, settings, source=source)


def leakage(task_data) -> dict:
    """Test inputs that occur verbatim in train: classifier texts, or generation contexts."""
    if hasattr(task_data, "train_texts"):
        result = split_leakage(task_data.train_texts, task_data.test_texts)
        result["task"] = task_data.settings.task
    else:
        result = split_leakage((i.context for i in task_data.train), [i.context for i in task_data.test])
        result["task"] = "respond"
    return result


def export_split(dialogues: Sequence[Dialogue], task: str, out_dir: str, min_count: int | None = None,
                 view: str | None = None, seed: int = 0, source: str = "corpus", shuffle: bool = False) -> dict:
    """Write the split files into ``out_dir``; returns the summary also written to ``split.json``.

    With ``shuffle`` (route/recommend only) each file lists its records in shuffle-key order
    (`shuffle.shuffle_key`: ``sha256(f"{seed}:shuffle:{id}")``) instead of group by group, so online learners can
    read ``train.jsonl`` as it is; the records in each part are the same.
    """
    if shuffle and task == "respond":
        raise UsageError("--shuffle applies to route/recommend splits (generation instances keep their order)")
    data = build_task(dialogues, task, min_count, view, seed, source)
    summary: dict = {"source": source, "task": task}
    # The directory is replaced as a whole: no file of an earlier split (another task's valid.jsonl, say) stays.
    with atomic_directory(out_dir, SPLIT_FILE, "a split directory") as tmp:
        if task == "respond":
            summary["settings"] = data.settings.to_json()
            for part, records in data.dialogues.parts().items():
                write_dialogues(os.path.join(tmp, f"{part}.jsonl"), records)
                instances = getattr(data, part)
                write_jsonl(os.path.join(tmp, f"{part}.instances.jsonl"), (i.to_json() for i in instances))
                summary[part] = {"dialogues": len(records), "instances": len(instances)}
        else:
            summary["settings"] = data.settings.to_json()
            summary["labels"] = data.labels
            summary["order"] = (f"shuffled: sha256('{seed}:shuffle:' + id) order" if shuffle
                                else "protocol: group by label, order key")
            for part in ("train", "test"):
                records = getattr(data, part)
                if shuffle:
                    records = shuffled(records, lambda d: d.id, seed)
                write_dialogues(os.path.join(tmp, f"{part}.jsonl"), records)
                summary[part] = {"dialogues": len(records)}
            summary["dropped_rare_labels"] = data.dropped_rare
            summary["dropped_unlabelled"] = data.dropped_unlabelled
        summary["leakage"] = leakage(data)
        write_json(os.path.join(tmp, SPLIT_FILE), summary)
    return summary

"""Corpus statistics in the layout of the paper's Table 2 (corpus) and Table 3 (per department), plus the
duplicate dialogues that public corpora contain and that leak across splits.

Utterances are the records' turns as stored (before the generation task merges consecutive same-speaker turns).
Doctors are distinct non-empty ``doctor`` ids; departments distinct non-empty ``department`` values.
"""

from __future__ import annotations

import hashlib
import statistics
from collections import Counter, defaultdict
from typing import Iterable, Sequence

from .model import Dialogue


def _present(value: str | None) -> str | None:
    return value if value is not None and value.strip() else None


def turns_fingerprint(dialogue: Dialogue) -> str:
    """A hash of the turn list (speakers and texts) used to find identical dialogues under different ids."""
    digest = hashlib.sha256()
    for turn in dialogue.turns:
        digest.update(turn.speaker.encode("utf-8") + b"\x00" + turn.text.encode("utf-8") + b"\x01")
    return digest.hexdigest()


def duplicate_dialogues(dialogues: Iterable[Dialogue], max_examples: int = 5) -> dict:
    """Groups of records with identical turn lists: how many groups, how many records, a few id examples."""
    groups: dict[str, list[str]] = defaultdict(list)
    for dialogue in dialogues:
        groups[turns_fingerprint(dialogue)].append(dialogue.id)
    repeated = [ids for ids in groups.values() if len(ids) > 1]
    return {
        "groups": len(repeated),
        "records": sum(len(ids) for ids in repeated),
        "examples": [ids for ids in repeated[:max_examples]],
    }


def corpus_statistics(dialogues: Sequence[Dialogue]) -> dict:
    """Table 2 and Table 3 of the paper for any corpus, as a JSON-ready dict."""
    lengths = [len(d.turns) for d in dialogues]
    per_doctor = Counter(_present(d.doctor) for d in dialogues if _present(d.doctor))
    dept_dialogues: Counter = Counter()
    dept_doctors: dict[str, set[str]] = defaultdict(set)
    dept_diseases: dict[str, set[str]] = defaultdict(set)
    dept_symptoms: dict[str, set[str]] = defaultdict(set)
    for d in dialogues:
        department = _present(d.department)
        if department is None:
            continue
        dept_dialogues[department] += 1
        if _present(d.doctor):
            dept_doctors[department].add(d.doctor)
        dept_diseases[department].update(x for x in d.diseases if x.strip())
        dept_symptoms[department].update(x for x in d.symptoms if x.strip())
    departments = sorted(dept_dialogues)

    def mean_over_departments(values: dict) -> float | None:
        return statistics.fmean(len(values[k]) if isinstance(values[k], set) else values[k]
                                for k in departments) if departments else None

    return {
        "dialogues": len(dialogues),
        "utterances": sum(lengths),
        "utterances_mean": statistics.fmean(lengths) if lengths else 0.0,
        "utterances_median": statistics.median(lengths) if lengths else 0,
        "utterances_max": max(lengths, default=0),
        "utterances_min": min(lengths, default=0),
        "doctors": len(per_doctor),
        "dialogues_per_doctor_max": max(per_doctor.values(), default=0),
        "dialogues_per_doctor_min": min(per_doctor.values(), default=0),
        "departments": len(departments),
        "dialogues_per_department_mean": mean_over_departments(dept_dialogues),
        "doctors_per_department_mean": mean_over_departments(dept_doctors),
        "diseases_per_department_mean": mean_over_departments(dept_diseases),
        "symptoms_per_department_mean": mean_over_departments(dept_symptoms),
        "without_department": sum(1 for d in dialogues if _present(d.department) is None),
        "without_doctor": sum(1 for d in dialogues if _present(d.doctor) is None),
        "per_department": {
            k: {"doctors": len(dept_doctors[k]), "dialogues": dept_dialogues[k]} for k in departments
        },
        "duplicate_dialogues": duplicate_dialogues(dialogues),
    }


def split_leakage(train_texts: Iterable[str], test_texts: Sequence[str]) -> dict:
    """How many test inputs (contexts or classifier texts) occur verbatim among the train inputs."""
    seen = set(train_texts)
    hits = sum(1 for text in test_texts if text in seen)
    return {"test": len(test_texts), "seen_in_train": hits,
            "fraction": hits / len(test_texts) if test_texts else 0.0}


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def format_statistics(stats: dict, source: str = "") -> str:
    """The paper's Table 2 and Table 3 as plain text."""
    rows = [
        ("Dialogues", stats["dialogues"]),
        ("Utterances", stats["utterances"]),
        ("Utterances per dialogue: mean", stats["utterances_mean"]),
        ("Utterances per dialogue: median", stats["utterances_median"]),
        ("Utterances per dialogue: max", stats["utterances_max"]),
        ("Utterances per dialogue: min", stats["utterances_min"]),
        ("Doctors", stats["doctors"]),
        ("Dialogues per doctor: max", stats["dialogues_per_doctor_max"]),
        ("Dialogues per doctor: min", stats["dialogues_per_doctor_min"]),
        ("Departments", stats["departments"]),
        ("Dialogues per department: mean", stats["dialogues_per_department_mean"]),
        ("Doctors per department: mean", stats["doctors_per_department_mean"]),
        ("Diseases per department: mean", stats["diseases_per_department_mean"]),
        ("Symptoms per department: mean", stats["symptoms_per_department_mean"]),
        ("Duplicate dialogues: records/groups",
         f"{stats['duplicate_dialogues']['records']}/{stats['duplicate_dialogues']['groups']}"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"Table 2 - corpus statistics{': ' + source if source else ''}"]
    lines += [f"  {name:<{width}}  {_fmt(value)}" for name, value in rows]
    if stats["without_department"] or stats["without_doctor"]:
        lines.append(f"  records without department: {stats['without_department']}, "
                     f"without doctor: {stats['without_doctor']}")
    if stats["per_department"]:
        lines.append("")
        lines.append("Table 3 - per department")
        name_width = max(10, *(len(k) * 2 for k in stats["per_department"]))
        lines.append(f"  {'Department':<{name_width}}  {'Doctors':>7}  {'Dialogues':>9}")
        for name, row in stats["per_department"].items():
            pad = name_width - len(name) * 2 + len(name)  # CJK characters take two columns
            lines.append(f"  {name:<{pad}}  {row['doctors']:>7}  {row['dialogues']:>9}")
    if "leakage" in stats:
        leak = stats["leakage"]
        lines.append("")
        lines.append(f"Split check ({leak['task']}): {leak['seen_in_train']} of {leak['test']} test inputs occur "
                     f"verbatim in train ({100 * leak['fraction']:.1f} %)")
    return "\n".join(lines)

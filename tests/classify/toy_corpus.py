"""A small, deterministic RealMedDial-shaped corpus for the classification tests.

Three departments with two doctors each; a patient's text mixes words typical of the doctor's specialty with
shared filler, so a classifier can learn departments easily and doctors less easily -- enough signal for tests
to fail when something is broken, small enough to train in well under a second.
"""

from __future__ import annotations

import json
import random

from rmd_baselines.corpus.model import Dialogue, Turn

SPECIALTIES = {
    "心血管内科": {"doc-heart-1": ["胸闷", "心慌", "心悸", "早搏"], "doc-heart-2": ["血压高", "头晕", "降压药", "高血压"]},
    "消化内科": {"doc-gut-1": ["胃痛", "反酸", "烧心", "胃镜"], "doc-gut-2": ["腹泻", "便秘", "肠镜", "大便"]},
    "皮肤科": {"doc-skin-1": ["皮疹", "瘙痒", "湿疹", "过敏"], "doc-skin-2": ["痘痘", "脱发", "色斑", "毛囊炎"]},
}
FILLER = ["最近", "一个月", "请问", "医生", "怎么办", "严重吗", "需要", "检查", "吃什么药", "晚上", "加重", "孩子"]
DOCTOR_REPLIES = ["建议到医院检查", "先观察几天", "按时服药", "注意休息"]


def toy_dialogues(per_doctor: int = 12, seed: int = 0) -> list[Dialogue]:
    """``per_doctor`` consultations for each of the six doctors, in a fixed order."""
    rng = random.Random(seed)
    dialogues = []
    for department, doctors in SPECIALTIES.items():
        for doctor, words in doctors.items():
            for i in range(per_doctor):
                picked = rng.sample(words, 2) + rng.sample(FILLER, 3)
                rng.shuffle(picked)
                dialogues.append(Dialogue(
                    id=f"{doctor}-{i}",
                    title=None,
                    department=department,
                    doctor=doctor,
                    turns=(Turn("patient", "，".join(picked)), Turn("doctor", rng.choice(DOCTOR_REPLIES))),
                ))
    return dialogues


def write_toy_corpus(path, per_doctor: int = 12, seed: int = 0, extra: list[dict] = ()) -> str:
    """Write the toy corpus (plus any ``extra`` raw records) as canonical JSONL; returns the path as str."""
    with open(path, "w", encoding="utf-8") as out:
        for dialogue in toy_dialogues(per_doctor, seed):
            out.write(json.dumps(dialogue.to_json(), ensure_ascii=False) + "\n")
        for record in extra:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return str(path)


def toy_texts_labels(per_doctor: int = 12, seed: int = 0, label: str = "department"):
    dialogues = toy_dialogues(per_doctor, seed)
    return ([d.turns[0].text for d in dialogues], [getattr(d, label) for d in dialogues],
            [d.department for d in dialogues])

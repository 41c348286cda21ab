"""A tiny deterministic Chinese consultation corpus for the responder tests (no shared data needed).

Two departments, ``n_per_department`` dialogues each, 4-6 alternating turns built from a few templates, plus
one consultation repeated under a second id (so some test contexts can occur verbatim in train, as in covid_zh).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from rmd_baselines.tasks.generation import Instance

SYMPTOMS = {
    "儿科": ["发烧", "咳嗽", "拉肚子", "起皮疹", "流鼻涕", "呕吐"],
    "呼吸科": ["咳痰", "胸闷", "气短", "咽痛", "低烧", "喘息"],
}
DURATIONS = ["一天", "两天", "三天", "一周", "半个月"]
DRUGS = ["布洛芬", "蒙脱石散", "氨溴索", "阿莫西林", "对乙酰氨基酚", "孟鲁司特"]
ADVICE = ["多喝水，注意休息", "清淡饮食，观察体温", "最好去医院查个血常规", "可以先吃点药观察一下", "如果加重及时就诊"]


def make_dialogue(number: int, department: str, rng: random.Random) -> dict:
    symptom = rng.choice(SYMPTOMS[department])
    duration = rng.choice(DURATIONS)
    drug = rng.choice(DRUGS)
    turns = [
        {"speaker": "patient", "text": f"医生你好，{'孩子' if department == '儿科' else '我'}{symptom}{duration}了，怎么办？"},
        {"speaker": "doctor", "text": f"你好，{symptom}多久了？有没有其他症状？"},
        {"speaker": "patient", "text": f"{duration}了，吃了{drug}还是不好。"},
        {"speaker": "doctor", "text": f"{drug}可以继续吃，{rng.choice(ADVICE)}。"},
    ]
    if rng.random() < 0.5:
        turns += [{"speaker": "patient", "text": "好的，谢谢医生。"}, {"speaker": "doctor", "text": "不客气，祝早日康复。"}]
    return {"id": f"tiny-{number}", "title": None, "department": department, "doctor": f"{department}医生",
            "diseases": [], "symptoms": [symptom], "turns": turns}


def write_tiny_corpus(path: Path, n_per_department: int = 20, seed: int = 0) -> Path:
    rng = random.Random(seed)
    records = []
    for department in SYMPTOMS:
        for _ in range(n_per_department):
            records.append(make_dialogue(len(records), department, rng))
    repeated = dict(records[0], id="tiny-repeat")
    records.append(repeated)
    with open(path, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def instance(context: str, response: str, department: str | None = None, dialogue_id: str = "d", turn: int = 1):
    return Instance(dialogue_id=dialogue_id, turn=turn, context=context, response=response, department=department)

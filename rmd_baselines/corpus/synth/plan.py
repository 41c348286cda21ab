"""How many dialogues each department and doctor gets, and how many utterances each dialogue has.

At N = 2,637 dialogues the plan is exactly the paper's corpus (RealMedDial Tables 2-3, benchmark-protocol.md
section 6): 17 departments with the paper's doctor and dialogue counts, 59 doctors with 4 to 184 dialogues each
(four doctors work in two departments, which is why the departments' doctor counts add up to 63), and an utterance
histogram with 24,255 utterances (mean 9.20, median 8, min 2, max 48). The paper gives only the per-department
figures and the summary statistics; how dialogues are shared among a department's doctors and the histogram in
between are our choice.

For any other N, both tables are scaled proportionally: every count becomes ``count * N / 2637``, rounded by the
largest-remainder method so that the counts add up to exactly N (ties go to the earlier entry). 10k, 100k or 1M
dialogues therefore keep the paper's shape; below about 700 dialogues the smallest departments (Respiratory has
4 of 2,637) and the longest dialogues round to zero.

Doctor ids are synthetic (``医生-心内-01``: home department abbreviation and number); a doctor who also works in a
second department keeps the id of their home department.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

PAPER_DIALOGUES = 2637

# (department, ((doctor id, dialogues at N = 2,637), ...)) in the paper's department order.
DOCTOR_PLAN: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = (
    ("心血管内科", (("医生-心内-01", 70), ("医生-心内-02", 52), ("医生-心内-03", 40), ("医生-心内-04", 30),
               ("医生-心内-05", 22), ("医生-心内-06", 16), ("医生-心内-07", 10))),
    ("男科", (("医生-男科-01", 18), ("医生-男科-02", 9), ("医生-泌尿-01", 8))),
    ("皮肤科", (("医生-皮肤-01", 96), ("医生-皮肤-02", 62), ("医生-皮肤-03", 48), ("医生-皮肤-04", 32),
             ("医生-皮肤-05", 22), ("医生-皮肤-06", 12))),
    ("内科", (("医生-内科-01", 120), ("医生-内科-02", 80), ("医生-内科-03", 50), ("医生-内科-04", 36),
            ("医生-内科-05", 24), ("医生-消化-09", 16))),
    ("消化内科", (("医生-消化-01", 40), ("医生-消化-02", 28), ("医生-消化-03", 20), ("医生-消化-04", 16),
              ("医生-消化-05", 14), ("医生-消化-06", 10), ("医生-消化-07", 9), ("医生-消化-08", 7),
              ("医生-消化-09", 6))),
    ("骨科", (("医生-骨科-01", 80), ("医生-骨科-02", 52), ("医生-骨科-03", 30), ("医生-骨科-04", 20))),
    ("肛肠科", (("医生-肛肠-01", 60), ("医生-肛肠-02", 36), ("医生-肛肠-03", 20))),
    ("产科", (("医生-产科-01", 64), ("医生-产科-02", 40), ("医生-妇科-02", 26))),
    ("妇科", (("医生-妇科-01", 30), ("医生-妇科-02", 18))),
    ("风湿免疫科", (("医生-风湿-01", 184), ("医生-风湿-02", 90), ("医生-风湿-03", 60), ("医生-风湿-04", 40),
               ("医生-风湿-05", 30), ("医生-风湿-06", 20))),
    ("中医科", (("医生-中医-01", 90), ("医生-中医-02", 56), ("医生-中医-03", 36), ("医生-中医-04", 20))),
    ("泌尿外科", (("医生-泌尿-01", 26),)),
    ("内分泌科", (("医生-内分泌-01", 52), ("医生-内分泌-02", 34))),
    ("肾内科", (("医生-肾内-01", 140), ("医生-肾内-02", 90), ("医生-内分泌-02", 30))),
    ("神经内科", (("医生-神内-01", 26),)),
    ("呼吸内科", (("医生-呼吸-01", 4),)),
    ("儿科", (("医生-儿科-01", 70), ("医生-儿科-02", 40))),
)

# Dialogues per number of utterances at N = 2,637: 24,255 utterances, mean 9.20, median 8, min 2, max 48.
UTTERANCE_HISTOGRAM: tuple[tuple[int, int], ...] = (
    (2, 15), (3, 62), (4, 182), (5, 277), (6, 310), (7, 303), (8, 278), (9, 238), (10, 195), (11, 159),
    (12, 128), (13, 101), (14, 80), (15, 63), (16, 50), (17, 39), (18, 31), (19, 25), (20, 19), (21, 16),
    (22, 12), (23, 10), (24, 8), (25, 6), (26, 5), (27, 4), (28, 3), (29, 3), (30, 2), (31, 4), (32, 2),
    (33, 1), (34, 1), (35, 1), (36, 1), (37, 1), (38, 1), (48, 1),
)


@dataclass(frozen=True)
class Slot:
    """The dialogues one doctor has in one department."""

    department: str
    doctor: str
    dialogues: int


def scale_counts(counts: Sequence[int], total: int) -> list[int]:
    """Scale ``counts`` to add up to ``total``, largest-remainder rounding, ties to the earlier entry.

    Integer arithmetic throughout, so the result is exact and platform-independent; when ``total`` equals
    ``sum(counts)`` the counts come back unchanged.
    """
    base = sum(counts)
    quotas = [count * total for count in counts]
    scaled = [quota // base for quota in quotas]
    short = total - sum(scaled)
    by_remainder = sorted(range(len(counts)), key=lambda i: (-(quotas[i] % base), i))
    for i in by_remainder[:short]:
        scaled[i] += 1
    return scaled


def doctor_plan(n: int) -> list[Slot]:
    """The (department, doctor, dialogues) slots for an ``n``-dialogue corpus, in the paper's department order."""
    pairs = [(department, doctor, count) for department, doctors in DOCTOR_PLAN for doctor, count in doctors]
    scaled = scale_counts([count for _, _, count in pairs], n)
    return [Slot(department, doctor, k) for (department, doctor, _), k in zip(pairs, scaled)]


def length_plan(n: int) -> list[tuple[int, int]]:
    """``(utterances, dialogues)`` pairs for an ``n``-dialogue corpus: the paper's histogram scaled to ``n``."""
    scaled = scale_counts([count for _, count in UTTERANCE_HISTOGRAM], n)
    return [(length, k) for (length, _), k in zip(UTTERANCE_HISTOGRAM, scaled)]


class Urn:
    """Draws item indices without replacement, each exactly as often as its count says, in random order.

    Memory is one counter per item whatever the number of draws, so a million-dialogue plan costs nothing.
    """

    def __init__(self, counts: Sequence[int], rng: random.Random):
        self.counts = list(counts)
        self.remaining = sum(self.counts)
        self.rng = rng

    def draw(self) -> int:
        if self.remaining <= 0:
            raise IndexError("the urn is empty")
        ticket = self.rng.randrange(self.remaining)
        self.remaining -= 1
        for index, count in enumerate(self.counts):
            if ticket < count:
                self.counts[index] -= 1
                return index
            ticket -= count
        raise AssertionError("unreachable: the counts add up to remaining")

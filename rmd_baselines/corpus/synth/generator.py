"""Deterministic generator of synthetic, RealMedDial-shaped doctor-patient consultations.

`generate_dialogues(n, seed)` yields `Dialogue` records one at a time (bounded memory at any ``n``);
`write_synthetic_corpus(path, n, seed)` streams them into a ``.jsonl`` or ``.jsonl.gz`` file atomically.

How a dialogue is made:
1. The plan (`plan.py`) fixes how many dialogues each (department, doctor) slot gets and how many utterances each
   dialogue has; two urns hand these out in a random order, so the totals are exact for every ``n``.
2. The disease comes from the department's list, weighted by the doctor's specialty; a share of patients
   (``Department.borrow``) consult about a neighbouring department's disease, as real patients do.
3. The patient writes a question-like title and an opening message in colloquial words (`SYMPTOM_PHRASES`), with
   generic complaints mixed in; the doctor asks follow-up questions in their own order (about a symptom the
   patient mentioned, how long, other symptoms of the disease, history, medicines), requests examinations,
   names the disease, prescribes and advises, and answers the patient's follow-up questions.
4. Each doctor has stable personal habits (`DoctorProfile`): greeting, 你 or 您, favourite phrases, how they
   announce a diagnosis or an examination, preferred medicines, punctuation, splitting a reply into several
   messages, sign-off. Habits are used often but not always, so doctor recommendation is learnable, not trivial.

Randomness comes only from `random.Random` streams seeded by strings built from ``seed`` (never `hash()` or set
order), so the same ``n`` and ``seed`` give the same records, byte for byte, on every platform.
"""

from __future__ import annotations

import bisect
import os
import random
from dataclasses import dataclass
from typing import Iterator

from ...errors import UsageError
from ...progress import progress
from ..model import Dialogue, Turn
from ..writer import atomic_open
from . import vocabulary as V
from .plan import Urn, doctor_plan, length_plan

GENERATOR_VERSION = "rmd-synth-1"

# Calibration knobs (see benchmarks/bench_synth.py for the routing/recommendation accuracy they lead to).
SPECIALTY_SPREAD = 0.7        # log-normal sigma of a doctor's preference over the department's diseases
P_TITLE_NAMES_DISEASE = 0.30  # the title names the disease
P_OPEN_NAMES_DISEASE = 0.22   # the opening message names the disease ("医院说是…")
P_GENERIC_SYMPTOM = 0.45      # the opening also mentions an everyday complaint
P_NEIGHBOUR_SYMPTOM = 0.20    # ... or a symptom of a neighbouring department's disease
P_PATIENT_DOUBLE = 0.08       # a patient message followed by another patient message
P_NAME_IN_THANKS = 0.06       # the patient thanks the doctor by surname
P_FOLLOW_HABIT = 0.45         # a doctor uses their own phrasing rather than a random one
P_PUNCTUATION_HABIT = 0.3     # a doctor's message shows their punctuation habit


@dataclass(frozen=True)
class DoctorProfile:
    """A synthetic doctor's stable habits, drawn once from the seed and the doctor id."""

    id: str
    surname: str
    formal_rate: float
    greetings: tuple[str, ...]
    greet_rate: float
    favourites: tuple[str, ...]
    favourite_rate: float
    diagnosis_leads: tuple[str, ...]
    exam_leads: tuple[str, ...]
    advice_leads: tuple[str, ...]
    sign_offs: tuple[str, ...]
    sign_off_rate: float
    ask_order: tuple[str, ...]
    split_rate: float
    end_mark: str
    comma: str
    medicine_rank: dict[str, float]


def _all_medicines() -> list[str]:
    return sorted({m for disease in V.DISEASES.values() for m in disease.medicines})


def make_doctor_profile(doctor_id: str, surname: str, seed: int) -> DoctorProfile:
    """Draw a doctor's habits from a stream seeded by ``seed`` and the doctor id."""
    rng = random.Random(f"{seed}:doctor:{doctor_id}")
    return DoctorProfile(
        id=doctor_id,
        surname=surname,
        formal_rate=rng.choice((0.05, 0.2, 0.5, 0.8, 0.95)),
        greetings=tuple(rng.sample(V.GREETINGS, 2)),
        greet_rate=rng.uniform(0.35, 0.9),
        favourites=tuple(rng.sample(V.FAVOURITE_PHRASES, 3)),
        favourite_rate=rng.uniform(0.15, 0.45),
        diagnosis_leads=tuple(rng.sample(V.DIAGNOSIS_LEADS, 2)),
        exam_leads=tuple(rng.sample(V.EXAM_LEADS, 2)),
        advice_leads=tuple(rng.sample(V.ADVICE_LEADS, 2)),
        sign_offs=tuple(rng.sample(V.SIGN_OFFS, 2)),
        sign_off_rate=rng.uniform(0.3, 0.85),
        ask_order=tuple(rng.sample(V.ASK_KINDS, len(V.ASK_KINDS))),
        split_rate=rng.uniform(0.03, 0.25),
        end_mark=rng.choice(("。", "。", "", "！", "~")),
        comma=rng.choice(("，", "，", "，", " ")),
        medicine_rank={m: rng.random() for m in _all_medicines()},
    )


class _Weighted:
    """A fixed list of items drawn with fixed weights (cumulative sums + bisect: fast and deterministic)."""

    def __init__(self, items, weights):
        self.items = list(items)
        self.cumulative = []
        total = 0.0
        for weight in weights:
            total += weight
            self.cumulative.append(total)
        self.total = total

    def draw(self, rng: random.Random):
        index = bisect.bisect_right(self.cumulative, rng.random() * self.total)
        return self.items[min(index, len(self.items) - 1)]  # guards against float rounding at the very top


def _doctor_roles(n_doctor_turns: int) -> list[str]:
    """What each doctor turn does, in order: ask questions, request an examination, diagnose, advise, answer."""
    if n_doctor_turns == 1:
        return ["diagnose_advise"]
    if n_doctor_turns == 2:
        return ["ask", "diagnose_advise"]
    if n_doctor_turns == 3:
        return ["ask", "diagnose", "advise"]
    asks = max(1, round(n_doctor_turns * 0.35))
    answers = n_doctor_turns - asks - 3
    return ["ask"] * asks + ["exam", "diagnose", "advise"] + ["answer"] * answers


class _Consultation:
    """Builds the turns of one dialogue; holds what has been said so far so replies fit the context."""

    def __init__(self, rng, department, doctor, disease, other_disease, patient_kind):
        self.rng = rng
        self.department = department
        self.doctor = doctor
        self.disease = disease
        self.other_disease = other_disease
        self.symptoms: list[str] = []
        self.diseases: list[str] = [disease.name]
        self.asked: list[str] = []
        self.follow_ups_used: list[str] = []
        self.pending_follow_up: str | None = None
        self.last_ask: tuple[str, str] = ("", "")
        self.duration_given = False
        self.formal = rng.random() < doctor.formal_rate
        self.patient_comma = rng.choice(("，", "，", "，", " ", ""))
        self.drugs = [m for m in disease.medicines if V.medicine_kind(m) != "procedure"]
        self.medicine = self._preferred(self.drugs or disease.medicines)
        self.medicine_kind = V.medicine_kind(self.medicine)
        self.exam = rng.choice(disease.exams)
        self.patient_kind = patient_kind
        self.sex = self._sex()
        self.disease_symptoms = self._possible(disease.symptoms) or disease.symptoms
        self.other_symptoms = self._possible(other_disease.symptoms)
        self.who = self._who()
        self.durations = V.SHORT_DURATIONS if patient_kind in ("child", "pregnant") else V.DURATIONS

    # ----------------------------------------------------------------------------------------------- helpers
    def _preferred(self, options):
        """The doctor's favourite among ``options`` most of the time, otherwise any of them."""
        if self.rng.random() < P_FOLLOW_HABIT:
            return min(options, key=lambda m: self.doctor.medicine_rank.get(m, 1.0))
        return self.rng.choice(options)

    def _habit(self, own, pool):
        return self.rng.choice(own) if self.rng.random() < P_FOLLOW_HABIT else self.rng.choice(pool)

    def _phrase(self, symptom):
        return self.rng.choice(V.SYMPTOM_PHRASES[symptom])

    def _mention(self, symptom):
        if symptom not in self.symptoms:
            self.symptoms.append(symptom)

    def _unmentioned_symptom(self):
        left = [s for s in self.disease_symptoms if s not in self.symptoms]
        return self.rng.choice(left) if left else None

    def _sex(self) -> str | None:
        """男 or 女 (None for a child): fixed by the patient kind or the disease, otherwise either."""
        if self.patient_kind == "child":
            return None
        if self.patient_kind in ("pregnant", "female") or self.disease.name in V.FEMALE_DISEASES:
            return "女"
        if self.patient_kind == "male" or self.disease.name in V.MALE_DISEASES:
            return "男"
        return self.rng.choice("男女")

    def _possible(self, symptoms) -> tuple[str, ...]:
        """The symptoms this patient can have (no menstrual symptoms for a man, none of either for a child)."""
        excluded = {"男": V.FEMALE_SYMPTOMS, "女": V.MALE_SYMPTOMS}.get(self.sex, V.FEMALE_SYMPTOMS | V.MALE_SYMPTOMS)
        return tuple(s for s in symptoms if s not in excluded)

    def _who(self) -> str:
        rng = self.rng
        low, high = self.department.ages
        name = self.disease.name
        if self.patient_kind == "child":
            return rng.choice(V.CHILDREN) + rng.choice(V.CHILD_AGES)
        if self.patient_kind == "pregnant":
            if name in V.PREGNANCY_STAGES:
                return rng.choice(V.PREGNANCY_STAGES[name]).format(w=rng.randint(4, 8), m=rng.randint(1, 6))
            weeks = rng.randint(*V.PREGNANCY_WEEKS.get(name, (6, 39)))
            return rng.choice(("怀孕{}周", "孕{}周", "现在孕{}周了", "我{}周了")).format(weeks)
        age = rng.randint(max(low, 18), high)
        if self.patient_kind == "adult" and age >= 60 and rng.random() < 0.5:
            return f"{rng.choice(V.RELATIVES_OLD[self.sex])}{age}岁"
        if self.patient_kind == "adult" and rng.random() < 0.1:
            return f"{rng.choice(V.RELATIVES_ADULT[self.sex])}{age}岁"
        return rng.choice(("本人{s}，{a}岁", "我今年{a}岁", "{a}岁，{s}", "{s}，{a}岁", "我是{s}的，{a}了", "")).format(
            s=self.sex, a=age)

    def _doctor_text(self, text: str) -> str:
        if self.formal:
            text = text.replace("你", "您")
        if self.doctor.comma != "，" and self.rng.random() < P_PUNCTUATION_HABIT:
            text = text.replace("，", self.doctor.comma)
        if text.endswith("。") and self.rng.random() < P_PUNCTUATION_HABIT:
            text = text[:-1] + self.doctor.end_mark
        return text.replace("{surname}", self.doctor.surname)

    def _patient_text(self, text: str) -> str:
        if self.patient_comma != "，":
            text = text.replace("，", self.patient_comma)
        return text

    # ----------------------------------------------------------------------------------------------- title
    def title(self) -> str:
        rng = self.rng
        symptom = self.symptoms[0]
        second = self.symptoms[1] if len(self.symptoms) > 1 else self._unmentioned_symptom() or symptom
        names_disease = rng.random() < P_TITLE_NAMES_DISEASE
        templates = [t for t in V.TITLE_TEMPLATES if ("{d}" in t) == names_disease]
        who = self.who if "，" not in self.who and "我今年" not in self.who else ""
        if not self.drugs:
            templates = [t for t in templates if "{m}" not in t]
        template = rng.choice(templates)
        medicine = rng.choice(self.drugs) if self.drugs else ""
        return template.format(d=self.disease.name, s=self._phrase(symptom), s2=self._phrase(second),
                               dur=rng.choice(self.durations), who=who, m=medicine, v=_verb(medicine), e=self.exam)

    # ----------------------------------------------------------------------------------------------- patient
    def opening(self) -> str:
        rng = self.rng
        disease = self.disease
        count = rng.choice((1, 2, 2, 3))
        # Typical symptoms come first in the disease's list; patients report those more often.
        chosen = []
        for symptom in self.disease_symptoms:
            if len(chosen) < count and rng.random() < 0.6:
                chosen.append(symptom)
        if not chosen:
            chosen.append(self.disease_symptoms[0])
        if rng.random() < P_GENERIC_SYMPTOM:
            chosen.append(rng.choice(V.GENERIC_SYMPTOMS_CHILD if self.sex is None else V.GENERIC_SYMPTOMS))
        elif self.other_symptoms and rng.random() < P_NEIGHBOUR_SYMPTOM / (1 - P_GENERIC_SYMPTOM):
            chosen.append(rng.choice(self.other_symptoms))
        parts = []
        if rng.random() < 0.3:
            parts.append(rng.choice(("医生你好", "医生您好", "您好", "大夫好", "你好")))
        if self.who:
            parts.append(self.who)
        duration = ""
        if rng.random() < 0.7:
            duration = rng.choice(("最近{}", "{}前开始", "有{}了，", "差不多{}了，", "反反复复{}了，")).format(
                rng.choice(self.durations))
            self.duration_given = True
        for i, symptom in enumerate(chosen):
            self._mention(symptom)
            lead = duration if i == 0 else rng.choice(("还", "有时候", "而且", "另外", "", "偶尔"))
            parts.append(lead + rng.choice(V.FILLERS) + self._phrase(symptom))
        if rng.random() < P_OPEN_NAMES_DISEASE:
            parts.append(rng.choice(("医院说是{}", "查出来是{}", "之前诊断过{}", "怀疑是{}", "网上查了像{}")).format(
                disease.name))
        elif self.drugs and rng.random() < 0.2:
            medicine = rng.choice(self.drugs)
            parts.append(f"{_verb(medicine)}了{medicine}没什么效果")
        if self.sex is not None and rng.random() < 0.12:
            comorbidity = rng.choice(V.COMORBIDITIES)
            if comorbidity != disease.name:
                parts.append(f"有{comorbidity}")
                self.diseases.append(comorbidity)
        text = "，".join(parts) + rng.choice(("。", "，", "", " ")) + rng.choice(V.PATIENT_QUESTIONS)
        closer = rng.choice(V.PATIENT_CLOSERS)
        return self._patient_text(text + closer)

    def patient_reply(self, previous_role: str | None, doctor_turns_left: int) -> str:
        """The patient's turn after a doctor turn with ``previous_role`` (None: after another patient turn)."""
        rng = self.rng
        if previous_role is None:
            if rng.random() < 0.5:
                symptom = self._unmentioned_symptom()
                if symptom:
                    self._mention(symptom)
                    return self._patient_text(f"对了，还{self._phrase(symptom)}")
            return rng.choice(V.PATIENT_NUDGES)
        if previous_role == "ask":
            return self._patient_text(self._answer(*self.last_ask))
        if previous_role == "exam":
            if rng.random() < 0.5:
                finding = f"说是{self.disease.name}" if rng.random() < 0.2 else rng.choice(V.EXAM_FINDINGS)
                return self._patient_text(f"{self.exam}之前做过，{finding}")
            if doctor_turns_left and rng.random() < 0.3:
                return self._follow_up_question("fasting")
            return rng.choice(("好的，我明天去查", "好的，查完发给您", "行，我去医院做一下"))
        if previous_role == "diagnose" and doctor_turns_left:
            if rng.random() < 0.4:
                return self._follow_up_question(rng.choice(("severity", "cure")))
            return rng.choice(("那要怎么治疗？", "要吃什么药？", "那该怎么办？", "怎么治疗比较好？"))
        if doctor_turns_left:
            return self._patient_text(self._follow_up_question())
        thanks = rng.choice(V.PATIENT_THANKS)
        if rng.random() < P_NAME_IN_THANKS:
            thanks = f"谢谢{self.doctor.surname}医生"
        return thanks

    def _answer(self, kind: str, symptom: str) -> str:
        rng = self.rng
        if kind == "detail":
            return rng.choice(V.ANSWER_DETAIL)
        if kind == "duration":
            return rng.choice(("{}了", "大概{}", "有{}了吧", "差不多{}")).format(rng.choice(self.durations))
        if kind == "accompany":
            if rng.random() < 0.55:
                self._mention(symptom)
                return rng.choice(("有，", "有的，", "对，", "偶尔会，")) + self._phrase(symptom)
            return rng.choice(V.ANSWER_NO)
        if kind == "history":
            if self.sex is not None and rng.random() < 0.35:
                comorbidity = rng.choice(V.COMORBIDITIES)
                if comorbidity not in self.diseases:
                    self.diseases.append(comorbidity)
                return f"有{comorbidity}，一直在吃药"
            return rng.choice(V.ANSWER_NO_HISTORY)
        if kind == "medication":
            if self.drugs and rng.random() < 0.5:
                medicine = rng.choice(self.drugs)
                return rng.choice(("{v}过{m}，没什么效果", "自己买了点{m}", "在{v}{m}，好一点", "用过{m}")).format(
                    v=_verb(medicine), m=medicine)
            return rng.choice(V.ANSWER_NO_MEDS)
        if kind == "exam_done":
            if rng.random() < 0.5:
                return f"做过{rng.choice(self.disease.exams)}，{rng.choice(V.EXAM_FINDINGS)}"
            return rng.choice(V.ANSWER_NO_EXAM)
        return rng.choice(V.LIFESTYLE_ANSWERS)

    def _follow_up_question(self, kind: str | None = None) -> str:
        rng = self.rng
        if kind is None:
            kinds = V.FOLLOW_UPS_ABOUT_PROCEDURES if self.medicine_kind == "procedure" else V.FOLLOW_UPS_ABOUT_MEDICINES
            unused = [k for k in kinds if k not in self.follow_ups_used]
            kind = rng.choice(unused) if unused else rng.choice(kinds)
        self.follow_ups_used.append(kind)
        self.pending_follow_up = kind
        return rng.choice(V.FOLLOW_UPS[kind][0]).format(**self._slots())

    def _slots(self) -> dict[str, str]:
        comorbidity = self.diseases[1] if len(self.diseases) > 1 else "高血压"
        return {"d": self.disease.name, "m": self.medicine, "v": _verb(self.medicine), "e": self.exam,
                "o": self.other_disease.name, "c": comorbidity, "a": self.rng.choice(self.department.advice)}

    # ----------------------------------------------------------------------------------------------- doctor
    def doctor_turn(self, role: str, first: bool, last: bool) -> str:
        rng = self.rng
        doctor = self.doctor
        parts = []
        if first and rng.random() < doctor.greet_rate:
            parts.append(self._habit(doctor.greetings, V.GREETINGS).rstrip("，"))
        if self.pending_follow_up and role != "answer":
            parts.append(self._follow_up_answer())
        if rng.random() < doctor.favourite_rate:
            parts.append(self._habit(doctor.favourites, V.FAVOURITE_PHRASES))
        if role == "ask":
            parts.append(self._ask())
        elif role == "exam":
            exams = self.exam
            if len(self.disease.exams) > 1 and rng.random() < 0.4:
                exams += "和" + rng.choice([e for e in self.disease.exams if e != self.exam])
            parts.append(self._habit(doctor.exam_leads, V.EXAM_LEADS).format(e=exams))
        elif role == "diagnose":
            parts.append(self._diagnosis())
        elif role == "advise":
            parts.extend(self._advice())
        elif role == "diagnose_advise":
            parts.append(self._diagnosis())
            parts.extend(self._advice())
        elif self.pending_follow_up:
            parts.append(self._follow_up_answer())
        else:  # nothing to answer: a further piece of advice
            parts.append(rng.choice(("另外，", "还有，", "记住，", "")) + rng.choice(self.department.advice))
        if last and rng.random() < doctor.sign_off_rate:
            parts.append(self._habit(doctor.sign_offs, V.SIGN_OFFS))
        text = "，".join(p for p in parts if p)
        if not text.endswith(("？", "！", "。", "~")):
            text += "。"
        return self._doctor_text(text)

    def _ask(self) -> str:
        rng = self.rng
        order = self.doctor.ask_order
        kinds = [k for k in order if k not in self.asked]
        if self.duration_given and "duration" in kinds and rng.random() < 0.6:
            kinds.remove("duration")
            self.asked.append("duration")
        if not kinds:
            kind = rng.choice(("detail", "accompany"))
        elif rng.random() < P_FOLLOW_HABIT:
            kind = kinds[0]
        else:
            kind = rng.choice(kinds)
        self.asked.append(kind)
        symptom = ""
        if kind == "accompany":
            symptom = self._unmentioned_symptom() or ""
            if not symptom:
                kind = "detail"
        if kind in ("detail", "duration"):
            symptom = rng.choice(self.symptoms)
        self.last_ask = (kind, symptom)
        return rng.choice(V.ASK_TEMPLATES[kind]).format(s=symptom)

    def _diagnosis(self) -> str:
        text = self._habit(self.doctor.diagnosis_leads, V.DIAGNOSIS_LEADS).format(d=self.disease.name)
        if self.symptoms and self.rng.random() < 0.3:
            text += f"，{self.symptoms[0]}就是它引起的"
        return text

    def _advice(self) -> list[str]:
        rng = self.rng
        if self.medicine_kind == "procedure":
            lead = rng.choice(V.ADVICE_LEADS_PROCEDURE).format(m=self.medicine)
        else:
            lead = self._habit(self.doctor.advice_leads, V.ADVICE_LEADS).format(m=self.medicine,
                                                                                v=_verb(self.medicine))
        dosage = rng.choice(V.DOSAGES_BY_KIND[self.medicine_kind])
        advice = [lead + "，" + dosage if dosage else lead]
        if rng.random() < 0.7:
            advice.append(rng.choice(self.department.advice))
        return advice

    def _follow_up_answer(self) -> str:
        kind = self.pending_follow_up
        self.pending_follow_up = None
        return self.rng.choice(V.FOLLOW_UPS[kind][1]).format(**self._slots())


def _verb(medicine: str) -> str:
    return V.USE_VERBS[V.medicine_kind(medicine)]


def _speakers(length: int, doctor: DoctorProfile, rng: random.Random) -> list[str]:
    """Who speaks each turn: the patient opens, turns mostly alternate, sometimes one speaker sends two in a row."""
    speakers = ["patient"]
    run = 1
    for _ in range(1, length):
        previous = speakers[-1]
        same_rate = doctor.split_rate if previous == "doctor" else P_PATIENT_DOUBLE
        if run < 3 and rng.random() < same_rate:
            speakers.append(previous)
            run += 1
        else:
            speakers.append("patient" if previous == "doctor" else "doctor")
            run = 1
    if "doctor" not in speakers:
        speakers[1] = "doctor"
    return speakers


class SyntheticCorpus:
    """An ``n``-dialogue synthetic corpus for one seed; iterate it to stream the dialogues in id order."""

    def __init__(self, n: int, seed: int = 0):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise UsageError(f"--dialogues must be a positive whole number, got {n!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise UsageError(f"--seed must be a whole number, got {seed!r}")
        self.n = n
        self.seed = seed
        self.slots = doctor_plan(n)
        self.lengths = length_plan(n)
        doctor_ids = sorted({slot.doctor for slot in self.slots})
        self.doctors = {doctor_id: make_doctor_profile(doctor_id, V.SURNAMES[i], seed)
                        for i, doctor_id in enumerate(doctor_ids)}
        self.diseases_by_slot = [self._specialty(slot.department, slot.doctor) for slot in self.slots]
        self.department_diseases = {
            d.name: _Weighted([V.DISEASES[name] for name, _ in d.diseases], [w for _, w in d.diseases])
            for d in V.DEPARTMENTS
        }

    def _specialty(self, department_name: str, doctor_id: str) -> _Weighted:
        rng = random.Random(f"{self.seed}:specialty:{doctor_id}:{department_name}")
        department = V.DEPARTMENT_BY_NAME[department_name]
        return _Weighted([V.DISEASES[name] for name, _ in department.diseases],
                         [w * rng.lognormvariate(0.0, SPECIALTY_SPREAD) for _, w in department.diseases])

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[Dialogue]:
        plan_rng = random.Random(f"{self.seed}:plan")
        rng = random.Random(f"{self.seed}:content")
        slot_urn = Urn([slot.dialogues for slot in self.slots], plan_rng)
        length_urn = Urn([count for _, count in self.lengths], plan_rng)
        width = max(6, len(str(self.n)))
        for number in range(1, self.n + 1):
            slot_index = slot_urn.draw()
            length = self.lengths[length_urn.draw()][0]
            yield self._dialogue(f"synth-{number:0{width}d}", slot_index, length, rng)

    def _dialogue(self, dialogue_id: str, slot_index: int, length: int, rng: random.Random) -> Dialogue:
        slot = self.slots[slot_index]
        department = V.DEPARTMENT_BY_NAME[slot.department]
        doctor = self.doctors[slot.doctor]
        neighbour = V.DEPARTMENT_BY_NAME[rng.choice(department.neighbours)]
        neighbour_disease = self.department_diseases[neighbour.name].draw(rng)
        borrowed = rng.random() < department.borrow
        if borrowed:
            disease = neighbour_disease
            other = self.diseases_by_slot[slot_index].draw(rng)
        else:
            disease = self.diseases_by_slot[slot_index].draw(rng)
            other = neighbour_disease
        if other is disease:
            other = self.department_diseases[neighbour.name].draw(rng)
        # Children and pregnant women stay so whatever the disease; a borrowed disease brings its patients along
        # (an andrology case seen in urology is a man, a gynaecology case seen in Chinese medicine a woman).
        patient_kind = department.patients
        if borrowed and patient_kind not in ("child", "pregnant") and neighbour.patients != "adult":
            patient_kind = neighbour.patients
        talk = _Consultation(rng, department, doctor, disease, other, patient_kind)

        speakers = _speakers(length, doctor, rng)
        n_doctor_turns = speakers.count("doctor")
        roles = iter(_doctor_roles(n_doctor_turns))
        doctors_left = n_doctor_turns
        turns = []
        previous_role: str | None = None
        for i, speaker in enumerate(speakers):
            if speaker == "patient":
                text = talk.opening() if i == 0 else talk.patient_reply(
                    previous_role if speakers[i - 1] == "doctor" else None, doctors_left)
            else:
                doctors_left -= 1
                previous_role = next(roles)
                text = talk.doctor_turn(previous_role, first=doctors_left == n_doctor_turns - 1,
                                        last=doctors_left == 0)
            turns.append(Turn(speaker, text))
        return Dialogue(
            id=dialogue_id,
            turns=tuple(turns),
            title=talk.title(),
            department=department.name,
            doctor=doctor.id,
            diseases=tuple(talk.diseases),
            symptoms=tuple(talk.symptoms),
        )


def generate_dialogues(n: int, seed: int = 0) -> Iterator[Dialogue]:
    """Stream ``n`` synthetic dialogues (ids ``synth-000001`` ...); same ``n`` and ``seed``, same dialogues."""
    return iter(SyntheticCorpus(n, seed))


def _check_output_path(path: str) -> None:
    if not path.endswith((".jsonl", ".jsonl.gz")):
        raise UsageError(f"{path}: --out must end in .jsonl or .jsonl.gz")


def write_synthetic_corpus(path: str | os.PathLike, n: int, seed: int = 0, show_progress: bool = False) -> dict:
    """Generate ``n`` dialogues into ``path`` (``.jsonl`` or ``.jsonl.gz``) atomically; returns a summary.

    Streams record by record: memory does not grow with ``n``. A failure part-way leaves no file behind.
    """
    import json

    path = os.fspath(path)
    _check_output_path(path)
    corpus = SyntheticCorpus(n, seed)
    records = iter(corpus)
    if show_progress:
        records = progress(records, label="generating", length=n)
    utterances = 0
    departments: set[str] = set()
    doctors: set[str] = set()
    with atomic_open(path) as out:
        for dialogue in records:
            out.write(json.dumps(dialogue.to_json(), ensure_ascii=False))
            out.write("\n")
            utterances += len(dialogue.turns)
            departments.add(dialogue.department)
            doctors.add(dialogue.doctor)
    return {
        "path": path,
        "dialogues": n,
        "utterances": utterances,
        "departments": len(departments),
        "doctors": len(doctors),
        "seed": seed,
        "bytes": os.path.getsize(path),
        "generator": GENERATOR_VERSION,
    }

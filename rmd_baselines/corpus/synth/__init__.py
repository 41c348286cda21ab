"""The synthetic RealMedDial-shaped corpus: a deterministic generator of Chinese doctor-patient consultations.

Everything it produces is **synthetic** (made-up doctors, patients and wording; see `vocabulary`), shaped like the
paper's corpus: at 2,637 dialogues it has the paper's 17 departments, 59 doctors and utterance statistics
(`plan`), and any other size scales that shape proportionally. The bundled sample
``data/realmeddial_synthetic_sample.jsonl.gz`` is ``rmd-baseline data synth --dialogues 2637 --seed 0``.
"""

from .generator import (
    GENERATOR_VERSION,
    DoctorProfile,
    SyntheticCorpus,
    generate_dialogues,
    make_doctor_profile,
    write_synthetic_corpus,
)
from .plan import DOCTOR_PLAN, PAPER_DIALOGUES, UTTERANCE_HISTOGRAM, Slot, doctor_plan, length_plan, scale_counts
from .vocabulary import DEPARTMENT_BY_NAME, DEPARTMENTS, DISEASES, SYMPTOM_PHRASES

# The paper's English department names (Tables 3, 5, 6) for the Chinese names used in the records.
ENGLISH_NAMES: dict[str, str] = {d.name: d.english for d in DEPARTMENTS}

__all__ = [
    "GENERATOR_VERSION", "DoctorProfile", "SyntheticCorpus", "generate_dialogues", "make_doctor_profile",
    "write_synthetic_corpus", "DOCTOR_PLAN", "PAPER_DIALOGUES", "UTTERANCE_HISTOGRAM", "Slot", "doctor_plan",
    "length_plan", "scale_counts", "DEPARTMENT_BY_NAME", "DEPARTMENTS", "DISEASES", "SYMPTOM_PHRASES",
    "ENGLISH_NAMES",
]

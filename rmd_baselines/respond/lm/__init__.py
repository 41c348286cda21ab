"""The n-gram language model: an interpolated modified Kneser-Ney estimator in numpy (`KneserNeyLM`) and ARPA
files that kenlm loads (`write_arpa`, `read_arpa`, `validate_arpa`, `kenlm_model`)."""

from .arpa import ArpaModel, kenlm_model, read_arpa, read_arpa_counts, validate_arpa, write_arpa
from .kneser_ney import (
    BOS,
    BOS_ID,
    EOS,
    EOS_ID,
    FALLBACK_DISCOUNTS,
    UNK,
    UNK_ID,
    KneserNeyLM,
    NgramTable,
    describe,
    modified_kneser_ney_discounts,
)

__all__ = [
    "ArpaModel", "kenlm_model", "read_arpa", "read_arpa_counts", "validate_arpa", "write_arpa",
    "BOS", "BOS_ID", "EOS", "EOS_ID", "FALLBACK_DISCOUNTS", "UNK", "UNK_ID", "KneserNeyLM", "NgramTable",
    "describe", "modified_kneser_ney_discounts",
]

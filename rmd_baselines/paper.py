"""The RealMedDial paper's own figures (Tables 4-6), printed beside ours and never mixed with them.

These were measured by the paper's authors with transformers on RealMedDial, which this toolkit does not ship;
a table that shows them labels them as the paper's figures on RealMedDial (benchmark-protocol.md section 5).
BLEU, NIST and METEOR are the paper's ×100 values (sentence-level NLTK family, see metrics-spec.md section 9).
"""

from __future__ import annotations

PAPER_LABEL = "paper's figures on RealMedDial"

# Table 4: response generation. Keys follow `evaluate generate --json`; BLEU/NIST/METEOR as printed (x100).
TABLE4_SYSTEMS = ("CDial-GPT", "GPT2", "BERT-GPT")
TABLE4 = {
    "perplexity": (21.25, 16.40, 29.95),
    "nist4": (10.30, 9.30, 0.55),
    "bleu2": (1.196, 1.123, 0.068),
    "bleu4": (0.481, 0.439, 0.028),
    "meteor": (1.403, 1.385, 0.009),
    "entropy4": (7.00, 6.21, 8.99),
    "dist1": (0.178, 0.215, 0.090),
    "dist2": (0.602, 0.647, 0.469),
}

# Tables 5 (department routing) and 6 (doctor recommendation). Keys follow `evaluate classify --json`.
CLASSIFY_SYSTEMS = ("CPT", "RoBERTa", "BERT", "ALBERT")
TABLE5 = {
    "accuracy": (0.749, 0.705, 0.686, 0.611),
    "macro_precision": (0.552, 0.485, 0.452, 0.377),
    "macro_recall": (0.540, 0.487, 0.481, 0.371),
    "macro_f1": (0.536, 0.480, 0.462, 0.359),
    "weighted_precision": (0.707, 0.654, 0.627, 0.553),
    "weighted_recall": (0.749, 0.705, 0.686, 0.611),
    "weighted_f1": (0.723, 0.674, 0.652, 0.566),
}
TABLE6 = {
    "accuracy": (0.621, 0.523, 0.552, 0.348),
    "macro_precision": (0.379, 0.247, 0.263, 0.115),
    "macro_recall": (0.375, 0.277, 0.293, 0.144),
    "macro_f1": (0.353, 0.240, 0.256, 0.110),
    "weighted_precision": (0.564, 0.409, 0.439, 0.228),
    "weighted_recall": (0.621, 0.523, 0.552, 0.348),
    "weighted_f1": (0.565, 0.438, 0.465, 0.247),
}
CLASSIFY_TABLES = {"route": TABLE5, "recommend": TABLE6}

# Row labels in the paper's order.
TABLE4_ROWS = (("perplexity", "Perplexity"), ("nist4", "NIST-4"), ("bleu2", "BLEU-2"), ("bleu4", "BLEU-4"),
               ("meteor", "METEOR"), ("entropy4", "Entropy-4"), ("dist1", "Dist-1"), ("dist2", "Dist-2"))
CLASSIFY_ROWS = (("accuracy", "Accuracy"), ("macro_precision", "m-Prec."), ("macro_recall", "m-Recall"),
                 ("macro_f1", "m-F1"), ("weighted_precision", "w-Prec."), ("weighted_recall", "w-Recall"),
                 ("weighted_f1", "w-F1"))

"""Golden metric vectors from ../shared/metrics-vectors (outputs of the reference programs), skipped when absent.

Plus a few cases copied from those files into the test modules themselves (each names its source file), so a fresh
clone without ../shared still checks the reference values.
"""

import json

import pytest

from tests.conftest import METRICS_VECTORS

GENERATION_VECTORS = ("zh_char_basic", "zh_char_edge", "zh_char_empty_middle", "zh_char_multiref", "zh_identical",
                      "zh_mixed_ascii", "zh_word_basic", "en_dstc7_demo", "en_edge")
ZH_VECTORS = tuple(name for name in GENERATION_VECTORS if name.startswith("zh_"))


def load(name: str) -> dict:
    path = METRICS_VECTORS / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"golden vector {name!r} not found at {path} (set RMD_METRICS_VECTORS)")
    return json.loads(path.read_text("utf-8"))


def available() -> list[str]:
    """Every generation vector file present (the list above plus any new ones), for parametrization."""
    names = set(GENERATION_VECTORS)
    if METRICS_VECTORS.is_dir():
        for path in METRICS_VECTORS.glob("*.json"):
            if not path.name.startswith("_") and path.stem not in ("classification", "perplexity"):
                names.add(path.stem)
    return sorted(names)

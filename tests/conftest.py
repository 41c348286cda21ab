"""Shared fixtures: where the real corpora and golden metric vectors live (skip cleanly when absent)."""

import os
from pathlib import Path

import pytest
from hypothesis import settings

# No example database in the checkout: every run draws its examples afresh from the seeded strategies.
settings.register_profile("rmd", database=None)
# The deep fuzz run (tests/fuzz): `pytest tests/fuzz --hypothesis-profile=long`, or RMD_FUZZ=long in the
# environment. Examples are random (a new seed each run, printed with any failure); the fuzz tests multiply their
# CI budget by RMD_FUZZ_FACTOR (default 40). Every other hypothesis test gets 20x its default example count.
settings.register_profile("long", database=None, max_examples=2000, deadline=None, derandomize=False,
                          print_blob=True)
settings.load_profile("long" if os.environ.get("RMD_FUZZ", "").strip().lower() == "long" else "rmd")

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("RMD_SHARED", ROOT.parent / "shared"))
SHARED_DATA = Path(os.environ.get("RMD_SHARED_DATA", SHARED / "data"))
METRICS_VECTORS = Path(os.environ.get("RMD_METRICS_VECTORS", SHARED / "metrics-vectors"))
SAMPLE = ROOT / "data" / "realmeddial_synthetic_sample.jsonl.gz"


def shared_corpus(name: str) -> Path:
    """Path of a corpus in ../shared/data, or skip the test saying where it was looked for."""
    path = SHARED_DATA / name / "dialogues.jsonl"
    if not path.is_file():
        pytest.skip(f"shared corpus {name!r} not found at {path} (set RMD_SHARED_DATA)")
    return path


def shared_format_sample(name: str) -> Path:
    path = SHARED_DATA / "formats" / name
    if not path.is_file():
        pytest.skip(f"raw format excerpt {name!r} not found at {path} (set RMD_SHARED_DATA)")
    return path


@pytest.fixture
def sample_path() -> Path:
    if not SAMPLE.is_file():
        pytest.skip(f"bundled sample {SAMPLE} not generated yet")
    return SAMPLE


@pytest.fixture(scope="session")
def small_reproduce_run(tmp_path_factory):
    """One `reproduce` run on a small synthetic corpus (700 dialogues: every department present), shared by the
    reproduce and report tests."""
    from rmd_baselines.corpus.synth import write_synthetic_corpus
    from rmd_baselines.reproduce import reproduce

    base = tmp_path_factory.mktemp("reproduce")
    corpus = base / "synthetic-700.jsonl.gz"
    write_synthetic_corpus(corpus, 700, seed=3)
    out = base / "run"
    results, tables = reproduce(str(corpus), str(out), seed=0, n_boot=50)
    return {"corpus": corpus, "out": out, "results": results, "tables": tables}

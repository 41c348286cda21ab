"""The lab handout (``docs/lab.md``) runs as written: every ```bash block is taken from the file itself and run
in order with bash (``set -euo pipefail``) in a fresh directory, so the handout can never go stale.

``rmd-baseline`` and ``python`` are this interpreter and the checkout under test.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..conftest import ROOT

HANDOUT = ROOT / "docs" / "lab.md"
BLOCK = re.compile(r"```bash\n(?P<body>.*?)```", re.S)


def blocks() -> list[str]:
    return [match["body"] for match in BLOCK.finditer(HANDOUT.read_text("utf-8"))]


def shell(work: Path, body: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", "set -euo pipefail\n" + body], cwd=work, capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{work / 'bin'}{os.pathsep}{os.environ['PATH']}",
                               "PYTHONPATH": str(ROOT)}, timeout=300)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A fresh directory where ``rmd-baseline`` and ``python`` are this checkout, with every block run in order."""
    work = tmp_path_factory.mktemp("lab")
    (work / "bin").mkdir()
    for name, command in (("rmd-baseline", f'exec "{sys.executable}" -m rmd_baselines.cli.main "$@"'),
                          ("python", f'exec "{sys.executable}" "$@"')):
        shim = work / "bin" / name
        shim.write_text(f"#!/bin/sh\n{command}\n", "utf-8")
        shim.chmod(0o755)
    (work / "lab").mkdir()
    runs = []
    started = time.perf_counter()
    for body in blocks():
        runs.append((body, shell(work, body)))
        if runs[-1][1].returncode != 0:
            break
    return {"work": work, "runs": runs, "seconds": time.perf_counter() - started}


def test_the_handout_has_its_exercises():
    text = HANDOUT.read_text("utf-8")
    for heading in ("## (a) Routing", "## (b) Language models", "## (c) Metrics", "### Is the difference significant?"):
        assert heading in text
    assert len(blocks()) == text.count("```bash") >= 9  # no block escapes the test


def test_every_command_runs(lab):
    assert len(lab["runs"]) == len(blocks())
    for body, result in lab["runs"]:
        assert result.returncode == 0, f"block failed:\n{body}\nstdout:\n{result.stdout[-2000:]}\n" \
                                       f"stderr:\n{result.stderr[-2000:]}"
    outputs = "\n".join(result.stdout for _, result in lab["runs"])
    assert "misrouted" in outputs and outputs.count("top 5 for:") >= 2
    assert re.search(r"order 5  perplexity +\d", outputs)
    assert "kenlm's score" in outputs and "BLEU-4" in outputs


def test_the_toy_bleu_numbers_are_the_ones_the_handout_states(lab):
    import json

    toy = next(result.stdout for body, result in lab["runs"] if "toy-hyp.txt --ref" in body)
    scores = json.loads(toy)
    assert scores["paper"]["bleu4"] == pytest.approx(0.5, abs=1e-12)
    assert scores["dstc7"]["bleu4"] == pytest.approx((8 / 17 * 7 / 15 * 6 / 13 * 5 / 11) ** 0.25, abs=1e-12)


def test_the_significance_step_compares_the_two_responders(lab):
    step = next(result.stdout for body, result in lab["runs"]
                if any(line.count("--hyp ") == 2 for line in body.splitlines()))
    assert "hyp-ngram.txt" in step and "hyp-retrieval.txt" in step
    assert "bootstrap" in step.lower() and "randomi" in step.lower()

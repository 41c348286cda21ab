"""The lab handout (``docs/lab.md``) runs as written: every ```bash block is taken from the file itself and run
in order with bash (``set -euo pipefail``) in a fresh directory, so the handout can never go stale.

``rmd-baseline`` and ``python`` are this interpreter and the checkout under test. A block marked
``<!-- lab-test: needs several --hyp in evaluate generate -->`` uses the planned multi-system comparison. It is
skipped with that reason until ``evaluate generate`` accepts several ``--hyp``, and runs from then on.
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
BLOCK = re.compile(r"(?:<!-- lab-test: (?P<marker>[^>]*?) -->\n)?```bash\n(?P<body>.*?)```", re.S)
NEEDS_SEVERAL_HYPS = "needs several --hyp in evaluate generate"


def blocks() -> list[tuple[str | None, str]]:
    return [(match["marker"], match["body"]) for match in BLOCK.finditer(HANDOUT.read_text("utf-8"))]


def several_hyps_accepted() -> bool:
    """Whether ``evaluate generate`` takes ``--hyp`` more than once (the comparison command)."""
    from rmd_baselines.cli.evaluate import evaluate

    hyp = next((p for p in evaluate.commands["generate"].params if "--hyp" in getattr(p, "opts", ())), None)
    return bool(hyp is not None and hyp.multiple)


def shell(work: Path, body: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", "set -euo pipefail\n" + body], cwd=work, capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{work / 'bin'}{os.pathsep}{os.environ['PATH']}",
                               "PYTHONPATH": str(ROOT)}, timeout=300)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A fresh directory where ``rmd-baseline`` and ``python`` are this checkout, with every unmarked block run."""
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
    for marker, body in blocks():
        if marker is None:
            runs.append((body, shell(work, body)))
            if runs[-1][1].returncode != 0:
                break
    return {"work": work, "runs": runs, "seconds": time.perf_counter() - started}


def test_the_handout_has_its_exercises():
    text = HANDOUT.read_text("utf-8")
    for heading in ("## (a) Routing", "## (b) Language models", "## (c) Metrics", "### Is the difference significant?"):
        assert heading in text
    assert [marker for marker, _ in blocks() if marker] == [NEEDS_SEVERAL_HYPS]
    assert len(blocks()) == text.count("```bash") >= 9  # no block escapes the test


def test_every_command_runs(lab):
    unmarked = [body for marker, body in blocks() if marker is None]
    assert len(lab["runs"]) == len(unmarked)
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


def test_the_significance_step(lab):
    if not several_hyps_accepted():
        pytest.skip("the handout's significance step needs 'evaluate generate' with several --hyp (the planned "
                    "comparison command); it runs as soon as the command accepts them")
    for marker, body in blocks():
        if marker == NEEDS_SEVERAL_HYPS:
            result = shell(lab["work"], body)
            assert result.returncode == 0, result.stderr

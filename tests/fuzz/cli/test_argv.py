"""Fuzz the command line (rmd_baselines/cli/main.py) with random argument vectors: command and option names, values
and raw bytes (not valid UTF-8, as a shell passes them: ``sys.argv`` holds them as surrogate escapes) in any order,
run in-process through the console entry point in a folder of their own.

Invariants as in `support.check_run`. ``train``, ``reproduce`` and ``serve`` are left out of the vocabulary: the
first two run for long on valid input (`test_commands` fuzzes them on small data) and ``serve`` runs until stopped.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ..support import check_run, fuzz, listing, run_cli

WORDS = ["data", "validate", "stats", "split", "convert", "synth", "evaluate", "generate", "classify", "model",
         "route", "recommend", "respond", "report", "explain", "lm", "--json", "--quiet", "-q", "--skip-invalid",
         "--task", "--min-count", "--seed", "--out", "--from", "--encoding", "--hyp", "--ref", "--family",
         "--tokenize", "--ci", "--n-boot", "--n-trials", "--logprobs", "--segments", "--gold", "--pred", "--scores",
         "--model", "--input", "--top-k", "--top", "--label", "--department", "--context", "--html", "--data",
         "--view", "--dialogues", "--id-prefix", "--meteor-align", "--nist-variant", "-", "--", "=", "--unknown",
         "route", "respond", "dstc7", "char", "word", "csv", "json", "meddialog", "gb18030", "0", "-1", "3", "x",
         "", "病人：头痛", "small.jsonl", "records.json", "hyp.txt", "ref.txt", "model", "out", "out/x.jsonl",
         "missing", "--seed=-5", "--top-k=0", "--json=1", "--version"]
RAW = st.one_of(
    st.sampled_from(WORDS).map(str.encode),
    st.binary(min_size=0, max_size=12).filter(lambda b: b"\x00" not in b),  # argv strings cannot hold NUL
    st.sampled_from([b"\xff", b"\xe5\xa4", b"--model\xff", b"\xed\xa0\x80", "头痛".encode("gb18030")]),
)


@fuzz(80)
@given(st.lists(RAW, min_size=0, max_size=8), st.sampled_from([None, b"", b"\xff\n", "头痛\n".encode()]),
       st.booleans())
def test_random_argv_keeps_the_invariants(inputs, raw_argv, stdin, debug):
    argv = (["--debug"] if debug else []) + raw_argv
    if any(word in (b"train", b"reproduce", b"serve") for word in raw_argv):
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in ("small.jsonl", "records.json", "hyp.txt", "ref.txt"):
            shutil.copy(inputs[name], folder / name)
        shutil.copytree(inputs["model-ngram"], folder / "model")
        (folder / "out").mkdir()
        before = listing(folder)
        run = run_cli(argv, stdin=stdin, cwd=folder)
        check_run(run, debug=debug, json_out=b"--json" in raw_argv, out_dir=folder, before=before)

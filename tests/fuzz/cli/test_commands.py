"""Fuzz every command of ``rmd-baseline`` (rmd_baselines/cli/) through the console entry point, in-process: each
option present or not, each value drawn from valid, odd and hostile values (negative, zero and huge numbers,
non-numbers, empty and whitespace-only text, zero-width characters, bytes that are not UTF-8, missing, empty,
compressed, binary and deeply nested files, folders, models of the wrong kind), options in any order.

Invariants (`support.check_run`): exit status 0, 1, 2 or 130; no traceback without ``--debug``; one line on stderr on
failure; no raw Python warning; UTF-8 output, strict JSON with ``--json``; after a failure the output folder holds
what it held before (an earlier output is kept intact); after a success every text output is UTF-8 and every JSON
output strict JSON. ``serve`` is only given models it must refuse (it binds a port and runs until stopped).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ..support import check_outputs, check_run, fuzz, listing, run_cli

NOT_UTF8 = [b"\xff\xfe", b"\xe4\xbd", b"caf\xe9", b"\xc0\x80", b"\xed\xa0\x80"]  # latin-1, cut, overlong, surrogate
TEXT_VALUES = st.one_of(
    st.sampled_from(["最近胸口闷，爬楼梯就喘不上气", "病人：孩子发烧两天了\\n医生：最高多少度？\\n病人：38度5", "头痛",
                     "", " ", "\t\n", "\u200b\u200d", "\x00", "\x1b[31m", "-", "--", "--help", "x" * 5000,
                     "病" * 3000, "\U0001f600", "医生：", "\\n\\n\\n"]),
    st.sampled_from(NOT_UTF8).map(lambda b: b"\xe5\xa4\xb4" + b),
    st.text(alphabet="病人医生头痛发烧，。？：ab \n\\\u3000\u200b", max_size=40),
)
INT_VALUES = st.one_of(st.sampled_from(["0", "1", "2", "3", "-1", "-7", "5", "10", "x", "", " 3", "1.5", "1e3",
                                        "-0", "0x10", "9" * 30, "-" + "9" * 30, "١", "\uff13"]),
                       st.integers(-5, 12).map(str))
COUNT_VALUES = st.one_of(st.sampled_from(["0", "1", "2", "5", "-1", "x", "", "1000000000", "9" * 25, "2.0"]),
                         st.integers(-3, 20).map(str))
SEED_VALUES = st.one_of(st.sampled_from(["0", "1", "-1", "-2147483649", "4294967296", "9" * 25, "abc", ""]),
                        st.integers(-(2**40), 2**40).map(str))


def choice(*values):
    return st.one_of(st.sampled_from(values), st.sampled_from(["", "CHAR", "both ", "x", "\u200b"]))


def files(inputs, *names):
    return st.sampled_from([inputs[n] for n in names] + [inputs["folder"], "missing.jsonl", "", inputs["binary.bin"],
                                                         inputs["empty.jsonl"]])


def outs(*names):
    """Output paths, relative to the example's folder: always inside ``out/`` (or ``out`` itself)."""
    base = ["out/x", "out/x.jsonl", "out/x.jsonl.gz", "out/sub/deeper/x", "out", "out/", "out/earlier-model",
            "out/earlier.jsonl", "out/x.json", "out/ü ß 中.txt", "out/.", "out/link"]
    return st.sampled_from(list(names) + base)


def command_specs(inputs):
    """{command: (positional argument strategies, {option: value strategy or None for a flag}, repeatable)}."""
    corpus = files(inputs, "corpus.jsonl", "small.jsonl", "corpus.jsonl.gz", "bad.jsonl", "blank.jsonl",
                   "garbage.gz", "records.json", "nested.json")
    foreign = files(inputs, "records.json", "toyhom.csv", "toyhom-big5.csv", "meddialog.txt", "corpus.jsonl",
                    "nested.json", "garbage.gz")
    texts_in = files(inputs, "contexts.txt", "contexts.txt.gz", "corpus.jsonl", "hyp.txt")
    segments = files(inputs, "hyp.txt", "hyp2.txt", "hyp-short.txt", "ref.txt", "ref2.txt", "corpus.jsonl")
    labels = files(inputs, "gold.txt", "pred.txt", "pred2.txt", "hyp-short.txt", "corpus.jsonl")
    model = files(inputs, "model-route", "model-recommend", "model-ngram", "model-retrieval", "model-rerank",
                  "results", "corpus.jsonl")
    respond_model = files(inputs, "model-ngram", "model-retrieval", "model-rerank", "model-route")
    logprobs = files(inputs, "logprobs.jsonl", "logprobs-huge.jsonl", "scores.jsonl", "hyp.txt")
    scores = files(inputs, "scores.jsonl", "logprobs.jsonl", "gold.txt")
    tasks = choice("route", "recommend", "respond")
    classify = ([TEXT_VALUES], {"--model": model, "--input": texts_in, "--top-k": COUNT_VALUES, "--json": None})
    return {
        ("data", "synth"): ([], {"--dialogues": st.sampled_from(["0", "1", "3", "-1", "x", "", "2.0", "9" * 25]), "--seed": SEED_VALUES, "--out": outs(), "--json": None}),
        ("data", "validate"): ([corpus], {"--skip-invalid": None}),
        ("data", "stats"): ([corpus], {"--task": tasks, "--min-count": INT_VALUES, "--seed": SEED_VALUES,
                                       "--json": None, "--skip-invalid": None}),
        ("data", "split"): ([corpus], {"--task": tasks, "--min-count": INT_VALUES, "--view": choice("patient", "dialogue"),
                                       "--seed": SEED_VALUES, "--out": outs(), "--json": None, "--skip-invalid": None}),
        ("data", "convert"): ([foreign, outs()], {"--from": choice("csv", "meddialog", "json"),
                                                  "--encoding": choice("auto", "utf-8", "gb18030"),
                                                  "--id-prefix": TEXT_VALUES, "--skip-invalid": None}),
        ("evaluate", "generate"): ([], {"--hyp": segments, "--ref": segments, "--family": choice("paper", "dstc7", "both"),
                                        "--tokenize": choice("char", "word", "none"), "--ci": None,
                                        "--n-boot": COUNT_VALUES.filter(lambda v: len(v) < 7), "--n-trials": COUNT_VALUES.filter(lambda v: len(v) < 7),
                                        "--seed": SEED_VALUES, "--logprobs": logprobs, "--segments": outs(),
                                        "--meteor-align": choice("jar", "optimal"),
                                        "--nist-variant": choice("mteval", "corrected"), "--json": None}),
        ("evaluate", "classify"): ([], {"--gold": labels, "--pred": labels, "--scores": scores,
                                        "--task": choice("route", "recommend"), "--ci": None,
                                        "--n-boot": COUNT_VALUES.filter(lambda v: len(v) < 7), "--n-trials": COUNT_VALUES.filter(lambda v: len(v) < 7),
                                        "--seed": SEED_VALUES, "--json": None}),
        ("evaluate", "model"): ([model], {"--data": corpus, "--json": None}),
        ("route",): classify,
        ("recommend",): classify,
        ("respond",): ([TEXT_VALUES], {"--model": respond_model, "--input": texts_in, "--department": TEXT_VALUES,
                                       "--top-k": COUNT_VALUES, "--json": None}),
        ("report",): ([files(inputs, "results", "model-route")], {"--html": outs("out/report.html")}),
        ("explain", "route"): ([TEXT_VALUES], {"--model": model, "--label": TEXT_VALUES, "--top": COUNT_VALUES,
                                               "--json": None}),
        ("explain", "recommend"): ([TEXT_VALUES], {"--model": model, "--label": TEXT_VALUES, "--top": COUNT_VALUES,
                                                   "--json": None}),
        ("explain", "respond"): ([TEXT_VALUES], {"--model": respond_model, "--department": TEXT_VALUES,
                                                 "--top": COUNT_VALUES, "--json": None}),
        ("explain", "lm"): ([TEXT_VALUES], {"--model": respond_model, "--context": TEXT_VALUES, "--json": None}),
        # serve runs until stopped: only ever given models it must refuse (a file, nothing, a results folder)
        ("serve",): ([], {"--model": st.sampled_from([inputs["corpus.jsonl"], inputs["results"], inputs["folder"],
                                                      "missing", ""]),
                          "--port": st.sampled_from(["0", "-1", "65536", "x", "8080"]),
                          "--host": st.sampled_from(["127.0.0.1", "", "::1", "999.1.1.1", "\u200b"])},
                     ["--model"]),
    }


def slow_specs(inputs):
    """Commands that train: always given ``--data`` (without it ``reproduce`` runs on the bundled sample), the small
    corpus or bad input."""
    corpus = files(inputs, "small.jsonl", "bad.jsonl", "blank.jsonl", "garbage.gz", "nested.json")
    small_int = st.sampled_from(["0", "1", "2", "3", "-1", "x", "", "9" * 25])
    common = {"--data": corpus, "--min-count": small_int, "--view": choice("patient", "dialogue"),
              "--seed": SEED_VALUES, "--cv": st.sampled_from(["2", "3", "1", "0", "-2", "x", "1000"]), "--out": outs(),
              "--json": None}
    return {
        ("train", "route"): ([], {**common, "--model": choice("logreg", "cnb", "svm", "svm-char", "logreg-char")},
                             ["--data"]),
        ("train", "recommend"): ([], {**common, "--model": choice("logreg", "cnb", "hier-logreg", "svm")},
                                 ["--data"]),
        ("train", "respond"): ([], {"--data": corpus, "--model": choice("retrieval", "ngram", "rerank"),
                                    "--order": st.sampled_from(["1", "2", "3", "0", "-1", "x", "99"]),
                                    "--seed": SEED_VALUES, "--out": outs(), "--json": None}, ["--data"]),
        ("reproduce",): ([], {"--data": corpus, "--out": outs(), "--seed": SEED_VALUES,
                              "--n-boot": st.sampled_from(["1", "5", "0", "-1", "x"]), "--no-models": None,
                              "--json": None}, ["--data"]),
    }


class Invocation(list):
    """An argv, plus ``texts``: the values drawn as free text (a patient's words, a label, a department)."""

    texts: list


@st.composite
def invocation(draw, specs):
    command = draw(st.sampled_from(sorted(specs)))
    positional, options, *required = specs[command]
    argv = Invocation(command)
    argv.texts = []
    chunks = []
    for name, strategy in options.items():
        if name not in (required[0] if required else ()) and not draw(st.booleans()):
            continue
        repeat = draw(st.integers(1, 2)) if name in ("--hyp", "--ref", "--pred", "--scores", "--logprobs") else 1
        for _ in range(repeat):
            value = None if strategy is None else draw(strategy)
            if strategy is TEXT_VALUES:
                argv.texts.append(value)
            chunks.append([name] if strategy is None else [name, value])
    args = []
    for strategy in positional:
        if draw(st.integers(0, 9)) > 0:
            args.append(draw(strategy))
            if strategy is TEXT_VALUES:
                argv.texts.append(args[-1])
    chunks += [[a] for a in args]
    chunks = draw(st.permutations(chunks))
    for chunk in chunks:
        argv += chunk
    prefix = draw(st.sampled_from([[], [], ["--quiet"], ["--debug"]]))
    out = Invocation(prefix + [os.fspath(a) if isinstance(a, Path) else a for a in argv])
    out.texts = argv.texts
    return out


def not_utf8(value) -> bool:
    """True for an argument that was not valid UTF-8 on the command line (bytes, or str with surrogate escapes)."""
    if isinstance(value, bytes):
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_meaning(argv, run, inputs) -> None:
    """Promises beyond the generic invariants, for the inputs where the right answer is known."""
    if {"--help", "-h", "--version"} & {a for a in argv if isinstance(a, str)}:
        return
    if any(not_utf8(t) for t in getattr(argv, "texts", [])):
        assert run.code == 2, f"a text argument that is not UTF-8 was not refused (issue 13 D5)\n{run.describe()}"
    empty = {str(inputs["empty.jsonl"]), str(inputs["blank.jsonl"])}
    if any(a in empty for a in argv) and \
            any(tuple(argv[i:i + 2]) in (("data", "validate"), ("data", "stats"), ("data", "split"))
                for i in range(len(argv))):
        assert run.code == 2, f"an empty corpus was accepted (issue 13 D13)\n{run.describe()}"


def prepare(folder: Path, inputs, draw) -> None:
    """An output folder that may already hold an earlier output (which a failure must leave intact)."""
    out = folder / "out"
    out.mkdir()
    if draw(st.booleans()):
        shutil.copytree(inputs["model-retrieval"], out / "earlier-model")
    if draw(st.booleans()):
        (out / "earlier.jsonl").write_bytes(inputs["small.jsonl"].read_bytes()[:2000].rsplit(b"\n", 1)[0] + b"\n")
    if draw(st.booleans()):
        os.symlink(out / "earlier-model" if draw(st.booleans()) else folder / "elsewhere", out / "link")


def run_and_check(argv, inputs, data):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        prepare(folder, inputs, data.draw)
        stdin = data.draw(st.sampled_from([None, b"", b"\xff\xfe\n", "头痛\n\n发烧\n".encode(), b"x" * 100]))
        before = listing(folder / "out")
        run = run_cli(argv, stdin=stdin, cwd=folder)
        check_run(run, debug="--debug" in argv, json_out="--json" in argv, out_dir=folder / "out", before=before)
        check_meaning(argv, run, inputs)
        if run.code == 0:
            check_outputs(folder / "out")
            added = sorted(set(listing(folder / "out")) - set(before))
            temporary = [name for name in added if any(part.startswith(".") or ".old-" in part or
                                                       part.endswith(".tmp") for part in Path(name).parts)]
            assert not temporary, f"temporary files left after a success (issue 13 D8): {temporary}\n" \
                                  f"{run.describe()}"
        else:
            leftovers = [p.name for p in folder.iterdir() if p.name != "out"]
            assert not leftovers, f"files left beside the output folder: {leftovers}\n{run.describe()}"


@fuzz(60)
@given(data=st.data())
def test_commands_keep_the_invariants(inputs, data):
    argv = data.draw(invocation(command_specs(inputs)))
    run_and_check(argv, inputs, data)


@fuzz(5)
@given(data=st.data())
def test_training_commands_keep_the_invariants(inputs, data):
    argv = data.draw(invocation(slow_specs(inputs)))
    run_and_check(argv, inputs, data)

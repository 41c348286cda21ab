"""`evaluate model DIR` for responders: rebuild the test split the model never saw, answer every test context,
score the answers with both metric families, and report the perplexity of the references.

The split is rebuilt from the `GenerationSettings` saved with the model, on the corpus it was trained on (or the
file given instead; a file whose SHA-256 differs from the recorded one is reported in ``notes`` and as a
`DataChangedWarning` saying how many test instances the model was trained on, and the run goes on). Perplexity is the char-level Kneser-Ney language model's bundled with every responder (protocol section 4:
``exp(total NLL / tokens)`` over the reference responses, the end-of-response token included), so retrieval
responders get one too; the report names that model. Test contexts that occur verbatim in the training split
(protocol section 3.4) are counted in ``notes``.

Memory is bounded by the test split: the split is decided from one scan of the corpus
(`tasks.generation.streamed_generation_test`), only the test instances are held, and the training contexts are
streamed past the set of test contexts to count the verbatim ones. ``max_test`` evaluates a seeded sample of that
many test instances instead (`StreamedGenerationSplit.instances`), stated in the report and its notes.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Iterable, Sequence

from ..errors import DataChangedWarning, UsageError, changed_data_message
from ..persist import file_sha256
from .model import LoadedResponder, load_responder, respond_all


def verbatim_contexts(train: Iterable, test: Sequence) -> int:
    """How many test instances have a context that is exactly some training instance's context (``train`` is read
    once and may be a stream: only the test contexts are held)."""
    wanted: dict[str, int] = {}
    for instance in test:
        wanted[instance.context] = wanted.get(instance.context, 0) + 1
    repeated = 0
    for instance in train:
        count = wanted.pop(instance.context, 0)
        repeated += count
        if not wanted:
            break
    return repeated


def reference_logprobs(loaded: LoadedResponder, contexts: Sequence[str],
                       references: Sequence[str]) -> list[list[float]]:
    """Natural-log probabilities of every reference token and of the end of the response, under the bundled LM."""
    model = loaded.perplexity_model
    return [[-float(value) for value in row] for row in model.response_nll(contexts, references)]


def _training_overlap(loaded: LoadedResponder, data_path: str, test: Sequence) -> int | None:
    """How many ``test`` instances are (context, response) training instances of the file the responder was trained
    on, when that file is still there unchanged (streamed: only the test pairs are held); None when unknown."""
    from ..tasks.generation import stream_generation_split

    path = loaded.data_path
    if not path or os.path.abspath(path) == os.path.abspath(data_path) or not os.path.isfile(path):
        return None
    if file_sha256(path) != loaded.data_sha256:
        return None
    wanted = {(i.context, i.response) for i in test}
    found = set()
    for instance in stream_generation_split(path, loaded.settings).iter_instances("train"):
        pair = (instance.context, instance.response)
        if pair in wanted:
            found.add(pair)
    return sum((i.context, i.response) in found for i in test)


def evaluate_model_dir(model_dir: str | os.PathLike, data_path: str | os.PathLike | None = None,
                       max_test: int | None = None) -> tuple[dict, str]:
    """``(report, table)`` for a saved responder on the protocol's test split, or on a seeded sample of
    ``max_test`` of its instances (see the module docstring)."""
    from ..metrics.generation import evaluate_generation, format_table4
    from ..tasks.generation import check_sample_size, streamed_generation_test

    check_sample_size(max_test)

    loaded = load_responder(model_dir)
    notes: list[str] = []
    path = os.fspath(data_path) if data_path is not None else loaded.data_path
    if path is None:
        raise UsageError(f"{model_dir}: the model records no training file; give the corpus with --data FILE")
    changed = bool(loaded.data_sha256 and os.path.isfile(path) and file_sha256(path) != loaded.data_sha256)
    data = streamed_generation_test(path, loaded.settings, max_test=max_test, source=path)
    stream, test = data.stream, data.instances
    n_train = stream.count_instances("train")
    if changed:
        overlap = _training_overlap(loaded, path, test)
        note = changed_data_message(path, loaded.data_sha256, overlap, len(test), "instances")
        notes.append(note)
        if overlap != 0:  # the scores may count what the model was trained on
            warnings.warn(note, DataChangedWarning, stacklevel=2)
    contexts = [instance.context for instance in test]
    references = [instance.response for instance in test]
    replies = respond_all(loaded.responder, contexts, [instance.department for instance in test])
    logprobs = reference_logprobs(loaded, contexts, references)
    report = evaluate_generation([reply.response for reply in replies], [[r] for r in references],
                                 tokenize="char", family="both", logprobs=logprobs)
    ppl_model = loaded.perplexity_model
    tokens = sum(len(row) for row in logprobs)
    report["perplexity"] = math.exp(-sum(sum(row) for row in logprobs) / tokens)
    report["perplexity_signature"] = f"PPL|variant:token|unit:nat|eos:included|{ppl_model.signature}"
    repeated = verbatim_contexts(stream.iter_instances("train"), test)
    if data.sampled:
        notes.append(f"test sample: {len(test)} of the {data.total_instances} test instances (--max-test "
                     f"{max_test}, seed {loaded.settings.seed}: the smallest sha256(seed:sample:dialogue:turn))")
    notes.append(f"{repeated} of {len(test)} test contexts occur verbatim in the training split "
                 "(benchmark-protocol.md section 3.4)")
    notes.append(f"perplexity: reference responses under the char-level Kneser-Ney model bundled with the "
                 f"responder (order {ppl_model.order}, trained on the {n_train} training instances), "
                 "end of response included")
    report.update({
        "model": loaded.model,
        "settings": loaded.settings.to_json(),
        "data": path,
        "instances": len(test),
        "notes": notes,
    })
    if max_test is not None:
        report.update({"max_test": max_test, "test_instances_total": data.total_instances})
    sample = f" of {data.total_instances}, seeded sample" if data.sampled else ""
    table = format_table4({f"{loaded.model} (test, {len(test)}{sample} instances)": report})
    table += "\n" + "\n".join(f"note: {note}" for note in notes)
    return report, table

"""`evaluate model DIR` for responders: rebuild the test split the model never saw, answer every test context,
score the answers with both metric families, and report the perplexity of the references.

The split is rebuilt from the `GenerationSettings` saved with the model, on the corpus it was trained on (or the
file given instead; a file whose SHA-256 differs from the recorded one is reported in ``notes`` and as a
`DataChangedWarning` saying how many test instances the model was trained on, and the run goes on). Perplexity is the char-level Kneser-Ney language model's bundled with every responder (protocol section 4:
``exp(total NLL / tokens)`` over the reference responses, the end-of-response token included), so retrieval
responders get one too; the report names that model. Test contexts that occur verbatim in the training split
(protocol section 3.4) are counted in ``notes``.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Sequence

from ..errors import DataChangedWarning, UsageError, changed_data_message
from ..persist import file_sha256
from .model import LoadedResponder, load_generation_data, load_responder, respond_all


def verbatim_contexts(train: Sequence, test: Sequence) -> int:
    """How many test instances have a context that is exactly some training instance's context."""
    seen = {instance.context for instance in train}
    return sum(instance.context in seen for instance in test)


def reference_logprobs(loaded: LoadedResponder, contexts: Sequence[str],
                       references: Sequence[str]) -> list[list[float]]:
    """Natural-log probabilities of every reference token and of the end of the response, under the bundled LM."""
    model = loaded.perplexity_model
    return [[-float(value) for value in row] for row in model.response_nll(contexts, references)]


def _recorded_training_split(loaded: LoadedResponder, data_path: str) -> set[tuple[str, str]] | None:
    """The (context, response) training instances of the file the responder was trained on, when that file is
    still there unchanged."""
    path = loaded.data_path
    if not path or os.path.abspath(path) == os.path.abspath(data_path) or not os.path.isfile(path):
        return None
    if file_sha256(path) != loaded.data_sha256:
        return None
    return {(i.context, i.response) for i in load_generation_data(path, loaded.settings).train}


def evaluate_model_dir(model_dir: str | os.PathLike, data_path: str | os.PathLike | None = None) -> tuple[dict, str]:
    """``(report, table)`` for a saved responder on the protocol's test split (see the module docstring)."""
    from ..metrics.generation import evaluate_generation, format_table4

    loaded = load_responder(model_dir)
    notes: list[str] = []
    path = os.fspath(data_path) if data_path is not None else loaded.data_path
    if path is None:
        raise UsageError(f"{model_dir}: the model records no training file; give the corpus with --data FILE")
    changed = bool(loaded.data_sha256 and os.path.isfile(path) and file_sha256(path) != loaded.data_sha256)
    data = load_generation_data(path, loaded.settings)
    test = data.test
    if changed:
        trained_on = _recorded_training_split(loaded, path)
        overlap = None if trained_on is None else sum((i.context, i.response) in trained_on for i in test)
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
    repeated = verbatim_contexts(data.train, test)
    notes.append(f"{repeated} of {len(test)} test contexts occur verbatim in the training split "
                 "(benchmark-protocol.md section 3.4)")
    notes.append(f"perplexity: reference responses under the char-level Kneser-Ney model bundled with the "
                 f"responder (order {ppl_model.order}, trained on the {len(data.train)} training instances), "
                 "end of response included")
    report.update({
        "model": loaded.model,
        "settings": loaded.settings.to_json(),
        "data": path,
        "instances": len(test),
        "notes": notes,
    })
    table = format_table4({f"{loaded.model} (test, {len(test)} instances)": report})
    table += "\n" + "\n".join(f"note: {note}" for note in notes)
    return report, table

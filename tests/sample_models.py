"""Small real models trained once per test session on slices of the bundled sample, for the explanation,
playground and CLI tests.

Each builder is cached for the session: tests in several modules share one trained model. The slices keep
fitting fast: the first dialogues of ``data/realmeddial_synthetic_sample.jsonl.gz``, written to a corpus file
under the session's temporary directory, so that a saved model records a real training file. Every preset keeps
its model, link, features and hierarchy. The only size change is the ``lightgbm`` preset, trained with 10
boosting rounds instead of 200: its explanation is computed the same way whatever the number of trees.
"""

from __future__ import annotations

from pathlib import Path

from rmd_baselines.classify.features import tokenize_texts
from rmd_baselines.classify.training import build_estimator, departments_of, save_model
from rmd_baselines.corpus import load_dialogues, write_dialogues
from rmd_baselines.tasks.classification import ClassificationSettings, build_classification_task
from rmd_baselines.tasks.generation import GenerationSettings, build_generation_task

from .conftest import SAMPLE

CLASSIFY_DIALOGUES = 400
RESPOND_DIALOGUES = 500
LIGHTGBM_ROUNDS = 10
# Every rerank feature weighted, so that every component of the combined score is exercised.
RERANK_WEIGHTS = {"lm": 0.5, "lm_gain": 1.0, "consensus": 1.0, "length": 0.05, "frequency": -0.05}

_BUILT: dict = {}


def session_cached(build):
    """Build once per session: the result is kept under the builder's arguments after ``factory`` (pytest's
    ``tmp_path_factory``, the same object for the whole session)."""
    def cached(factory, *key):
        if (build.__name__, *key) not in _BUILT:
            _BUILT[(build.__name__, *key)] = build(factory, *key)
        return _BUILT[(build.__name__, *key)]

    cached.__name__ = build.__name__
    cached.__doc__ = build.__doc__
    return cached


@session_cached
def sample_slice(factory, dialogues: int) -> Path:
    """The first ``dialogues`` records of the bundled sample, as a corpus file of this session."""
    records, _ = load_dialogues(SAMPLE)
    path = factory.mktemp("sample") / f"sample-first-{dialogues}.jsonl"
    write_dialogues(path, records[:dialogues])
    return path


@session_cached
def classification_data(factory, task: str):
    path = sample_slice(factory, CLASSIFY_DIALOGUES)
    dialogues, _ = load_dialogues(path)
    settings = ClassificationSettings(task=task)
    data = build_classification_task(dialogues, settings, source=str(path))
    return path, settings, data, tokenize_texts(data.train_texts, words=True)


@session_cached
def fitted_classifier(factory, task: str, preset: str):
    """A router or recommender of ``preset``, fitted on the slice's train split."""
    _, _, data, docs = classification_data(factory, task)
    estimator = build_estimator(task, preset, seed=0)
    if preset == "lightgbm":
        estimator.set_params(n_estimators=LIGHTGBM_ROUNDS)
    groups = departments_of(data.train) if estimator.hierarchical else None
    return estimator.fit(docs, data.train_labels, groups=groups)


@session_cached
def classifier_dir(factory, task: str, preset: str) -> Path:
    """`fitted_classifier` saved as a model directory."""
    path, settings, _, _ = classification_data(factory, task)
    directory = factory.mktemp(f"{task}-{preset}") / "model"
    save_model(fitted_classifier(factory, task, preset), directory, settings, path, model=preset)
    return directory


@session_cached
def generation_data(factory):
    path = sample_slice(factory, RESPOND_DIALOGUES)
    dialogues, _ = load_dialogues(path)
    return path, build_generation_task(dialogues, GenerationSettings(), source=str(path))


@session_cached
def responder_dir(factory, model: str) -> Path:
    """A retrieval, n-gram (order 4) or rerank responder trained on the slice, saved as a model directory."""
    from rmd_baselines.respond.model import make_responder, save_responder

    path, data = generation_data(factory)
    params = {"weights": RERANK_WEIGHTS} if model == "rerank" else {}
    responder = make_responder(model, order=4, seed=0, **params).fit(data.train, valid=data.valid)
    directory = factory.mktemp(f"respond-{model}") / "model"
    save_responder(responder, directory, data.settings, path, len(data.train), len(data.valid))
    return directory

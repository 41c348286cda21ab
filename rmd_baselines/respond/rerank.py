"""The retrieve-and-rerank responder: BM25 retrieval proposes candidates, a weighted sum of features picks one.

For a context, the retrieval responder (`rmd_baselines.respond.retrieval`) proposes ``n_candidates`` distinct
training responses. Each candidate gets these features:

- ``retrieval``: its BM25 score divided by the best candidate's (1 for the best);
- ``lm``: the mean log10 probability per token of the candidate (end of response included) under a char-level
  Kneser-Ney model of ``context tail + <sep> + response`` (an `NgramResponder`, attribute ``ngram_``), given
  this context's tail: how fluent and typical a doctor's answer it is here;
- ``lm_gain``: ``lm`` minus the same quantity after an empty context, i.e. how much this context raises the
  candidate's probability (a pointwise-mutual-information view that favours answers specific to the context
  over answers that fit everywhere);
- ``consensus``: its mean Dice overlap (sets of characters and character pairs) with the other top
  ``consensus_top`` candidates, each weighted by its ``retrieval`` feature -- what many similar contexts were
  answered with is a safer bet than one outlier;
- ``length``: ``ln(1 + characters)``, a length prior;
- ``frequency``: ``ln(number of training contexts answered with it)``; a negative weight keeps the few responses
  that answer everything ("你好", "不客气") from being chosen everywhere, which is what makes retrieval repetitive.

The score of a candidate is ``sum(weight[f] * feature[f])`` with ``weight["retrieval"] = 1``. The other weights
are given (``weights=``) or tuned on the protocol's valid split by `tuning.grid_search` over ``DEFAULT_GRID``
(BLEU-4 and NIST-4 of both metric families, with a penalty when Dist-2 falls below ``dist_target`` times the
references' Dist-2); the chosen weights and the tuning report are saved with the model. With fewer than
``min_valid`` validation instances, ``DEFAULT_WEIGHTS`` are used.

With ``exact_match_first``, a candidate whose training context is the query context itself (verbatim, ignoring
whitespace) goes first whatever its score: a repeated consultation is best answered the way it was answered.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import numpy as np

from .. import progress
from ..errors import DataError, ModelFormatError, UsageError
from ..text import get_tokenizer
from .base import Reply, check_contexts, check_k
from .retrieval import Candidate, RetrievalResponder
from .tuning import SelectionScorer, grid_search

FEATURES = ("retrieval", "lm", "lm_gain", "consensus", "length", "frequency")
DEFAULT_GRID = {
    "lm": (0.0, 0.5),
    "lm_gain": (0.0, 0.5, 1.0, 2.0),
    "consensus": (0.0, 0.5, 1.0, 2.0, 3.0),
    "length": (-0.1, -0.05, 0.0, 0.05),
    "frequency": (0.0, -0.05, -0.1, -0.2),
}
# Used without a validation split: a middle-of-the-grid choice, typical of what tuning picks on the real corpora.
DEFAULT_WEIGHTS = {"retrieval": 1.0, "lm": 0.0, "lm_gain": 1.0, "consensus": 1.0, "length": 0.0, "frequency": -0.05}
FORMAT_NAME = "rmd_baselines-rerank-responder"
FORMAT_VERSION = 1


def _positive_int(name: str, value, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_weights(weights, what: str = "weights") -> dict[str, float]:
    if not isinstance(weights, Mapping):
        raise UsageError(f"{what} must map feature names to numbers")
    unknown = set(weights) - set(FEATURES)
    if unknown:
        raise UsageError(f"unknown rerank feature(s) {', '.join(sorted(unknown))} (features: {', '.join(FEATURES)})")
    out = {name: 0.0 for name in FEATURES}
    out["retrieval"] = 1.0
    for name, value in weights.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UsageError(f"{what}[{name!r}] must be a finite number, got {value!r}")
        out[name] = float(value)
    return out


class RerankResponder:
    """Retrieves ``n_candidates`` responses by BM25 and returns the best by a tuned weighted sum of features.

    Fitted attributes: ``retriever_`` (the fitted `RetrievalResponder`), ``ngram_`` (the `NgramResponder` whose
    language model scores candidates, also the bundle's perplexity model), ``unconditional_`` (mean log10
    probability per token of every training response after an empty context), ``weights_`` (feature -> weight),
    ``tuning_`` (the validation report, or None when the weights were given or defaulted) and ``n_train_``.
    """

    name = "rerank"

    def __init__(self, retriever: RetrievalResponder | None = None, n_candidates: int = 20, consensus_top: int = 10,
                 lm_order: int = 5, exact_match_first: bool = True, weights: Mapping[str, float] | None = None,
                 dist_target: float = 0.85, min_valid: int = 50):
        self.retriever = retriever
        self.n_candidates = n_candidates
        self.consensus_top = consensus_top
        self.lm_order = lm_order
        self.exact_match_first = exact_match_first
        self.weights = weights
        self.dist_target = dist_target
        self.min_valid = min_valid

    def get_params(self) -> dict:
        return {"retriever": self.retriever, "n_candidates": self.n_candidates, "consensus_top": self.consensus_top,
                "lm_order": self.lm_order, "exact_match_first": self.exact_match_first, "weights": self.weights,
                "dist_target": self.dist_target, "min_valid": self.min_valid}

    def _check_params(self) -> None:
        if self.retriever is not None and not isinstance(self.retriever, RetrievalResponder):
            raise UsageError("retriever must be a RetrievalResponder (its parameters are used) or None")
        _positive_int("n_candidates", self.n_candidates)
        _positive_int("consensus_top", self.consensus_top)
        _positive_int("min_valid", self.min_valid)
        _positive_int("lm_order", self.lm_order, 2)
        if self.lm_order > 6:
            raise UsageError(f"lm_order must be an integer from 2 to 6, got {self.lm_order!r}")
        if not isinstance(self.exact_match_first, bool):
            raise UsageError(f"exact_match_first must be true or false, got {self.exact_match_first!r}")
        if self.weights is not None:
            _check_weights(self.weights)
        target = self.dist_target
        if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 <= target <= 2:
            raise UsageError(f"dist_target must be a number from 0 to 2, got {target!r}")

    # ------------------------------------------------------------------------------------------- fitting

    def fit(self, instances: Iterable, valid: Sequence | None = None, lm_instances: Iterable | None = None
            ) -> "RerankResponder":
        """Fit retrieval and the language model on ``instances``; tune the weights on ``valid``.

        As `RetrievalResponder.fit`: ``instances`` may be an iterable read once when ``lm_instances`` (the same
        instances again, in any order, for the language model) is given; only ``valid`` is held as a list."""
        from .ngram import NgramResponder

        self._check_params()
        if lm_instances is None:
            instances = list(instances)
            if not instances:
                raise DataError("no training instances for the rerank responder")
        template = self.retriever.get_params() if self.retriever is not None else {}
        try:
            self.retriever_ = RetrievalResponder(**{**template, "lm_order": None}).fit(instances)
        except DataError:
            raise DataError("no training instances for the rerank responder") from None
        valid = list(valid or [])
        self.ngram_ = NgramResponder(order=self.lm_order, unit="char").fit(
            instances if lm_instances is None else lm_instances, valid)
        self._reset_cache()
        responses = self.retriever_.responses_
        empty_context = [""] * len(responses)  # the history is then just <s> <sep>
        self.unconditional_ = np.array([scores.mean() for scores in
                                        self.ngram_.response_log10probs(empty_context, responses)])
        self.n_train_ = self.retriever_.n_train_
        self.tuning_ = None
        if self.weights is not None:
            self.weights_ = _check_weights(self.weights)
        elif len(valid) >= self.min_valid:
            self.weights_, self.tuning_ = self._tune(valid)
        else:
            self.weights_ = dict(DEFAULT_WEIGHTS)
        return self

    def _tune(self, valid: Sequence) -> tuple[dict[str, float], dict]:
        contexts = [instance.context for instance in valid]
        departments = [instance.department for instance in valid]
        candidates = self.retriever_.retrieve(contexts, self.n_candidates, departments)
        features, mask, forced = self._features(contexts, candidates)
        texts = [[self.retriever_.responses_[c.response] for c in row] for row in candidates]
        scorer = SelectionScorer(texts, [instance.response for instance in valid])
        grid = {name: values for name, values in DEFAULT_GRID.items()}
        report = grid_search(features, mask, FEATURES, grid, {"retrieval": 1.0}, scorer, self.dist_target,
                             forced if self.exact_match_first else None)
        report["valid_instances"] = len(valid)
        report["dist_target"] = self.dist_target
        return dict(report["weights"]), report

    def _check_fitted(self) -> None:
        if not hasattr(self, "weights_"):
            raise UsageError("this RerankResponder is not fitted yet; call fit() or load() first")

    # ------------------------------------------------------------------------------------------- features

    def _reset_cache(self) -> None:
        self._tokens: dict[int, list[str]] = {}
        self._pieces: dict[int, frozenset] = {}

    def _response_tokens(self, number: int) -> list[str]:
        tokens = self._tokens.get(number)
        if tokens is None:
            tokens = self._tokens[number] = get_tokenizer("char").tokenize(self.retriever_.responses_[number])
        return tokens

    def _response_pieces(self, number: int) -> frozenset:
        """Characters and character pairs of a response, for the consensus overlap."""
        pieces = self._pieces.get(number)
        if pieces is None:
            tokens = self._response_tokens(number)
            pieces = self._pieces[number] = frozenset(tokens) | frozenset(a + b for a, b in zip(tokens, tokens[1:]))
        return pieces

    def _consensus(self, numbers: list[int], retrieval: np.ndarray) -> np.ndarray:
        pieces = [self._response_pieces(n) for n in numbers]
        top = min(self.consensus_top, len(numbers))
        out = np.zeros(len(numbers))
        for a, own in enumerate(pieces):
            total = weight = 0.0
            for b in range(top):
                if b == a:
                    continue
                other = pieces[b]
                size = len(own) + len(other)
                total += retrieval[b] * (2.0 * len(own & other) / size if size else 0.0)
                weight += retrieval[b]
            out[a] = total / weight if weight > 0 else 0.0
        return out

    def _features(self, contexts: Sequence[str], candidates: Sequence[Sequence[Candidate]]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(features, mask, forced)``: features of shape (contexts, n_candidates, features), which places hold a
        candidate, and per context the first exact-match candidate (or -1)."""
        width = max(len(row) for row in candidates)
        features = np.zeros((len(contexts), width, len(FEATURES)))
        mask = np.zeros((len(contexts), width), dtype=bool)
        forced = np.full(len(contexts), -1, dtype=np.int64)
        lm = self.ngram_.lm_
        counts = self.retriever_.response_count_
        for row, (context, found) in enumerate(zip(contexts, progress.progress(candidates, "scoring candidates",
                                                                             length=len(candidates)))):
            numbers = [c.response for c in found]
            best = found[0].score
            retrieval = np.array([c.score / best if best > 0 else 0.0 for c in found])
            history = self.ngram_.history_tokens(context)
            lm_scores = np.array([lm.continuation_log10probs(history, self._response_tokens(n)).mean()
                                  for n in numbers])
            block = features[row, :len(found)]
            block[:, 0] = retrieval
            block[:, 1] = lm_scores
            block[:, 2] = lm_scores - self.unconditional_[numbers]
            block[:, 3] = self._consensus(numbers, retrieval)
            block[:, 4] = np.log1p([len(self._response_tokens(n)) for n in numbers])
            block[:, 5] = np.log(np.maximum(counts[numbers], 1))
            mask[row, :len(found)] = True
            exact = [i for i, c in enumerate(found) if c.exact]
            if exact:
                forced[row] = exact[0]
        return features, mask, forced

    # ------------------------------------------------------------------------------------------- responding

    def respond(self, context: str, k: int = 1, department: str | None = None) -> Reply:
        """The best candidate and up to ``k`` candidates as ``(text, rerank score)``, best first."""
        return self.respond_many([context], k, None if department is None else [department])[0]

    def respond_many(self, contexts: Sequence[str], k: int = 1,
                     departments: Sequence[str | None] | None = None) -> list[Reply]:
        """`respond` for a batch (every context's answer is the same as on its own)."""
        self._check_fitted()
        check_k(k)
        contexts = check_contexts(contexts)
        candidates = self.retriever_.retrieve(contexts, self.n_candidates, departments)
        features, mask, forced = self._features(contexts, candidates)
        weights = np.array([self.weights_[name] for name in FEATURES])
        scores = features @ weights
        replies = []
        for row, found in enumerate(candidates):
            row_scores = scores[row, :len(found)]
            first = np.zeros(len(found), dtype=bool)
            if self.exact_match_first:
                first = np.array([c.exact for c in found])
            order = np.lexsort((np.arange(len(found)), -row_scores, ~first))  # exact first, then score, then rank
            listed = [(self.retriever_.responses_[found[i].response], float(row_scores[i])) for i in order[:k]]
            replies.append(Reply(response=listed[0][0], candidates=listed))
        return replies

    def response_nll(self, contexts: Sequence[str], responses: Sequence[str]) -> list[np.ndarray]:
        """Natural-log NLL of each reference token (and the end of the response) under the bundled char LM."""
        self._check_fitted()
        return self.ngram_.response_nll(contexts, responses)

    # ------------------------------------------------------------------------------------------- files

    def save(self, writer, prefix: str = "rerank") -> None:
        """``{prefix}.json`` (parameters, chosen weights, tuning report), ``{prefix}.npz`` (unconditional LM
        scores), the retrieval responder (``{prefix}_retrieval.*``) and the language model (``{prefix}_ngram*``)."""
        self._check_fitted()
        params = {key: value for key, value in self.get_params().items() if key != "retriever"}
        writer.write_json(f"{prefix}.json", {
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "params": params,
            "weights": self.weights_, "tuning": self.tuning_, "n_train": self.n_train_,
        })
        writer.write_arrays(f"{prefix}.npz", unconditional=self.unconditional_)
        self.retriever_.save(writer, prefix=f"{prefix}_retrieval")
        self.ngram_.save(writer, prefix=f"{prefix}_ngram")

    @classmethod
    def load(cls, reader, prefix: str = "rerank") -> "RerankResponder":
        from .ngram import NgramResponder

        name = f"{prefix}.json"
        where = f"{reader.directory}/{name}"
        meta = reader.read_component(name, FORMAT_NAME, FORMAT_VERSION, "rerank responder")
        retriever = RetrievalResponder.load(reader, prefix=f"{prefix}_retrieval")
        responder = reader.estimator(cls, meta, name, exclude=("retriever",),
                                     retriever=RetrievalResponder(**{**retriever.get_params(), "lm_order": None}))
        try:
            responder.weights_ = _check_weights(reader.require(meta, "weights", name), "weights")
        except UsageError as exc:
            raise ModelFormatError(f"{where}: {exc}") from None
        responder.retriever_ = retriever
        responder.ngram_ = NgramResponder.load(reader, prefix=f"{prefix}_ngram")
        if responder.ngram_.unit != "char":
            raise ModelFormatError(f"{where}: the rerank language model must be char-level")
        unconditional = reader.read_arrays(f"{prefix}.npz").get("unconditional")
        if unconditional is None or unconditional.shape != (len(retriever.responses_),):
            raise ModelFormatError(f"{reader.directory}/{prefix}.npz: needs one unconditional score per response")
        responder.unconditional_ = unconditional.astype(np.float64)
        responder.tuning_ = meta.get("tuning")
        responder.n_train_ = int(reader.require(meta, "n_train", name))
        responder._reset_cache()
        return responder

    def __repr__(self) -> str:
        defaults = RerankResponder().get_params()
        changed = {k: v for k, v in self.get_params().items() if v != defaults[k]}
        return "RerankResponder(" + ", ".join(f"{k}={v!r}" for k, v in changed.items()) + ")"

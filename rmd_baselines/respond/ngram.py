"""The n-gram responder: a Kneser-Ney language model over ``context tail + <sep> + response + </s>`` that writes
the doctor's reply one token at a time.

Training sequences. For every training instance the model sees ``<s> t1 .. tm <sep> r1 .. rn </s>`` where
``t1 .. tm`` are the tokens of the *context tail* and ``r1 .. rn`` those of the response. The tail is the end of
the patient's last turn (the text after the context's last newline): its last ``context_tail`` non-whitespace
characters, or the whole turn when it is shorter, in which case ``<s>`` marks where the turn began. An order-N
model predicts the first response token from the N-1 tokens before it, ``<sep>`` and N-2 context tokens, so
the default tail is ``order - 2`` characters for ``char`` units (exactly what the model can see; a longer tail
only adds patient text to the model) and ``2 * (order - 2)`` characters for ``word`` units (jieba words of
this text average well under two characters).

Decoding (``decoding=``): ``topk`` (default, the paper's decoding) samples each token from the ``top_k`` = 50
most probable ones, renormalised; ``greedy`` takes the most probable token; ``beam`` keeps the ``beam_size``
best partial responses and ranks finished ones by mean log10 probability per token (so long answers are not
penalised for their length). Every decoder reads `KneserNeyLM.next_distribution_ids`, i.e. the estimator's own
tables, vectorised over the vocabulary. ``<unk>`` and ``<sep>`` are never generated and the first token is
never the end of the response; generation stops at ``</s>`` or after ``max_chars`` characters.

Randomness. Sampling for a context uses a generator seeded with ``(seed, sha256(context))``, so a context gets
the same response whichever batch it is in and in whatever order (`respond_many` equals calling `respond` on
each context), and identical contexts get identical responses.

Scale. ``fit`` takes any iterables of instances: a list of up to `IN_MEMORY_INSTANCES` is counted in memory,
anything larger (or an iterator, e.g. `StreamedGenerationSplit.iter_instances`) is read once and counted in chunks
by the language model (`lm.counting`; the same model), and the validation perplexity is scored in batches.
``prune`` passes count-pruning thresholds to the language model (`KneserNeyLM`; ``train respond --prune``).

Persistence: `save` writes ``ngram.json`` and the language model (``ngram_lm.arpa`` for kenlm, plus
``ngram_lm.json``/``ngram_lm.npz`` with the tables the sampler reads; kenlm's Python module cannot write its
binary format, so the ARPA file is what we ship).
"""

from __future__ import annotations

import hashlib
import math
from typing import Iterable, Iterator, Sequence

import numpy as np

from .. import progress
from ..errors import DataError, ModelFormatError, UsageError
from ..text import get_tokenizer
from .base import Reply
from .lm import BOS, BOS_ID, EOS_ID, UNK_ID, KneserNeyLM
from .lm.kneser_ney import prune_thresholds

SEP = "<sep>"
DECODINGS = ("topk", "greedy", "beam")
UNITS = ("char", "word")
FORMAT_NAME = "rmd_baselines-ngram-responder"
FORMAT_VERSION = 1
IN_MEMORY_INSTANCES = 50_000  # fit() counts a list of up to this many instances in memory, more in chunks


def default_context_tail(order: int, unit: str) -> int:
    """Characters of the patient's last turn kept before ``<sep>`` (see the module docstring)."""
    return (order - 2) if unit == "char" else 2 * (order - 2)


def context_tail_text(context: str, n_chars: int) -> str:
    """The last ``n_chars`` non-whitespace characters of the context's last turn (with the spaces between them)."""
    last_turn = context.rstrip().rsplit("\n", 1)[-1]
    if n_chars <= 0:
        return ""
    kept = 0
    for start in range(len(last_turn) - 1, -1, -1):
        if not last_turn[start].isspace():
            kept += 1
            if kept == n_chars:
                return last_turn[start:]
    return last_turn


def _make_reply(response: str, candidates: list[tuple[str, float]]) -> Reply:
    return Reply(response=response, candidates=candidates)


class NgramResponder:
    """Generates a response with a Kneser-Ney n-gram model of ``context tail + <sep> + response + </s>``.

    Fitted attributes: ``lm_`` (the `KneserNeyLM`, also used by the rerank responder to score candidates),
    ``context_tail_`` (characters of context kept), ``n_train_`` (training instances) and, when ``fit`` got a
    validation set, ``valid_perplexity_`` (per ``unit`` token, ``</s>`` included).
    """

    name = "ngram"

    def __init__(self, order: int = 5, unit: str = "char", context_tail: int | None = None,
                 decoding: str = "topk", top_k: int = 50, beam_size: int = 4, max_chars: int = 100,
                 seed: int = 0, prune: list[int] | None = None):
        self.order = order
        self.unit = unit
        self.context_tail = context_tail
        self.decoding = decoding
        self.top_k = top_k
        self.beam_size = beam_size
        self.max_chars = max_chars
        self.seed = seed
        self.prune = prune

    def get_params(self) -> dict:
        return {"order": self.order, "unit": self.unit, "context_tail": self.context_tail,
                "decoding": self.decoding, "top_k": self.top_k, "beam_size": self.beam_size,
                "max_chars": self.max_chars, "seed": self.seed, "prune": self.prune}

    def set_params(self, **params) -> "NgramResponder":
        """Change hyper-parameters; on a fitted responder only the decoding ones (``decoding``, ``top_k``,
        ``beam_size``, ``max_chars``, ``seed``), which take effect without retraining."""
        unknown = set(params) - set(self.get_params())
        if unknown:
            raise UsageError(f"unknown NgramResponder parameter(s): {', '.join(sorted(unknown))}")
        training = {"order", "unit", "context_tail", "prune"} & {k for k, v in params.items() if v != getattr(self, k)}
        if training and hasattr(self, "lm_"):
            raise UsageError(f"changing {', '.join(sorted(training))} needs a new fit()")
        previous = self.get_params()
        for key, value in params.items():
            setattr(self, key, value)
        try:
            self._check_params()
        except UsageError:
            for key, value in previous.items():
                setattr(self, key, value)
            raise
        return self

    def _check_params(self) -> None:
        def integer_at_least(name: str, value, minimum: int = 1) -> None:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
                raise UsageError(f"{name} must be an integer >= {minimum}, got {value!r}")

        if self.unit not in UNITS:
            raise UsageError(f"unit must be one of {', '.join(UNITS)}, got {self.unit!r}")
        if self.decoding not in DECODINGS:
            raise UsageError(f"decoding must be one of {', '.join(DECODINGS)}, got {self.decoding!r}")
        integer_at_least("order", self.order, 2)
        if self.order > 6:
            raise UsageError(f"order must be an integer from 2 to 6, got {self.order!r}")
        if self.context_tail is not None:
            integer_at_least("context_tail", self.context_tail, 0)
        integer_at_least("top_k", self.top_k)
        integer_at_least("beam_size", self.beam_size)
        integer_at_least("max_chars", self.max_chars)
        integer_at_least("seed", self.seed, 0)
        prune_thresholds(self.prune, self.order)

    # ------------------------------------------------------------------------------------------- sequences

    @property
    def _tokenizer(self):
        return get_tokenizer(self.unit)

    def history_tokens(self, context: str) -> list[str]:
        """``["<s>", *tail tokens, "<sep>"]``: the history a response is generated and scored after."""
        self._check_fitted()
        return [BOS, *self._tokenizer.tokenize(context_tail_text(context, self.context_tail_)), SEP]

    def response_tokens(self, response: str) -> list[str]:
        return self._tokenizer.tokenize(response)

    def _tail_chars(self) -> int:
        return self.context_tail if self.context_tail is not None else default_context_tail(self.order, self.unit)

    def training_sequences(self, instances: Sequence) -> list[list[str]]:
        """``[*tail tokens, "<sep>", *response tokens]`` for every instance (the model adds ``<s>``/``</s>``)."""
        self._check_params()
        tail_chars, tokenize = self._tail_chars(), self._tokenizer.tokenize
        return [[*tokenize(context_tail_text(instance.context, tail_chars)), SEP, *tokenize(instance.response)]
                for instance in progress.progress(instances, "n-gram sequences", length=len(instances))]

    def _sequences(self, instances: Iterable, counter: list[int]) -> Iterator[list[str]]:
        """`training_sequences` one at a time, counting the instances in ``counter[0]``."""
        tail_chars, tokenize = self._tail_chars(), self._tokenizer.tokenize
        for instance in instances:
            counter[0] += 1
            yield [*tokenize(context_tail_text(instance.context, tail_chars)), SEP, *tokenize(instance.response)]

    def fit(self, instances: Iterable, valid: Iterable | None = None) -> "NgramResponder":
        """Train the language model on the instances' ``context tail + <sep> + response`` sequences.

        ``instances`` and ``valid`` may be any iterables, e.g. `StreamedGenerationSplit.iter_instances`: a list
        of up to `IN_MEMORY_INSTANCES` instances is counted in memory, anything else is read once, lazily, and
        counted in chunks (`KneserNeyLM`'s ``counting``; the model is the same), and the validation perplexity
        is accumulated instance by instance."""
        self._check_params()
        self.context_tail_ = self._tail_chars()
        lm = KneserNeyLM(order=self.order, unit=self.unit, prune=self.prune)
        if isinstance(instances, (list, tuple)) and len(instances) <= IN_MEMORY_INSTANCES:
            if not instances:
                raise DataError("no training instances for the n-gram responder")
            self.lm_ = lm.fit(self.training_sequences(instances))
            n_train = len(instances)
        else:
            counter = [0]
            length = len(instances) if hasattr(instances, "__len__") else None
            try:
                self.lm_ = lm.fit(self._sequences(progress.progress(instances, "n-gram counting", length=length),
                                                  counter))
            except DataError:
                if counter[0] == 0:
                    raise DataError("no training instances for the n-gram responder") from None
                raise
            n_train = counter[0]
        self._prepare()
        self.n_train_ = n_train
        if valid is not None:
            total, count = self._streamed_nll(valid)
            if count:
                self.valid_perplexity_ = float(math.exp(total / count))
        return self

    def _streamed_nll(self, instances: Iterable, batch_tokens: int = 1 << 16) -> tuple[float, int]:
        """Total natural-log NLL and token count of the instances' responses (end of response included), read once
        and scored in batches: ``<s> tail <sep> response </s>`` sequences are concatenated and scored as one id
        array, which gives every token the score `response_log10probs` gives it (no listed n-gram spans
        ``</s> <s>``, so nothing leaks from one sequence into the next)."""
        lm = self.lm_
        total, count = 0.0, 0
        ids: list[int] = []
        scored: list[bool] = []

        def flush() -> float:
            scores = lm._score_ids(np.asarray(ids, dtype=np.int64), first=0)
            return float(-math.log(10.0) * scores[np.asarray(scored, dtype=bool)].sum())

        for instance in instances:
            history = lm.token_ids(self.history_tokens(instance.context)).tolist()
            response = lm.token_ids(self.response_tokens(instance.response)).tolist()
            ids.extend(history)
            ids.extend(response)
            ids.append(EOS_ID)
            scored.extend([False] * len(history))
            scored.extend([True] * (len(response) + 1))
            count += len(response) + 1
            if len(ids) >= batch_tokens:
                total += flush()
                ids, scored = [], []
        if ids:
            total += flush()
        return total, count

    def _prepare(self) -> None:
        index = self.lm_._index
        self._sep_id = index.get(SEP, UNK_ID)
        self._never_generated = np.array(sorted({UNK_ID, BOS_ID, self._sep_id}), dtype=np.int64)
        self._token_chars = np.array([len(token) for token in self.lm_.vocab_], dtype=np.int64)

    def _check_fitted(self) -> None:
        if not hasattr(self, "lm_"):
            raise UsageError("this NgramResponder is not fitted yet; call fit() or load() first")

    # ------------------------------------------------------------------------------------------- scoring

    def response_log10probs(self, contexts: Sequence[str], responses: Sequence[str]) -> list[np.ndarray]:
        """log10 p of every response token and of the end of the response, given the context tail and ``<sep>``."""
        self._check_fitted()
        if len(contexts) != len(responses):
            raise UsageError(f"{len(contexts)} contexts but {len(responses)} responses")
        return [self.lm_.continuation_log10probs(self.history_tokens(context), self.response_tokens(response))
                for context, response in zip(contexts, responses)]

    def response_nll(self, contexts: Sequence[str], responses: Sequence[str]) -> list[np.ndarray]:
        """Natural-log negative log-likelihood of each response token plus the end-of-response token
        (``-ln(10) * response_log10probs``); what perplexity is computed from."""
        return [-math.log(10.0) * scores for scores in self.response_log10probs(contexts, responses)]

    def perplexity(self, contexts: Sequence[str], responses: Sequence[str]) -> float:
        """Token-weighted ``exp(total NLL / tokens)`` of the responses, end of response included."""
        nll = self.response_nll(contexts, responses)
        count = sum(len(n) for n in nll)
        if count == 0:
            raise DataError("perplexity of no responses")
        return float(math.exp(sum(float(n.sum()) for n in nll) / count))

    @property
    def signature(self) -> str:
        """How this responder's perplexities are computed."""
        self._check_fitted()
        return f"{self.lm_.signature}|tail:{self.context_tail_}chars|sep:{SEP}|eos:yes"

    # ------------------------------------------------------------------------------------------- decoding

    def _rng(self, context: str) -> np.random.Generator:
        digest = hashlib.sha256(context.encode("utf-8")).digest()
        words = [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]
        return np.random.default_rng(np.random.SeedSequence([int(self.seed), *words]))

    def _allowed_distribution(self, history: list[int], first_step: bool) -> np.ndarray:
        distribution = self.lm_.next_distribution_ids(np.array(history[-(self.order - 1):], dtype=np.int64))
        distribution[self._never_generated] = 0.0
        if first_step:
            distribution[EOS_ID] = 0.0
        return distribution

    def _sample(self, history: list[int], rng: np.random.Generator | None) -> list[int]:
        """One response (token ids) by top-k sampling, or greedily when ``rng`` is None."""
        history = list(history)
        generated: list[int] = []
        chars = 0
        while chars < self.max_chars:
            distribution = self._allowed_distribution(history, first_step=not generated)
            if not distribution.any():  # nothing generatable (a model trained on empty responses only)
                break
            if rng is None:
                token = int(np.argmax(distribution))
            else:
                k = min(self.top_k, len(distribution))
                best = np.sort(np.argpartition(-distribution, k - 1)[:k])  # sorted ids: order-independent draw
                cumulative = np.cumsum(distribution[best])
                draw = rng.random() * cumulative[-1]
                token = int(best[min(np.searchsorted(cumulative, draw, side="right"), k - 1)])
            if token == EOS_ID:
                break
            generated.append(token)
            history.append(token)
            chars += int(self._token_chars[token])
        return generated

    def _beam(self, history: list[int], n_best: int) -> list[list[int]]:
        """The ``n_best`` best finished responses of a beam search, best first (mean log10 p per token)."""
        width = max(self.beam_size, n_best)
        alive: list[tuple[float, list[int], int]] = [(0.0, [], 0)]  # (sum of log10 p, tokens, characters)
        finished: list[tuple[float, list[int]]] = []
        while alive and len(finished) < width:
            expansions: list[tuple[float, list[int], int]] = []
            for score, tokens, chars in alive:
                distribution = self._allowed_distribution(history + tokens, first_step=not tokens)
                k = min(width, int(np.count_nonzero(distribution)))
                best = np.argsort(-distribution, kind="stable")[:k]
                for token in best.tolist():
                    expansions.append((score + math.log10(distribution[token]), tokens + [token],
                                       chars + int(self._token_chars[token])))
            expansions.sort(key=lambda item: -item[0])  # stable: ties keep the expansion order
            alive = []
            for score, tokens, chars in expansions[:width]:
                if tokens[-1] == EOS_ID:
                    finished.append((score / len(tokens), tokens[:-1]))
                elif chars >= self.max_chars:
                    finished.append((score / len(tokens), tokens))
                else:
                    alive.append((score, tokens, chars))
        finished.sort(key=lambda item: -item[0])
        return [tokens for _, tokens in finished[:n_best]] or [[]]

    def _text(self, token_ids: list[int]) -> str:
        vocab = self.lm_.vocab_
        return "".join(vocab[i] for i in token_ids)[: self.max_chars]

    def respond(self, context: str, k: int = 1):
        """A `Reply` for one context: ``response`` and up to ``k`` ``candidates`` as ``(text, mean log10 p per
        token)``. For ``topk`` the candidates are k samples in drawing order (the response is always the first,
        whatever k); ``greedy`` has a single candidate; ``beam`` lists the k best, best first."""
        self._check_fitted()
        if not isinstance(context, str) or not context.strip():
            raise DataError("context: empty context")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise UsageError(f"k must be a positive integer, got {k!r}")
        history_tokens = self.history_tokens(context)
        history = self.lm_.token_ids(history_tokens).tolist()
        if self.decoding == "beam":
            outputs = self._beam(history, k)
        elif self.decoding == "greedy":
            outputs = [self._sample(history, None)]
        else:
            rng = self._rng(context)
            outputs = [self._sample(history, rng) for _ in range(k)]
        candidates = []
        for token_ids in outputs:
            text = self._text(token_ids)
            scores = self.lm_.continuation_log10probs(history_tokens, [self.lm_.vocab_[i] for i in token_ids])
            candidates.append((text, float(scores.mean())))
        return _make_reply(candidates[0][0], candidates)

    def respond_many(self, contexts: Sequence[str], k: int = 1) -> list:
        """`respond` for every context (each context's randomness depends only on the seed and the context)."""
        self._check_fitted()
        for number, context in enumerate(contexts):
            if not isinstance(context, str) or not context.strip():
                raise DataError(f"context {number}: empty context")
        return [self.respond(context, k) for context in progress.progress(contexts, "generating",
                                                                           length=len(contexts))]

    # ------------------------------------------------------------------------------------------- files

    def save(self, writer, prefix: str = "ngram") -> None:
        """Write ``{prefix}.json`` and the language model (``{prefix}_lm.arpa/.json/.npz``) through a
        `rmd_baselines.persist.ModelWriter`."""
        self._check_fitted()
        writer.write_json(f"{prefix}.json", {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "params": self.get_params(),
            "context_tail": self.context_tail_,
            "separator": SEP,
            "n_train": self.n_train_,
            "valid_perplexity": getattr(self, "valid_perplexity_", None),
        })
        self.lm_.save(writer, prefix=f"{prefix}_lm")

    @classmethod
    def load(cls, reader, prefix: str = "ngram") -> "NgramResponder":
        """Read a responder written by `save` from a `rmd_baselines.persist.ModelReader`."""
        name = f"{prefix}.json"
        where = f"{reader.directory}/{name}"
        meta = reader.read_component(name, FORMAT_NAME, FORMAT_VERSION, "n-gram responder")
        if isinstance(meta.get("params"), dict) and "prune" not in meta["params"]:
            meta = {**meta, "params": {**meta["params"], "prune": None}}  # saved before pruning existed
        responder = reader.estimator(cls, meta, name)
        tail = reader.require(meta, "context_tail", name)
        if isinstance(tail, bool) or not isinstance(tail, int) or tail < 0:
            raise ModelFormatError(f"{where}: context_tail must be a non-negative integer")
        if reader.require(meta, "separator", name) != SEP:
            raise ModelFormatError(f"{where}: separator token is not {SEP!r}")
        responder.context_tail_ = tail
        responder.n_train_ = int(reader.require(meta, "n_train", name))
        if meta.get("valid_perplexity") is not None:
            responder.valid_perplexity_ = float(meta["valid_perplexity"])
        responder.lm_ = KneserNeyLM.load(reader, prefix=f"{prefix}_lm")
        if responder.lm_.order != responder.order or responder.lm_.unit != responder.unit:
            raise ModelFormatError(f"{where}: the saved language model's order/unit do not match the responder's")
        responder._prepare()
        return responder

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.get_params().items() if v != NgramResponder().get_params()[k]}
        return "NgramResponder(" + ", ".join(f"{k}={v!r}" for k, v in changed.items()) + ")"

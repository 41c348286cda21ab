"""The retrieval responder: answer a context with the doctor's response to the most similar training context.

Similarity is BM25 (`rmd_baselines.respond.bm25`) between contexts represented as bags of terms:
- terms are the tokens of each turn (``unit``: ``char`` characters or ``word`` jieba words) and, with
  ``max_ngram=2``, also the pairs of adjacent tokens within a turn (written ``"a b"``);
- recent turns count more: every term of the last turn counts ``recent_weight`` times, of the turn before
  ``recent_weight * turn_decay`` times, and so on, in the training contexts and in the query alike -- what the
  patient just said matters most for what the doctor says next.
Search is two-pass by default (``prefilter``, see `BM25Index`): a cheap first pass that reads at most
``prefilter_budget`` postings of each query's rarest terms keeps ``prefilter`` training contexts, which are then
scored exactly; ``prefilter=None`` scores every context. The index is built in bounded memory and kept on disk
(a search reads only what it needs), so a responder over millions of training contexts fits in a few GiB.

Candidates are the responses of the best-scoring training contexts, best first, each with its BM25 score
(response texts that differ only in whitespace are one response). With ``dedupe`` a response is listed once (at
its best score); with ``same_department`` a query whose department is given only looks at training contexts of
that department (all of them when it has none or none matches). A context that shares no term with any training
context gets the most frequent training response, with score 0. Every candidate also says whether the query is
verbatim one of the training contexts it answered (the rerank responder trusts such matches).

When ``lm_order`` is set, ``fit`` also trains a char-level Kneser-Ney language model (an `NgramResponder`,
attribute ``ngram_``) on the same instances. Retrieval does not use it; it is there so that a saved retrieval
responder can report the perplexity of reference responses like every other responder (`model.perplexity_model`).
"""

from __future__ import annotations

import hashlib
import itertools
from typing import Iterable, NamedTuple, Sequence

import numpy as np

from .. import progress
from ..errors import DataError, ModelFormatError, UsageError
from ..text import get_tokenizer
from .base import Reply, check_contexts, check_k
from .bm25 import DEFAULT_BUDGET, BM25Index, KeyedBatch

FORMAT_NAME = "rmd_baselines-retrieval-responder"
FORMAT_VERSION = 2  # 2: the BM25 index is on disk (.npy files); version 1 models are refused
UNITS = ("char", "word")


class Candidate(NamedTuple):
    """A retrieved response: its number in ``responses_``, its BM25 score, and whether one of the training
    contexts it answered is the query context itself (ignoring whitespace)."""

    response: int
    score: float
    exact: bool


def context_key(context: str) -> int:
    """A 63-bit fingerprint of a context with its whitespace removed (to spot verbatim repeats)."""
    digest = hashlib.sha256("".join(context.split()).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def context_terms(context: str, tokenize, max_ngram: int, recent_weight: float,
                  turn_decay: float) -> tuple[list[str], list[float]]:
    """The terms of a context and the weight of each (see the module docstring)."""
    turns = context.split("\n")
    terms: list[str] = []
    weights: list[float] = []
    weight = float(recent_weight)
    for turn in reversed(turns):
        tokens = tokenize(turn)
        turn_terms = list(tokens)
        if max_ngram >= 2:
            turn_terms += [a + " " + b for a, b in zip(tokens, tokens[1:])]
        terms += turn_terms
        weights += [weight] * len(turn_terms)
        weight *= turn_decay
    return terms, weights


_SPACE_CODES: np.ndarray | None = None
_CODE_BITS = 21  # every Unicode code point is below 2**21


def _space_codes() -> np.ndarray:
    """The code points `str.isspace` accepts (all below U+3001), sorted."""
    global _SPACE_CODES
    if _SPACE_CODES is None:
        _SPACE_CODES = np.array([c for c in range(0x3001) if chr(c).isspace()], dtype=np.uint32)
    return _SPACE_CODES


def _spell(keys: np.ndarray) -> list[str]:
    """Term strings of `char_term_batch` keys: a character, or two characters joined by a space."""
    out = []
    for key in keys.tolist():
        if key >> _CODE_BITS:
            out.append(chr((key >> _CODE_BITS) - 1) + " " + chr(key & ((1 << _CODE_BITS) - 1)))
        else:
            out.append(chr(key))
    return out


def char_term_batch(contexts: Sequence[str], max_ngram: int, recent_weight: float, turn_decay: float) -> KeyedBatch:
    """`context_terms` with character units for a whole batch at once, in numpy: the same terms (as integer keys:
    a character's code point, or ``(first + 1) << 21 | second`` for a pair) with the same weights."""
    lengths = np.fromiter(map(len, contexts), dtype=np.int64, count=len(contexts))
    codes = np.frombuffer("".join(contexts).encode("utf-32-le"), dtype=np.uint32)
    context = np.repeat(np.arange(len(contexts), dtype=np.int64), lengths)
    newline = codes == 10
    before = np.cumsum(newline) - newline  # newlines before each position
    starts = np.cumsum(lengths) - lengths
    newlines_before_context = before[np.minimum(starts, max(len(codes) - 1, 0))] if len(codes) else before
    newlines_in_context = np.add.reduceat(newline.astype(np.int64), np.minimum(starts, max(len(codes) - 1, 0))) \
        if len(codes) else np.zeros(len(contexts), dtype=np.int64)
    newlines_in_context[lengths == 0] = 0
    turn = before - np.repeat(newlines_before_context, lengths)
    from_last = np.repeat(newlines_in_context, lengths) - turn
    keep = ~np.isin(codes, _space_codes())
    codes, context, turn, from_last = codes[keep].astype(np.int64), context[keep], turn[keep], from_last[keep]
    table = [float(recent_weight)]
    for _ in range(int(from_last.max()) if len(from_last) else 0):
        table.append(table[-1] * turn_decay)  # the same products as context_terms
    weights = np.array(table, dtype=np.float64)[from_last]
    rows, keys, values = [context], [codes], [weights]
    if max_ngram >= 2 and len(codes) > 1:
        pair = (context[1:] == context[:-1]) & (turn[1:] == turn[:-1])
        rows.append(context[:-1][pair])
        keys.append(((codes[:-1][pair] + 1) << _CODE_BITS) | codes[1:][pair])
        values.append(weights[:-1][pair])
    return KeyedBatch(len(contexts), np.concatenate(rows), np.concatenate(keys), np.concatenate(values), _spell)


class RetrievalResponder:
    """Returns the doctor response of the training context most similar to the query context (BM25).

    Fitted attributes: ``index_`` (the `BM25Index` over training contexts), ``responses_`` (distinct training
    responses), ``doc_response_`` (for every training context, its response's number in ``responses_``),
    ``departments_`` and ``doc_department_`` (department number per training context, -1 for none),
    ``doc_context_key_`` (`context_key` of every training context), ``response_count_`` (training contexts per
    response), ``fallback_`` (the most frequent response's number), ``n_train_`` and, with ``lm_order``,
    ``ngram_``.
    """

    name = "retrieval"

    def __init__(self, unit: str = "char", max_ngram: int = 2, recent_weight: float = 2.0, turn_decay: float = 0.5,
                 k1: float = 1.5, b: float = 0.75, idf: str = "lucene", prefilter: int | None = 256,
                 prefilter_budget: int | None = DEFAULT_BUDGET, dedupe: bool = True, same_department: bool = False,
                 lm_order: int | None = None):
        self.unit = unit
        self.max_ngram = max_ngram
        self.recent_weight = recent_weight
        self.turn_decay = turn_decay
        self.k1 = k1
        self.b = b
        self.idf = idf
        self.prefilter = prefilter
        self.prefilter_budget = prefilter_budget
        self.dedupe = dedupe
        self.same_department = same_department
        self.lm_order = lm_order

    def get_params(self) -> dict:
        return {"unit": self.unit, "max_ngram": self.max_ngram, "recent_weight": self.recent_weight,
                "turn_decay": self.turn_decay, "k1": self.k1, "b": self.b, "idf": self.idf,
                "prefilter": self.prefilter, "prefilter_budget": self.prefilter_budget, "dedupe": self.dedupe,
                "same_department": self.same_department, "lm_order": self.lm_order}

    def _check_params(self) -> None:
        if self.unit not in UNITS:
            raise UsageError(f"unit must be one of {', '.join(UNITS)}, got {self.unit!r}")
        if self.max_ngram not in (1, 2):
            raise UsageError(f"max_ngram must be 1 or 2, got {self.max_ngram!r}")
        for name in ("recent_weight", "turn_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise UsageError(f"{name} must be a positive number, got {value!r}")
        for name in ("dedupe", "same_department"):
            if not isinstance(getattr(self, name), bool):
                raise UsageError(f"{name} must be true or false, got {getattr(self, name)!r}")
        order = self.lm_order
        if order is not None and (isinstance(order, bool) or not isinstance(order, int) or not 2 <= order <= 6):
            raise UsageError(f"lm_order must be an integer from 2 to 6 or None, got {order!r}")
        self._index_template()._check_params()

    def _index_template(self) -> BM25Index:
        return BM25Index(self.k1, self.b, self.idf, self.prefilter, prefilter_budget=self.prefilter_budget)

    # ------------------------------------------------------------------------------------------- fitting

    def terms(self, contexts: Sequence[str]) -> tuple[list[list[str]], list[list[float]]]:
        """Terms and weights of every context (each context tokenized once)."""
        tokenize = get_tokenizer(self.unit).tokenize
        pairs = [context_terms(c, tokenize, self.max_ngram, self.recent_weight, self.turn_decay) for c in contexts]
        return [terms for terms, _ in pairs], [weights for _, weights in pairs]

    def term_batches(self, contexts: Sequence[str], batch_size: int | None = None):
        """`terms` of consecutive batches of contexts, so that only one batch of token lists is in memory (with
        char units, `char_term_batch`: the same terms as integer keys, without Python token lists)."""
        if batch_size is None:
            batch_size = 5_000 if self.unit == "char" else 2_000
        starts = range(0, len(contexts), batch_size)
        for start in progress.progress(starts, "indexing contexts", length=len(starts)):
            if self.unit == "char":
                yield char_term_batch(contexts[start:start + batch_size], self.max_ngram, self.recent_weight,
                                      self.turn_decay)
            else:
                yield self.terms(contexts[start:start + batch_size])

    def fit(self, instances: Iterable, valid: Iterable | None = None, lm_instances: Iterable | None = None
            ) -> "RetrievalResponder":
        """Index the training contexts (``valid`` is not needed: nothing is tuned; the language model reports its
        perplexity on it).

        ``instances`` may be a list or any iterable read once (`model.train_to_directory` streams a corpus's
        train part in protocol order): only one batch of instances, the distinct responses and a few numbers per
        training context are held. Document ``i`` of the index is the ``i``-th instance given, so equal scores
        are broken by the order of ``instances``. The language model (with ``lm_order``) is trained on
        ``lm_instances`` when given (a second pass over the same instances, in any order), else on
        ``instances``, which must then be a list.
        """
        self._check_params()
        if lm_instances is None and self.lm_order is not None:
            instances = list(instances)
        self._fit_index(instances)
        if self.lm_order is not None:
            from .ngram import NgramResponder

            self.ngram_ = NgramResponder(order=self.lm_order, unit="char").fit(
                instances if lm_instances is None else lm_instances, valid)
        return self

    def _fit_index(self, instances: Iterable) -> None:
        """The index and the per-document arrays of `fit`, one batch of instances at a time."""
        batch_size = 5_000 if self.unit == "char" else 2_000
        length = len(instances) if hasattr(instances, "__len__") else None
        # Responses that differ only in whitespace are one response (the first spelling is kept).
        # A 16-byte digest instead of a second copy of every response keeps a large corpus's dict small.
        response_number: dict[bytes, int] = {}
        department_number: dict[str, int] = {}
        self.responses_ = []
        numbers: list[np.ndarray] = []
        doc_departments: list[np.ndarray] = []
        keys: list[np.ndarray] = []

        def batches():
            iterator = iter(instances)
            while True:
                batch = list(itertools.islice(iterator, batch_size))
                if not batch:
                    return
                batch_numbers = np.empty(len(batch), dtype=np.int64)
                for row, instance in enumerate(batch):
                    key = hashlib.blake2b("".join(instance.response.split()).encode("utf-8"), digest_size=16).digest()
                    number = response_number.get(key)
                    if number is None:
                        number = response_number[key] = len(self.responses_)
                        self.responses_.append(instance.response)
                    batch_numbers[row] = number
                numbers.append(batch_numbers)
                doc_departments.append(np.array([department_number.setdefault(i.department, len(department_number))
                                                 if i.department else -1 for i in batch], dtype=np.int64))
                contexts = [instance.context for instance in batch]
                keys.append(np.array([context_key(c) for c in contexts], dtype=np.int64))
                del batch
                if self.unit == "char":
                    yield char_term_batch(contexts, self.max_ngram, self.recent_weight, self.turn_decay)
                else:
                    yield self.terms(contexts)

        n_batches = None if length is None else -(-length // batch_size)
        stream = progress.progress(batches(), "indexing contexts", length=n_batches)
        try:
            self.index_ = self._index_template().fit_batches(stream)
        except UsageError:
            if not numbers:
                raise DataError("no training instances for the retrieval responder") from None
            raise
        self.doc_response_ = np.concatenate(numbers)
        self.doc_department_ = np.concatenate(doc_departments)
        self.departments_ = list(department_number)
        self.doc_context_key_ = np.concatenate(keys)
        self._prepare()
        self.n_train_ = len(self.doc_response_)

    def _prepare(self) -> None:
        self.response_count_ = np.bincount(self.doc_response_, minlength=len(self.responses_))
        self.fallback_ = int(np.argmax(self.response_count_))  # the first of the most frequent responses
        self._department_index = {name: number for number, name in enumerate(self.departments_)}

    def _check_fitted(self) -> None:
        if not hasattr(self, "index_"):
            raise UsageError("this RetrievalResponder is not fitted yet; call fit() or load() first")

    # ------------------------------------------------------------------------------------------- retrieval

    def retrieve(self, contexts: Sequence[str], n: int, departments: Sequence[str | None] | None = None
                 ) -> list[list[Candidate]]:
        """Up to ``n`` candidates per context, best first (never empty)."""
        self._check_fitted()
        check_k(n)
        contexts = check_contexts(contexts)
        terms, weights = self.terms(contexts)
        groups = None
        if self.same_department and departments is not None:
            if len(departments) != len(contexts):
                raise UsageError(f"{len(contexts)} contexts but {len(departments)} departments")
            groups = np.array([self._department_index.get(d, -1) if d else -1 for d in departments], dtype=np.int64)
        # Several training contexts can share a response; fetch more documents so n distinct responses remain.
        fetch = min(self.index_.n_docs_, 4 * n + 16) if self.dedupe else n
        kwargs = {"doc_groups": self.doc_department_, "query_groups": groups} if groups is not None else {}
        docs, scores = self.index_.top_k(terms, fetch, weights, **kwargs)
        out = []
        for row, context in enumerate(contexts):
            key = context_key(context)
            candidates = self._candidates(docs[row], scores[row], n, key)
            if not candidates and groups is not None and groups[row] >= 0:
                # Nothing in the department: search every training context instead.
                all_docs, all_scores = self.index_.top_k([terms[row]], fetch, [weights[row]])
                candidates = self._candidates(all_docs[0], all_scores[0], n, key)
            out.append(candidates or [Candidate(self.fallback_, 0.0, False)])
        return out

    def _candidates(self, docs: np.ndarray, scores: np.ndarray, n: int, key: int) -> list[Candidate]:
        found = docs >= 0
        docs, scores = docs[found], scores[found]
        exact = self.doc_context_key_[docs] == key
        candidates: list[Candidate] = []
        position: dict[int, int] = {}
        for doc, score, is_exact in zip(docs.tolist(), scores.tolist(), exact.tolist()):
            response = int(self.doc_response_[doc])
            if self.dedupe and response in position:
                if is_exact:  # keep the best score, but remember the verbatim match
                    candidates[position[response]] = candidates[position[response]]._replace(exact=True)
                continue
            if len(candidates) == n:
                continue  # full: only later duplicates' exact flags still matter
            position[response] = len(candidates)
            candidates.append(Candidate(response, float(score), bool(is_exact)))
        return candidates

    def respond(self, context: str, k: int = 1, department: str | None = None) -> Reply:
        """The best training response and up to ``k`` candidates as ``(text, BM25 score)``."""
        return self.respond_many([context], k, None if department is None else [department])[0]

    def respond_many(self, contexts: Sequence[str], k: int = 1,
                     departments: Sequence[str | None] | None = None) -> list[Reply]:
        """`respond` for a batch (scored together; every context's answer is the same as on its own)."""
        replies = []
        for candidates in self.retrieve(contexts, check_k(k), departments):
            listed = [(self.responses_[c.response], c.score) for c in candidates]
            replies.append(Reply(response=listed[0][0], candidates=listed))
        return replies

    def response_nll(self, contexts: Sequence[str], responses: Sequence[str]) -> list[np.ndarray]:
        """Natural-log NLL of each reference token (and the end of the response) under the bundled char LM."""
        if not hasattr(self, "ngram_"):
            raise UsageError("this retrieval responder has no language model (fit it with lm_order set)")
        return self.ngram_.response_nll(contexts, responses)

    # ------------------------------------------------------------------------------------------- files

    def save(self, writer, prefix: str = "retrieval") -> None:
        """``{prefix}.json`` (parameters, responses, departments), ``{prefix}.npz`` (response and department of
        every training context), the BM25 index (``{prefix}_bm25.*``) and, if any, the language model."""
        self._check_fitted()
        writer.write_json(f"{prefix}.json", {
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "params": self.get_params(),
            "responses": self.responses_, "departments": self.departments_, "n_train": self.n_train_,
        })
        writer.write_arrays(f"{prefix}.npz", doc_response=self.doc_response_, doc_department=self.doc_department_,
                            doc_context_key=self.doc_context_key_)
        self.index_.save(writer, prefix=f"{prefix}_bm25")
        if hasattr(self, "ngram_"):
            self.ngram_.save(writer, prefix=f"{prefix}_ngram")

    @classmethod
    def load(cls, reader, prefix: str = "retrieval") -> "RetrievalResponder":
        name = f"{prefix}.json"
        where = f"{reader.directory}/{name}"
        meta = reader.read_component(name, FORMAT_NAME, FORMAT_VERSION, "retrieval responder")
        if meta.get("format_version") == 1:
            raise ModelFormatError(f"{where}: retrieval responder format version 1 (an in-memory BM25 matrix) is no "
                                   "longer read; train the model again with this rmd_baselines")
        responder = reader.estimator(cls, meta, name)
        responses = reader.require(meta, "responses", name)
        departments = reader.require(meta, "departments", name)
        for key, value in (("responses", responses), ("departments", departments)):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ModelFormatError(f"{where}: '{key}' must be a list of strings")
        arrays = reader.read_arrays(f"{prefix}.npz")
        index = BM25Index.load(reader, prefix=f"{prefix}_bm25")
        doc_response = arrays.get("doc_response")
        doc_department = arrays.get("doc_department")
        doc_context_key = arrays.get("doc_context_key")
        if (doc_response is None or doc_department is None or doc_context_key is None
                or doc_response.shape != (index.n_docs_,) or doc_department.shape != (index.n_docs_,)
                or doc_context_key.shape != (index.n_docs_,) or not responses
                or doc_response.min() < 0 or doc_response.max() >= len(responses)
                or doc_department.min() < -1 or doc_department.max() >= len(departments)):
            raise ModelFormatError(f"{reader.directory}/{prefix}.npz: response/department numbers do not match "
                                   "the index and the response list")
        responder.index_ = index
        responder.responses_ = responses
        responder.departments_ = departments
        responder.doc_response_ = doc_response.astype(np.int64)
        responder.doc_department_ = doc_department.astype(np.int64)
        responder.doc_context_key_ = doc_context_key.astype(np.int64)
        responder.n_train_ = int(reader.require(meta, "n_train", name))
        responder._prepare()
        if responder.lm_order is not None:
            from .ngram import NgramResponder

            responder.ngram_ = NgramResponder.load(reader, prefix=f"{prefix}_ngram")
        return responder

    def __repr__(self) -> str:
        defaults = RetrievalResponder().get_params()
        changed = {k: v for k, v in self.get_params().items() if v != defaults[k]}
        return "RetrievalResponder(" + ", ".join(f"{k}={v!r}" for k, v in changed.items()) + ")"

"""Exact explanations of responses (``rmd-baseline explain respond``) and of language-model scores
(``rmd-baseline explain lm``): where a response came from, and why a sentence is (im)probable.

- Retrieval. The explanation names the training context that was retrieved: its dialogue id and turn, read back
  from the training file the model records, and checked against the context fingerprint the model stores. It
  gives the BM25 score as one contribution per query term shared with that context, ``q_t · w_t,d``. Here ``q_t``
  is the term's recency-weighted count in the query and ``w_t,d`` the index's stored BM25 weight of the term in
  the document: ``idf · tf · (k1 + 1) / (tf + k1 · (1 − b + b·|d|/avgdl))``. The contributions add up exactly to
  ``score``, computed in float64 from the stored float32 weights. The index ranks with float64 sums in term
  order; that number is ``ranking_score``, equal to ``score`` up to the order of summation. The top alternatives are listed too.
- n-gram. The response comes with a table of every token of ``<s> tail <sep> response </s>``: its log10
  probability, the order of the longest listed n-gram used (kenlm's ``ngram_length``), that n-gram, and the
  back-off weights paid to reach it. The rows add up to the sentence score kenlm gives the ARPA file for
  ``tail <sep> response`` with ``<s>``/``</s>``. The response rows' mean is the responder's candidate score.
- Rerank. Every candidate comes with each feature, its weight and its contribution ``weight · feature``, which add
  up to the candidate's rerank score. The chosen candidate also gets its retrieval and language-model
  explanations.

`ResponseExplainer` holds a loaded responder (and, once needed, its training instances) so that a server
explains many contexts without reloading anything. Its methods return the plain dicts that ``--json`` prints.
`format_response` and `format_lm` render them as text.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..classify.explain import ansi_highlight, char_shares, pad, token_positions
from ..errors import DataError, RmdError, UsageError
from ..text import get_tokenizer
from .lm import EOS, EOS_ID, UNK_ID
from .model import LoadedResponder, load_generation_data, parse_context, perplexity_model
from .retrieval import context_key

BM25_SCORE_IS = ("BM25 score of the retrieved training context: Σ over the query terms it shares of q_t · w_t,d, "
                 "q_t = the term's count in the query weighted by turn recency, w_t,d = idf · tf · (k1 + 1) / "
                 "(tf + k1 · (1 − b + b · |d| / avgdl)) as stored in the index")
NGRAM_SCORE_IS = ("mean log10 probability per token of the response and its end </s> after <s> tail <sep> "
                  "(the n-gram responder's candidate score)")
RERANK_SCORE_IS = "rerank score Σ_f weight_f · feature_f of the chosen candidate"


class ResponseExplainer:
    """Explanations for one loaded responder (``load_responder(dir)``)."""

    def __init__(self, loaded: LoadedResponder):
        self.loaded = loaded
        self.responder = loaded.responder
        self._training = None
        self._training_note = None

    # ------------------------------------------------------------------------------------ training data

    def training_instances(self) -> list | None:
        """The training instances, rebuilt from the recorded training file and split settings (once); None,
        with the reason kept for the explanation's note, when the file is gone or unreadable."""
        if self._training is None and self._training_note is None:
            path = self.loaded.data_path
            if not path or not os.path.isfile(path):
                self._training_note = (f"the training file {path or '(not recorded)'} is not available: training "
                                       "contexts and dialogue ids cannot be shown")
            else:
                try:
                    self._training = load_generation_data(path, self.loaded.settings).train
                except RmdError as exc:
                    self._training_note = f"cannot read the training file again: {exc}"
        return self._training

    def _document(self, retriever, doc: int) -> dict:
        """Which training instance a document of the index is, when the training file still matches."""
        out = {"document": int(doc)}
        instances = self.training_instances()
        if instances is None:
            out["note"] = self._training_note or "training contexts are not available"
            return out
        if len(instances) != retriever.index_.n_docs_ or context_key(instances[doc].context) != int(
                retriever.doc_context_key_[doc]):
            out["note"] = (f"{self.loaded.data_path} no longer matches the model (its training contexts differ): "
                           "the training context cannot be shown")
            return out
        instance = instances[doc]
        out.update(dialogue_id=instance.dialogue_id, turn=instance.turn, training_context=instance.context)
        return out

    # ------------------------------------------------------------------------------------ retrieval

    def _retrieval(self, retriever, context: str, candidate, alternatives=()) -> dict:
        index = retriever.index_
        terms, weights = retriever.terms([context])
        query = index.query_matrix(terms, weights)
        term_ids, query_weights = query.indices.astype(np.int64), query.data.astype(np.float64)
        docs = np.flatnonzero(retriever.doc_response_ == candidate.response)
        if candidate.score <= 0 or not len(term_ids) or not len(docs):
            return {"score": 0.0, "ranking_score": float(candidate.score), "score_is": BM25_SCORE_IS,
                    "intercept": 0.0, "contributions": [], "terms": {}, "char_shares": [0.0] * len(context),
                    "retrieved": None,
                    "note": "no training context shares a term with this context: the most frequent training "
                            "response is the answer"}
        weights_in_docs = index.document_weights(term_ids, docs).astype(np.float64)
        exact_scores = query_weights @ weights_in_docs
        # The document whose score the retriever reported (ties: the first, as the index breaks them).
        best = int(np.lexsort((docs, np.abs(exact_scores - candidate.score)))[0])
        doc = int(docs[best])
        shared = np.flatnonzero(weights_in_docs[:, best] > 0)
        contributions = query_weights[shared] * weights_in_docs[shared, best]
        names = [index.vocabulary_[t] for t in term_ids[shared]]
        occurrences, occurrence_weights = self._term_occurrences(retriever, context)
        result = {
            "score": math.fsum(contributions.tolist()),
            "ranking_score": float(candidate.score),
            "score_is": BM25_SCORE_IS,
            "intercept": 0.0,
            "contributions": sorted(([n, float(c)] for n, c in zip(names, contributions)),
                                    key=lambda pair: (-pair[1], pair[0])),
            "terms": {n: {"query_weight": float(query_weights[i]), "idf": float(index.idf_[term_ids[i]]),
                          "document_weight": float(weights_in_docs[i, best])} for n, i in zip(names, shared)},
            "char_shares": char_shares(len(context), dict(zip(names, contributions.tolist())), occurrences,
                                       occurrence_weights),
            "retrieved": {**self._document(retriever, doc), "exact_match": bool(candidate.exact)},
        }
        if alternatives:
            result["alternatives"] = [self._alternative(retriever, term_ids, query_weights, c) for c in alternatives]
        return result

    def _alternative(self, retriever, term_ids: np.ndarray, query_weights: np.ndarray, candidate) -> dict:
        docs = np.flatnonzero(retriever.doc_response_ == candidate.response)
        scores = query_weights @ retriever.index_.document_weights(term_ids, docs).astype(np.float64)
        doc = int(docs[np.lexsort((docs, np.abs(scores - candidate.score)))[0]])
        return {"response": retriever.responses_[candidate.response], "score": float(candidate.score),
                **self._document(retriever, doc)}

    @staticmethod
    def _term_occurrences(retriever, context: str) -> tuple[dict, dict]:
        """Where each query term occurs in the context, and the recency weight of each occurrence (the same
        terms and weights as `retrieval.context_terms`)."""
        tokenize = get_tokenizer(retriever.unit).tokenize
        occurrences: dict[str, list] = {}
        weights: dict[str, list] = {}
        turns = context.split("\n")
        starts = np.cumsum([0] + [len(turn) + 1 for turn in turns])
        weight = float(retriever.recent_weight)
        for number in range(len(turns) - 1, -1, -1):
            turn = turns[number]
            tokens = tokenize(turn)
            positions = [tuple(p + int(starts[number]) for p in span) for span in token_positions(turn, tokens)]
            found = list(zip(tokens, positions))
            if retriever.max_ngram >= 2:
                found += [(a + " " + b, pa + pb) for (a, pa), (b, pb) in zip(found, found[1:])]
            for term, span in found:
                occurrences.setdefault(term, []).append(span)
                weights.setdefault(term, []).append(weight)
            weight *= retriever.turn_decay
        return occurrences, weights

    # ------------------------------------------------------------------------------------ language model

    def token_table(self, ngram, history: list[str], tokens: list[str]) -> list[dict]:
        """One row per token after ``<s>`` of ``history + tokens + </s>``: log10 p, the order of the longest
        listed n-gram, that n-gram and the back-off weights paid, added in the order `KneserNeyLM` adds them."""
        lm = ngram.lm_
        ids = np.concatenate([lm.token_ids([*history, *tokens]), [EOS_ID]])
        windows = lm._window_rows(ids)
        words = [*history, *tokens, EOS]
        rows = []
        for t in range(1, len(ids)):
            value, backoff, matched = 0.0, 0.0, 0
            for k in range(lm.order, 0, -1):
                row = windows[k - 1][t]
                if row >= 0:
                    value += lm.tables_[k - 1].log10_prob[row]
                    matched = k
                    break
                if k > 1:
                    context = windows[k - 2][t - 1]
                    if context >= 0:
                        weight = lm.tables_[k - 2].log10_backoff[context]
                        value += weight
                        backoff += weight
            part = ("end" if t == len(ids) - 1 else "response" if t > len(history) - 1
                    else "separator" if words[t] == "<sep>" else "context")
            rows.append({"token": words[t], "part": part, "log10_prob": float(value), "order": matched,
                         "ngram": " ".join(words[t - matched + 1:t + 1]), "backoff": float(backoff),
                         "oov": bool(ids[t] == UNK_ID)})
        return rows

    def _lm_explanation(self, ngram, history: list[str], tokens: list[str]) -> dict:
        rows = self.token_table(ngram, history, tokens)
        scored = [row for row in rows if row["part"] in ("response", "end")]
        response_log10 = math.fsum(row["log10_prob"] for row in scored)
        arpa = sorted(p.name for p in Path(self.loaded.directory).glob("*.arpa"))
        return {
            "tokens": rows,
            "sentence_log10": math.fsum(row["log10_prob"] for row in rows),
            "kenlm_sentence": " ".join([*history[1:], *tokens]),
            "kenlm_call": "kenlm.Model(ARPA).score(kenlm_sentence, bos=True, eos=True)",
            "arpa": arpa[0] if len(arpa) == 1 else None,
            "response_log10": response_log10,
            "response_tokens": len(scored),
            "mean_log10": response_log10 / len(scored),
            "perplexity": 10.0 ** (-response_log10 / len(scored)),
            "char_shares": None,
        }

    # ------------------------------------------------------------------------------------ public

    def explain(self, context_text: str, department: str | None = None, alternatives: int = 5) -> dict:
        """Why the responder answers ``context_text`` (typed dialogue, as `respond` reads it) as it does."""
        if isinstance(alternatives, bool) or not isinstance(alternatives, int) or alternatives < 0:
            raise UsageError(f"alternatives must be an integer >= 0, got {alternatives!r}")
        context = parse_context(context_text)
        name = self.loaded.model
        base = {"task": "respond", "model": name, "context": context}
        if name == "ngram":
            ngram = self.responder
            reply = ngram.respond(context)
            table = self._lm_explanation(ngram, ngram.history_tokens(context), ngram.response_tokens(reply.response))
            return {**base, "response": reply.response, "score": table["mean_log10"], "score_is": NGRAM_SCORE_IS,
                    "candidate_score": float(reply.candidates[0][1]), **table}
        departments = None if department is None else [department]
        if name == "retrieval":
            found = self.responder.retrieve([context], 1 + alternatives, departments)[0]
            explanation = self._retrieval(self.responder, context, found[0], found[1:])
            return {**base, "response": self.responder.responses_[found[0].response], **explanation}
        return {**base, **self._rerank(context, departments)}

    def _rerank(self, context: str, departments) -> dict:
        from .rerank import FEATURES

        responder = self.responder
        retriever = responder.retriever_
        found = retriever.retrieve([context], responder.n_candidates, departments)[0]
        features, _, _ = responder._features([context], [found])
        weights = np.array([responder.weights_[name] for name in FEATURES])
        scores = features[0, :len(found)] @ weights
        exact = np.array([c.exact for c in found]) if responder.exact_match_first else np.zeros(len(found), bool)
        order = np.lexsort((np.arange(len(found)), -scores, ~exact))
        candidates = []
        for position, i in enumerate(order):
            values = features[0, i]
            candidates.append({
                "response": retriever.responses_[found[i].response],
                "score": float(scores[i]),
                "chosen": position == 0,
                "retrieval_rank": int(i) + 1,
                "exact_match": bool(found[i].exact),
                "features": {name: float(v) for name, v in zip(FEATURES, values)},
                "contributions": [[name, float(w * v)] for name, w, v in zip(FEATURES, weights, values)],
            })
        chosen = found[order[0]]
        ngram = responder.ngram_
        response = retriever.responses_[chosen.response]
        lm = self._lm_explanation(ngram, ngram.history_tokens(context), ngram.response_tokens(response))
        retrieval = self._retrieval(retriever, context, chosen)
        return {
            "response": response,
            "score": candidates[0]["score"],
            "score_is": RERANK_SCORE_IS,
            "intercept": 0.0,
            "contributions": candidates[0]["contributions"],
            "weights": dict(responder.weights_),
            "order_is": ("exact matches of the context first" if responder.exact_match_first else "")
                        + (", then " if responder.exact_match_first else "") + "rerank score, then retrieval rank",
            "candidates": candidates,
            "char_shares": retrieval["char_shares"],
            "retrieval": retrieval,
            "lm": lm,
        }

    def explain_sentence(self, sentence: str, context: str | None = None) -> dict:
        """log10 probability of every token of ``sentence`` under the responder's language model, as a
        response to ``context`` (default: none, i.e. after ``<s> <sep>``)."""
        if not isinstance(sentence, str) or not sentence.strip():
            raise DataError("sentence: empty sentence (nothing to score)")
        ngram = perplexity_model(self.responder)
        parsed = parse_context(context) if context is not None and context.strip() else ""
        history = ngram.history_tokens(parsed)
        tokens = ngram.response_tokens(sentence)
        return {"task": "lm", "model": self.loaded.model, "unit": ngram.unit, "order": int(ngram.order),
                "sentence": sentence, "context": parsed, **self._lm_explanation(ngram, history, tokens)}


# ---------------------------------------------------------------------------------------------- text output

def _lm_lines(explanation: dict, ansi: bool) -> list[str]:
    lines = ["  token  part       log10 p  order  n-gram (back-off paid)"]
    for row in explanation["tokens"]:
        backoff = f" ({row['backoff']:+.4f})" if row["backoff"] else ""
        oov = "  [unknown]" if row["oov"] else ""
        lines.append(f"  {pad(row['token'], 6)} {row['part']:<9} {row['log10_prob']:+8.4f}  {row['order']:>5}  "
                     f"{row['ngram']}{backoff}{oov}")
    lines.append(f"sentence log10 {explanation['sentence_log10']:+.4f} (= kenlm's score of "
                 f"\"{explanation['kenlm_sentence']}\" with <s> and </s>)")
    lines.append(f"response and </s>: log10 {explanation['response_log10']:+.4f} over "
                 f"{explanation['response_tokens']} tokens, mean {explanation['mean_log10']:+.4f}, "
                 f"perplexity {explanation['perplexity']:.2f}")
    if ansi:
        scored = [row for row in explanation["tokens"] if row["part"] == "response"]
        text = "".join(row["token"] for row in scored)
        if len(text) == len(scored):  # one character per token: colour each by how improbable it is
            lines.append("improbable characters: " + ansi_highlight(text, [min(0.0, r["log10_prob"] + 1.0)
                                                                           for r in scored]))
    return lines


def _retrieval_lines(explanation: dict, top: int, ansi: bool) -> list[str]:
    lines = [f"BM25 {explanation['score']:.4f} (index ranking score {explanation['ranking_score']:.4f}) = "
             f"{len(explanation['contributions'])} shared terms"]
    if explanation.get("note"):
        lines.append("note: " + explanation["note"])
    retrieved = explanation.get("retrieved")
    if retrieved:
        if "training_context" in retrieved:
            lines.append(f"retrieved: dialogue {retrieved['dialogue_id']} turn {retrieved['turn']}"
                         + (" (the same context, verbatim)" if retrieved["exact_match"] else ""))
            lines.append("  training context: " + retrieved["training_context"].replace("\n", " / "))
        else:
            lines.append(f"retrieved: training context number {retrieved['document']} ({retrieved['note']})")
    lines.append(f"top {min(top, len(explanation['contributions']))} terms:")
    for term, contribution in explanation["contributions"][:top]:
        detail = explanation["terms"][term]
        lines.append(f"  {contribution:+8.4f}  {pad(term, 8)}  query weight {detail['query_weight']:g} × "
                     f"BM25 weight {detail['document_weight']:.4f} (idf {detail['idf']:.3f})")
    if ansi:
        lines.append("context: " + ansi_highlight(explanation["context_text"], explanation["char_shares"]))
    return lines


def format_response(explanation: dict, top: int = 10, ansi: bool = False) -> str:
    """An ``explain respond`` explanation as text."""
    lines = [f"response ({explanation['model']}): {explanation['response']}"]
    model = explanation["model"]
    if model == "ngram":
        lines.append(f"score {explanation['score']:+.4f}: {explanation['score_is']}")
        lines.extend(_lm_lines(explanation, ansi))
    elif model == "retrieval":
        lines.extend(_retrieval_lines({**explanation, "context_text": explanation["context"]}, top, ansi))
        for rank, alternative in enumerate(explanation.get("alternatives", []), 2):
            where = f"  [dialogue {alternative['dialogue_id']}]" if "dialogue_id" in alternative else ""
            lines.append(f"alternative {rank}: {alternative['score']:.4f}  {alternative['response']}{where}")
    else:
        names = [name for name, _ in explanation["contributions"]]
        lines.append(f"rerank score {explanation['score']:+.4f} = Σ weight × feature; order: "
                     f"{explanation['order_is']}")
        lines.append("  " + "  ".join(name.rjust(9) for name in ["score", *names]) + "  response (* chosen)")
        for candidate in explanation["candidates"][:top]:
            mark = "*" if candidate["chosen"] else " "
            cells = "  ".join(f"{c + 0.0:+9.4f}" for _, c in candidate["contributions"])  # + 0.0: no "-0.0000"
            lines.append(f"{mark} {candidate['score']:+9.4f}  {cells}  {candidate['response']}")
        lines.append("weights: " + ", ".join(f"{k} {v:g}" for k, v in explanation["weights"].items()))
        lines.append("-- retrieval of the chosen response:")
        lines.extend(_retrieval_lines({**explanation["retrieval"], "context_text": explanation["context"]}, top,
                                      ansi))
        lines.append("-- language model on the chosen response:")
        lines.extend(_lm_lines(explanation["lm"], ansi))
    if not ansi:
        lines.append("context: " + explanation["context"].replace("\n", " / "))
    return "\n".join(lines)


def format_lm(explanation: dict, ansi: bool = False) -> str:
    """An ``explain lm`` explanation as text."""
    where = f" after the context tail of: {explanation['context']}" if explanation["context"] else ""
    lines = [f"{explanation['sentence']}  (order-{explanation['order']} {explanation['unit']} Kneser-Ney model of "
             f"the {explanation['model']} responder{where})"]
    lines.extend(_lm_lines(explanation, ansi))
    return "\n".join(lines)


def explain_response(model_dir: str | os.PathLike, context: str, department: str | None = None,
                     alternatives: int = 5) -> dict:
    """`ResponseExplainer.explain` for a model directory (loaded for this one call)."""
    from .model import load_responder

    return ResponseExplainer(load_responder(model_dir)).explain(context, department, alternatives)


def explain_sentence(model_dir: str | os.PathLike, sentence: str, context: str | None = None) -> dict:
    """`ResponseExplainer.explain_sentence` for a model directory (loaded for this one call)."""
    from .model import load_responder

    return ResponseExplainer(load_responder(model_dir)).explain_sentence(sentence, context)

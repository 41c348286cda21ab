"""Response generation: BM25 retrieval, the Kneser-Ney n-gram language model (ARPA/kenlm), and the n-gram,
retrieval and retrieve-and-rerank responders.

Modules: `bm25` (the index), `retrieval` (nearest-context responder), `lm` and `ngram` (the language model and
the generator; `lm.counting` counts n-grams in bounded memory), `rerank` and `tuning` (retrieve-and-rerank,
weights tuned on the valid split), `base` (the `Reply`/`Responder` interface the engines share), `model` (typed
contexts, the responder bundle on disk, streamed n-gram training) and `evaluation` (`evaluate model`).
"""

from .bm25 import BM25Index
from .model import (
    DEFAULT_MODEL,
    MODELS,
    LoadedResponder,
    Reply,
    Responder,
    load_responder,
    parse_context,
    read_contexts,
    respond_all,
    save_responder,
    train_ngram_streamed,
    train_retrieval_streamed,
    train_responder,
)
from .ngram import NgramResponder
from .rerank import RerankResponder
from .retrieval import RetrievalResponder

__all__ = [
    "BM25Index", "DEFAULT_MODEL", "MODELS", "LoadedResponder", "NgramResponder", "RerankResponder", "Reply",
    "Responder", "RetrievalResponder", "load_responder", "parse_context", "read_contexts", "respond_all",
    "save_responder", "train_ngram_streamed", "train_responder", "train_retrieval_streamed",
]

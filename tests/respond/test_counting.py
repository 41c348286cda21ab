"""Chunked n-gram counting (respond/lm/counting.py): forced to use many tiny chunks, it gives exactly the in-memory
counter's tables, kenlm scores its ARPA file like the estimator does, it reads an iterator once without
materialising it, and it refuses bad tokens with the in-memory path's message."""

import numpy as np
import pytest

from rmd_baselines.errors import DataError
from rmd_baselines.respond.lm import KneserNeyLM, kenlm_model
from rmd_baselines.respond.lm.counting import RunMerger
from tests.respond.test_kneser_ney import kenlm_scores, token_lists  # noqa: F401 (a fixture)

FIELDS = ("prefix", "word", "adjusted_count", "log10_prob", "log10_backoff")


def assert_same_model(a: KneserNeyLM, b: KneserNeyLM) -> None:
    assert a.vocab_ == b.vocab_
    assert (a.n_sequences_, a.n_tokens_) == (b.n_sequences_, b.n_tokens_)
    np.testing.assert_array_equal(a.count_of_counts_, b.count_of_counts_)
    np.testing.assert_array_equal(a.discounts_, b.discounts_)
    for table_a, table_b in zip(a.tables_, b.tables_, strict=True):
        for field in FIELDS:
            np.testing.assert_array_equal(getattr(table_a, field), getattr(table_b, field), err_msg=field)


@pytest.mark.parametrize("unit", ["char", "word"])
@pytest.mark.parametrize("order", [2, 3, 5, 6])
@pytest.mark.parametrize("chunk_tokens", [1, 3, 64, 10**6])
def test_tiny_chunks_give_the_in_memory_tables(token_lists, unit, order, chunk_tokens):
    train, _ = token_lists[unit]
    # an empty sequence too ("<s> </s>"); the smallest chunks (one or three positions) on the first 12 sequences
    train = (train[:12] if chunk_tokens < 10 else train) + [[]]
    in_memory = KneserNeyLM(order=order, unit=unit, counting="memory").fit(train)
    chunked = KneserNeyLM(order=order, unit=unit, counting="chunked", chunk_tokens=chunk_tokens).fit(iter(train))
    assert_same_model(in_memory, chunked)


@pytest.mark.parametrize("order", [3, 5])
def test_kenlm_scores_the_chunked_model_like_we_do(token_lists, tmp_path, order):
    train, held_out = token_lists["char"]
    lm = KneserNeyLM(order=order, counting="chunked", chunk_tokens=331).fit(iter(train))
    in_memory = KneserNeyLM(order=order, counting="memory").fit(train)
    lm.write_arpa(tmp_path / "chunked.arpa")
    in_memory.write_arpa(tmp_path / "memory.arpa")
    assert (tmp_path / "chunked.arpa").read_bytes() == (tmp_path / "memory.arpa").read_bytes()
    model = kenlm_model(tmp_path / "chunked.arpa")
    for tokens in held_out + train[:20]:
        np.testing.assert_allclose(lm.score_tokens(tokens), kenlm_scores(model, tokens), atol=1e-4, rtol=0)


def test_auto_counts_a_large_or_lazy_input_in_chunks(token_lists, monkeypatch):
    """``auto`` keeps a small list in memory and counts an iterator (read once, never listed) in chunks."""
    from rmd_baselines.respond.lm import kneser_ney

    train, _ = token_lists["char"]
    calls = []
    real = kneser_ney.chunked_structure

    def spy(sequences, *args, **kwargs):
        calls.append(type(sequences))
        return real(sequences, *args, **kwargs)

    monkeypatch.setattr(kneser_ney, "chunked_structure", spy)
    consumed = []

    def once():
        for tokens in train:
            consumed.append(1)
            yield tokens

    lazy = KneserNeyLM(order=4).fit(once())
    assert len(consumed) == len(train) and calls and calls[0] is not list
    small = KneserNeyLM(order=4).fit(train)
    assert len(calls) == 1  # the list went to the in-memory counter
    big = KneserNeyLM(order=4, chunk_tokens=100).fit(train)
    assert len(calls) == 2
    assert_same_model(lazy, small)
    assert_same_model(big, small)


@pytest.mark.parametrize("sequences, message", [
    ([], "no training sequences"),
    ([["a"], ["b c"]], "sequence 1: token 0: 'b c' contains whitespace"),
    ([["a"], ["a", "<s>"]], "sequence 1: token 1: '<s>' is reserved"),
    ([["a", "</s>"]], "sequence 0: token 1: '</s>' is reserved"),
    ([["a", ""]], "sequence 0: token 1: expected a non-empty string"),
    ([["a", 3]], "sequence 0: token 1: expected a non-empty string"),
    ([["a"], ["b", ["c"]]], r"sequence 1: token 1: expected a non-empty string, got \['c'\]"),
])
def test_bad_tokens_are_refused_like_in_memory(sequences, message):
    for counting in ("memory", "chunked"):
        with pytest.raises(DataError, match=message):
            KneserNeyLM(order=3, counting=counting, chunk_tokens=2).fit(iter(sequences))


def test_counting_leaves_no_temporary_files(token_lists, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    KneserNeyLM(order=4, counting="chunked", chunk_tokens=50).fit(iter(token_lists["char"][0]))
    with pytest.raises(DataError):
        KneserNeyLM(order=4, counting="chunked", chunk_tokens=50).fit(iter([["a"], ["b c"]]))
    assert list(tmp_path.iterdir()) == []


def test_run_merger_sums_counts_of_equal_keys():
    rng = np.random.default_rng(3)
    merger = RunMerger()
    expected: dict[int, int] = {}
    for _ in range(37):
        keys = rng.integers(0, 200, size=int(rng.integers(0, 60)))
        distinct, counts = np.unique(keys, return_counts=True)
        merger.add(distinct.astype(np.int64), counts.astype(np.int64))
        for key, count in zip(distinct.tolist(), counts.tolist()):
            expected[key] = expected.get(key, 0) + count
        assert len(merger.runs) <= 12  # log-structured: few runs wait
    keys, counts = merger.result()
    assert keys.tolist() == sorted(expected) and counts.tolist() == [expected[k] for k in sorted(expected)]


@pytest.mark.parametrize("params", [{"counting": "disk"}, {"chunk_tokens": 0}, {"chunk_tokens": True},
                                    {"chunk_tokens": "8"}])
def test_bad_counting_parameters_are_usage_errors(params):
    from rmd_baselines.errors import UsageError

    with pytest.raises(UsageError):
        KneserNeyLM(**params).fit([["a"]])


def test_counting_reads_and_writes_one_chunk_at_a_time(token_lists, monkeypatch):
    """Bounded memory, checked structurally: every read of the stream or a window file, and every block the
    encoder writes, is at most one chunk (plus the sequence that crosses its end); nothing reads the stream whole."""
    from rmd_baselines.respond.lm import counting

    train, _ = token_lists["char"]
    total = sum(len(tokens) + 2 for tokens in train)
    chunk = 200
    longest = max(len(tokens) + 2 for tokens in train)
    reads, writes = [], []
    real_read = counting._read

    def spy_read(path, dtype, start, count):
        reads.append(count)
        return real_read(path, dtype, start, count)

    real_asarray = np.asarray

    class SpyNumpy:
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def asarray(values, *args, **kwargs):
            out = real_asarray(values, *args, **kwargs)
            if kwargs.get("dtype") is np.int32 or (args and args[0] is np.int32):
                writes.append(len(out))
            return out

    monkeypatch.setattr(counting, "_read", spy_read)
    monkeypatch.setattr(counting, "np", SpyNumpy())
    lm = KneserNeyLM(order=4, counting="chunked", chunk_tokens=chunk).fit(iter(train))
    assert lm.n_tokens_ + lm.n_sequences_ == total > 20 * chunk
    assert reads and max(reads) <= chunk
    assert writes and sum(writes) == total and max(writes) < chunk + longest

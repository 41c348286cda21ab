"""The n-gram responder: training sequences, the three decoders, seeding, response NLL, persistence, bad input."""

import math

import numpy as np
import pytest

from rmd_baselines.errors import DataError, ModelFormatError, UsageError
from rmd_baselines.persist import ModelReader, ModelWriter, model_writer
from rmd_baselines.respond.lm import EOS_ID, KneserNeyLM
from rmd_baselines.respond.ngram import SEP, NgramResponder, context_tail_text, default_context_tail
from rmd_baselines.tasks import Instance

QUESTIONS = ["孩子发烧三天了怎么办", "咳嗽有痰要吃药吗", "拉肚子一天三次正常吗", "嗓子疼能吃头孢吗", "皮疹痒怎么办",
             "吃了退烧药还是烧", "鼻塞流鼻涕严重吗", "需要去医院吗"]
ANSWERS = ["建议去医院查个血常规", "多喝水注意休息", "可以先观察两天", "如果持续高烧需要复查", "不用担心，是病毒感染",
           "可以吃布洛芬退烧", "建议雾化治疗", "需要做个胸片看看", "先用口服补液盐", "注意有没有过敏"]


def make_instances(n: int, seed: int) -> list[Instance]:
    rng = np.random.default_rng(seed)
    instances = []
    for i in range(n):
        turns = [QUESTIONS[j] for j in rng.integers(0, len(QUESTIONS), size=int(rng.integers(1, 4)))]
        answer = "".join(ANSWERS[j] for j in rng.integers(0, len(ANSWERS), size=int(rng.integers(1, 3))))
        instances.append(Instance(f"d{i}", 1, "\n".join(turns), answer))
    return instances


TRAIN = make_instances(300, seed=1)
VALID = make_instances(30, seed=2)
CONTEXTS = ["您好\n孩子发烧三天了怎么办", "咳嗽有痰要吃药吗", "医生您好，我想问一下\n嗓子疼", "完全没见过的问题ABC"]


@pytest.fixture(scope="module")
def responder():
    return NgramResponder(order=4).fit(TRAIN, valid=VALID)


@pytest.mark.parametrize("context, n_chars, tail", [
    ("你好\n我头痛三天了", 3, "三天了"),
    ("你好\n痛", 3, "痛"),            # the last turn is shorter: all of it
    ("a b c d", 2, "c d"),           # whitespace does not count but is kept between the kept characters
    ("头痛\n", 3, "头痛"),            # a trailing newline does not start an empty turn
    ("头痛三天", 0, ""),
])
def test_context_tail_is_the_end_of_the_last_turn(context, n_chars, tail):
    assert context_tail_text(context, n_chars) == tail


@pytest.mark.parametrize("order, unit, characters", [(5, "char", 3), (2, "char", 0), (6, "char", 4),
                                                     (5, "word", 6)])
def test_default_tail_fills_the_history_of_the_first_response_token(order, unit, characters):
    assert default_context_tail(order, unit) == characters


def test_training_sequences_are_tail_separator_response(responder):
    assert responder.context_tail_ == 2 and responder.n_train_ == 300
    assert responder.history_tokens("您好\n孩子发烧三天了怎么办") == ["<s>", "么", "办", SEP]
    assert responder.training_sequences([Instance("x", 1, "你好\n头痛 三天", "多喝水")]) == [
        ["三", "天", SEP, "多", "喝", "水"]]
    assert SEP in responder.lm_.vocab_
    # after a tail and <sep>, the model has learnt how answers begin
    first = responder.lm_.next_distribution(responder.history_tokens(CONTEXTS[0]))
    starts = {answer[0] for answer in ANSWERS}
    assert sum(first[responder.lm_.vocab_.index(ch)] for ch in starts) > 0.5
    assert responder.valid_perplexity_ > 1


def test_respond_is_seeded_per_context_and_independent_of_the_batch(responder):
    replies = responder.respond_many(CONTEXTS)
    assert [r.response for r in replies] == [responder.respond(c).response for c in CONTEXTS]
    assert [r.response for r in responder.respond_many(CONTEXTS[::-1])] == [r.response for r in replies][::-1]
    again = NgramResponder(order=4).fit(TRAIN)
    assert [r.response for r in again.respond_many(CONTEXTS)] == [r.response for r in replies]
    reseeded = NgramResponder(order=4, seed=7).fit(TRAIN)
    samples = [reseeded.respond(c, k=3) for c in CONTEXTS]
    assert [s.response for s in samples] != [r.response for r in replies]
    assert all(r.response and len(r.response) <= 100 for r in replies)


def test_top_k_sampling_only_draws_from_the_k_most_probable_tokens(responder):
    sampler = NgramResponder(order=4, top_k=3).fit(TRAIN)
    history = sampler.lm_.token_ids(sampler.history_tokens(CONTEXTS[1])).tolist()
    for seed in range(5):
        generated = sampler._sample(history, np.random.default_rng(seed))
        drawn = generated + ([EOS_ID] if len(generated) < sampler.max_chars else [])  # stopped by </s>
        for step, token in enumerate(drawn):
            distribution = sampler._allowed_distribution(history + generated[:step], first_step=step == 0)
            assert distribution[token] >= np.sort(distribution)[-3]
    greedy = NgramResponder(order=4, decoding="greedy").fit(TRAIN)
    top1 = NgramResponder(order=4, top_k=1).fit(TRAIN)
    assert [top1.respond(c).response for c in CONTEXTS] == [greedy.respond(c).response for c in CONTEXTS]


@pytest.mark.parametrize("decoding", ["topk", "greedy", "beam"])
def test_responses_never_exceed_max_chars(decoding):
    short = NgramResponder(order=3, decoding=decoding, max_chars=6).fit(TRAIN)
    for context in CONTEXTS:
        reply = short.respond(context, k=2)
        assert 1 <= len(reply.response) <= 6
        assert all(len(text) <= 6 for text, _ in reply.candidates)


def test_candidates_and_scores(responder):
    sampled = responder.respond(CONTEXTS[0], k=4)
    assert len(sampled.candidates) == 4 and sampled.response == sampled.candidates[0][0]
    assert responder.respond(CONTEXTS[0], k=1).response == sampled.response  # k does not change the first draw
    text, score = sampled.candidates[1]
    expected = responder.lm_.continuation_log10probs(responder.history_tokens(CONTEXTS[0]), list(text)).mean()
    assert score == pytest.approx(expected)
    beam = NgramResponder(order=4, decoding="beam", beam_size=4).fit(TRAIN)
    reply = beam.respond(CONTEXTS[0], k=3)
    scores = [s for _, s in reply.candidates]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)
    assert reply.response in {a for a in ANSWERS} | {a + b for a in ANSWERS for b in ANSWERS}
    assert len(NgramResponder(order=4, decoding="greedy").fit(TRAIN).respond(CONTEXTS[0], k=3).candidates) == 1


def test_response_nll_is_consistent_with_the_language_model(responder):
    contexts, responses = [v.context for v in VALID[:5]], [v.response for v in VALID[:5]]
    nll = responder.response_nll(contexts, responses)
    for context, response, values in zip(contexts, responses, nll):
        log10 = responder.lm_.continuation_log10probs(responder.history_tokens(context), list(response))
        assert len(values) == len(response) + 1  # every character and the end of the response
        np.testing.assert_allclose(values, -math.log(10) * log10, rtol=1e-12)
    total = sum(v.sum() for v in nll) / sum(len(v) for v in nll)
    assert responder.perplexity(contexts, responses) == pytest.approx(math.exp(total))


def test_word_unit_scores_jieba_words(responder):
    words = NgramResponder(order=3, unit="word").fit(TRAIN)
    assert words.lm_.unit == "word" and ("多喝水" in words.lm_.vocab_ or "喝水" in words.lm_.vocab_)
    (nll,) = words.response_nll([CONTEXTS[0]], ["多喝水注意休息"])
    assert len(nll) == len(words.response_tokens("多喝水注意休息")) + 1
    assert words.respond(CONTEXTS[0]).response


def test_save_and_load_round_trip(responder, tmp_path):
    with model_writer(tmp_path / "model", "respond") as writer:
        responder.save(writer)
    reader = ModelReader(tmp_path / "model", kinds="respond")
    assert sorted(reader.files) == ["ngram.json", "ngram_lm.arpa", "ngram_lm.json", "ngram_lm.npz"]
    loaded = NgramResponder.load(reader)
    assert loaded.get_params() == responder.get_params() and loaded.context_tail_ == responder.context_tail_
    assert [r.response for r in loaded.respond_many(CONTEXTS)] == [r.response for r in responder.respond_many(CONTEXTS)]
    np.testing.assert_array_equal(loaded.response_nll(CONTEXTS, ANSWERS[:4])[2],
                                  responder.response_nll(CONTEXTS, ANSWERS[:4])[2])
    assert isinstance(loaded.lm_, KneserNeyLM)


def test_loading_a_description_with_unknown_parameters_fails(responder, tmp_path):
    writer = ModelWriter(tmp_path / "model", "respond")
    responder.save(writer)
    writer.write_json("ngram.json", {"format": "rmd_baselines-ngram-responder", "format_version": 1,
                                     "params": {"order": 4, "temperature": 2}})
    writer.commit()
    with pytest.raises(ModelFormatError, match="'params' must hold exactly"):
        NgramResponder.load(ModelReader(tmp_path / "model"))


@pytest.mark.parametrize("params", [{"decoding": "nucleus"}, {"order": 7}, {"top_k": 0}, {"max_chars": 0},
                                    {"unit": "none"}, {"context_tail": -1}, {"beam_size": 1.5}])
def test_bad_hyper_parameters_are_usage_errors(params):
    with pytest.raises(UsageError):
        NgramResponder(**params).fit(TRAIN)


def test_bad_input(responder):
    with pytest.raises(DataError, match="context: empty context"):
        responder.respond("  \n ")
    with pytest.raises(DataError, match="context 1: empty context"):
        responder.respond_many(["孩子发烧", ""])
    with pytest.raises(UsageError, match="k must be a positive integer"):
        responder.respond("孩子发烧", k=0)
    with pytest.raises(UsageError, match="2 contexts but 1 responses"):
        responder.response_nll(["a", "b"], ["c"])
    with pytest.raises(UsageError, match="not fitted"):
        NgramResponder().respond("孩子发烧")
    with pytest.raises(DataError, match="no training instances"):
        NgramResponder().fit([])


def test_set_params_changes_decoding_without_retraining(responder):
    import copy

    beam = copy.copy(responder).set_params(decoding="beam", beam_size=2)
    assert beam.lm_ is responder.lm_ and responder.decoding == "topk"
    assert beam.respond(CONTEXTS[0]).response == NgramResponder(order=4, decoding="beam", beam_size=2).fit(
        TRAIN).respond(CONTEXTS[0]).response
    with pytest.raises(UsageError, match="changing order needs a new fit"):
        copy.copy(responder).set_params(order=5)
    with pytest.raises(UsageError, match="top_k must be an integer"):
        copy.copy(responder).set_params(top_k=0)
    with pytest.raises(UsageError, match="unknown NgramResponder parameter"):
        responder.set_params(temperature=1.0)


# ---- streamed fitting (issue 11 §4) ----


@pytest.mark.parametrize("batch_tokens", [1, 13, 1 << 16])
def test_batched_validation_nll_equals_the_per_instance_scores(responder, batch_tokens):
    nll = responder.response_nll([v.context for v in VALID + CONTEXTS_AS_INSTANCES],
                                 [v.response for v in VALID + CONTEXTS_AS_INSTANCES])
    total, count = responder._streamed_nll(iter(VALID + CONTEXTS_AS_INSTANCES), batch_tokens=batch_tokens)
    assert count == sum(len(n) for n in nll)
    assert total == pytest.approx(sum(float(n.sum()) for n in nll), rel=1e-12)


CONTEXTS_AS_INSTANCES = [Instance(f"c{i}", 1, context, "完全没见过的回答XYZ") for i, context in enumerate(CONTEXTS)]


def test_fit_on_a_stream_equals_fit_on_a_list(responder, monkeypatch, tmp_path):
    """An iterator of instances is read once and counted in chunks; the model (and its validation perplexity)
    is the list's."""
    from rmd_baselines.respond import ngram

    monkeypatch.setattr(ngram, "IN_MEMORY_INSTANCES", 0)
    streamed = NgramResponder(order=4).fit(iter(TRAIN), valid=iter(VALID))
    assert streamed.n_train_ == len(TRAIN)
    assert streamed.valid_perplexity_ == pytest.approx(responder.valid_perplexity_, rel=1e-12)
    for a, b in zip(responder.lm_.tables_, streamed.lm_.tables_):
        np.testing.assert_array_equal(a.log10_prob, b.log10_prob)
        np.testing.assert_array_equal(a.log10_backoff, b.log10_backoff)
    with pytest.raises(DataError, match="no training instances for the n-gram responder"):
        NgramResponder(order=4).fit(iter([]))


def test_prune_is_a_training_parameter(tmp_path):
    pruned = NgramResponder(order=4, prune=[0, 1]).fit(TRAIN)
    assert pruned.lm_.prune_thresholds() == (0, 1, 1, 1) and "prune:0-1-1-1" in pruned.signature
    with pytest.raises(UsageError, match="needs a new fit"):
        pruned.set_params(prune=None)
    with model_writer(tmp_path / "model", "respond") as writer:
        pruned.save(writer)
    loaded = NgramResponder.load(ModelReader(tmp_path / "model"))
    assert loaded.prune == [0, 1] and loaded.respond(CONTEXTS[0]).response == pruned.respond(CONTEXTS[0]).response
    with pytest.raises(UsageError, match="unigrams cannot be pruned"):
        NgramResponder(order=4, prune=[2]).fit(TRAIN)


def test_a_model_saved_before_pruning_existed_still_loads(responder, tmp_path):
    import json

    with model_writer(tmp_path / "model", "respond") as writer:
        responder.save(writer)
        for name in ("ngram.json", "ngram_lm.json"):
            path = writer.path(name)
            meta = json.loads(open(path, encoding="utf-8").read())
            meta.get("params", {}).pop("prune", None)
            meta.pop("prune", None)
            writer.write_json(name, meta)
    loaded = NgramResponder.load(ModelReader(tmp_path / "model"))
    assert loaded.prune is None and loaded.lm_.prune_thresholds() is None

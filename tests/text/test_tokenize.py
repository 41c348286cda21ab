"""The shared tokenizers."""

import pytest

from rmd_baselines.corpus import Dialogue, Turn
from rmd_baselines.errors import UsageError
from rmd_baselines.text import annotation_words, char_tokens, get_tokenizer


@pytest.mark.parametrize("text, tokens", [
    ("建议做胃镜。", ["建", "议", "做", "胃", "镜", "。"]),
    ("CT 12\u3000项", ["C", "T", "1", "2", "项"]),
    (" \n\t", []),
    ("", []),
])
def test_char_every_non_whitespace_character(text, tokens):
    assert char_tokens(text) == tokens
    assert get_tokenizer("char").tokenize(text) == tokens


def test_none_is_callers_whitespace_tokens():
    assert get_tokenizer("none").tokenize("建议 做 胃镜\u3000。") == ["建议", "做", "胃镜", "。"]


def test_word_uses_jieba_and_drops_whitespace():
    tokens = get_tokenizer("word").tokenize("我最近胃疼， 想做个胃镜检查")
    assert "胃镜" in tokens and " " not in tokens and "".join(tokens) == "我最近胃疼，想做个胃镜检查"


def test_word_jieba_is_initialised_once(monkeypatch):
    import jieba

    get_tokenizer("word").tokenize("头疼")  # the shared instance exists from here on
    created = []
    original = jieba.Tokenizer.__init__

    def counting_init(self, *args, **kwargs):  # the real constructor, counted
        created.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(jieba.Tokenizer, "__init__", counting_init)
    for text in ("脑袋疼", "胃疼三天", "咳嗽"):
        get_tokenizer("word").tokenize(text)
    assert created == []


def test_user_dictionary_keeps_medical_terms_whole():
    text = "最近总是窦性心动过缓怎么办"
    plain = get_tokenizer("word").tokenize(text)
    assert "窦性心动过缓" not in plain
    assert "窦性心动过缓" in get_tokenizer("word", user_words=["窦性心动过缓"]).tokenize(text)


def test_annotation_words_from_corpus():
    corpus = [Dialogue("a", (Turn("patient", "x"),), diseases=("窦性心动过缓", "一句很长很长很长的自由文本诊断描述内容"),
                       symptoms=("心慌",))]
    assert annotation_words(corpus) == ["心慌", "窦性心动过缓"]


def test_signature_and_errors():
    assert get_tokenizer("char").signature == "char"
    assert get_tokenizer("word").signature.startswith("word(jieba-")
    with pytest.raises(UsageError):
        get_tokenizer("bpe")
    with pytest.raises(UsageError):
        get_tokenizer("char", user_words=["胃镜"])

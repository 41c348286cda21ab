"""The reference programs' own normalisation of whitespace tokens (mteval-v14c, METEOR 1.5 -norm)."""

import pytest

from rmd_baselines.metrics.normalize import meteor_normalize_line, meteor_tokens, mostly_latin, mteval_tokens


@pytest.mark.parametrize("tokens, expected", [
    (["建", "议", "，", "。"], ["建", "议", "，", "。"]),  # non-ASCII is never touched
    (["CT"], ["ct"]),
    (["(Ibuprofen)"], ["(", "ibuprofen", ")"]),
    (["38.5", "度."], ["38.5", "度", "."]),  # dot kept between digits, split after a character
    (["1,000", "a,b"], ["1,000", "a", ",", "b"]),
    (["3-4"], ["3", "-", "4"]),
    (["https://Example.org/a?b=1"], ["https://Example.org/a?b=1"]),  # URLs kept whole, even their case
    (["&", "a&b", "<x"], ["a", "b", "x"]),  # the DSTC7 XML writer blanks & and <
])
def test_mteval_tokenization(tokens, expected):
    assert list(mteval_tokens(tokens)) == expected


def test_mteval_fast_path_returns_same_list():
    tokens = ["多", "喝", "水"]
    assert mteval_tokens(tokens) is tokens


@pytest.mark.parametrize("line, expected", [
    ("建议 查 CT ， 体温 38.5 度", "建 议 查 CT ， 体 温 38.5 度"),
    ("详见 https://example.org/a?b=1", "详 见 https : / / example.org / a ? b = 1"),
    ("好的...谢谢", "好 的 ... 谢 谢"),
    ("“引号” ‘单’", '" 引 号 " \' 单 \''),
    ("well-known U.S. don't", "well known US don 't"),
    ("end.", "end ."),
    # METEOR's English non-breaking prefixes (Moses): always, before a number only, or before a lowercase word
    ("Dr. Smith", "Dr. Smith"),
    ("No. 5", "No. 5"),
    ("No. Five", "No . Five"),
    ("Inc. is", "Inc. is"),
    ("Inc. Is", "Inc . Is"),
    # only METEOR's own list of spaces is whitespace: U+180E stays, U+3000 and U+2009 are spaces
    ("好\u180e的", "好 \u180e 的"),
    ("好\u3000的\u2009吗", "好 的 吗"),
])
def test_meteor_normaliser(line, expected):
    assert meteor_normalize_line(line) == expected


def test_meteor_tokens_lowercase_and_char_fast_path():
    assert meteor_tokens(["建议", "CT"]) == ["建", "议", "ct"]
    assert meteor_tokens(list("Ab“c")) == ["a", "b", '"', "c"]
    # The fast path for single characters gives what the whole normaliser gives.
    for text in ("Dr.Smith好", "好\u180e的", "1,000.5元——“好”", "\u2028a\u3000b"):
        tokens = [ch for ch in text if not ch.isspace()]
        assert meteor_tokens(tokens) == meteor_normalize_line(" ".join(tokens)).lower().split(" ")


def test_mostly_latin():
    assert mostly_latin([["the", "cat"], ["好"]])
    assert not mostly_latin([["建议", "CT"]])
    assert not mostly_latin([[], ["123"]])

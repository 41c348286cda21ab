"""ARPA files: the written layout, reading it back, and one-line `ModelFormatError`s (file and line) for
truncated or edited files, before and inside kenlm."""

import numpy as np
import pytest

from rmd_baselines.errors import ModelFormatError
from rmd_baselines.respond.lm import KneserNeyLM, kenlm_model, read_arpa, read_arpa_counts, validate_arpa

TINY = [["a", "b"], ["a"], ["b", "a", "b"]]

# The order-3 model of TINY is written as these 29 lines (tabs between fields):
#  1 ""  2 \data\  3-5 "ngram k=count"  6 ""  7 \1-grams:  8-12 unigrams  13 ""  14 \2-grams:  15-20 bigrams
#  21 ""  22 \3-grams:  23-27 trigrams  28 ""  29 \end\
EXPECTED_HEAD = ["", "\\data\\", "ngram 1=5", "ngram 2=6", "ngram 3=5", "", "\\1-grams:",
                 "-0.903090\t<unk>\t0.000000", "-99.000000\t<s>\t-0.301030"]


@pytest.fixture
def arpa_lines(tmp_path):
    lm = KneserNeyLM(order=3).fit(TINY)
    path = tmp_path / "tiny.arpa"
    lm.write_arpa(path)
    return lm, path, path.read_text(encoding="utf-8").split("\n")[:-1]


def test_layout_of_a_written_file(arpa_lines):
    lm, path, lines = arpa_lines
    assert len(lines) == 29
    assert lines[:9] == EXPECTED_HEAD
    assert lines[13] == "\\2-grams:" and lines[21] == "\\3-grams:" and lines[-1] == "\\end\\"
    assert lines[22] == "-0.391207\t<s> a </s>"  # highest order: no back-off column
    assert read_arpa_counts(path) == validate_arpa(path) == [5, 6, 5]


def test_read_arpa_returns_what_the_estimator_wrote(arpa_lines):
    lm, path, _ = arpa_lines
    model = read_arpa(path)
    assert model.order == 3 and model.counts == [5, 6, 5]
    for k in (1, 2, 3):
        words = [tuple(lm.vocab_[i] for i in row) for row in lm.ngram_words(k).tolist()]
        assert model.ngrams[k - 1] == words
        np.testing.assert_allclose(model.log10_probs[k - 1], lm.tables_[k - 1].log10_prob, atol=5e-7)
        np.testing.assert_allclose(model.log10_backoffs[k - 1], lm.tables_[k - 1].log10_backoff, atol=5e-7)


def replace(number: int, text: str):
    return lambda lines: lines[:number - 1] + [text] + lines[number:]


@pytest.mark.parametrize("edit, line, message", [
    (lambda lines: lines[:18], 19, r"unexpected end of file \(truncated\?\), expected 2 more 2-grams"),
    (lambda lines: lines[:15] + [lines[15][:4]], 16, "a 2-gram line needs a log10 probability, 2 words"),
    (lambda lines: lines[:-1], 29, r"unexpected end of file \(truncated\?\), expected \\end\\"),
    (lambda lines: [], 1, r"unexpected end of file \(truncated\?\), expected \\data\\"),
    (replace(2, "\\dada\\"), 2, r"not an ARPA file: expected \\data\\"),
    (replace(3, "ngram 1 5"), 3, "expected 'ngram k=count'"),
    (replace(4, "ngram 3=6"), 4, "orders in the header must be 1, 2, 3"),
    (replace(4, "ngram 2=7"), 21, "blank line after 6 of the 7 2-grams"),
    (replace(4, "ngram 2=5"), 20, "the header says 5 2-grams but the section has more"),
    (replace(5, "ngram 3=4"), 27, "the header says 4 3-grams but the section has more"),
    (replace(5, "ngram 3=9"), 28, "blank line after 5 of the 9 3-grams"),
    (replace(14, "\\3-grams:"), 14, r"expected the \\2-grams: section"),
    (replace(9, "abc\t<s>\t-0.3"), 9, "log10 probability 'abc' is not a number"),
    (replace(10, "0.5\t</s>\t0.0"), 10, "positive log10 probability 0.5"),
    (replace(10, "-0.5\t</s>\tnan"), 10, "back-off weight is NaN"),
    (replace(23, "-0.39\t<s> a </s>\t-0.1"), 23, "a 3-gram line needs a log10 probability, 3 words; found 5"),
    (replace(9, "-99\t<x>\t-0.3"), 12, "the unigrams do not include <s>"),
    (lambda lines: lines[:-1] + ["\\4-grams:"], 29, r"section \\4-grams: is not listed in the \\data\\ header"),
])
def test_corrupt_files_fail_with_file_and_line(tmp_path, arpa_lines, edit, line, message):
    _, _, lines = arpa_lines
    path = tmp_path / "corrupt.arpa"
    edited = edit(lines)
    path.write_text("\n".join(edited) + ("\n" if edited else ""), encoding="utf-8")
    for check in (validate_arpa, read_arpa, kenlm_model):
        with pytest.raises(ModelFormatError, match=message) as info:
            check(path)
        assert str(info.value).startswith(f"{path}:{line}: ")
        assert "\n" not in str(info.value)


def test_invalid_utf8_names_its_line(tmp_path, arpa_lines):
    _, path, _ = arpa_lines
    data = path.read_bytes().split(b"\n")
    data[10] = data[10].replace(b"a", b"\xff\xfe")
    path.write_bytes(b"\n".join(data))
    with pytest.raises(ModelFormatError, match=rf"{path}:11: invalid UTF-8"):
        validate_arpa(path)


def test_header_only_reader_notices_a_truncated_header(tmp_path, arpa_lines):
    _, _, lines = arpa_lines
    path = tmp_path / "short.arpa"
    path.write_text("\n".join(lines[:4]) + "\n", encoding="utf-8")
    with pytest.raises(ModelFormatError, match=rf"{path}:5: unexpected end of file inside the ARPA header"):
        read_arpa_counts(path)


def test_kenlm_errors_become_one_line_without_our_validation(tmp_path, arpa_lines):
    _, _, lines = arpa_lines
    path = tmp_path / "truncated.arpa"
    path.write_text("\n".join(lines[:18]) + "\n", encoding="utf-8")
    with pytest.raises(ModelFormatError, match="kenlm cannot load this model") as info:
        kenlm_model(path, validate=False)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFormatError, match="no such"):
        kenlm_model(tmp_path / "absent.arpa")
    with pytest.raises(ModelFormatError, match="no such ARPA file"):
        validate_arpa(tmp_path / "absent.arpa")


def test_comment_and_blank_lines_before_the_header_are_accepted(tmp_path, arpa_lines):
    _, _, lines = arpa_lines
    path = tmp_path / "commented.arpa"
    path.write_text("# written by hand\n" + "\n".join(lines) + "\n", encoding="utf-8")
    assert validate_arpa(path) == [5, 6, 5]
    assert kenlm_model(path).order == 3

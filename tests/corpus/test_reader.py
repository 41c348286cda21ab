"""The validating JSONL reader: every bad-input case gives FILE:LINE: field: problem."""

import gzip
import json

import pytest

from rmd_baselines.corpus import ReadReport, load_dialogues, read_dialogues
from rmd_baselines.errors import DataError

GOOD = {"id": "d1", "title": "胃疼怎么办？", "department": "消化内科", "doctor": "医生甲",
        "diseases": ["胃炎"], "symptoms": ["胃疼"],
        "turns": [{"speaker": "patient", "text": "我胃疼三天了"}, {"speaker": "doctor", "text": "建议做胃镜"}]}


def line(**changes):
    record = {**GOOD, **changes}
    return json.dumps({k: v for k, v in record.items() if v is not ...}, ensure_ascii=False)


def write(tmp_path, lines, name="corpus.jsonl", raw=None):
    path = tmp_path / name
    path.write_bytes(raw if raw is not None else ("\n".join(lines) + "\n").encode("utf-8"))
    return str(path)


def test_reads_valid_records(tmp_path):
    path = write(tmp_path, [line(), line(id="d2", title=None)])
    dialogues, report = load_dialogues(path)
    assert [d.id for d in dialogues] == ["d1", "d2"]
    assert dialogues[0].turns[1].speaker == "doctor"
    assert dialogues[0].diseases == ("胃炎",)
    assert dialogues[1].title is None
    assert report.records == 2 and report.skipped == 0


def test_round_trip_to_json(tmp_path):
    path = write(tmp_path, [line()])
    (dialogue,), _ = load_dialogues(path)
    assert dialogue.to_json() == GOOD


BAD_CASES = [
    ("invalid_json", '{"id": "x", ', "json: invalid JSON"),
    ("not_object", "[1, 2]", "record: expected a JSON object, got array"),
    ("missing_id", line(id=...), "id: missing required field"),
    ("missing_turns", line(turns=...), "turns: missing required field"),
    ("id_not_string", line(id=7), "id: expected a string, got number"),
    ("title_wrong_type", line(title=["a"]), "title: expected a string or null, got array"),
    ("diseases_wrong_type", line(diseases="胃炎"), "diseases: expected an array of strings, got string"),
    ("symptom_item_wrong_type", line(symptoms=["a", 3]), "symptoms[1]: expected a string, got number"),
    ("turns_empty", line(turns=[]), "turns: a dialogue needs at least one turn"),
    ("turn_not_object", line(turns=["hi"]), "turns[0]: expected an object, got string"),
    ("unknown_speaker", line(turns=[{"speaker": "nurse", "text": "hi"}]), "turns[0].speaker: unknown speaker 'nurse'"),
    ("empty_text", line(turns=[{"speaker": "patient", "text": "  "}]), "turns[0].text: empty text"),
    ("missing_text", line(turns=[{"speaker": "patient"}]), "turns[0].text: missing required field"),
    ("text_not_string", line(turns=[{"speaker": "patient", "text": None}]), "turns[0].text: expected a string, got null"),
    ("huge_integer", '{"id": ' + "1" * 5000 + "}", "json: unreadable JSON (ValueError"),
    ("nested_too_deep", "[" * 100_000 + "]" * 100_000, "json: unreadable JSON (RecursionError"),
    # JSON may spell a lone surrogate as an escape; it decodes to a str that cannot be encoded as UTF-8.
    ("lone_surrogate", '{"id": "d2", "turns": [{"speaker": "patient", "text": "胃\\ud800疼"}]}',
     "turns[0].text: contains a lone UTF-16 surrogate"),
    ("lone_surrogate_in_title",
     '{"id": "d2", "title": "\\udfff", "turns": [{"speaker": "patient", "text": "胃疼"}]}',
     "title: contains a lone UTF-16 surrogate"),
]


@pytest.mark.parametrize("name, bad, expected", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_record_names_file_line_and_field(tmp_path, name, bad, expected):
    path = write(tmp_path, [line(), bad])
    with pytest.raises(DataError) as info:
        list(read_dialogues(path))
    message = str(info.value)
    assert message.startswith(f"{path}:2: ")
    assert expected in message
    assert "\n" not in message


def test_duplicate_id_is_reported_on_its_second_line(tmp_path):
    path = write(tmp_path, [line(), line(id="d2"), line()])
    with pytest.raises(DataError, match=r":3: id: duplicate id 'd1'"):
        list(read_dialogues(path))


def test_bom_is_accepted(tmp_path):
    path = write(tmp_path, [], raw=b"\xef\xbb\xbf" + (line() + "\n").encode("utf-8"))
    dialogues, _ = load_dialogues(path)
    assert dialogues[0].id == "d1"


def test_invalid_utf8_is_reported_not_crashed(tmp_path):
    raw = (line() + "\n").encode("utf-8") + b'{"id": "\xff\xfe"}\n'
    path = write(tmp_path, [], raw=raw)
    with pytest.raises(DataError, match=r":2: line: invalid UTF-8 at byte 8"):
        list(read_dialogues(path))


def test_skip_invalid_counts_and_keeps_going(tmp_path):
    raw = "\n".join([line(), "not json", line(id="d2"), line(id="d1"), ""]).encode("utf-8") + b"\xff\n"
    path = write(tmp_path, [], raw=raw)
    report = ReadReport(path)
    dialogues = list(read_dialogues(path, skip_invalid=True, report=report))
    assert [d.id for d in dialogues] == ["d1", "d2"]
    assert report.skipped == 3
    assert "3 invalid records skipped" in report.summary()


def test_blank_lines_are_ignored(tmp_path):
    path = write(tmp_path, [line(), "", "   ", line(id="d2")])
    assert len(load_dialogues(path)[0]) == 2


def test_gzip_input(tmp_path):
    path = tmp_path / "corpus.jsonl.gz"
    path.write_bytes(gzip.compress((line() + "\n").encode("utf-8")))
    assert load_dialogues(str(path))[0][0].id == "d1"


def test_corrupt_gzip_is_a_data_error(tmp_path):
    path = tmp_path / "corpus.jsonl.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="cannot read compressed file"):
        list(read_dialogues(str(path)))


def test_corrupt_gzip_body_is_a_data_error(tmp_path):
    data = bytearray(gzip.compress(("\n".join(line(id=f"d{i}") for i in range(50)) + "\n").encode("utf-8")))
    data[40:48] = b"\x00" * 8  # inside the deflate stream: zlib fails part-way
    path = tmp_path / "corpus.jsonl.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="cannot read compressed file"):
        list(read_dialogues(str(path)))


def test_missing_file_and_empty_corpus(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        list(read_dialogues(str(tmp_path / "absent.jsonl")))
    empty = write(tmp_path, [""])
    with pytest.raises(DataError, match="no valid records"):
        load_dialogues(empty)


def test_labels_are_normalised_for_surrounding_whitespace(tmp_path):
    """Issue 13: " 内科" and "内科" are one department; a label of only whitespace is no label."""
    path = write(tmp_path, [line(id="a", department=" 内科\t", doctor="张医生 "), line(id="b", department="内科"),
                            line(id="c", department="   ", doctor="\u3000")])
    dialogues, _ = load_dialogues(path)
    assert [d.department for d in dialogues] == ["内科", "内科", None]
    assert [d.doctor for d in dialogues][0::2] == ["张医生", None]

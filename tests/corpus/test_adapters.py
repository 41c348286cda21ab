"""Format adapters, on the real published excerpts (when present) and on small fixtures of our own."""

import json

import pytest

from rmd_baselines.corpus import load_dialogues
from rmd_baselines.corpus.adapters import convert, read_foreign, read_text
from rmd_baselines.errors import DataError
from tests.conftest import shared_corpus, shared_format_sample

CSV_TEXT = ("department,title,ask,answer\n"
            "心血管科,高血压能吃党参吗？,我有高血压，可以吃党参吗？,可以适量服用。\n"
            '消化科,胃疼,"胃疼，\n晚上更明显",建议做胃镜。\n')


def test_csv_utf8_with_multiline_cell(tmp_path):
    src = tmp_path / "toy.csv"
    src.write_text(CSV_TEXT, "utf-8")
    records = list(read_foreign(src, "csv"))
    assert [r.id for r in records] == ["toy-0", "toy-1"]
    assert records[1].department == "消化科"
    assert records[1].turns[0].text == "胃疼，\n晚上更明显"
    assert [t.speaker for t in records[0].turns] == ["patient", "doctor"]


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig"])
def test_csv_encoding_is_detected(tmp_path, encoding):
    src = tmp_path / "toy.csv"
    src.write_bytes(CSV_TEXT.encode(encoding))
    out = tmp_path / "out.jsonl"
    report = convert(src, out, "csv", id_prefix="t")
    assert report.written == 2
    assert report.encoding == ("gb18030" if encoding == "gb18030" else "utf-8")
    assert load_dialogues(out)[0][0].title == "高血压能吃党参吗？"


def test_csv_forced_wrong_encoding_is_reported(tmp_path):
    src = tmp_path / "toy.csv"
    src.write_bytes(CSV_TEXT.encode("gb18030"))
    with pytest.raises(DataError, match=r"toy.csv:2: encoding: not valid utf-8"):
        list(read_foreign(src, "csv", encoding="utf-8"))


def test_csv_missing_column_and_empty_answer(tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text("department,title,ask\n内科,t,q\n", "utf-8")
    with pytest.raises(DataError, match=r"bad.csv:1: header: missing column\(s\) answer"):
        list(read_foreign(src, "csv"))
    src.write_text("department,title,ask,answer\n内科,t,问题,\n内科,t,问题,回答\n", "utf-8")
    with pytest.raises(DataError, match=r"bad.csv:2: turns\[1\].text: empty text"):
        list(read_foreign(src, "csv"))
    assert [r.id for r in read_foreign(src, "csv", skip_invalid=True)] == ["bad-1"]


MEDDIALOG_TEXT = """id=7
https://www.haodf.com/wenda/example.htm

Doctor faculty
消化内科

Description
疾病： 胃炎
病情描述： 胃疼一周，
饭后加重
希望获得的帮助： 需要做什么检查？
患病多久： 一周内

Dialogue
病人：
医生您好
医生：
你好，
有没有反酸？
病人：
有一点

Diagnosis and suggestions
病情摘要及初步印象： 胃炎

id=8
https://www.haodf.com/wenda/other.htm

Description
疾病： 感冒

Dialogue
医生：
发烧吗？
"""


def test_meddialog_layout(tmp_path):
    src = tmp_path / "med.txt"
    src.write_text(MEDDIALOG_TEXT, "utf-8")
    first, second = read_foreign(src, "meddialog", id_prefix="md")
    assert first.id == "md-7" and first.department == "消化内科"
    assert first.title == "胃炎" and first.diseases == ("胃炎",)
    assert first.turns[0].text == "胃疼一周， 饭后加重；需要做什么检查？"
    assert [(t.speaker, t.text) for t in first.turns[1:]] == [
        ("patient", "医生您好"), ("doctor", "你好， 有没有反酸？"), ("patient", "有一点")]
    assert second.department is None and [t.speaker for t in second.turns] == ["doctor"]


@pytest.mark.parametrize("faculty", ["Doctor faculty\n消化  内科", "Doctor faculty： 消化\u3000 内科 "])
def test_meddialog_department_whitespace_is_collapsed_like_the_text(tmp_path, faculty):
    # Deep fuzz run: "0  0" stayed two-spaced, so one department could become two labels.
    src = tmp_path / "med.txt"
    src.write_text(MEDDIALOG_TEXT.replace("Doctor faculty\n消化内科", faculty), "utf-8")
    first, _ = read_foreign(src, "meddialog")
    assert first.department == "消化 内科"


def test_meddialog_not_that_layout(tmp_path):
    src = tmp_path / "other.txt"
    src.write_text("hello\nworld\n", "utf-8")
    with pytest.raises(DataError, match=r"other.txt:1: id: text before the first 'id=' line"):
        list(read_foreign(src, "meddialog"))


def test_meddialog_skip_invalid_keeps_the_other_records(tmp_path):
    src = tmp_path / "med.txt"
    bad = "id=9\n\nDialogue\n没有说话人的一行\n病人：\n胃疼\n\n"
    src.write_text(MEDDIALOG_TEXT.replace("id=8", bad + "id=8"), "utf-8")
    with pytest.raises(DataError, match=r"med.txt:\d+: turns: dialogue text before a 病人：/医生： speaker line"):
        list(read_foreign(src, "meddialog", id_prefix="md"))
    assert [r.id for r in read_foreign(src, "meddialog", id_prefix="md", skip_invalid=True)] == ["md-7", "md-8"]


def test_csv_skip_invalid_carries_on_after_a_malformed_row(tmp_path):
    import csv

    src = tmp_path / "big.csv"
    huge = "x" * (csv.field_size_limit() + 10)
    src.write_text(f"department,title,ask,answer\n内科,t1,问一,答一\n内科,t2,{huge},答二\n"
                   "内科,t3,问三,答三\n内科,t4,问四,答四\n", "utf-8")
    with pytest.raises(DataError, match=r"big.csv:3: row: field larger than field limit"):
        list(read_foreign(src, "csv"))
    assert [r.title for r in read_foreign(src, "csv", skip_invalid=True)] == ["t1", "t3", "t4"]


def test_unreadable_gzip_input_is_a_data_error(tmp_path):
    import gzip

    truncated = tmp_path / "records.json.gz"
    truncated.write_bytes(gzip.compress(json.dumps([{"id": "a", "turns": []}] * 50).encode())[:30])
    with pytest.raises(DataError, match="cannot read compressed file"):
        list(read_foreign(truncated, "json"))


def test_json_with_an_unreadable_number_is_a_data_error(tmp_path):
    src = tmp_path / "records.json"
    src.write_text('[{"id": ' + "1" * 5000 + "}]", "utf-8")
    with pytest.raises(DataError, match=r"records.json:1: json: unreadable JSON \(ValueError"):
        list(read_foreign(src, "json"))


def test_json_list_with_line_numbers(tmp_path):
    good = {"id": "a", "turns": [{"speaker": "patient", "text": "头疼"}]}
    src = tmp_path / "list.json"
    src.write_text("[\n" + json.dumps(good) + ",\n" + json.dumps({"id": "b", "turns": []}) + "\n]\n", "utf-8")
    with pytest.raises(DataError, match=r"list.json:3: turns: a dialogue needs at least one turn"):
        list(read_foreign(src, "json"))
    assert [r.id for r in read_foreign(src, "json", skip_invalid=True)] == ["a"]
    src.write_text('{"id": "a"}', "utf-8")
    with pytest.raises(DataError, match="expected a JSON array"):
        list(read_foreign(src, "json"))


def test_failed_conversion_writes_nothing(tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text("department,title,ask,answer\n内科,t,,回答\n", "utf-8")
    out = tmp_path / "out.jsonl"
    with pytest.raises(DataError):
        convert(src, out, "csv")
    assert not out.exists()


def _shared_records(name, ids):
    path = shared_corpus(name)
    wanted = set(ids)
    found = {}
    with open(path, encoding="utf-8") as handle:
        for text in handle:
            record = json.loads(text)
            if record["id"] in wanted:
                found[record["id"]] = record
    return found


def test_real_toyhom_csv_excerpt_matches_shared_corpus():
    src = shared_format_sample("toyhom_csv_format_sample_gb18030.csv")
    records = list(read_foreign(src, "csv", id_prefix="toyhom_im"))
    assert len(records) == 300
    reference = _shared_records("toyhom_im", [r.id for r in records])
    assert [r.to_json() for r in records] == [reference[r.id] for r in records]


def test_real_covid_dialogue_excerpt_matches_shared_corpus():
    src = shared_format_sample("meddialog_cn_format_sample.txt")
    records = list(read_foreign(src, "meddialog", id_prefix="covid_zh"))
    assert len(records) == 39
    reference = _shared_records("covid_zh", [r.id for r in records])
    assert [r.to_json() for r in records] == [reference[r.id] for r in records]




# ---- issue 13 D1: a JSON list is read whole, and nothing may follow it ----

GOOD = {"id": "a", "turns": [{"speaker": "patient", "text": "头疼"}]}


@pytest.mark.parametrize("text, message", [
    ("[{good}] [{other}]", r"list.json:1: json: unexpected data after the array's closing '\]'"),
    ("[{good}]\ngarbage", r"list.json:2: json: unexpected data after the array's closing '\]'"),
    ("[{good}]]", r"list.json:1: json: unexpected data after"),
    ("[{good}, ]", r"list.json:1: json: ',' after the last record"),
    ("[]\n{{}}", r"list.json:2: json: unexpected data after"),
    ("[{good}", r"list.json:1: json: unterminated array"),
])
def test_json_list_refuses_what_follows_the_array(tmp_path, text, message):
    src = tmp_path / "list.json"
    other = json.dumps({**GOOD, "id": "b"})
    src.write_text(text.format(good=json.dumps(GOOD), other=other), "utf-8")
    with pytest.raises(DataError, match=message):
        list(read_foreign(src, "json"))
    out = tmp_path / "out.jsonl"
    with pytest.raises(DataError):
        convert(src, out, "json", skip_invalid=True)
    assert not out.exists()


def test_json_list_reads_every_record_with_trailing_whitespace(tmp_path):
    src = tmp_path / "list.json"
    src.write_text("[" + ",\n".join(json.dumps({**GOOD, "id": f"r{i}"}) for i in range(5)) + "]\n\n  ", "utf-8")
    assert [r.id for r in read_foreign(src, "json")] == [f"r{i}" for i in range(5)]


# ---- issue 13 D11: Big5 or Shift-JIS is not silently read as GB18030 ----

TRADITIONAL_CSV = ("department,title,ask,answer\n"
                   "心血管科,高血壓能吃黨參嗎？,醫生你好，我有高血壓，請問可以吃黨參嗎？,可以適量服用，注意監測血壓。\n"
                   "兒科,發燒,孩子發燒兩天了，體溫三十八度五，應該怎麼辦？,建議去醫院檢查血常規。\n")
JAPANESE_CSV = ("department,title,ask,answer\n"
                "内科,頭痛,先生、こんにちは。昨日から頭が痛いです。どうすればいいですか？,病院で検査を受けてください。\n")


@pytest.mark.parametrize("text, encoding", [(TRADITIONAL_CSV, "big5"), (JAPANESE_CSV, "shift_jis")])
def test_a_big5_or_shift_jis_csv_is_refused_in_auto_and_read_when_named(tmp_path, text, encoding):
    src = tmp_path / "toy.csv"
    src.write_bytes(text.encode(encoding))
    out = tmp_path / "out.jsonl"
    with pytest.raises(DataError, match=r"toy.csv:1: encoding: neither UTF-8 nor recognisably GB18030"):
        convert(src, out, "csv")
    assert not out.exists()
    report = convert(src, out, "csv", encoding=encoding)
    assert report.encoding == encoding and report.written == len(text.splitlines()) - 1
    records, _ = load_dialogues(out)
    assert records[0].turns[0].text == text.splitlines()[1].split(",")[2]


def test_the_shared_gb18030_excerpt_is_still_detected():
    src = shared_format_sample("toyhom_csv_format_sample_gb18030.csv")
    assert len(list(read_foreign(src, "csv"))) > 0


@pytest.mark.parametrize("raw", [b"department,title,ask,answer\n,,0,\xa1\xa7\n",  # Big5 for an opening quote
                                 "department,title,ask,answer\n内科,头,疼,好\n".encode("gb18030")])
def test_too_little_chinese_to_recognise_gb18030_is_refused_in_auto(tmp_path, raw):
    """Fuzz finding (issue 13 D11): two bytes decode in GB18030 and in Big5 alike; auto does not guess."""
    src = tmp_path / "toy.csv"
    src.write_bytes(raw)
    with pytest.raises(DataError, match="neither UTF-8 nor recognisably GB18030"):
        list(read_foreign(src, "csv"))
    assert len(list(read_foreign(src, "csv", encoding="gb18030"))) == 1


# ---- fuzz F6-F8: the `auto` rule on small or ambiguous files (see adapters.detect_encoding) ----

@pytest.mark.parametrize("raw, reason", [
    # F7: 痛 in GB18030 (CD B4) is also valid UTF-8 (U+0374): ambiguous, not read as UTF-8 mojibake
    (b"department,title,ask,answer\n,,0,\xcd\xb4\n", "ambiguous"),
    # F8: Big5 ideographic spaces and kana, which decode as GB18030 to private-use characters and 剖
    (b"extra,department,title,ask,answer\n\xa1@\xa1@\xa1@\xc6\xca\xc6\xca\xc6\xca,,,0,\xc6\xca\xc6\xca\n",
     "neither UTF-8 nor recognisably GB18030"),
    # F8: Shift-JIS 發ア, valid UTF-8 by accident (U+1883) and valid GB18030
    (b"department,title,ask,answer\n,,0,\xe1\xa2\x83A\n", "ambiguous"),
    # F6: a real GB18030 file with only five Chinese characters: too little to tell, so refused naming gb18030
    ("department,title,ask,answer\n,,头痛,多喝水\n".encode("gb18030"), "neither UTF-8 nor recognisably GB18030"),
])
def test_auto_refuses_small_or_ambiguous_files_naming_the_encoding_option(tmp_path, raw, reason):
    src = tmp_path / "tiny.csv"
    src.write_bytes(raw)
    with pytest.raises(DataError) as caught:
        list(read_foreign(src, "csv"))
    message = str(caught.value)
    assert message.startswith(f"{src}:1: encoding: {reason}") and "\n" not in message
    assert "--encoding gb18030" in message


def test_auto_reads_utf8_with_chinese_and_plain_ascii_and_enough_gb18030(tmp_path):
    cases = [("department,title,ask,answer\n,,头痛，ʹ,多喝水\n", "utf-8", "多喝水"),  # CJK present: UTF-8 wins
             ("department,title,ask,answer\n,,0,ok\n", "utf-8", "ok"),
             ("department,title,ask,answer\n,,孩子发烧两天了,建议多喝水注意休息\n", "gb18030", "建议多喝水注意休息")]
    for text, encoding, answer in cases:
        src = tmp_path / f"{encoding}.csv"
        src.write_bytes(text.encode(encoding))
        assert read_text(str(src)) == (text, encoding)
        assert list(read_foreign(src, "csv"))[0].turns[1].text == answer
    src = tmp_path / "f6.csv"
    src.write_bytes("department,title,ask,answer\n,,头痛,多喝水\n".encode("gb18030"))
    assert list(read_foreign(src, "csv", encoding="gb18030"))[0].turns[1].text == "多喝水"


@pytest.mark.parametrize("text", ["été", "a\u00a0b", "x\u2028y"])
def test_json_in_utf8_without_chinese_is_read_not_refused_as_ambiguous(tmp_path, text):
    # Deep fuzz run: the auto rule refused valid UTF-8 JSON whose text had no CJK character; JSON is UTF-8.
    src = tmp_path / "records.json"
    src.write_text(json.dumps([{"id": "r-0", "turns": [{"speaker": "patient", "text": text}]}], ensure_ascii=False),
                   "utf-8")
    [record] = read_foreign(src, "json")
    assert record.turns[0].text == text


def test_a_utf8_bom_means_utf8_even_where_the_bytes_after_it_would_be_ambiguous(tmp_path):
    # Deep fuzz run: a BOM-marked file whose only non-ASCII text is “ (E2 80 9C, valid GB18030 too) was refused as
    # ambiguous; the documented rule says a BOM always means UTF-8, strictly.
    src = tmp_path / "bom.csv"
    src.write_bytes(b"\xef\xbb\xbfdepartment,title,ask,answer\n,,0,\xe2\x80\x9c@\n")
    assert read_text(str(src)) == ("department,title,ask,answer\n,,0,\u201c@\n", "utf-8")
    assert list(read_foreign(src, "csv"))[0].turns[1].text == "\u201c@"
    src.write_bytes(b"\xef\xbb\xbfdepartment,title,ask,answer\n,,0,\xcd\xb4\xff\n")  # not UTF-8 after the BOM
    with pytest.raises(DataError, match=r"bom.csv:2: encoding: not valid utf-8 \(byte offset 34\)"):
        read_text(str(src))

"""The HTML report: self-contained, escaped, and rendered by headless Chromium without console errors."""

import copy
import json
import re
import struct

import pytest

from rmd_baselines.errors import DataError
from rmd_baselines.report import load_results, render_html, write_report
from tests.chromium import Browser, find_chromium


def test_page_is_self_contained(small_reproduce_run):
    page = render_html(small_reproduce_run["results"])
    assert page.count("<table>") == 3
    assert page.count("<svg") == 4  # two heatmaps, two F1 bar charts
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched from a network
    for text in ("Table 4", "Table 5", "Table 6", "Run signature", "CDial-GPT*", "Response examples"):
        assert text in page


def test_text_from_the_corpus_is_escaped(small_reproduce_run):
    results = copy.deepcopy(small_reproduce_run["results"])
    results["tasks"]["respond"]["examples"][0]["context"] = "<script>alert(1)</script>"
    page = render_html(results)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_skipped_task_shows_its_reason(small_reproduce_run):
    results = copy.deepcopy(small_reproduce_run["results"])
    results["tasks"]["recommend"] = {"status": "skipped", "reason": "no record has a doctor"}
    assert "Skipped: no record has a doctor" in render_html(results)


def test_not_a_results_directory(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_results(str(tmp_path))
    (tmp_path / "results.json").write_text("[]", "utf-8")
    with pytest.raises(DataError, match="not a results file"):
        load_results(str(tmp_path))


@pytest.mark.parametrize("results, message", [
    ({"tasks": []}, "no 'tasks' object"),
    ({"tasks": None}, "no 'tasks' object"),
    ({"tasks": {"respond": {"status": "ok"}}}, "malformed results file (KeyError: 'systems')"),
    ({"tasks": {"route": {"status": "ok", "scores": {}}}}, "malformed results file (KeyError: 'confusion')"),
])
def test_a_malformed_results_file_is_a_data_error(tmp_path, results, message):
    results = {"format": "rmd_baselines-results", "format_version": 1, **results}
    (tmp_path / "results.json").write_text(json.dumps(results), "utf-8")
    with pytest.raises(DataError, match=re.escape(message)):
        write_report(str(tmp_path), str(tmp_path / "report.html"))
    assert not (tmp_path / "report.html").exists()


def test_report_command(small_reproduce_run, tmp_path):
    from tests.cli.invoke import run_streams

    page = tmp_path / "report.html"
    code, stdout, _ = run_streams("report", small_reproduce_run["out"], "--html", page)
    assert code == 0 and stdout.strip() == f"wrote {page}"
    assert page.read_text("utf-8") == render_html(load_results(str(small_reproduce_run["out"])))
    code, _, stderr = run_streams("report", tmp_path / "nothing-here", "--html", tmp_path / "x.html")
    assert code == 2 and "no such file" in stderr and stderr.count("\n") == 1
    assert not (tmp_path / "x.html").exists()


def test_an_unreadable_results_file_is_a_data_error(tmp_path):
    (tmp_path / "results.json").mkdir()
    with pytest.raises(DataError, match="cannot read"):
        load_results(str(tmp_path))


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_report_renders_in_headless_chromium(small_reproduce_run, tmp_path):
    executable = find_chromium()
    if executable is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")
    page = tmp_path / "report.html"
    write_report(str(small_reproduce_run["out"]), str(page))
    browser = Browser(executable)
    try:
        browser.load(page.as_uri())
        tables = browser.evaluate("Array.from(document.querySelectorAll('table')).map("
                                  "t => {const r = t.getBoundingClientRect(); return [r.width, r.height];})")
        figures = browser.evaluate("Array.from(document.querySelectorAll('figure svg')).map("
                                   "s => {const r = s.getBoundingClientRect(); return [r.width, r.height];})")
        shot = tmp_path / "report.png"
        browser.screenshot(str(shot))
        errors = browser.errors()
    finally:
        browser.close()
    assert errors == []
    assert len(tables) == 3 and all(w > 200 and h > 100 for w, h in tables)
    assert len(figures) == 4 and all(w > 100 and h > 100 for w, h in figures)
    width, height = png_size(shot.read_bytes())
    assert width >= 800 and height > sum(h for _, h in tables) + sum(h for _, h in figures) / 2


def test_a_deeply_nested_results_file_is_a_data_error(tmp_path):
    """Issue 13 D4: 100,000 '[' was a RecursionError (exit 1)."""
    from tests.cli.invoke import run_streams

    (tmp_path / "results.json").write_text("[" * 100_000, "utf-8")
    with pytest.raises(DataError, match="not a results file"):
        load_results(str(tmp_path))
    code, _, stderr = run_streams("report", tmp_path, "--html", tmp_path / "r.html")
    assert code == 2 and "not a results file" in stderr and stderr.count("\n") == 1


@pytest.mark.parametrize("change, message", [
    ({"format_version": 2}, "format_version: results format version 2 is newer"),
    ({"format_version": True}, "format_version: True is not a format version"),
    ({"format_version": -7}, "format_version: -7 is not a format version"),
    ({"format_version": None}, "format_version: None is not a format version"),
    ({"format": "something-else"}, "format: 'something-else' is not"),
])
def test_report_checks_the_results_format_version(small_reproduce_run, tmp_path, change, message):
    """Issue 13: `report` checks the results file's format and version, naming the field."""
    results = {**small_reproduce_run["results"], **change}
    (tmp_path / "results.json").write_text(json.dumps(results), "utf-8")
    with pytest.raises(DataError, match=re.escape(message)):
        write_report(str(tmp_path), str(tmp_path / "report.html"))
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize("name", ["earlier.jsonl", "results.json", "page"])
def test_the_page_never_replaces_a_file_not_named_html(small_reproduce_run, tmp_path, name):
    """Issue 13 (deep fuzz run): `report --html out/earlier.jsonl` replaced a data file with the page."""
    from rmd_baselines.errors import UsageError

    target = tmp_path / name
    target.write_text('{"kept": true}\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"\.html or \.htm"):
        write_report(small_reproduce_run["out"], str(target))
    assert target.read_text(encoding="utf-8") == '{"kept": true}\n'

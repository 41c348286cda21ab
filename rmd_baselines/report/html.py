"""One self-contained HTML page from a `reproduce` results directory.

The page needs no network and no plotting library: tables are HTML, and the figures (confusion-matrix heatmaps,
per-class F1 bars) are inline SVG written here, so it renders the same with or without matplotlib installed.
Everything shown comes from ``results.json``; the page adds nothing that is not in it.
"""

from __future__ import annotations

import html
import json
import os
from typing import Any, Iterable

from ..corpus.writer import write_text
from ..errors import DataError, UsageError
from ..paper import CLASSIFY_ROWS, CLASSIFY_SYSTEMS, CLASSIFY_TABLES, PAPER_LABEL, TABLE4, TABLE4_ROWS, TABLE4_SYSTEMS

RESULTS_FILE = "results.json"
TASK_TITLES = {
    "respond": "Table 4 — medical response generation",
    "route": "Table 5 — department routing",
    "recommend": "Table 6 — doctor recommendation",
}
# Metrics the paper family reports ×100 (as the paper prints them).
PAPER_SCALED = {"bleu2", "bleu4", "nist4", "meteor"}

STYLE = """
body { font-family: "Noto Sans CJK SC", "WenQuanYi Zen Hei", "Microsoft YaHei", sans-serif; margin: 2em auto;
       max-width: 1200px; color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th.paper, td.paper { background: #f3f3f8; color: #555; }
td .ci { color: #777; font-size: 0.85em; }
.note { color: #555; font-size: 0.9em; }
.skipped { color: #a33; }
code, .signature { font-family: monospace; font-size: 0.85em; word-break: break-all; }
figure { display: inline-block; margin: 0.5em 1.5em 0.5em 0; vertical-align: top; }
figcaption { font-size: 0.9em; color: #444; }
.example { border: 1px solid #ddd; padding: 0.6em; margin: 0.6em 0; }
.example pre { white-space: pre-wrap; margin: 0.2em 0 0.6em 0; font-family: inherit; }
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def results_path(results_dir: str) -> str:
    """``results_dir/results.json``, or ``results_dir`` itself when it is a file."""
    return os.path.join(results_dir, RESULTS_FILE) if os.path.isdir(results_dir) else results_dir


def load_results(results_dir: str) -> dict:
    """Read ``results.json`` of a reproduce run; a missing, unreadable or malformed file is a `DataError`."""
    path = results_path(results_dir)
    try:
        with open(path, encoding="utf-8") as handle:
            results = json.load(handle)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (is this a directory written by 'rmd-baseline reproduce'?)") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a valid results file ({' '.join(str(exc).split())[:120]})") from None
    except RecursionError:  # e.g. 100,000 nested '['
        raise DataError(f"{path}: not a results file (JSON nested too deeply)") from None
    if not isinstance(results, dict) or not isinstance(results.get("tasks"), dict):
        raise DataError(f"{path}: not a results file written by 'rmd-baseline reproduce' (no 'tasks' object)")
    check_results_format(path, results)
    return results


def check_results_format(path: str, results: dict) -> None:
    """``results`` is a results file of a format version this rmd_baselines reads, or a `DataError` naming the
    field (``format``, ``format_version``)."""
    from ..reproduce import RESULTS_FORMAT, RESULTS_FORMAT_VERSION

    if results.get("format") != RESULTS_FORMAT:
        raise DataError(f"{path}: format: {results.get('format')!r} is not {RESULTS_FORMAT!r} "
                        "(not a results file written by 'rmd-baseline reproduce')")
    version = results.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise DataError(f"{path}: format_version: {version!r} is not a format version (a positive integer)")
    if version > RESULTS_FORMAT_VERSION:
        raise DataError(f"{path}: format_version: results format version {version} is newer than this "
                        f"rmd_baselines reads ({RESULTS_FORMAT_VERSION}); upgrade rmd_baselines")


def fmt_number(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}"


def cell(score: dict | None, scale: float = 1.0, digits: int = 3, attrs: str = "") -> str:
    """A table cell: the value and, when known, its 95 % bootstrap interval."""
    if not score or score.get("value") is None:
        return f"<td{attrs}>–</td>"
    text = esc(fmt_number(score["value"] * scale, digits))
    ci = score.get("ci")
    if ci:
        text += f' <span class="ci">[{esc(fmt_number(ci[0] * scale, digits))}, {esc(fmt_number(ci[1] * scale, digits))}]</span>'
    return f'<td{attrs} title="{esc(score.get("signature", ""))}">{text}</td>'


def table4(task: dict) -> str:
    systems = task["systems"]
    head = ["<tr><th>Metric</th>"]
    for name in systems:
        head.append(f"<th>{esc(name)}<br>paper family</th><th>{esc(name)}<br>dstc7 family</th>")
    head.extend(f'<th class="paper">{esc(s)}*</th>' for s in TABLE4_SYSTEMS)
    head.append("</tr>")
    rows = []
    for key, label in TABLE4_ROWS:
        row = [f"<tr><td>{esc(label)}</td>"]
        for report in systems.values():
            if key == "perplexity":
                row.append(cell(report.get("perplexity"), digits=2, attrs=' colspan="2"'))
                continue
            scale = 100.0 if key in PAPER_SCALED else 1.0
            row.append(cell(report["paper"].get(key), scale=scale, digits=3))
            row.append(cell(report["dstc7"].get(key), digits=4))
        row.extend(f'<td class="paper">{value}</td>' for value in TABLE4[key])
        row.append("</tr>")
        rows.append("".join(row))
    signatures = sorted({report[f].get("signature", "") for report in systems.values() for f in ("paper", "dstc7")}
                        | {report["perplexity"].get("signature", "") for report in systems.values()
                           if report.get("perplexity")})
    return (
        f"<table>{''.join(head)}{''.join(rows)}</table>"
        f'<p class="note">Paper family: BLEU, NIST and METEOR ×100 as the paper prints them; dstc7 family raw. '
        f"Brackets: 95 % bootstrap interval over test instances. Perplexity (char level, end of response included) "
        f"is the same for both families. * {esc(PAPER_LABEL)}, transformers, not comparable row for row with a "
        f"different corpus.</p>"
        + "".join(f'<div class="signature">{esc(s)}</div>' for s in signatures if s)
    )


def classification_table(task: dict, name: str) -> str:
    paper = CLASSIFY_TABLES[name]
    head = (f"<tr><th>Metric</th><th>{esc(task.get('model', 'ours'))} (ours)</th>"
            + "".join(f'<th class="paper">{esc(s)}*</th>' for s in CLASSIFY_SYSTEMS) + "</tr>")
    rows = []
    scores = task["scores"]
    for key, label in CLASSIFY_ROWS + (("top3_accuracy", "Top-3 acc."), ("mrr", "MRR")):
        paper_cells = "".join(f'<td class="paper">{v:.3f}</td>' for v in paper[key]) if key in paper else \
            "".join('<td class="paper">–</td>' for _ in CLASSIFY_SYSTEMS)
        rows.append(f"<tr><td>{esc(label)}</td>{cell(scores.get(key))}{paper_cells}</tr>")
    signature = next((s.get("signature") for s in scores.values() if isinstance(s, dict) and s.get("signature")), "")
    return (f"<table>{head}{''.join(rows)}</table>"
            f'<p class="note">Brackets: 95 % bootstrap interval over test records. * {esc(PAPER_LABEL)}.</p>'
            + (f'<div class="signature">{esc(signature)}</div>' if signature else ""))


def heat_color(fraction: float) -> str:
    """White to dark blue."""
    fraction = max(0.0, min(1.0, fraction))
    r = int(round(255 - fraction * (255 - 31)))
    g = int(round(255 - fraction * (255 - 78)))
    b = int(round(255 - fraction * (255 - 154)))
    return f"rgb({r},{g},{b})"


def confusion_svg(labels: list[str], matrix: list[list[int]], title: str) -> str:
    """A row-normalised confusion-matrix heatmap (rows: gold, columns: predicted)."""
    n = len(labels)
    cell_size = max(6, min(28, 560 // max(n, 1)))
    show_labels = n <= 30
    margin = 130 if show_labels else 20
    size = margin + n * cell_size + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{esc(title)}" width="{size}" '
             f'height="{size}" viewBox="0 0 {size} {size}" font-size="{min(12, cell_size - 2)}">']
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        for j, count in enumerate(row):
            x, y = margin + j * cell_size, margin + i * cell_size
            parts.append(f'<rect x="{x}" y="{y}" width="{cell_size}" height="{cell_size}" '
                         f'fill="{heat_color(count / total)}" stroke="#eee"><title>{esc(labels[i])} → '
                         f'{esc(labels[j])}: {count}</title></rect>')
            if show_labels and count and cell_size >= 18:
                color = "#fff" if count / total > 0.5 else "#222"
                parts.append(f'<text x="{x + cell_size / 2}" y="{y + cell_size / 2 + 4}" text-anchor="middle" '
                             f'fill="{color}">{count}</text>')
    if show_labels:
        for i, label in enumerate(labels):
            short = esc(label[:9])
            parts.append(f'<text x="{margin - 4}" y="{margin + i * cell_size + cell_size / 2 + 4}" '
                         f'text-anchor="end">{short}</text>')
            cx, cy = margin + i * cell_size + cell_size / 2, margin - 4
            parts.append(f'<text x="{cx}" y="{cy}" transform="rotate(-60 {cx} {cy})">{short}</text>')
    parts.append("</svg>")
    return "".join(parts)


def f1_bars_svg(per_class: list[dict], title: str) -> str:
    """Horizontal bars of per-class F1, with the class support in the label."""
    rows = sorted(per_class, key=lambda r: (-r["support"], r["label"]))
    bar_height, label_width, bar_width = 16, 170, 320
    height = len(rows) * (bar_height + 4) + 24
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{esc(title)}" '
             f'width="{label_width + bar_width + 60}" height="{height}" font-size="11">']
    for i, row in enumerate(rows):
        y = 4 + i * (bar_height + 4)
        width = bar_width * max(0.0, min(1.0, row["f1"]))
        parts.append(f'<text x="{label_width - 6}" y="{y + 12}" text-anchor="end">{esc(row["label"][:12])} '
                     f'({row["support"]})</text>')
        parts.append(f'<rect x="{label_width}" y="{y}" width="{bar_width}" height="{bar_height}" fill="#eee"/>')
        parts.append(f'<rect x="{label_width}" y="{y}" width="{width:.1f}" height="{bar_height}" fill="#1f4e9a">'
                     f'<title>{esc(row["label"])}: F1 {row["f1"]:.3f}, support {row["support"]}</title></rect>')
        parts.append(f'<text x="{label_width + width + 4:.1f}" y="{y + 12}">{row["f1"]:.2f}</text>')
    parts.append(f'<text x="{label_width}" y="{height - 4}" fill="#666">F1 per class (support in brackets)</text>')
    parts.append("</svg>")
    return "".join(parts)


def examples_html(task: dict) -> str:
    blocks = []
    for example in task.get("examples", []):
        responses = "".join(f"<dt>{esc(name)}</dt><dd><pre>{esc(text)}</pre></dd>"
                            for name, text in example["responses"].items())
        blocks.append(f'<div class="example"><b>Context</b><pre>{esc(example["context"])}</pre>'
                      f'<b>Reference</b><pre>{esc(example["reference"])}</pre><dl>{responses}</dl></div>')
    return "".join(blocks)


def notes_html(notes: Iterable[str]) -> str:
    notes = list(notes)
    return "".join(f'<p class="note">{esc(n)}</p>' for n in notes)


def render_html(results: dict) -> str:
    """The whole page as a string."""
    tasks = results["tasks"]
    data = results.get("data") or {}
    body = [f"<h1>rmd_baselines {esc(results.get('version', ''))}: classical baselines for the RealMedDial tasks</h1>",
            f'<p>Data: <code>{esc(data.get("path", "?"))}</code> ({esc(data.get("records", "?"))} dialogues, '
            f'sha256 <code>{esc(str(data.get("sha256", ""))[:16])}…</code>), seed {esc(results.get("seed", 0))}.</p>',
            f'<p class="signature">Run signature: {esc(results.get("signature", ""))}</p>']
    for name in ("respond", "route", "recommend"):
        task = tasks.get(name)
        if task is None:
            continue
        body.append(f'<h2 id="{name}">{esc(TASK_TITLES[name])}</h2>')
        if task.get("status") != "ok":
            body.append(f'<p class="skipped">Skipped: {esc(task.get("reason", "not run"))}</p>')
            continue
        body.append(notes_html(task.get("notes", [])))
        if name == "respond":
            body.append(f'<p class="note">{esc(task.get("test_instances", "?"))} test instances.</p>')
            body.append(table4(task))
            body.append("<h3>Response examples</h3>")
            body.append(examples_html(task))
        else:
            body.append(f'<p class="note">{esc(task.get("test_records", "?"))} test records, '
                        f'{esc(len(task["confusion"]["labels"]))} classes; model {esc(task.get("model", ""))}.</p>')
            body.append(classification_table(task, name))
            body.append(f'<figure>{confusion_svg(task["confusion"]["labels"], task["confusion"]["matrix"], name)}'
                        f"<figcaption>Confusion matrix (rows: gold, columns: predicted; shading row-normalised)"
                        f"</figcaption></figure>")
            body.append(f'<figure>{f1_bars_svg(task["per_class"], name)}<figcaption>Per-class F1</figcaption>'
                        f"</figure>")
    return ("<!DOCTYPE html>\n<html lang=\"zh-Hans\"><head><meta charset=\"utf-8\">"
            f"<title>rmd_baselines report</title><style>{STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def write_report(results_dir: str, html_path: str) -> str:
    """Render ``results_dir/results.json`` to ``html_path`` (atomically); returns the path. The path must end in
    ``.html`` or ``.htm``: the page replaces the file whole, so a slip such as ``--html results.json`` must not
    overwrite a data file."""
    if os.path.splitext(os.fspath(html_path))[1].lower() not in (".html", ".htm"):
        raise UsageError(f"--html {html_path}: the page's file name must end in .html or .htm")
    results = load_results(results_dir)
    try:
        page = render_html(results)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        # The file is reproduce's own output; one edited by hand can lack anything the page needs.
        raise DataError(f"{results_path(results_dir)}: malformed results file ({type(exc).__name__}: {exc})") \
            from None
    write_text(html_path, page)
    return html_path

"""Plain-text tables for the paper's layouts (Tables 4-6), aligned for CJK text too."""

from __future__ import annotations

import unicodedata
from typing import Sequence


def display_width(text: str) -> int:
    """Terminal columns of a string: wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, left: bool) -> str:
    gap = " " * (width - display_width(text))
    return text + gap if left else gap + text


def render(header: Sequence[str], rows: Sequence[Sequence[str]], notes: Sequence[str] = (), left: int = 1) -> str:
    """A table with a header rule; the first ``left`` columns left-aligned, the others right-aligned; notes below."""
    widths = [max(display_width(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(_pad(str(cell), widths[i], i < left) for i, cell in enumerate(cells)).rstrip()

    out = [line(header), "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in rows)
    if notes:
        out.append("")
        out.extend(notes)
    return "\n".join(out)


def fmt(value, digits: int = 3) -> str:
    """A cell: a number with fixed decimals, or an em dash for a missing value."""
    if value is None:
        return "—"
    return f"{value:.{digits}f}"

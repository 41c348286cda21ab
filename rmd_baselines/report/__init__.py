"""Reports of a `reproduce` run: a self-contained HTML page (tables, heatmaps, F1 bars, response examples)."""

from .html import load_results, render_html, write_report

__all__ = ["load_results", "render_html", "write_report"]

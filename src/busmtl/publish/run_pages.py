"""A Sphinx extension that presents each run notebook as a page of the book: its heading is its
title in the table of contents, and its figures have a caption and an alt text.

A run notebook opens with the heading papermill's template gave it when the run was made
(``# EW (SSC-ResNet), fold 2``): the same words for a run of the reference profile and one of
the leak-free profile, and older runs carry the names of their day; notebooks made by older
templates also lack the figures' alt texts. The committed notebooks are run records and stay
as they were made; instead, :func:`busmtl.publish.pipeline.write_toc` writes the title of every
run page (system, profile, fold, seed) into :data:`TITLES`, and as Sphinx reads a run page this
extension puts that title in place of the first heading (:func:`retitle`) and gives every cell
that draws a figure of :data:`busmtl.report.run_plots.FIGURES` that figure's caption and alt
text (:func:`caption_figures`), which myst-nb renders as a numbered figure.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

#: ``docname -> title`` of the run pages, written by the book pipeline (relative to the book).
TITLES = "book/_generated/run_titles.json"


def retitle(source: str, title: str) -> str:
    """The notebook JSON ``source`` with the first level-1 heading of its first Markdown cell
    replaced by ``title`` (unchanged when it has none)."""
    notebook = json.loads(source)
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        lines = text.split("\n")
        for i, line in enumerate(lines):
            if line.startswith("# "):
                lines[i] = f"# {title}"
                cell["source"] = "\n".join(lines)
                return json.dumps(notebook, ensure_ascii=False)
        break
    return source


def drawn_figure(cell_source: str) -> str | None:
    """The :data:`~busmtl.report.run_plots.FIGURES` function a code cell calls
    (``run_plots.plot_losses(history);`` -> ``"plot_losses"``), else ``None``."""
    from busmtl.report.run_plots import FIGURES

    for name in re.findall(r"run_plots\.(\w+)\(", cell_source):
        if name in FIGURES:
            return name
    return None


def caption_figures(source: str) -> str:
    """The notebook JSON ``source`` with each figure cell's ``mystnb`` metadata set to its
    caption, its alt text and the full text width (Sphinx then links the image to its
    full-size file)."""
    from busmtl.report.run_plots import FIGURES

    notebook = json.loads(source)
    changed = False
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        name = drawn_figure(text)
        if name is None:
            continue
        caption, alt = FIGURES[name]
        cell.setdefault("metadata", {})["mystnb"] = {
            "figure": {"caption": caption},
            "image": {"alt": alt, "width": "100%"},
        }
        changed = True
    return json.dumps(notebook, ensure_ascii=False) if changed else source


def setup(app: Any) -> dict[str, Any]:
    """Read :data:`TITLES` once the builder starts; present each run page as it is read."""
    titles: dict[str, str] = {}

    def load(app: Any) -> None:
        path = Path(app.srcdir) / TITLES
        titles.update(json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {})

    def on_source_read(app: Any, docname: str, source: list[str]) -> None:
        if docname in titles:
            source[0] = caption_figures(retitle(source[0], titles[docname]))

    app.connect("builder-inited", load)
    app.connect("source-read", on_source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "2"}

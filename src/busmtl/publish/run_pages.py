"""A Sphinx extension: each run notebook's page heading is the title of its table of contents.

A run notebook opens with the heading papermill's template gave it when the run was made
(``# EW (SSC-ResNet), fold 2``): the same words for a run of the reference profile and one of
the leak-free profile, and older runs carry the names of their day. The committed notebooks are
run records and stay as they were made; instead, :func:`busmtl.publish.pipeline.write_toc`
writes the title of every run page (system, profile, fold, seed) into :data:`TITLES`, and this
extension puts it in place of the notebook's first heading as Sphinx reads the page.
"""

from __future__ import annotations

import json
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


def setup(app: Any) -> dict[str, Any]:
    """Read :data:`TITLES` once the builder starts; retitle each run page as it is read."""
    titles: dict[str, str] = {}

    def load(app: Any) -> None:
        path = Path(app.srcdir) / TITLES
        titles.update(json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {})

    def on_source_read(app: Any, docname: str, source: list[str]) -> None:
        if docname in titles:
            source[0] = retitle(source[0], titles[docname])

    app.connect("builder-inited", load)
    app.connect("source-read", on_source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}

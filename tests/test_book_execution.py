"""The chapters are executed side by side into the cache the build reads: the chapters are found
in the table of contents, and a chapter executed by :mod:`busmtl.publish.execute` is the one
myst-nb looks up (same reader, same hash), with its outputs; the cache is emptied first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from busmtl.publish.execute import CACHE_FOLDER, chapter_notebooks, execute_chapters, longest_first

NOTEBOOK = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# {title}

```{{code-cell}} ipython3
import os
print(os.environ.get("BUSMTL_BOOK_PROFILE"), {value})
```
"""


def _book(tmp_path: Path) -> Path:
    book = tmp_path / "book"
    book.mkdir()
    (book / "intro.md").write_text("# Intro\n\nNo code here.\n")
    (book / "one.md").write_text(NOTEBOOK.format(title="One", value=1))
    (book / "two.md").write_text(NOTEBOOK.format(title="Two", value=2))
    (book / "runs").mkdir()
    (book / "runs" / "fold0.ipynb").write_text("{}")
    return tmp_path


def test_the_chapters_are_the_text_notebooks_of_the_toc(tmp_path):
    root = _book(tmp_path)
    toc = {"root": "book/intro", "parts": [{"chapters": [
        {"file": "book/one"}, {"file": "book/missing"},
        {"file": "book/two", "sections": [{"file": "book/runs/fold0"}]}]}]}
    assert chapter_notebooks(root, toc) == [root / "book/one.md", root / "book/two.md"]


def test_the_chapters_with_most_code_cells_start_first(tmp_path):
    cell = "```{code-cell} ipython3\nx = 1\n```\n\n"
    paths = []
    for name, cells in (("one", 1), ("three", 3), ("none", 0), ("two", 2), ("also_one", 1)):
        path = tmp_path / f"{name}.md"
        path.write_text(f"# {name}\n\n" + cell * cells)
        paths.append(path)
    assert [p.stem for p in longest_first(paths)] == ["three", "two", "one", "also_one", "none"]
    four_ticks = tmp_path / "four.md"
    four_ticks.write_text("````{code-cell} ipython3\nx = 1\n````\n" * 4
                          + "```python\nnot a cell\n```\n")
    assert longest_first([paths[1], four_ticks])[0] == four_ticks


@pytest.mark.slow
def test_executed_chapters_are_what_the_build_finds_in_the_cache(tmp_path):
    from jupyter_cache import get_cache
    from myst_nb.core.read import myst_nb_reader_plugin

    root = _book(tmp_path)
    chapters = [root / "book/one.md", root / "book/two.md"]
    stale = get_cache(root / CACHE_FOLDER)
    stale.add_nb_to_project(str(root / "book/intro.md"), read_data={"name": "myst_nb_md",
                                                                   "type": "plugin"})
    env = dict(os.environ, BUSMTL_BOOK_PROFILE="quick")
    assert execute_chapters(root, chapters, env, timeout=120) == 2
    cache = get_cache(root / CACHE_FOLDER)
    assert [Path(r.uri).name for r in cache.list_project_records()] == ["one.md", "two.md"]
    for chapter, value in zip(chapters, (1, 2), strict=True):
        record = cache.match_cache_notebook(myst_nb_reader_plugin(str(chapter)))
        outputs = cache.get_cache_bundle(record.pk).nb.cells[0].outputs
        assert outputs[0]["text"] == f"quick {value}\n"


def test_a_failing_chapter_is_left_to_the_build(tmp_path, capsys):
    root = _book(tmp_path)
    (root / "book/two.md").write_text(NOTEBOOK.format(title="Two", value="1 / 0"))
    executed = execute_chapters(root, [root / "book/two.md"], dict(os.environ), timeout=120)
    assert executed == 0
    assert "two.md" in capsys.readouterr().err

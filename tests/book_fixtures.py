"""The book's sources copied for a build in a temporary folder (tests/test_book.py,
tests/test_browser.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

from busmtl.settings import STUDENT_NOTEBOOK, repo_root

ROOT = repo_root()


def copy_book_sources(dest: Path) -> Path:
    """The book's sources (config, toc, chapters) without any runs or build output."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "_config.yml", dest / "_config.yml")
    shutil.copy(ROOT / "_toc.yml", dest / "_toc.yml")
    shutil.copytree(ROOT / "book", dest / "book", ignore=shutil.ignore_patterns("runs", "_generated"))
    # the methods chapter links the weighter sources for download
    shutil.copytree(ROOT / "src" / "busmtl" / "weighting", dest / "src" / "busmtl" / "weighting")
    # the lab page offers the student notebook for download
    (dest / STUDENT_NOTEBOOK).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / STUDENT_NOTEBOOK, dest / STUDENT_NOTEBOOK)
    return dest

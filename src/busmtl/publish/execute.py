"""Execute the book's chapters side by side before the HTML build.

Jupyter Book (v1) executes its notebooks one after the other. The chapters do not depend on
each other, so :func:`execute_chapters` runs them at once, one kernel per core, with
jupyter-cache's ``local-parallel`` executor, into the cache the build reads
(``execute_notebooks: cache`` in ``_config.yml``; the cache is ``_build/.jupyter_cache``, where
myst-nb looks by default). The build then finds every chapter executed and only renders it.

The kernels take the chapters in order, the ones with the most code cells first (the count
stands in for the cost): a long chapter started last would keep one core busy while the other
waits.

The cache is emptied first, so a build always shows the runs present now and never an earlier
build's numbers. A chapter that fails here is not cached: the build executes it again itself
and reports its error as usual (``allow_errors: false``).

The kernels are started in a separate process (``python -m busmtl.publish.execute``) so that they
inherit exactly the environment the build gets (the ``BUSMTL_BOOK_*`` variables) and nothing of
the calling process.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

#: What jupyter-cache reads a MyST Markdown notebook with (myst-nb's own reader, so that the
#: notebook and its hash are those the build computes).
MYST_READER: dict[str, str] = {"name": "myst_nb_md", "type": "plugin"}
#: Where myst-nb keeps its cache when ``execute.cache`` is empty: beside the HTML output.
CACHE_FOLDER: str = "_build/.jupyter_cache"
#: The start of a MyST code cell (three or more backticks, then ``{code-cell}``).
CODE_CELL = re.compile(r"^`{3,}\{code-cell\}", re.MULTILINE)
#: How a chapter that failed is reported (the build then executes it and shows the error).
NOT_CACHED: str = "chapter failed, the build executes it again:"


def is_text_notebook(path: Path) -> bool:
    """A MyST Markdown file that myst-nb executes: front matter naming a kernel."""
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return False
    end = text.find("\n---", 3)
    return end > 0 and "kernelspec" in text[:end]


def chapter_notebooks(root: Path, toc: dict) -> list[Path]:
    """The executable chapters named in a table of contents (``root``, parts, chapters and
    their sections, in reading order); run notebooks (``.ipynb``) are shown as papermill left
    them and are not among them."""
    files: list[str] = [toc["root"]]

    def walk(entries: Sequence[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    paths = [root / f"{name}.md" for name in files]
    return [p for p in paths if p.is_file() and is_text_notebook(p)]


def longest_first(notebooks: Sequence[Path]) -> list[Path]:
    """``notebooks`` by their number of code cells, most first (ties keep their order), so that
    two kernels taking them in turn finish close together."""
    cells = {path: len(CODE_CELL.findall(path.read_text(encoding="utf-8"))) for path in notebooks}
    return sorted(notebooks, key=lambda path: -cells[path])


def execute_chapters(root: Path, notebooks: Sequence[Path], env: dict[str, str],
                     timeout: int) -> int:
    """Execute ``notebooks`` in parallel into ``<root>/_build/.jupyter_cache`` (emptied first);
    return how many executed without error (the rest are left to the build)."""
    cmd = [sys.executable, "-m", "busmtl.publish.execute", "--cache", str(root / CACHE_FOLDER),
           "--timeout", str(timeout), *map(str, notebooks)]
    done = subprocess.run(cmd, env=env, cwd=root, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"parallel execution of the chapters failed, the build executes them itself:\n"
              f"{done.stderr.strip()}", file=sys.stderr)
        return 0
    for line in done.stderr.splitlines():
        if line.startswith(NOT_CACHED):
            print(line, file=sys.stderr)
    return int(done.stdout.strip().splitlines()[-1])


def _execute(cache_path: Path, notebooks: Sequence[Path], timeout: int) -> int:
    from jupyter_cache import get_cache
    from jupyter_cache.executors import load_executor

    cache = get_cache(cache_path)
    cache.clear_cache()
    cache = get_cache(cache_path)
    for notebook in longest_first(notebooks):  # the pool takes them in the order they were added
        cache.add_nb_to_project(str(notebook.resolve()), read_data=MYST_READER)
    executor = load_executor("local-parallel", cache)
    result = executor.run_and_cache(timeout=timeout, allow_errors=False)
    for uri in result.excepted + result.errored:
        print(f"{NOT_CACHED} {uri}", file=sys.stderr)
    return len(result.succeeded)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Execute book chapters into a jupyter-cache.")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--timeout", type=int, default=1200)
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    print(_execute(args.cache, args.notebooks, args.timeout))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

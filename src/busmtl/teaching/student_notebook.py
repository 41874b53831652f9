"""The weighting lab (``book/lab.md``) as a notebook for students: plain Markdown and code
cells, without the solutions, read by jupytext (its MyST reader splits the code cells).

The chapter's MyST becomes Markdown that JupyterLab, Colab and a plain Markdown viewer show as
the book does:

* an ``{exercise}`` block becomes a heading ``### Exercise N: <title>`` (N counts the exercises
  in order, as the book numbers them) followed by its text; ``:label:`` lines are dropped;
* ``{solution}`` blocks, and everything between ``{solution-start}`` and ``{solution-end}``
  (code cells included), are removed;
* an ``{admonition}`` becomes a bold title and its text;
* an ``{only}`` block (Sphinx's: the book, an HTML build, shows it when its expression is
  ``html``) keeps its text when the expression is ``student`` and is removed otherwise, so the
  chapter can say one thing to the book's readers and another to the notebook's;
* ``{ref}`` to an exercise reads "Exercise N"; to any other label, a link to the published book;
  links to other chapters (``methods.md``) point to their HTML page (:mod:`busmtl.settings`);
  any other role keeps its text;
* cells the book hides (``remove-input``, ``remove-cell``: the launch buttons) are dropped,
  the starter cells lose their ``skip-execution`` tag, and a first cell installs the project
  where it is missing (Binder, Colab).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from busmtl.settings import Repository

#: A fenced directive's opening line: fence, name, argument.
_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[a-z-]+)\}\s*(?P<arg>.*)$")
#: A ``{ref}`` role, with or without an explicit title.
_REF = re.compile(r"\{ref\}`(?:(?P<title>[^`<]*?)\s*<(?P<target>[^`>]+)>|(?P<label>[^`]+))`")
#: A ``{cite}`` role: a link to the book's references.
_CITE = re.compile(r"\{cite\}`([^`]+)`")
#: Any other role: ``{name}`text```.
_ROLE = re.compile(r"\{[a-z:-]+\}`([^`]*)`")
#: A Markdown link to a chapter of the book.
_CHAPTER_LINK = re.compile(r"\]\((?P<page>[A-Za-z0-9_-]+)\.md(?:#(?P<anchor>[^)]+))?\)")
#: A MyST target line ``(label)=``.
_TARGET = re.compile(r"^\((?P<label>[A-Za-z0-9_-]+)\)=\s*$", re.MULTILINE)

SETUP_CELL = '''# Binder or Colab: install the project first (a few minutes); on your own machine it is already there.
import importlib.util

if importlib.util.find_spec("busmtl") is None:
    %pip install --quiet "busmtl @ git+{clone_url}@{branch}"'''


@dataclass
class Exercises:
    """The exercises of the lab in order: label -> (number, title)."""

    numbered: dict[str, tuple[int, str]] = field(default_factory=dict)

    def add(self, label: str | None, title: str) -> int:
        number = len(self.numbered) + 1
        self.numbered[label or f"_unlabelled{number}"] = (number, title)
        return number


def exercises_of(text: str) -> Exercises:
    """The numbered exercises of a MyST text (its ``{exercise}`` blocks, in order)."""
    found = Exercises()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        opened = _OPEN.match(line.strip())
        if opened and opened["name"] == "exercise":
            label = next((ln.split(":label:", 1)[1].strip() for ln in lines[i + 1:i + 6]
                          if ln.startswith(":label:")), None)
            found.add(label, opened["arg"].strip())
    return found


def label_pages(book_dir: Path) -> dict[str, str]:
    """Every MyST target ``(label)=`` of the chapters in ``book_dir``: label -> page stem."""
    pages: dict[str, str] = {}
    for path in sorted(book_dir.glob("*.md")):
        for match in _TARGET.finditer(path.read_text(encoding="utf-8")):
            pages[match["label"]] = path.stem
    return pages


def _inline(text: str, exercises: Exercises, pages: dict[str, str], repo: Repository) -> str:
    """Roles and chapter links of one Markdown text made plain."""

    def ref(match: re.Match[str]) -> str:
        label = match["target"] or match["label"]
        if label in exercises.numbered:
            return f"Exercise {exercises.numbered[label][0]}"
        title = match["title"] or label.replace("-", " ")
        page = pages.get(label)
        return f"[{title}]({repo.page_url(page, label)})" if page else title

    text = _REF.sub(ref, text)
    text = _CITE.sub(lambda m: f"[{m[1]}]({repo.page_url('references')})", text)
    text = _ROLE.sub(lambda m: f"${m[1]}$" if m[0].startswith("{math}") else m[1], text)
    return _CHAPTER_LINK.sub(lambda m: "](" + repo.page_url(m["page"], m["anchor"]) + ")", text)


def plain_markdown(text: str, repo: Repository, pages: dict[str, str]) -> str:
    """The MyST chapter ``text`` with its directives, roles and solutions made plain (the code
    cells stay ``{code-cell}`` blocks for jupytext); see the module's docstring."""
    exercises = exercises_of(text)
    out: list[str] = []
    lines = text.splitlines()
    hiding = False          # between {solution-start} and {solution-end}
    skip_to: str | None = None  # the closing fence of a block being dropped
    close: list[str] = []   # closing fences of the open blocks being rewritten
    number = 0
    i = 0
    while i < len(lines):
        line, stripped = lines[i], lines[i].strip()
        i += 1
        if skip_to is not None:
            skip_to = None if stripped == skip_to else skip_to
            continue
        opened = _OPEN.match(stripped)
        if opened and opened["name"] in ("solution-start", "solution-end", "solution"):
            if opened["name"] != "solution":
                hiding = opened["name"] == "solution-start"
            skip_to = opened["fence"]
            continue
        if hiding:
            if opened:   # a code cell inside the solution: skip it whole
                skip_to = opened["fence"]
            continue
        if opened and opened["name"] == "code-cell":   # code is copied as it is
            out.append(line)
            while i < len(lines):
                out.append(lines[i])
                i += 1
                if lines[i - 1].strip() == opened["fence"]:
                    break
            continue
        if opened and opened["name"] == "only":
            if opened["arg"].strip() == "student":
                close.append(opened["fence"])   # its text stays, without the fences
                continue
            while i < len(lines) and lines[i].strip() != opened["fence"]:
                i += 1
            i += 1   # past the closing fence, and past a blank line that would double one
            if i < len(lines) and not lines[i].strip() and out and not out[-1].strip():
                i += 1
            continue
        if opened and opened["name"] in ("exercise", "admonition"):
            while i < len(lines) and lines[i].startswith(":") and not lines[i].startswith(":::"):
                i += 1   # the block's options (:label:, :class:)
            if opened["name"] == "exercise":
                number += 1
                out.append(f"### Exercise {number}: {opened['arg'].strip()}")
            else:
                out.append(f"**{opened['arg'].strip()}**")
            close.append(opened["fence"])
            continue
        if close and stripped == close[-1]:
            close.pop()
            continue
        if _TARGET.match(stripped):
            continue
        out.append(_inline(line, exercises, pages, repo))
    return "\n".join(out) + "\n"


def student_notebook(lab_md: str | Path, out: str | Path, repo: Repository):
    """Write the lab ``lab_md`` as a student notebook at ``out`` (see the module's docstring);
    return the notebook."""
    import jupytext
    import nbformat

    lab_md = Path(lab_md)
    text = plain_markdown(lab_md.read_text(encoding="utf-8"), repo, label_pages(lab_md.parent))
    nb = jupytext.reads(text, fmt="md:myst")
    # cells that only present the book (their input hidden there) are not the students'
    nb.cells = [c for c in nb.cells if not {"remove-input", "remove-cell"}
                & set(c.metadata.get("tags", []))]
    for cell in nb.cells:
        if cell.cell_type == "code":
            tags = [t for t in cell.metadata.get("tags", []) if t != "skip-execution"]
            if tags:
                cell.metadata["tags"] = tags
            else:
                cell.metadata.pop("tags", None)
    setup = nbformat.v4.new_code_cell(SETUP_CELL.format(clone_url=repo.clone_url,
                                                        branch=repo.branch))
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(first_code, setup)
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index}"   # stable ids: the same lab gives the same file
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(out))
    return nb

"""Following "Adding a weighter" (book/reproducing.md) word for word works: on a copy of the
project, the chapter's new file and its registration make a method that passes the weighter
tests and appears in the registry, the command line, the sweep and the book's methods table in
a colour of its own. The steps are read from the chapter, not copied here."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from busmtl.settings import repo_root

pytestmark = pytest.mark.slow

CHAPTER = repo_root() / "book" / "reproducing.md"


def chapter_blocks() -> list[tuple[str, str]]:
    """``(caption, code)`` of every captioned ``{code-block}`` of the chapter's section (the
    caption without the backticks that show its path as code)."""
    text = CHAPTER.read_text(encoding="utf-8")
    section = text.split("(adding-a-weighter)=", 1)[1]
    pattern = r"```\{code-block\} python\n:caption: ([^\n]+)\n\n(.*?)\n```"
    return [(caption.replace("`", ""), code)
            for caption, code in re.findall(pattern, section, flags=re.DOTALL)]


def copy_project(dest: Path) -> Path:
    """The repository's files as git knows them (tracked, plus new files not ignored)."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=repo_root(), capture_output=True, text=True, check=True).stdout
    for name in files.splitlines():
        source = repo_root() / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def follow_the_chapter(project: Path) -> tuple[str, str]:
    """Apply the chapter's steps to ``project``; return (class name, registry name)."""
    blocks = chapter_blocks()
    new_file = [(c, code) for c, code in blocks if c.endswith(".py") and " " not in c]
    imports = [code for c, code in blocks if c.startswith("src/busmtl/weighting/__init__.py")]
    assert len(new_file) == 1 and len(imports) == 1, blocks
    path, code = new_file[0]
    # step 1: the new file, exactly as printed
    (project / path).write_text(code + "\n", encoding="utf-8")
    cls = re.search(r"^class (\w+)\(Weighter\)", code, flags=re.MULTILINE).group(1)
    name = re.search(r'^\s+name = "(\w+)"', code, flags=re.MULTILINE).group(1)
    # step 2: the import beside the other weighters' imports ...
    init = project / "src" / "busmtl" / "weighting" / "__init__.py"
    lines = init.read_text(encoding="utf-8").splitlines()
    last = max(i for i, line in enumerate(lines) if line.startswith("from busmtl.weighting."))
    lines.insert(last + 1, imports[0].strip())
    text = "\n".join(lines) + "\n"
    # ... and the class at the end of the tuple from which WEIGHTERS is built
    text, n = re.subn(r"(cls\.name: cls for cls in \()([^)]*)\)", rf"\1\2, {cls})", text)
    assert n == 1, "the chapter's registry line was not found"
    init.write_text(text, encoding="utf-8")
    return cls, name


def run(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(project / "src"))
    return subprocess.run([sys.executable, *args], cwd=project, env=env, capture_output=True,
                          text=True, timeout=900, check=False)


def test_following_adding_a_weighter_word_for_word(tmp_path):
    project = copy_project(tmp_path / "busmtl")
    _, name = follow_the_chapter(project)

    tests = run(project, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "tests/test_weighting_properties.py", "tests/test_weighting_equations.py")
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert f"[{name}]" in run(project, "-m", "pytest", "-q", "--collect-only", "-p",
                              "no:cacheprovider", "tests/test_weighting_properties.py").stdout

    probe = run(project, "-c", f"""
import json
from busmtl.report.pages import methods_table
from busmtl.orchestration.sweep import parse_methods
from busmtl.report.colors import color
from busmtl.weighting import available
others = [color(m) for m in available() if m != {name!r}]
table = methods_table()
row = table[table["name"] == "`{name}`"]
print(json.dumps({{"registered": {name!r} in available(),
                   "sweep": parse_methods({name!r}, "quick") == [{name!r}]
                            and {name!r} in parse_methods("all", "quick"),
                   "colour": color({name!r}), "others": others,
                   "in_table": len(row) == 1 and color({name!r}) in row["colour"].iloc[0]}}))
""")
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert found["registered"] and found["sweep"] and found["in_table"]
    assert found["colour"].lower() not in {c.lower() for c in found["others"]}
    assert found["colour"] != "#444444"                    # grey: the colour of unknown methods

    # the command line: its help works and it knows the method (an unknown one lists it)
    assert run(project, "-m", "busmtl", "train", "--help").returncode == 0
    unknown = run(project, "-m", "busmtl", "train", "--method", "nope", "--profile", "smoke",
                  "--out", str(tmp_path / "x"))
    assert unknown.returncode == 2 and name in unknown.stderr, unknown.stderr

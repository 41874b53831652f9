"""The Jupyter Book: table of contents with the run notebooks, and a full offline build on the
``smoke`` profile (sweep + report chapters + HTML, warnings as errors)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from busmtl.pipeline import write_toc
from busmtl.settings import repo_root

ROOT = repo_root()


def copy_book_sources(dest: Path) -> Path:
    """The book's sources (config, toc, chapters) without any runs or build output."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "_config.yml", dest / "_config.yml")
    shutil.copy(ROOT / "_toc.yml", dest / "_toc.yml")
    shutil.copytree(ROOT / "book", dest / "book", ignore=shutil.ignore_patterns("runs", "_generated"))
    # the methods chapter links the weighter sources for download
    shutil.copytree(ROOT / "src" / "busmtl" / "weighting", dest / "src" / "busmtl" / "weighting")
    return dest


def test_toc_lists_only_finished_run_notebooks(tmp_path):
    root = copy_book_sources(tmp_path)
    runs = root / "book" / "runs"
    for method, fold, done in [("ew", 0, True), ("ew", 1, True), ("atdwa", 0, False), ("ew", 10, True)]:
        nb = runs / "smoke" / method / f"fold{fold}.ipynb"
        nb.parent.mkdir(parents=True, exist_ok=True)
        nb.write_text("{}")
        nb.with_suffix("").mkdir()
        if done:
            (nb.with_suffix("") / "DONE").write_text("{}")
    toc = yaml.safe_load(write_toc(root, "smoke", runs).read_text())
    appendix = [c for part in toc["parts"] for c in part["chapters"] if c["file"] == "book/appendix"][0]
    pages = appendix["sections"]
    assert [p["file"] for p in pages] == ["book/_generated/runs_ew"]     # atdwa has no finished run
    assert [s["file"] for s in pages[0]["sections"]] == [
        "book/runs/smoke/ew/fold0", "book/runs/smoke/ew/fold1", "book/runs/smoke/ew/fold10"]
    assert pages[0]["sections"][0]["title"] == "EW (SSC-ResNet), fold 0"


def test_toc_without_runs_has_no_appendix_sections(tmp_path):
    root = copy_book_sources(tmp_path)
    toc = yaml.safe_load(write_toc(root, "quick", root / "book" / "runs").read_text())
    appendix = [c for part in toc["parts"] for c in part["chapters"] if c["file"] == "book/appendix"][0]
    assert "sections" not in appendix


@pytest.mark.skipif(shutil.which("jupyter-book") is None
                    and not (Path(__import__("sys").executable).parent / "jupyter-book").exists(),
                    reason="the 'book' extra is not installed")
def test_smoke_book_builds_offline_with_warnings_as_errors(tmp_path):
    from busmtl.pipeline import build_book

    root = copy_book_sources(tmp_path / "repo")
    index = build_book("smoke", root=root, progress=False)
    html = index.parent
    assert index.is_file()
    for chapter in ("intro", "methods", "data", "results", "reproducing", "references", "appendix"):
        assert (html / "book" / f"{chapter}.html").is_file(), chapter
    results = (html / "book" / "results.html").read_text(encoding="utf-8")
    assert "Table II analogue" in results and "Table III analogue" in results
    assert "{glue" not in results                           # every glued number was substituted
    assert len(re.findall(r"<img ", results)) >= 4          # weights, temperature, losses, contours
    # both smoke methods have all their folds: no cell of Table II is missing
    section = results.split('<section id="table-ii-analogue', 1)[1]
    table2 = section.split("<table", 1)[1].split("</table>", 1)[0]
    assert "missing" not in table2 and "±" in table2
    for method in ("ew", "atdwa"):
        for fold in (0, 1):
            assert (html / "book" / "runs" / "smoke" / method / f"fold{fold}.html").is_file()
    # MathJax is served from the book itself, not a CDN
    methods = (html / "book" / "methods.html").read_text(encoding="utf-8")
    assert "_static/mathjax" in methods and "cdn.jsdelivr" not in methods


def test_the_worked_example_weighter_of_the_reproducing_chapter_works():
    """The code a reader copies from book/reproducing.md runs and gives the stated weights."""
    import torch

    text = (ROOT / "book" / "reproducing.md").read_text(encoding="utf-8")
    block = text.split("```python\n   import torch", 1)[1].split("```", 1)[0]
    source = "import torch" + "\n".join(line[3:] for line in block.splitlines())
    namespace: dict = {}
    exec(compile(source, "inverse_loss.py", "exec"), namespace)
    w = namespace["InverseLoss"](num_tasks=2)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.tensor([1.0, 2.0]))

        def shared_parameters(self):
            return [self.p]

        def last_shared_parameters(self):
            return [self.p]

    model = Model()
    assert torch.equal(w.backward(model.p * torch.tensor([1.0, 3.0]), model), torch.ones(2))
    w.epoch_end([1.0, 3.0])
    model.p.grad = None
    weights = w.backward(model.p * torch.tensor([1.0, 3.0]), model)
    assert torch.allclose(weights, torch.tensor([1.5, 0.5]))          # 2 * (1, 1/3) / (4/3)
    assert torch.allclose(model.p.grad, torch.tensor([1.5, 1.5]))     # d(sum w_k L_k)/dp

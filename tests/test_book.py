"""The Jupyter Book: table of contents with the run notebooks, and a full offline build on the
``smoke`` profile (sweep + chapters + HTML, warnings as errors), checked as a reader would: every
page present, numbered figures and tables, the lab's exercises, no warning, traceback or machine
path on any page, and the data chapter without a dataset."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from book_fixtures import copy_book_sources

from busmtl.publish import run_pages
from busmtl.publish.pipeline import write_toc
from busmtl.settings import repo_root

ROOT = repo_root()


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
            (nb.with_suffix("") / "metrics.json").write_text("{}")
    toc = yaml.safe_load(write_toc(root, "smoke", runs).read_text())
    appendix = next(c for part in toc["parts"] for c in part["chapters"] if c["file"] == "book/appendix")
    assert [p["file"] for p in appendix["sections"]] == ["book/_generated/runs_profile_smoke"]
    pages = appendix["sections"][0]["sections"]                        # the profile's methods
    assert [p["file"] for p in pages] == ["book/_generated/runs_ew"]     # atdwa has no finished run
    assert [s["file"] for s in pages[0]["sections"]] == [
        "book/runs/smoke/ew/fold0", "book/runs/smoke/ew/fold1", "book/runs/smoke/ew/fold10"]
    assert pages[0]["sections"][0]["title"] == "fold 0"             # under profile and method
    # the run pages' headings name the whole system (busmtl.publish.run_pages)
    titles = json.loads((root / run_pages.TITLES).read_text())
    assert titles == {s["file"]: f"EW, SSC-ResNet, {s['title']}" for s in pages[0]["sections"]}


def test_a_run_page_is_retitled_and_nothing_else_changes():
    notebook = {"cells": [
        {"cell_type": "code", "source": ["# not a heading\n"], "metadata": {}},
        {"cell_type": "markdown", "source": ["# EW (SSC-ResNet), fold 2\n", "\n", "Text.\n"],
         "metadata": {}},
        {"cell_type": "markdown", "source": ["# Another heading"], "metadata": {}}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    out = json.loads(run_pages.retitle(json.dumps(notebook), "EW, SSC-ResNet (busi-cpu), fold 2"))
    assert out["cells"][1]["source"] == "# EW, SSC-ResNet (busi-cpu), fold 2\n\nText.\n"
    assert out["cells"][0] == notebook["cells"][0]
    assert out["cells"][2] == notebook["cells"][2]
    without = {**notebook, "cells": [{"cell_type": "markdown", "source": "Text", "metadata": {}}]}
    assert run_pages.retitle(json.dumps(without), "T") == json.dumps(without)


def test_every_figure_of_a_run_page_gets_its_caption_and_alt_text():
    from busmtl.report.run_plots import FIGURES

    # the cells of a notebook made by an older template: no figure metadata at all
    sources = ["history = run_plots.read_history(run_dir)\nrun_plots.plot_losses(history);",
               "run_plots.plot_weights(history);", "run_plots.plot_predictions(run_dir, n=4);",
               "display(run_plots.metrics_table(metrics))"]
    notebook = {"cells": [{"cell_type": "code", "source": s, "metadata": {}, "outputs": []}
                          for s in sources], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    out = json.loads(run_pages.caption_figures(json.dumps(notebook)))
    for cell, name in zip(out["cells"], ["plot_losses", "plot_weights", "plot_predictions"]):
        caption, alt = FIGURES[name]
        assert cell["metadata"]["mystnb"] == {"figure": {"caption": caption},
                                              "image": {"alt": alt, "width": "100%"}}
    assert out["cells"][3]["metadata"] == {}                    # a table: no figure
    assert all(len(alt) > 40 and "/" not in alt for _, alt in FIGURES.values())


def test_refresh_redraws_a_run_notebooks_figures_and_tables_only(tmp_path):
    import base64

    import nbformat

    from busmtl.publish import refresh_runs

    source = ROOT / "book" / "runs" / "busi-cpu" / "ew"
    if not (source / "fold0" / "DONE").is_file():
        pytest.skip("no committed busi-cpu run in this checkout")
    profile = tmp_path / "busi-cpu" / "ew"
    shutil.copytree(source / "fold0", profile / "fold0")
    shutil.copy(source / "fold0.ipynb", profile / "fold0.ipynb")
    before = nbformat.read(str(profile / "fold0.ipynb"), as_version=4)
    run_files = {p.name: p.read_bytes() for p in (profile / "fold0").iterdir()}
    assert refresh_runs.main([str(tmp_path / "busi-cpu")]) == 0
    after = nbformat.read(str(profile / "fold0.ipynb"), as_version=4)
    assert {p.name: p.read_bytes() for p in (profile / "fold0").iterdir()} == run_files
    assert after.metadata["busmtl"]["redrawn"]["cells"] == 4
    for old, new in zip(before.cells, after.cells):
        assert old.source == new.source
        drawn = run_pages.drawn_figure(new.source) if new.cell_type == "code" else None
        if drawn is not None:
            png = base64.b64decode(new.outputs[0]["data"]["image/png"])
            width = int.from_bytes(png[16:20], "big")           # the PNG header's width
            assert width <= 7 * 150 + 10                        # drawn for the page's width
        elif new.cell_type == "code" and refresh_runs.METRICS_CALL not in new.source:
            assert old.outputs == new.outputs                   # training and provenance as made
    assert refresh_runs.main([str(tmp_path / "missing")]) == 2


def test_toc_without_runs_has_no_appendix_sections(tmp_path):
    root = copy_book_sources(tmp_path)
    toc = yaml.safe_load(write_toc(root, "quick", root / "book" / "runs").read_text())
    appendix = next(c for part in toc["parts"] for c in part["chapters"] if c["file"] == "book/appendix")
    assert "sections" not in appendix


HAVE_JUPYTER_BOOK = (shutil.which("jupyter-book") is not None
                     or (Path(sys.executable).parent / "jupyter-book").exists())
needs_book = pytest.mark.skipif(not HAVE_JUPYTER_BOOK, reason="the 'book' extra is not installed")
#: Folders of a machine that must never appear in a page (nor the book's own build folder).
MACHINE_PATHS = ("/tmp/", "/work/", "/home/", "/root/", "/Users/")


def article(page: Path) -> str:
    """The text of a page's article (what a reader sees, without the theme's scripts)."""
    html = page.read_text(encoding="utf-8")
    body = html.split("<article", 1)[-1].split("</article>", 1)[0]
    return re.sub(r"<[^>]+>", " ", body)


@needs_book
@pytest.mark.slow
def test_smoke_book_builds_offline_with_warnings_as_errors(smoke_book):
    root, html = smoke_book
    assert (html / "index.html").is_file()
    for chapter in ("intro", "methods", "data", "results", "reproducing", "lab", "instructor",
                    "references", "appendix"):
        assert (html / "book" / f"{chapter}.html").is_file(), chapter
    results = (html / "book" / "results.html").read_text(encoding="utf-8")
    assert "Table II analogue" in results and "Table III analogue" in results
    assert len(re.findall(r"<img ", results)) >= 4          # weights, temperature, losses, contours
    # both smoke methods have all their folds: no cell of Table II is missing
    section = re.split(r'<section id="[a-z-]*table-ii-analogue', results, maxsplit=1)[1]
    table2 = section.split("<table", 1)[1].split("</table>", 1)[0]
    assert "pending" not in table2 and "±" in table2
    titles = json.loads((root / run_pages.TITLES).read_text(encoding="utf-8"))
    for method in ("ew", "atdwa"):
        for fold in (0, 1):
            page = html / "book" / "runs" / "smoke" / method / f"fold{fold}.html"
            assert page.is_file()
            # the page's heading is its title in the table of contents
            title = titles[f"book/runs/smoke/{method}/fold{fold}"]
            assert re.search(rf"<h1>{re.escape(title)}<", page.read_text(encoding="utf-8"))
    # MathJax is served from the book itself, not a CDN
    methods = (html / "book" / "methods.html").read_text(encoding="utf-8")
    assert "_static/mathjax" in methods and "cdn.jsdelivr" not in methods
    assert "busmtl.css" in methods                            # wide tables and equations scroll


@needs_book
@pytest.mark.slow
def test_no_page_shows_glue_warnings_tracebacks_or_machine_paths(smoke_book):
    root, html = smoke_book
    pages = [p for p in html.rglob("*.html") if "_static" not in p.parts
             and p.name not in ("genindex.html", "search.html")]
    assert len(pages) >= 9
    for page in pages:
        text = article(page)
        for bad in ("{glue", "Warning", "Traceback", str(root), *MACHINE_PATHS):
            assert bad not in text, f"{page.relative_to(html)} shows {bad!r}"


@needs_book
@pytest.mark.slow
def test_figures_and_tables_are_numbered_and_referenced(smoke_book):
    _, html = smoke_book
    methods = (html / "book" / "methods.html").read_text(encoding="utf-8")
    assert len(re.findall(r'<span class="caption-number">Fig(ure|\.) \d+', methods)) >= 9
    assert re.search(r'<span class="caption-number">Table \d+', methods)
    assert re.search(r'href="#fig-dwa-vs-atdwa"', methods)              # a {numref} link
    assert "segmentation" in methods and "classification" in methods
    data = (html / "book" / "data.html").read_text(encoding="utf-8")
    assert re.search(r'<span class="caption-number">Table \d+', data)
    appendix = (html / "book" / "appendix.html").read_text(encoding="utf-8")
    assert re.search(r'<span class="caption-number">Table \d+', appendix)
    assert 'href="runs/smoke/atdwa/fold0.html"' in appendix              # a run page, linked
    numbered = re.compile(r"\[\s*\d+\s*\]")                      # one style: [n] in text and list
    assert numbered.search(article(html / "book" / "methods.html"))
    assert numbered.search(article(html / "book" / "references.html"))


@needs_book
@pytest.mark.slow
def test_lab_page_has_exercises_with_hidden_solutions_that_pass(smoke_book):
    _, html = smoke_book
    lab = (html / "book" / "lab.html").read_text(encoding="utf-8")
    classes = [c.split() for c in re.findall(r'<div class="([^"]*)"', lab)]
    assert sum("exercise" in c for c in classes) >= 6
    solutions = [c for c in classes if "solution" in c]
    assert len(solutions) >= 6 and all("dropdown" in c for c in solutions)
    outputs = re.findall(r'<div class="cell_output docutils container">(.*?)</div>\s*</div>',
                         lab, flags=re.DOTALL)
    assert any("PASS" in o for o in outputs) and not any("FAIL" in o for o in outputs)
    assert "Learning objectives" in article(html / "book" / "lab.html")


@needs_book
@pytest.mark.slow
def test_reproducing_page_prints_the_commands_the_tests_execute(smoke_book):
    import html as html_lib

    from busmtl.orchestration.reproduce import commands, planned_recipe

    _, html = smoke_book
    page = html_lib.unescape(article(html / "book" / "reproducing.html"))
    quick = commands(planned_recipe("quick", "atdwa", 0), "runs/atdwa-fold0")
    for kind in ("busmtl", "papermill"):
        assert " ".join(quick[kind].split()) in " ".join(page.split()), kind


@needs_book
@pytest.mark.slow
def test_data_chapter_without_data_shows_the_runs_images(smoke_book, tmp_path):
    """The default book has no dataset (BUSMTL_BOOK_DATA empty): the chapter then draws the
    images from the runs' predictions.npz."""
    from myst_nb.core.read import read_myst_markdown_notebook
    from nbclient import NotebookClient

    root, _ = smoke_book
    nb = read_myst_markdown_notebook((root / "book" / "data.md").read_text(encoding="utf-8"))
    env = {"BUSMTL_BOOK_PROFILE": "smoke", "BUSMTL_BOOK_DATA": "",
           "BUSMTL_BOOK_RUNS": str(root / "book" / "runs")}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(root / "book")}}).execute()
    glued = {}                                              # glue key -> its mime bundle
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("scrapbook")
            if meta:
                prefix = meta.get("mime_prefix", "")
                glued[meta["name"]] = {k.removeprefix(prefix): v for k, v in out["data"].items()}
    assert "committed runs" in glued["dataset_sentence"]["text/plain"]
    assert "image/png" in glued["fig_examples"]
    assert "image/png" in glued["fig_augmentation"]


def test_the_worked_example_weighter_of_the_reproducing_chapter_works():
    """The class a reader copies from book/reproducing.md runs and gives the stated weights."""
    import torch
    from test_add_weighter import chapter_blocks

    source = next(code for caption, code in chapter_blocks() if caption.endswith("inverse_loss.py"))
    namespace: dict = {}
    exec(compile(source, "inverse_loss.py", "exec"), namespace)  # noqa: S102 (the chapter's own code)
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

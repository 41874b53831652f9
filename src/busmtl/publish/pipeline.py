"""The book pipeline behind ``busmtl book`` / ``make book``: data, sweep, build.

Steps: (1) the profile's dataset is generated/prepared and split once, when missing; (2) the
sweep runs (resuming: finished runs are skipped; failed ones are reported and shown as pending
in the tables); (3) a table of contents with the run notebooks present is written to
``book/_generated/`` (the appendix groups them by method); (4) the report chapters are executed,
side by side, into the build's cache (:mod:`busmtl.publish.execute`; emptied first, so they
always reflect the runs present), and ``jupyter-book build`` renders them offline with warnings
as errors; the run notebooks are not re-executed.

A profile whose run set is **committed** (its folder under the runs root holds files git tracks,
:func:`busmtl.runs.protect.committed_sets`; e.g. the reference runs in ``book/runs/busi-cpu``)
skips steps 1-2: its runs are shown as committed, with their provenance, and are never
re-trained here (a code change must not silently start hours of training); ``busmtl sweep
--profile busi-cpu --data-dir BUSI --retrain-committed`` re-runs them on request. The report modules only read runs; this module is
the only one that makes them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from busmtl.config import PROFILES
from busmtl.errors import UserError
from busmtl.io import write_json
from busmtl.orchestration.executors import Executor
from busmtl.publish.run_pages import TITLES as RUN_TITLES
from busmtl.report.pages import system_title
from busmtl.runs import layout
from busmtl.runs.protect import committed_sets
from busmtl.settings import repo_root

CHAPTERS = ("book/methods", "book/data", "book/lab", "book/results", "book/reproducing")
GENERATED = "book/_generated"


def run_notebooks(root: Path, profile: str, runs_root: Path) -> dict[str, list[Path]]:
    """The executed run notebooks the book can show, by method: the notebooks beside the
    finished run folders of ``<runs_root>/<profile>/`` (:func:`busmtl.runs.layout.finished_runs`),
    in seed, then fold order. Empty when the runs lie outside the book's folder (Sphinx cannot
    include them)."""
    folder = runs_root.resolve() / profile
    if not folder.is_dir() or not folder.is_relative_to(root.resolve()):
        return {}
    out: dict[str, list[Path]] = {}
    keys = sorted(layout.finished_runs(folder), key=lambda k: (k.method, k.seed, k.fold))
    for key in keys:
        notebook = layout.notebook_path(runs_root.resolve(), profile, key)
        if notebook.is_file():
            out.setdefault(key.method, []).append(notebook)
    return out


def run_pages(root: Path, profile: str, runs_root: Path) -> dict[tuple[str, int, int], str]:
    """(method, fold, seed) -> the run notebook's document name for ``{doc}``
    (``/book/runs/...``)."""
    return {(method, *layout.parse_run_name(nb.stem)):
            "/" + nb.relative_to(root.resolve()).with_suffix("").as_posix()
            for method, notebooks in run_notebooks(root, profile, runs_root).items()
            for nb in notebooks}


def companion_profiles(profile: str, runs_root: Path) -> list[str]:
    """The profiles other than ``profile`` whose runs under ``runs_root`` are committed
    (:func:`busmtl.runs.protect.committed_sets`), in the order of ``PROFILES``: the results
    chapter compares their runs with the reference runs in every build, so the appendix lists
    their notebooks too."""
    committed = set(committed_sets(runs_root))
    return [name for name in PROFILES if name in committed and name != profile]


def _method_page(method: str, profile: str, runs_root: Path, root: Path) -> str:
    """The appendix page of one method: what its run notebooks are, and a table of its runs."""
    from busmtl.report.pages import run_records, runs_table
    from busmtl.report.tables import md_table

    records = [r for r in run_records(runs_root, profile) if r.method == method]
    table = runs_table(records, run_pages(root, profile, runs_root), profile)
    return (f"# {system_title(method, profile)}: run notebooks\n\n"
            f"Every run of `{method}` in the `{profile}` profile ({PROFILES[profile].summary}). "
            "Each page below is the notebook `notebooks/train_fold.ipynb` as papermill executed "
            "it for that fold: the parameters it was given, its settings and provenance, the loss "
            "and weight curves, the test metrics and a sample of test predictions.\n\n"
            f"{md_table(table)}\n")


def _run_name(notebook: Path) -> str:
    """``fold 0`` or ``fold 0, seed 2`` from a run notebook's name."""
    fold, seed = layout.parse_run_name(notebook.stem)
    return f"fold {fold}" + (f", seed {seed}" if seed else "")


def _profile_page(shown: str, methods: list[str], main: str) -> str:
    """The appendix page of one profile's runs: what the profile is, and its method pages."""
    role = ("This is the profile of this build." if shown == main else
            f"A committed companion of `{main}`, compared with its runs in the results chapter.")
    names = "; ".join(system_title(m, shown) for m in methods)
    return (f"# Runs of `{shown}`\n\n`{shown}`: {PROFILES[shown].summary}. {role} Its "
            f"executed run notebooks follow, one page per method: {names}.\n")


def write_toc(root: Path, profile: str, runs_root: Path) -> Path:
    """Write ``book/_generated/_toc.yml``: the chapters, then in the appendix a page per
    profile with runs (``profile`` first, then each committed companion profile,
    :func:`companion_profiles`), under it a page per method with a table of its runs, and under
    that its executed run notebooks (seed, then fold order); and the run pages' titles for
    their headings (:mod:`busmtl.publish.run_pages`)."""
    out = root / GENERATED
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("runs_*.md"):
        old.unlink()
    folder = runs_root.resolve() / profile
    if folder.is_dir() and any(folder.iterdir()) and not folder.is_relative_to(root.resolve()):
        print(f"note: the runs in {folder} are outside the book's folder {root}: the tables use "
              "them, the appendix cannot include their notebooks")
    profile_pages, titles = [], {}
    for shown in [profile, *companion_profiles(profile, runs_root)]:
        method_pages = []
        shown_notebooks = run_notebooks(root, shown, runs_root)
        for method, notebooks in shown_notebooks.items():
            stem = f"runs_{method}" if shown == profile else f"runs_{shown}_{method}"
            page = out / f"{stem}.md"
            page.write_text(_method_page(method, shown, runs_root, root), encoding="utf-8")
            title = system_title(method, shown, profile)
            # in the navigation, under its profile and method: "fold 0, seed 1"; as the
            # page's heading, the whole title (busmtl.publish.run_pages)
            sections = [{"file": nb.relative_to(root.resolve()).with_suffix("").as_posix(),
                         "title": _run_name(nb)} for nb in notebooks]
            titles.update({s["file"]: f"{title}, {s['title']}" for s in sections})
            method_pages.append({"file": page.relative_to(root).with_suffix("").as_posix(),
                                 "sections": sections})
        if method_pages:
            page = out / f"runs_profile_{shown}.md"
            page.write_text(_profile_page(shown, list(shown_notebooks), profile),
                            encoding="utf-8")
            profile_pages.append({"file": page.relative_to(root).with_suffix("").as_posix(),
                                  "sections": method_pages})
    # the page headings of the run notebooks (busmtl.publish.run_pages)
    write_json(root / RUN_TITLES, titles)
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            if chapter["file"] == "book/appendix":
                chapter["sections"] = profile_pages
                if not profile_pages:
                    chapter.pop("sections")
    path = out / "_toc.yml"
    path.write_text(yaml.safe_dump(toc, sort_keys=False), encoding="utf-8")
    return path


def jupyter_book_executable() -> str:
    local = Path(sys.executable).with_name("jupyter-book")
    found = str(local) if local.exists() else shutil.which("jupyter-book")
    if not found:
        raise UserError("jupyter-book is not installed: run `make install` (it installs the "
                        "'book' extra: pip install -e '.[book]')")
    return found


def build_html(root: Path, toc: Path, env: dict[str, str]) -> Path:
    """The chapters executed in parallel into the cache, then ``jupyter-book build`` (offline,
    ``-W --keep-going``); raise when it fails."""
    from busmtl.publish.execute import chapter_notebooks, execute_chapters

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    chapters = chapter_notebooks(root, yaml.safe_load(toc.read_text(encoding="utf-8")))
    start = time.perf_counter()
    executed = execute_chapters(root, chapters, env, int(config["execute"]["timeout"]))
    print(f"{executed} of {len(chapters)} chapters executed in parallel "
          f"({time.perf_counter() - start:.0f} s)")
    # --all: the chapters read the runs, which Sphinx does not track; without it a build after
    # new runs would keep the pages (and numbers) of the previous build
    cmd = [jupyter_book_executable(), "build", str(root), "--toc", str(toc), "-W", "--keep-going",
           "--all", "--path-output", str(root)]
    done = subprocess.run(cmd, env=env, cwd=root, check=False)
    if done.returncode != 0:
        raise UserError(f"the book build failed (exit {done.returncode}); see the messages above "
                        f"and the logs in {root / '_build'}")
    return root / "_build" / "html" / "index.html"


def build_book(profile: str = "busi-cpu", data_dir: str | None = None, jobs: int = 1,
               device: str | None = None, methods: str | None = None, folds: str | None = None,
               epochs: int | None = None, runs_root: str | Path | None = None,
               skip_sweep: bool = False, progress: bool | None = None,
               root: str | Path | None = None, threads: int | None = None,
               executor: Executor | str | None = None) -> Path:
    """Run the whole pipeline; return the path of ``index.html``.

    ``executor`` runs the sweep (``"local"``, the default, or ``"slurm"``, or an
    :class:`~busmtl.orchestration.executors.Executor` with its settings; see :func:`busmtl.orchestration.sweep.run_sweep`).

    ``root`` is the folder holding ``_config.yml``, ``_toc.yml`` and ``book/`` (default: the
    repository); the HTML goes to ``<root>/_build/html``.
    """
    from busmtl.orchestration.sweep import prepare_data, run_sweep

    if profile not in PROFILES:
        raise UserError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    root = Path(root).resolve() if root else repo_root()
    runs = Path(runs_root) if runs_root else root / "book" / "runs"
    committed = profile in committed_sets(runs, root)
    start = time.perf_counter()
    data: Path | None = None
    if committed:
        print(f"profile {profile}: showing the committed reference runs in {runs / profile} "
              f"(never re-trained by `busmtl book`; `busmtl sweep --profile {profile} "
              "--data-dir BUSI` re-runs them)")
        if data_dir is not None:
            data = prepare_data(profile, data_dir, progress)
    else:
        data = prepare_data(profile, data_dir, progress)
        if not skip_sweep:
            summary = run_sweep(profile, methods, folds, data, jobs, device, runs_root=runs,
                                epochs=epochs, threads=threads, progress=progress,
                                executor=executor, base=root)
            if summary.failed:
                print(f"{len(summary.failed)} run(s) failed: they are shown as pending in the book")
    sweep_s = time.perf_counter() - start
    toc = write_toc(root, profile, runs)
    env = dict(os.environ, BUSMTL_BOOK_PROFILE=profile, BUSMTL_BOOK_RUNS=str(runs.resolve()),
               BUSMTL_BOOK_ROOT=str(root),
               BUSMTL_BOOK_DATA=str(data) if data is not None else "",
               PYDEVD_DISABLE_FILE_VALIDATION="1")
    index = build_html(root, toc, env)
    total = time.perf_counter() - start
    print(f"data + sweep {sweep_s:.0f} s, build {total - sweep_s:.0f} s, total {total:.0f} s")
    print(f"book: {index}\nopen it with: xdg-open {index}  (or python -m http.server -d {index.parent})")
    return index

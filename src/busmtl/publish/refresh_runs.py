"""Redraw the figures and tables of executed run notebooks from their run folders.

An executed run notebook shows its run as the report code of its day drew it. When that
drawing changes (figures re-laid for the page, tables with other rounding), the committed
notebooks would keep the old pictures until their runs are trained again, hours each. This
command redraws, in place, only what a notebook *shows* of its run folder: the outputs of the
cells that draw a figure of :data:`busmtl.report.run_plots.FIGURES` and of the cell that shows
the test metrics. It reads the run folder's files (``history.csv``, ``metrics.json``,
``predictions.npz``) and nothing else; training outputs, parameters and provenance are left as
they are, and the run folder is never written. The notebook records what was redrawn in its
metadata (``busmtl.redrawn``).

    python -m busmtl.publish.refresh_runs book/runs/busi-cpu-grouped [more folders ...]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat

from busmtl import __version__
from busmtl.io import write_text
from busmtl.runs import layout, state

#: The cell that shows the run's test metrics (both tables of :mod:`busmtl.report.run_plots`).
METRICS_CALL = "run_plots.metrics_table("


def figure_output(fig: Any) -> nbformat.NotebookNode:
    """A figure as the output the inline backend of a Jupyter kernel gives it (PNG cut to its
    contents, at the figure's own resolution)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    width, height = (fig.get_size_inches() * fig.dpi).round().astype(int)
    text = f"<Figure size {width}x{height} with {len(fig.axes)} Axes>"
    plt.close(fig)
    return nbformat.v4.new_output("display_data", data={
        "image/png": base64.b64encode(buffer.getvalue()).decode("ascii"), "text/plain": text})


def table_output(frame: Any) -> nbformat.NotebookNode:
    """A table as ``display(frame)`` in a kernel gives it (HTML and plain text)."""
    from IPython.core.formatters import DisplayFormatter

    data, metadata = DisplayFormatter().format(frame)
    return nbformat.v4.new_output("display_data", data=data, metadata=metadata)


def redrawn_outputs(cell_source: str, run_dir: Path) -> list[nbformat.NotebookNode] | None:
    """The outputs the report code of today gives a code cell of a run notebook; ``None`` for
    a cell this command leaves alone."""
    from busmtl.publish.run_pages import drawn_figure
    from busmtl.report import run_plots

    name = drawn_figure(cell_source)
    if name == "plot_predictions":
        return [figure_output(run_plots.plot_predictions(run_dir, n=4))]
    if name is not None:
        return [figure_output(getattr(run_plots, name)(run_plots.read_history(run_dir)))]
    if METRICS_CALL in cell_source:
        metrics = run_plots.read_metrics(run_dir)
        return [table_output(run_plots.metrics_table(metrics)),
                table_output(run_plots.efficiency_table(metrics))]
    return None


def refresh(notebook: Path) -> int:
    """Redraw one executed run notebook in place (atomically); returns the cells redrawn.
    A notebook without a finished run folder beside it (``DONE`` and ``metrics.json``) is left
    alone (0)."""
    import matplotlib

    matplotlib.use("Agg")
    run_dir = notebook.with_suffix("")
    if not state.is_finished(run_dir):
        return 0
    nb = nbformat.read(str(notebook), as_version=4)
    redrawn = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = redrawn_outputs(cell.source, run_dir)
        if outputs is not None:
            cell.outputs = outputs
            redrawn += 1
    if redrawn:
        nb.metadata.setdefault("busmtl", {})["redrawn"] = {
            "by": f"busmtl {__version__} (python -m busmtl.publish.refresh_runs)",
            "date": dt.date.today().isoformat(),
            "cells": redrawn,
        }
        write_text(notebook, nbformat.writes(nb) + "\n")
    return redrawn


def notebooks(folder: Path) -> list[Path]:
    """The executed notebooks of one profile's runs (``<method>/<name>.ipynb``)."""
    paths = (layout.notebook_path(folder.parent, folder.name, key)
             for key in layout.finished_runs(folder))
    return [path for path in paths if path.is_file()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m busmtl.publish.refresh_runs",
        description="Redraw the figures and metric tables of executed run notebooks from their "
        "run folders (nothing is trained; the run folders are only read).")
    parser.add_argument("folders", nargs="+", help="a profile's runs, e.g. book/runs/busi-cpu")
    args = parser.parse_args(argv)
    folders = [Path(f) for f in args.folders]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        print(f"error: no such folder: {', '.join(missing)}: give a profile's runs folder, e.g. "
              "book/runs/busi-cpu", file=sys.stderr)
        return 2
    for folder in folders:
        found = notebooks(folder)
        cells = sum(refresh(nb) for nb in found)
        print(f"{folder}: {len(found)} notebooks, {cells} cells redrawn")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

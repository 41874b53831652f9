"""Figures of the toy two-task problem (:mod:`busmtl.teaching.toy`), for the methods chapter and the lab.

The simulation itself lives in :mod:`busmtl.teaching.toy` (re-exported here as :func:`simulate` for older
imports). Every figure names the tasks "segmentation" and "classification", draws them in the
task colours *and* line styles of :mod:`busmtl.report.colors` (so they differ without colour too),
has a legend, and plots the softmax temperature of the methods that have one (in a comparison,
when one of them changes it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter, ScalarFormatter

from busmtl.report.colors import (
    FIG_DPI,
    LABEL_SIZE,
    NEUTRAL,
    PAGE_WIDTH_IN,
    TASK_COLORS,
    TASK_STYLES,
    TITLE_SIZE,
    color,
    label,
    legend_above,
)
from busmtl.teaching.toy import TASK_NAMES, per_epoch, simulate

#: Markers that tell methods apart in black and white too (cycled in the order given).
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*", "h")


def has_temperature(frame: pd.DataFrame) -> bool:
    """True when the frame's weighter reported a softmax temperature (DWA, ATDWA)."""
    return "temperature" in frame and bool(frame["temperature"].notna().any())


def has_adaptive_temperature(frame: pd.DataFrame) -> bool:
    """True when the frame's temperature takes more than one value (ATDWA's), not only the
    fixed ``T`` of DWA."""
    return has_temperature(frame) and frame["temperature"].dropna().nunique() > 1


def _style(ax: plt.Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=TITLE_SIZE)
    ax.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    ax.set_ylabel(ylabel, fontsize=LABEL_SIZE)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))  # readable in a narrow panel


def plot_losses(ax: plt.Axes, frame: pd.DataFrame, title: str = "task losses") -> None:
    """Both task losses per step (log scale), one line per task."""
    for task, name in TASK_NAMES.items():
        ax.plot(frame["step"], frame[f"loss_{task}"], color=TASK_COLORS[task],
                ls=TASK_STYLES[task], lw=1.2, label=name)
    ax.set_yscale("log")
    _style(ax, title, "step", "loss (log scale)")
    ax.legend(frameon=False)


def plot_weights(ax: plt.Axes, frame: pd.DataFrame, title: str = "task weights") -> None:
    """The weight applied to each task at every step."""
    for task, name in TASK_NAMES.items():
        ax.plot(frame["step"], frame[f"w_{task}"], color=TASK_COLORS[task], ls=TASK_STYLES[task],
                lw=1.6, label=name)
    ax.axhline(1.0, color=NEUTRAL, lw=0.6, alpha=0.4)
    ax.margins(y=0.3)  # room for the legend above and below the curves
    _style(ax, title, "step", "weight")
    ax.legend(frameon=False, ncols=2, loc="upper center")


def plot_temperature(ax: plt.Axes, frames: Mapping[str, pd.DataFrame]) -> None:
    """The softmax temperature of each epoch, one line per method that has one."""
    logscale = False
    for i, (method, frame) in enumerate(frames.items()):
        if not has_temperature(frame):
            continue
        t = per_epoch(frame)["temperature"]
        ax.plot(t.index, t.values, color=color(method), marker=MARKERS[i % len(MARKERS)], ms=3.5,
                lw=1.4, label=label(method))
        logscale |= bool(t.max() > 8 * t.min())
    if logscale:
        ax.set_yscale("log")
        # ticks at 1, 2 and 5 times each power of ten, so a range within one decade is labelled
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    _style(ax, "softmax temperature T", "epoch", "T" + (" (log scale)" if logscale else ""))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False)
    else:
        ax.text(0.5, 0.5, "no method here has a temperature", ha="center", va="center",
                transform=ax.transAxes)


def simulation_figure(method: str, frame: pd.DataFrame, title: str | None = None) -> plt.Figure:
    """One simulated run: the task losses, the weights the method applied and, for DWA and
    ATDWA, the temperature of each epoch; at the page's width, the tasks' legend above."""
    panels = 3 if has_temperature(frame) else 2
    fig, axes = plt.subplots(1, panels, dpi=FIG_DPI,
                             figsize=(PAGE_WIDTH_IN * panels / 3, 2.9 + (0.3 if title else 0)))
    plot_losses(axes[0], frame)
    plot_weights(axes[1], frame, f"{label(method).split(' (')[0]}: weights")
    if panels == 3:
        plot_temperature(axes[2], {method: frame})
    for ax in axes:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    if title:
        fig.suptitle(title, fontsize=TITLE_SIZE, y=0.99)
    legend_above(fig, axes[0], ncol=len(TASK_NAMES))
    if title:  # the suptitle above the legend
        fig.legends[0].set_bbox_to_anchor((0.5, 0.93), transform=fig.transFigure)
        fig.tight_layout(rect=(0, 0, 1, 0.86))
    return fig


def comparison_figure(runs: Mapping[str, Mapping[str, pd.DataFrame]],
                      task: str = "seg") -> plt.Figure:
    """Methods side by side in one or more scenarios (one row each): the task losses of the
    first method's run, the weight of ``task`` per epoch of every method, and the temperature
    when a method's temperature changes during its run (ATDWA's does; a fixed one, DWA's ``T``,
    alone is no panel).

    ``runs``: scenario title -> {method -> :func:`busmtl.teaching.toy.simulate` frame}.
    """
    panels = 3 if any(has_adaptive_temperature(frame) for frames in runs.values()
                      for frame in frames.values()) else 2
    fig, axes = plt.subplots(len(runs), panels, dpi=FIG_DPI,
                             figsize=(PAGE_WIDTH_IN * panels / 3, 3.0 * len(runs)), squeeze=False)
    for row, (scenario, frames) in zip(axes, runs.items()):
        first = next(iter(frames.values()))
        plot_losses(row[0], first, f"{scenario}:\ntask losses")
        for i, (method, frame) in enumerate(frames.items()):
            w = per_epoch(frame)[f"w_{task}"]
            row[1].plot(w.index, w.values, color=color(method), marker=MARKERS[i % len(MARKERS)],
                        ms=3.5, lw=1.4, label=label(method))
        row[1].axhline(1.0, color=NEUTRAL, lw=0.6, alpha=0.4)
        _style(row[1], f"{scenario}:\n{TASK_NAMES[task]} weight", "epoch", "weight")
        row[1].legend(frameon=False)
        if panels == 3:
            plot_temperature(row[2], frames)
    fig.tight_layout()
    return fig


def methods_grid(frames: Mapping[str, pd.DataFrame], ncols: int = 3) -> plt.Figure:
    """The weights of many methods on the same toy run, one small panel per method (shared
    legend: the task names)."""
    n = len(frames)
    ncols = min(ncols, max(n, 1))
    nrows = math.ceil(max(n, 1) / ncols)
    fig, axes = plt.subplots(nrows, ncols, dpi=FIG_DPI,
                             figsize=(PAGE_WIDTH_IN * ncols / 3, 2.3 * nrows), squeeze=False,
                             sharex=True)
    for ax, (method, frame) in zip(axes.ravel(), frames.items()):
        for task, name in TASK_NAMES.items():
            ax.plot(frame["step"], frame[f"w_{task}"], color=TASK_COLORS[task],
                    ls=TASK_STYLES[task], lw=1.3, label=name)
        ax.axhline(1.0, color=NEUTRAL, lw=0.6, alpha=0.4)
        _style(ax, label(method), "step", "weight")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax in axes.ravel()[max(n - ncols, 0):n]:  # the lowest panel of each column: its ticks
        ax.tick_params(labelbottom=True)
    legend_above(fig, axes.ravel()[0], ncol=len(TASK_NAMES))
    return fig


__all__ = ["comparison_figure", "has_adaptive_temperature", "has_temperature", "methods_grid",
           "plot_losses", "plot_temperature", "plot_weights", "simulate", "simulation_figure"]

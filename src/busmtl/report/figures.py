"""The book's figures, drawn from aggregated runs (:mod:`busmtl.report.aggregate`).

One colour per method everywhere (:mod:`busmtl.report.colors`); bands are the min-max range over
folds around the mean.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from busmtl.report.aggregate import predictions
from busmtl.report.colors import (
    FIG_DPI,
    LABEL_SIZE,
    NEUTRAL,
    PAGE_WIDTH_IN,
    TASK_COLORS,
    TASK_STYLES,
    TITLE_SIZE,
    TRUTH_STYLE,
    color,
    label,
    legend_above,
)
from busmtl.report.run_plots import dice

TASKS = {"seg": "segmentation", "cls": "classification"}


def _band(ax, frame: pd.DataFrame, column: str, c: str, name: str, ls: str = "-") -> None:
    g = frame.groupby("epoch")[column]
    mean, low, high = g.mean(), g.min(), g.max()
    ax.plot(mean.index, mean.values, color=c, ls=ls, lw=1.6, label=name)
    ax.fill_between(mean.index, low.values, high.values, color=c, alpha=0.18, lw=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _grid(n: int, ncols: int = 4, size=(3.2, 2.6)):
    ncols = min(ncols, max(n, 1))
    nrows = math.ceil(max(n, 1) / ncols)
    fig, axes = plt.subplots(nrows, ncols, dpi=FIG_DPI, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig, axes.ravel()


def weights_figure(hist: pd.DataFrame) -> plt.Figure:
    """Fig. 3 analogue: per method, the mean weight of each task per epoch (band over folds);
    two panels a row at the page's width, the tasks' legend above them all."""
    methods = list(dict.fromkeys(hist["method"]))
    fig, axes = _grid(len(methods), ncols=2, size=(PAGE_WIDTH_IN / 2, 2.3))
    for ax, method in zip(axes, methods):
        h = hist[hist["method"] == method]
        for task, name in TASKS.items():
            _band(ax, h, f"w_{task}", TASK_COLORS[task], name, ls=TASK_STYLES[task])
        ax.set_title(label(method), fontsize=TITLE_SIZE, fontweight="bold")
        ax.set(xlabel="epoch", ylabel="task weight")
    legend_above(fig, axes[0], ncol=len(TASKS))
    return fig


def temperature_figure(hist: pd.DataFrame) -> plt.Figure:
    """The softmax temperature per epoch of the methods that have one (DWA fixed, ATDWA adaptive)."""
    fig, ax = plt.subplots(dpi=FIG_DPI, figsize=(5.5, 3.2))
    for method in dict.fromkeys(hist["method"]):
        h = hist[hist["method"] == method]
        if "x_temperature" in h and h["x_temperature"].notna().any():
            _band(ax, h.dropna(subset=["x_temperature"]), "x_temperature", color(method), label(method))
    ax.set_title("softmax temperature per epoch", fontsize=TITLE_SIZE)
    ax.set(xlabel="epoch", ylabel="temperature T")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def loss_figure(hist: pd.DataFrame) -> plt.Figure:
    """Training (solid) and validation (dashed, with its range over folds) loss of each task per
    epoch and method, on a log axis; the methods' legend above both panels."""
    fig, axes = plt.subplots(1, 2, dpi=FIG_DPI, figsize=(PAGE_WIDTH_IN, 3.6))
    for ax, task in zip(axes, TASKS):
        for method in dict.fromkeys(hist["method"]):
            h = hist[hist["method"] == method]
            ax.plot(*h.groupby("epoch")[f"train_loss_{task}"].mean().reset_index().to_numpy().T,
                    color=color(method), ls="-", lw=1)
            _band(ax, h, f"val_loss_{task}", color(method), label(method), ls="--")
        # the same convention as each run's own page: training solid, validation dashed
        ax.set_title(f"{TASKS[task]} loss", fontsize=TITLE_SIZE)
        ax.set(xlabel="epoch", ylabel="loss (log scale)" if task == "seg" else None)
        ax.set_yscale("log")  # an early spike (e.g. GradNorm's first epoch) flattens a linear axis
    legend_above(fig, axes[0], ncol=3)
    return fig


def choose_examples(pred: dict[str, np.ndarray], per_class: int = 2,
                    exclude: Collection[str] = ()) -> list[int]:
    """Test images whose lesion area is closest to the class median: typical, not cherry-picked.
    Images named in ``exclude`` (e.g. frames filed under both classes) are never chosen."""
    chosen = []
    area = pred["mask_true"].reshape(len(pred["labels"]), -1).sum(1)
    allowed = ~np.isin(pred["ids"].astype(str), list(exclude))
    for cls in (0, 1):
        idx = np.flatnonzero((pred["labels"] == cls) & (area > 0) & allowed)
        if len(idx):
            order = idx[np.argsort(np.abs(area[idx] - np.median(area[idx])))]
            chosen.extend(sorted(order[:per_class].tolist()))
    return chosen


def qualitative_figure(runs: pd.DataFrame, fold: int = 0, per_class: int = 2,
                       exclude: Collection[str] = ()) -> plt.Figure:
    """Fig. 4 analogue: typical benign and malignant test images of the fixed sample
    (:func:`choose_examples`, never one in ``exclude``), one column each, with the ground truth (white, dashed) and, one
    row per method, its predicted contour (its colour, solid) on fold ``fold``, titled with the
    per-image Dice and the predicted probability of malignancy. Columns share the page's width."""
    done = runs[(runs["status"] == "done") & (runs["fold"] == fold)]
    if done.empty:
        done = runs[runs["status"] == "done"].drop_duplicates("method")
    preds = {row["method"]: predictions(row["run_dir"]) for _, row in done.iterrows()}
    first = next(iter(preds.values()))
    images = choose_examples(first, per_class, exclude)
    methods = list(preds)
    # the row labels take about 0.4 in left of the images: the whole figure keeps the page's
    # width, so its text keeps its size on the page
    width = PAGE_WIDTH_IN - 0.4
    side = width / max(len(images), 1)
    fig, axes = plt.subplots(len(methods) + 1, len(images), dpi=FIG_DPI,
                             figsize=(width, (side + 0.45) * (len(methods) + 1)),
                             squeeze=False)
    for c, i in enumerate(images):
        truth = first["mask_true"][i] > 0
        axes[0, c].imshow(first["image"][i], cmap="gray", vmin=0, vmax=255)
        axes[0, c].contour(truth, levels=[0.5], **TRUTH_STYLE)
        axes[0, c].set_title(_image_title(first["labels"][i], first["ids"][i]), fontsize=LABEL_SIZE)
        for r, method in enumerate(methods, start=1):
            p = preds[method]
            j = int(np.flatnonzero(p["ids"] == first["ids"][i])[0])
            mask = p["mask_prob"][j] >= 128
            ax = axes[r, c]
            ax.imshow(p["image"][j], cmap="gray", vmin=0, vmax=255)
            ax.contour(truth, levels=[0.5], **TRUTH_STYLE)
            if mask.any():
                ax.contour(mask, levels=[0.5], colors=color(method), linewidths=1.6)
            p_mal = float(p["cls_prob"][j][1]) if p["cls_prob"].shape[1] > 1 else float("nan")
            ax.set_title(f"Dice {dice(truth, mask):.2f}\np(mal.) {p_mal:.2f}", fontsize=LABEL_SIZE)
    for r, name in enumerate(["ground truth", *(label(m) for m in methods)]):
        axes[r, 0].set_ylabel(name, fontsize=LABEL_SIZE, fontweight="bold")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout(pad=0.4, h_pad=0.6, w_pad=0.3)
    return fig


def fold_comparison_figure(runs: pd.DataFrame, methods: list[str],
                           metrics: tuple[str, ...] = ("seg_dice", "cls_acc")) -> plt.Figure:
    """Each fold's test metric per method, the folds joined by grey lines (paired: the same fold
    data and test set), method means as black bars."""
    from busmtl.report.paper_values import METRIC_NAMES

    done = runs[runs["status"] == "done"]
    fig, axes = plt.subplots(1, len(metrics), dpi=FIG_DPI, figsize=(PAGE_WIDTH_IN, 3.4),
                             squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        table = done[done["method"].isin(methods)].pivot(index="fold", columns="method",
                                                          values=f"test_{metric}")
        table = table[[m for m in methods if m in table.columns]]
        x = np.arange(len(table.columns))
        for _, row in table.iterrows():
            ax.plot(x, row.to_numpy(float), color="#bbbbbb", lw=1, zorder=1)
        for k, method in enumerate(table.columns):
            values = table[method].dropna()
            ax.scatter(np.full(len(values), k), values, color=color(method), s=28, zorder=2,
                       edgecolor=NEUTRAL, linewidth=0.4)
            ax.hlines(values.mean(), k - 0.25, k + 0.25, color=NEUTRAL, lw=2, zorder=3)
        # names turned, and short where that keeps them apart, to fit half the page's width
        names = [label(m) for m in table.columns]
        short = [n.split(" (")[0] for n in names]
        ax.set_xticks(x, short if len(set(short)) == len(short) else names, rotation=30,
                      ha="right")
        ax.set_title(f"test {METRIC_NAMES[metric]} per fold", fontsize=TITLE_SIZE)
        ax.set_ylabel(METRIC_NAMES[metric])
    fig.tight_layout()
    return fig


def per_image_figure(per_image: pd.DataFrame, methods: list[str], column: str = "seg_dice") -> plt.Figure:
    """Distribution over test images of a per-image metric (averaged over folds), one box per
    method: the spread behind the means."""
    fig, ax = plt.subplots(dpi=FIG_DPI, figsize=(1.5 * max(len(methods), 3) + 1.5, 3.6))
    data, names = [], []
    for method in methods:
        rows = per_image[per_image["method"] == method]
        if len(rows):
            data.append(rows.groupby("id")[column].mean().to_numpy(float))
            names.append(method)
    if data:
        box = ax.boxplot(data, patch_artist=True, widths=0.55, medianprops={"color": NEUTRAL})
        for patch, method in zip(box["boxes"], names):
            patch.set_facecolor(color(method))
            patch.set_alpha(0.7)
        ax.set_xticks(np.arange(1, len(names) + 1), [label(m) for m in names])
    ax.set_title(f"per-image test {column.replace('seg_', '').replace('_', ' ')} "
                 "(mean over folds)", fontsize=TITLE_SIZE)
    ax.set_ylabel(column.replace("seg_", "").replace("_", " "))
    fig.tight_layout()
    return fig


def examples_figure(data_dir: str | Path, per_class: int = 4, seed: int = 0,
                    exclude: Collection[str] = ()) -> plt.Figure:
    """Fig. 2 analogue: example images of each class drawn at random from a prepared cache (never
    one named in ``exclude``), with the lesion outline (ground-truth style,
    :data:`~busmtl.report.colors.TRUTH_STYLE`)."""
    from busmtl.data.prepare import load_prepared

    data = load_prepared(data_dir)
    rng = np.random.default_rng(seed)
    allowed = ~np.isin(np.asarray(data.ids).astype(str), list(exclude))
    picks = [int(i) for cls in (0, 1)
             for i in rng.choice(np.flatnonzero((data.labels == cls) & allowed),
                                 size=per_class, replace=False)]
    return image_grid([data.images[i] for i in picks], [data.masks[i] for i in picks],
                      [_image_title(data.labels[i], data.ids[i]) for i in picks])


def sample_figure(pred: dict[str, np.ndarray], per_class: int = 4,
                  exclude: Collection[str] = ()) -> plt.Figure:
    """Fig. 2 analogue from a run's ``predictions.npz`` (the fixed test sample every run keeps):
    up to ``per_class`` benign then malignant images (never one named in ``exclude``) with their
    ground-truth outline. Needs no dataset, so the default book (committed runs only) can show
    the data."""
    allowed = ~np.isin(pred["ids"].astype(str), list(exclude))
    picks = [int(i) for cls in (0, 1)
             for i in np.flatnonzero((pred["labels"] == cls) & allowed)[:per_class]]
    return image_grid([pred["image"][i] for i in picks], [pred["mask_true"][i] for i in picks],
                      [_image_title(pred["labels"][i], pred["ids"][i]) for i in picks])


def _image_title(label: int, image_id: str) -> str:
    """One line: the image's id, prefixed by its class unless the id already names it (BUSI's
    ids are "benign (10)", "malignant (4)")."""
    name = "malignant" if int(label) else "benign"
    return str(image_id) if str(image_id).startswith(name) else f"{name}: {image_id}"


def image_grid(images: list[np.ndarray], masks: list[np.ndarray], titles: list[str],
               ncols: int = 4) -> plt.Figure:
    """Grey-scale images in rows of ``ncols``, each with its lesion outline (white, dashed)."""
    ncols = min(ncols, max(len(images), 1))
    nrows = math.ceil(max(len(images), 1) / ncols)
    side = PAGE_WIDTH_IN / ncols
    fig, axes = plt.subplots(nrows, ncols, dpi=FIG_DPI, figsize=(PAGE_WIDTH_IN, (side + 0.3) * nrows),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, mask, title in zip(axes.ravel(), images, masks, titles):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        if np.asarray(mask).any():
            ax.contour(np.asarray(mask) > 0, levels=[0.5], **TRUTH_STYLE)
        ax.set_title(title, fontsize=LABEL_SIZE)
    fig.tight_layout()
    return fig


def augmentation_figure(data_dir: str | Path, index: int = 0, seed: int = 0) -> plt.Figure:
    """:func:`augmentation_image_figure` of image ``index`` of a prepared cache."""
    from busmtl.data.prepare import load_prepared

    data = load_prepared(data_dir)
    return augmentation_image_figure(data.images[index], data.masks[index], seed=seed, index=index)


def augmentation_image_figure(image: np.ndarray, mask: np.ndarray, seed: int = 0,
                              index: int = 0) -> plt.Figure:
    """One training image (lesion outline white, dashed) and its six augmented copies: the
    seven variants of :mod:`busmtl.data.augment`, copy ``j`` applying transform ``j`` alone.
    ``seed`` and ``index`` seed the random parameters as the training data loader would."""
    from busmtl.data.augment import TRANSFORM_NAMES, augment_pair, paper_transforms

    image, mask = np.ascontiguousarray(image), np.ascontiguousarray((np.asarray(mask) > 0), np.uint8)
    transforms = paper_transforms(image.shape[0])
    panels = [("original", image, mask)]
    for j, name in enumerate(TRANSFORM_NAMES, start=1):
        im, mk = augment_pair(transforms, image, mask, j, (seed, -1, index, j))
        panels.append((name.replace("_", " "), im, mk))
    fig, axes = plt.subplots(2, 4, dpi=FIG_DPI, figsize=(PAGE_WIDTH_IN, 4.1))
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (name, im, mk) in zip(axes.ravel(), panels):
        ax.imshow(im, cmap="gray", vmin=0, vmax=255)
        if mk.any():
            ax.contour(mk, levels=[0.5], **TRUTH_STYLE)
        ax.set_title(name, fontsize=LABEL_SIZE)
    fig.tight_layout()
    return fig

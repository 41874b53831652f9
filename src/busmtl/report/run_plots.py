"""Figures and tables of one run folder (the per-run notebook shows them): settings and
provenance, loss curves, weights and the weighter's extra state per epoch, the test metrics,
and the sample of test predictions with contours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from busmtl.report.colors import (
    FIG_DPI,
    LABEL_SIZE,
    NEUTRAL,
    PAGE_WIDTH_IN,
    PREDICTION_COLOR,
    TASK_COLORS,
    TASK_STYLES,
    TITLE_SIZE,
    TRUTH_STYLE,
)
from busmtl.report.paper_values import METRIC_NAMES
from busmtl.runs.files import read_config, read_history, read_metrics  # noqa: F401 (re-exported)

TASK_NAMES = {"seg": "segmentation", "cls": "classification"}
#: Settings that name a place on the machine that ran: shown by their last two parts only.
PATH_SETTINGS: tuple[str, ...] = ("data_dir", "splits")
#: Settings that do not describe the run (bookkeeping), left out of the settings table.
HIDDEN_SETTINGS: tuple[str, ...] = ("progress", "run_hash")
#: Height of a row of curves (inches); every figure is at most the page's text width
#: (:data:`~busmtl.report.colors.PAGE_WIDTH_IN`), so its text keeps its size on the page.
CURVES_HEIGHT_IN: float = 3.0

#: The figures of a run page, by the function that draws them: (caption, alt text). The book
#: gives every run page's figure these (:mod:`busmtl.publish.run_pages`), old notebooks too.
FIGURES: dict[str, tuple[str, str]] = {
    "plot_losses": (
        "Unweighted loss of each task per epoch: training (solid) and validation (dashed).",
        ("Two line plots, segmentation loss and classification loss against the epoch, each "
         "with a training and a validation curve."),
    ),
    "plot_weights": (
        ("The mean weight the method gave each task in every epoch and, for a weighter with a "
         "temperature (DWA, ATDWA), the temperature of the epoch."),
        ("Line plot of the segmentation and classification weights against the epoch, with a "
         "second plot of the softmax temperature where the method has one."),
    ),
    "plot_predictions": (
        ("Test images of the fixed sample that every run keeps: true lesion outline (white, "
         "dashed) and this run's predicted outline (vermillion), with the predicted "
         "probability of malignancy and the image's Dice."),
        ("Four ultrasound images in a row, each with a dashed true outline and a solid "
         "predicted outline, titled with its class, predicted malignancy probability and "
         "Dice."),
    ),
}


def short_path(value: Any) -> str:
    """The last two parts of a path (``busi-1a2b/prepared-96``), so no page shows where the
    machine that ran it keeps its files; ``None`` stays ``None``."""
    if value is None:
        return "None"
    parts = Path(str(value)).parts
    return "/".join(parts[-2:]) if len(parts) > 1 else str(value)


def settings_table(config: dict[str, Any]) -> pd.DataFrame:
    """Every training setting of a run (``config.json``'s ``config``), paths shortened."""
    rows = {k: short_path(v) if k in PATH_SETTINGS else str(v)
            for k, v in config.items() if k not in HIDDEN_SETTINGS}
    return pd.Series(rows, name="value").rename_axis("setting").to_frame()


def provenance_table(run_dir: str | Path) -> pd.DataFrame:
    """Where and with what a run was made (``config.json``'s ``provenance``)."""
    prov = read_config(run_dir).get("provenance", {})
    return pd.Series({k: str(v) for k, v in prov.items()}, name="value").rename_axis("").to_frame()


def plot_losses(history: pd.DataFrame) -> plt.Figure:
    """Train (solid) and validation (dashed) loss of each task per epoch."""
    fig, axes = plt.subplots(1, 2, dpi=FIG_DPI, figsize=(PAGE_WIDTH_IN, CURVES_HEIGHT_IN))
    for ax, task in zip(axes, ("seg", "cls")):
        ax.plot(history["epoch"], history[f"train_loss_{task}"], color=TASK_COLORS[task],
                label="training")
        ax.plot(history["epoch"], history[f"val_loss_{task}"], color=TASK_COLORS[task], ls="--",
                label="validation")
        ax.set_title(f"{TASK_NAMES[task]} loss", fontsize=TITLE_SIZE)
        ax.set(xlabel="epoch", ylabel="loss (unweighted)")
        ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def plot_weights(history: pd.DataFrame) -> plt.Figure:
    """Mean applied weight of each task per epoch, plus the temperature when the weighter has one."""
    has_t = "x_temperature" in history.columns
    fig, axes = plt.subplots(1, 2 if has_t else 1, dpi=FIG_DPI, squeeze=False,
                             figsize=(PAGE_WIDTH_IN * (1 if has_t else 0.6), CURVES_HEIGHT_IN))
    ax = axes[0, 0]
    for task in ("seg", "cls"):
        ax.plot(history["epoch"], history[f"w_{task}"], marker="o", ms=3, color=TASK_COLORS[task],
                ls=TASK_STYLES[task], label=TASK_NAMES[task])
    ax.set_title("task weights", fontsize=TITLE_SIZE)
    ax.set(xlabel="epoch", ylabel="mean weight in the epoch")
    ax.legend(frameon=False)
    if has_t:
        axes[0, 1].plot(history["epoch"], history["x_temperature"], marker="o", ms=3, color=NEUTRAL)
        axes[0, 1].set_title("softmax temperature T", fontsize=TITLE_SIZE)
        axes[0, 1].set(xlabel="epoch", ylabel="T")
    fig.tight_layout()
    return fig


def metrics_table(metrics: dict, digits: int = 3) -> pd.DataFrame:
    """Test and validation metrics side by side, ``digits`` decimals (rows: metric, by the
    names of the book's tables)."""
    frame = pd.DataFrame({"test": metrics["test"], "validation": metrics["val"]})
    frame.index = [METRIC_NAMES.get(k, k) for k in frame.index]
    frame.index.name = "metric"
    return frame.apply(lambda column: column.map(lambda v: f"{v:.{digits}f}"))


#: Rows of :func:`efficiency_table`: key of ``metrics.json``'s ``efficiency`` -> label.
EFFICIENCY_ROWS: dict[str, str] = {
    "step_memory_mb": "memory added by training (MiB)",
    "peak_memory_mb": "peak memory (MiB)",
    "memory_kind": "memory measured as",
    "step_time_ms_median": "step time, median (ms)",
    "step_time_ms_max": "step time, longest (ms)",
    "epoch_time_s_median": "epoch time, median (s)",
    "epoch_time_s_max": "epoch time, longest (s)",
    "device": "device",
}


def efficiency_table(metrics: dict) -> pd.DataFrame:
    """The run's efficiency figures (the primary paper's Table III columns and more)."""
    eff = metrics["efficiency"]
    rows = {label: (f"{eff[key]:.1f}" if isinstance(eff[key], float) else str(eff[key]))
            for key, label in EFFICIENCY_ROWS.items() if key in eff}
    return pd.Series(rows, name="value").rename_axis("efficiency").to_frame()


def dice(truth: np.ndarray, pred: np.ndarray) -> float:
    """Dice of two binary masks (1 when both are empty)."""
    inter = float(np.logical_and(truth, pred).sum())
    total = float(truth.sum() + pred.sum())
    return 1.0 if total == 0 else 2.0 * inter / total


def plot_predictions(run_dir: str | Path, n: int = 4) -> plt.Figure:
    """``n`` test images of the run's fixed sample (alternating benign / malignant): truth
    contour green, prediction red (threshold 0.5), titled with the class, predicted malignancy
    probability and Dice."""
    pred = np.load(Path(run_dir) / "predictions.npz")
    labels = pred["labels"]
    order = [i for pair in zip(np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)) for i in pair]
    order = (order + [i for i in range(len(labels)) if i not in order])[:n]
    fig, axes = plt.subplots(1, len(order), dpi=FIG_DPI, squeeze=False,
                             figsize=(PAGE_WIDTH_IN, PAGE_WIDTH_IN / max(len(order), 1) + 1.1))
    for ax, i in zip(axes[0], order):
        truth = pred["mask_true"][i] > 0
        mask = pred["mask_prob"][i] >= 128
        # nearest: the pixels of the small stored image, as they are (and a small PNG)
        ax.imshow(pred["image"][i], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        if truth.any():
            ax.contour(truth, levels=[0.5], **TRUTH_STYLE)
        if mask.any():
            ax.contour(mask, levels=[0.5], colors=PREDICTION_COLOR, linewidths=1.4)
        cls = "malignant" if labels[i] == 1 else "benign"
        p_mal = float(pred["cls_prob"][i][1]) if pred["cls_prob"].shape[1] > 1 else float("nan")
        ax.set_title(f"{cls}\np(malignant) {p_mal:.2f}\nDice {dice(truth, mask):.2f}", fontsize=9)
        ax.axis("off")
    fig.suptitle("truth: white, dashed; prediction: vermillion", fontsize=LABEL_SIZE)
    fig.tight_layout()
    return fig

"""Figures of one run folder (the per-run notebook shows them): loss curves, weights and the
weighter's extra state per epoch, the test metrics table, and test predictions with contours."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from busmtl.report.colors import FIG_DPI, TASK_COLORS

TASK_NAMES = {"seg": "segmentation", "cls": "classification"}


def read_history(run_dir: str | Path) -> pd.DataFrame:
    """``history.csv`` of a run folder."""
    return pd.read_csv(Path(run_dir) / "history.csv")


def read_metrics(run_dir: str | Path) -> dict:
    """``metrics.json`` of a run folder."""
    return json.loads((Path(run_dir) / "metrics.json").read_text(encoding="utf-8"))


def plot_losses(history: pd.DataFrame) -> plt.Figure:
    """Train (solid) and validation (dashed) loss of each task per epoch."""
    fig, axes = plt.subplots(1, 2, dpi=FIG_DPI, figsize=(9, 3.2))
    for ax, task in zip(axes, ("seg", "cls")):
        ax.plot(history["epoch"], history[f"train_loss_{task}"], color=TASK_COLORS[task], label="train")
        ax.plot(history["epoch"], history[f"val_loss_{task}"], color=TASK_COLORS[task], ls="--", label="validation")
        ax.set(title=f"{TASK_NAMES[task]} loss", xlabel="epoch", ylabel="loss (unweighted)")
        ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def plot_weights(history: pd.DataFrame) -> plt.Figure:
    """Mean applied weight of each task per epoch, plus the temperature when the weighter has one."""
    has_t = "x_temperature" in history.columns
    fig, axes = plt.subplots(1, 2 if has_t else 1, dpi=FIG_DPI, figsize=(9 if has_t else 4.8, 3.2), squeeze=False)
    ax = axes[0, 0]
    for task in ("seg", "cls"):
        ax.plot(history["epoch"], history[f"w_{task}"], marker="o", ms=3, color=TASK_COLORS[task],
                label=TASK_NAMES[task])
    ax.set(title="task weights", xlabel="epoch", ylabel="mean weight in epoch")
    ax.legend(frameon=False)
    if has_t:
        axes[0, 1].plot(history["epoch"], history["x_temperature"], marker="o", ms=3, color="#d62728")
        axes[0, 1].set(title="temperature T", xlabel="epoch", ylabel="T")
    fig.tight_layout()
    return fig


def metrics_table(metrics: dict) -> pd.DataFrame:
    """Test and validation metrics side by side (rows: metric)."""
    return pd.DataFrame({"test": metrics["test"], "validation": metrics["val"]}).round(4)


def dice(truth: np.ndarray, pred: np.ndarray) -> float:
    """Dice of two binary masks (1 when both are empty)."""
    inter = float(np.logical_and(truth, pred).sum())
    total = float(truth.sum() + pred.sum())
    return 1.0 if total == 0 else 2.0 * inter / total


def plot_predictions(run_dir: str | Path, n: int = 4) -> plt.Figure:
    """``n`` test images (alternating benign / malignant): truth contour green, prediction red
    (threshold 0.5), titled with the class, predicted malignancy probability and Dice."""
    pred = np.load(Path(run_dir) / "predictions.npz")
    labels = pred["labels"]
    order = [i for pair in zip(np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)) for i in pair]
    order = (order + [i for i in range(len(labels)) if i not in order])[:n]
    fig, axes = plt.subplots(1, len(order), dpi=FIG_DPI, figsize=(2.6 * len(order), 2.9), squeeze=False)
    for ax, i in zip(axes[0], order):
        truth = pred["mask_true"][i] > 0
        mask = pred["mask_prob"][i] >= 128
        ax.imshow(pred["image"][i], cmap="gray", vmin=0, vmax=255)
        if truth.any():
            ax.contour(truth, levels=[0.5], colors="lime", linewidths=1.0)
        if mask.any():
            ax.contour(mask, levels=[0.5], colors="red", linewidths=1.0)
        cls = "malignant" if labels[i] == 1 else "benign"
        p_mal = float(pred["cls_prob"][i][1]) if pred["cls_prob"].shape[1] > 1 else float("nan")
        ax.set_title(f"{cls}\np(mal)={p_mal:.2f}, Dice={dice(truth, mask):.2f}", fontsize=8)
        ax.axis("off")
    fig.suptitle("test predictions: truth (green), prediction (red)", fontsize=9)
    fig.tight_layout()
    return fig

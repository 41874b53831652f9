"""The files of a run folder (one method on one fold), written atomically and read back.

Layout (DEVELOPERS.md, "Run folder"):

* ``config.json``: every setting plus ``provenance`` (commit, versions, threads, precision, CPU);
* ``history.csv``: one row per epoch (losses, mean weights, weighter state, timings);
* ``metrics.json``: test and validation metrics of the best checkpoint, efficiency;
* ``per_image.csv``: one row per test image (class probabilities, per-image segmentation
  metrics): what paired tests and distributions need;
* ``predictions.npz``: image, true mask and predicted probabilities of a **fixed sample** of
  test cases (:func:`sample_indices`; the same for every method and fold), for the figures;
* ``model.pt``: the best checkpoint (when ``save_model``; never committed);
* ``DONE``: written last.

Everything here is small enough to commit (tens of kB per run at 96 px), except ``model.pt``.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from busmtl import TASKS, __version__
from busmtl.io import atomic_path, write_json
from busmtl.runs import marker
from busmtl.runs.files import (  # noqa: F401 (the readers of what this module writes)
    read_config,
    read_history,
    read_json,
    read_metrics,
    read_per_image,
)
from busmtl.settings import repo_root
from busmtl.training import isa
from busmtl.training.metrics import per_image_segmentation

#: Files a run folder may hold; removed (only these) before a run rewrites the folder.
ARTIFACTS: tuple[str, ...] = (
    marker.NAME, "metrics.json", "per_image.csv", "predictions.npz", "model.pt", "history.csv",
    "config.json",
)
HISTORY_COLUMNS: tuple[str, ...] = (
    "epoch", "train_loss_seg", "train_loss_cls", "val_loss_seg", "val_loss_cls",
    "val_loss_mean", "w_seg", "w_cls",
)
TIMING_COLUMNS: tuple[str, ...] = ("lr", "epoch_time_s", "step_time_ms_max", "step_time_ms_median")
#: Test cases kept in ``predictions.npz`` (half benign, half malignant when possible).
SAMPLE_SIZE: int = 8


# --------------------------------------------------------------------------------------------
# provenance
# --------------------------------------------------------------------------------------------
def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=repo_root(), capture_output=True, text=True,
                             timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_commit() -> str | None:
    """The repository's current commit, or ``None`` outside a git checkout."""
    return _git("rev-parse", "HEAD") or None


def git_dirty() -> bool | None:
    """True when ``src/`` or ``notebooks/`` differ from the commit (``None`` outside git)."""
    status = _git("status", "--porcelain", "--", "src", "notebooks")
    return None if status is None else bool(status)


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or what ``platform`` knows."""
    return isa.cpuinfo_field("model name") or platform.processor() or platform.machine()


def provenance(device: torch.device, precision: str, channels_last: bool,
               num_threads: int) -> dict[str, Any]:
    """What a reader needs to judge whether a run can be reproduced bit for bit."""
    return {
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "busmtl_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        # the GPU a sweep placed the run on (its CUDA_VISIBLE_DEVICES; None when not placed)
        "visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "num_threads": int(num_threads),
        "precision": precision,
        "channels_last": bool(channels_last),
        # the instruction-set level torch ran at (ATen, oneDNN's cap) and the host's highest
        **isa.provenance(),
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------
def clear(out: Path) -> None:
    """Remove this run's own files (only those), ``DONE`` first: a folder being rewritten is
    never marked complete."""
    for name in ARTIFACTS:
        (out / name).unlink(missing_ok=True)


def write_config(out: Path, config: dict[str, Any], data_identity: str,
                 prov: dict[str, Any]) -> Path:
    """``config.json``: ``{"config", "data_identity", "provenance"}`` (plus the older top-level
    ``busmtl_version``, ``git_commit``, ``torch_version``, ``device`` keys)."""
    return write_json(out / "config.json", {
        "config": config,
        "data_identity": data_identity,
        "provenance": prov,
        "busmtl_version": prov["busmtl_version"],
        "git_commit": prov["git_commit"],
        "torch_version": prov["torch_version"],
        "device": prov["device"],
    })


def flatten_extra_state(extra: dict[str, Any],
                        names: tuple[str, ...] | None = None) -> dict[str, float]:
    """Weighter extra state -> history columns: ``x_<key>`` for scalars, ``x_<key>_seg`` /
    ``x_<key>_cls`` for per-task values, ``x_<key>_<name>`` for per-term values when the K terms
    are named (``names``, e.g. ``seg_dice``), else ``x_<key>_<i>``."""
    row: dict[str, float] = {}
    for key, value in extra.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().tolist()
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if isinstance(value, (list, tuple)):
            if names is not None and len(names) == len(value):
                labels = list(names)
            else:
                labels = TASKS if len(value) == len(TASKS) else [str(i) for i in range(len(value))]
            row.update({f"x_{key}_{n}": float(v) for n, v in zip(labels, value)})
        else:
            row[f"x_{key}"] = float(value)
    return row


def write_history(rows: list[dict[str, float]], path: Path) -> None:
    """Atomically write the per-epoch rows as CSV (fixed columns first, then ``x_*``, timing).
    Floats are written with full precision (the drift test compares them to 1e-6)."""
    frame = pd.DataFrame(rows)
    extra = [c for c in frame.columns if c not in HISTORY_COLUMNS + TIMING_COLUMNS]
    frame = frame[[*HISTORY_COLUMNS, *extra, *TIMING_COLUMNS]]
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.17g")


def sample_indices(labels: np.ndarray, n: int = SAMPLE_SIZE) -> np.ndarray:
    """``n`` test positions, evenly spread over each class (half benign, half malignant when
    both have enough cases), in dataset order. Depends only on the labels, so every method and
    fold of a sweep keeps the same cases."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    chosen: list[int] = []
    share = max(1, n // max(len(classes), 1))
    for c in classes:
        where = np.flatnonzero(labels == c)
        k = min(share, len(where))
        chosen.extend(where[np.linspace(0, len(where) - 1, k).round().astype(int)].tolist())
    rest = [i for i in range(len(labels)) if i not in set(chosen)]
    chosen.extend(rest[: max(0, n - len(chosen))])
    return np.array(sorted(set(chosen))[:n], dtype=np.int64)


def write_predictions(out: Path, ids: list[str], images: np.ndarray, labels: np.ndarray,
                      mask_true: np.ndarray, mask_prob: np.ndarray, cls_prob: np.ndarray,
                      keep: np.ndarray) -> Path:
    """``predictions.npz`` of the sample ``keep``: ``ids``, ``index`` (position in the test set),
    ``labels``, ``image``, ``mask_true``, ``mask_prob`` (uint8 = round(255 p)), ``cls_prob``."""
    with atomic_path(out / "predictions.npz") as tmp:
        np.savez_compressed(
            tmp,
            ids=np.array(ids, dtype=str)[keep],
            index=keep,
            labels=labels[keep],
            image=np.asarray(images, dtype=np.uint8)[keep],
            mask_true=mask_true[keep],
            mask_prob=mask_prob[keep],
            cls_prob=cls_prob[keep].astype(np.float32),
        )
    return out / "predictions.npz"


def per_image_table(ids: list[str], labels: np.ndarray, mask_true: np.ndarray,
                    mask_prob: np.ndarray, cls_prob: np.ndarray) -> pd.DataFrame:
    """One row per test image: ``id``, ``label``, ``cls_pred``, ``cls_correct``, ``p_<class>``,
    the per-image ``seg_*`` metrics (:func:`busmtl.training.metrics.per_image_segmentation`, threshold
    0.5 on the 8-bit probabilities), ``lesion_px`` and ``predicted_px``."""
    seg = per_image_segmentation(mask_true, mask_prob / 255.0)
    pred = cls_prob.argmax(axis=1)
    frame = pd.DataFrame({"id": list(ids), "label": labels, "cls_pred": pred,
                          "cls_correct": (pred == labels).astype(int)})
    for c in range(cls_prob.shape[1]):
        frame[f"p_{c}"] = cls_prob[:, c].astype(np.float64)
    for key, values in seg.items():
        frame[key] = values
    n = len(frame)
    frame["lesion_px"] = (mask_true.reshape(n, -1) > 0).sum(axis=1)
    frame["predicted_px"] = (mask_prob.reshape(n, -1) >= 128).sum(axis=1)
    return frame


def write_per_image(out: Path, table: pd.DataFrame) -> Path:
    with atomic_path(out / "per_image.csv") as tmp:
        table.to_csv(tmp, index=False, float_format="%.9g")
    return out / "per_image.csv"

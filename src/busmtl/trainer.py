"""Train SSC-ResNet with one loss-weighting method on one fold and evaluate it: :func:`train`.

Protocol (the primary paper's; every value is a :class:`~busmtl.config.TrainConfig` setting):

1. Adam (lr ``cfg.lr``, 1e-4 in the paper) over the network's parameters plus the weighter's
   learnable ones (``weighter.network_parameters()``, e.g. UW's ``s_k``).
2. Each step: ``losses = [L_seg, L_cls]`` (:mod:`busmtl.losses`), then
   ``optimizer.zero_grad(); weighter.backward(losses, model); optimizer.step()``; the weighter
   forms ``sum_k w_k L_k`` (eq. 1 of the ATDWA paper) and back-propagates it.
3. After each epoch: ``weighter.epoch_end`` with the batch-size-weighted mean training losses;
   validation losses; ``ReduceLROnPlateau`` and early stopping (patience
   ``cfg.early_stopping_patience``) on the mean of the two validation losses; the state with
   the lowest such mean is kept in memory ("best checkpoint").
4. The best checkpoint is evaluated on the validation and held-out test sets
   (:mod:`busmtl.metrics`).

Artifacts (DEVELOPERS.md, "Run folder"), each written atomically with :mod:`busmtl.io`:
``config.json`` first, ``history.csv`` after every epoch (so a failed run leaves a readable
partial log), then ``model.pt`` (if ``cfg.save_model``), ``predictions.npz``, ``metrics.json``
and finally ``DONE``. Metrics are computed from the stored 8-bit mask probabilities, so every
figure of ``metrics.json`` can be recomputed exactly from ``predictions.npz``.

An existing run folder is overwritten: its ``DONE`` marker is removed first, so the folder is
never marked complete while it is being rewritten (the sweep skips folders with ``DONE`` before
calling :func:`train`). Only this run's own files are touched; nothing else is deleted.

Reproducibility: ``torch``, ``numpy`` and ``random`` are seeded with ``cfg.seed``, the
training DataLoader draws its order from a seeded generator, online augmentation is seeded
per (seed, epoch, item), and on the CPU ``torch.use_deterministic_algorithms`` is on during
the run: the same settings give identical metrics.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import random
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from busmtl import TASKS, __version__
from busmtl import losses as L
from busmtl.config import TrainConfig, validate
from busmtl.efficiency import Stopwatch, efficiency_summary, reset_peak_memory
from busmtl.io import atomic_path, write_json
from busmtl.metrics import all_metrics
from busmtl.settings import repo_root

#: Files a run folder may hold; removed (only these) before a run rewrites the folder.
ARTIFACTS: tuple[str, ...] = (
    "DONE", "metrics.json", "predictions.npz", "model.pt", "history.csv", "config.json"
)
HISTORY_COLUMNS: tuple[str, ...] = (
    "epoch", "train_loss_seg", "train_loss_cls", "val_loss_seg", "val_loss_cls",
    "val_loss_mean", "w_seg", "w_cls",
)
TIMING_COLUMNS: tuple[str, ...] = ("lr", "epoch_time_s", "step_time_ms_max", "step_time_ms_median")


class NonFiniteLossError(RuntimeError):
    """A task loss (or a weight) became NaN or infinite; the message names the task and epoch."""


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> ``cuda`` when available else ``cpu``; anything else as given (checked)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for but CUDA is not available: use --device cpu")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _seed_worker(worker_id: int) -> None:  # DataLoader worker_init_fn
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def git_commit() -> str | None:
    """The repository's current commit, or ``None`` outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo_root(), capture_output=True, text=True,
            timeout=10, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def flatten_extra_state(extra: dict[str, Any]) -> dict[str, float]:
    """Weighter extra state -> history columns: ``x_<key>`` for scalars, ``x_<key>_seg`` /
    ``x_<key>_cls`` for per-task values (``x_<key>_<i>`` for other lengths)."""
    row: dict[str, float] = {}
    for key, value in extra.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().tolist()
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if isinstance(value, (list, tuple)):
            names = TASKS if len(value) == len(TASKS) else [str(i) for i in range(len(value))]
            row.update({f"x_{key}_{n}": float(v) for n, v in zip(names, value)})
        else:
            row[f"x_{key}"] = float(value)
    return row


def write_history(rows: list[dict[str, float]], path: Path) -> None:
    """Atomically write the per-epoch rows as CSV (fixed columns first, then ``x_*``, timing)."""
    frame = pd.DataFrame(rows)
    extra = [c for c in frame.columns if c not in HISTORY_COLUMNS + TIMING_COLUMNS]
    frame = frame[[*HISTORY_COLUMNS, *extra, *TIMING_COLUMNS]]
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def _check_finite(values: torch.Tensor, what: str, where: str, history: Path) -> None:
    bad = [TASKS[k] for k in range(len(TASKS)) if not math.isfinite(float(values[k]))]
    if bad:
        shown = ", ".join(f"{t} = {float(values[TASKS.index(t)])}" for t in bad)
        raise NonFiniteLossError(
            f"non-finite {what} for task(s) {', '.join(bad)} ({shown}) at {where}; the log of "
            f"the finished epochs is in {history}. Try a lower --lr or another weighter setting."
        )


@contextmanager
def _torch_settings(device: torch.device, num_threads: int | None) -> Iterator[None]:
    """Deterministic algorithms on the CPU and ``num_threads``, restored afterwards."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        if num_threads:
            torch.set_num_threads(int(num_threads))
        if device.type == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det, warn_only=old_warn)


def _show_progress(cfg: TrainConfig) -> bool:
    return bool(cfg.progress) if cfg.progress is not None else sys.stderr.isatty()


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------
@dataclass
class Evaluation:
    """Mean task losses and predictions of a model on one dataset."""

    losses: np.ndarray  # (2,) batch-size-weighted mean [L_seg, L_cls]
    mask_prob: np.ndarray  # (N, H, W) uint8 = round(255 p)
    cls_prob: np.ndarray  # (N, C) float32
    mask_true: np.ndarray  # (N, H, W) uint8
    labels: np.ndarray  # (N,) int64

    def metrics(self) -> dict[str, float]:
        """All metrics, from the 8-bit probabilities (as stored in ``predictions.npz``)."""
        return all_metrics(self.mask_true, self.mask_prob / 255.0, self.labels, self.cls_prob)


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader: DataLoader, device: torch.device) -> Evaluation:
    """Losses and predictions of ``model`` (in eval mode) over ``loader``, in dataset order."""
    model.eval()
    total, count = torch.zeros(len(TASKS), dtype=torch.float64), 0
    masks, probs, cls_probs, labels_all = [], [], [], []
    for image, mask, label in loader:
        image, mask, label = image.to(device), mask.to(device), label.to(device)
        seg_logits, cls_logits = model(image)
        losses = L.task_losses(seg_logits, cls_logits, mask, label)
        total += losses.detach().double().cpu() * len(label)
        count += len(label)
        probs.append(torch.round(255 * torch.sigmoid(seg_logits[:, 0])).to(torch.uint8).cpu())
        cls_probs.append(torch.softmax(cls_logits, dim=1).float().cpu())
        masks.append((mask[:, 0] > 0.5).to(torch.uint8).cpu())
        labels_all.append(label.cpu())
    return Evaluation(
        losses=(total / max(count, 1)).numpy(),
        mask_prob=torch.cat(probs).numpy(),
        cls_prob=torch.cat(cls_probs).numpy(),
        mask_true=torch.cat(masks).numpy(),
        labels=torch.cat(labels_all).numpy().astype(np.int64),
    )


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------
def _check_method(method: str) -> None:
    from busmtl.weighting import WEIGHTERS

    if method not in WEIGHTERS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(WEIGHTERS)}")


def _data_dir(cfg: TrainConfig) -> Path:
    """``cfg.data_dir`` when given, else the profile's default dataset (``cfg.dataset``: BUSI
    when configured, else the phantoms), generated, prepared and split on first use."""
    if cfg.data_dir is not None:
        return Path(cfg.data_dir).expanduser()
    from busmtl.data.default import ensure_dataset

    return ensure_dataset(cfg.dataset, phantoms_n=cfg.phantoms_n, size=cfg.prepare_size, seed=0,
                          progress=cfg.progress)


def _loaders(datasets: dict[str, Dataset], cfg: TrainConfig) -> dict[str, DataLoader]:
    batch = cfg.effective_batch_size
    train_set = datasets["train"]
    # A last batch of one image breaks BatchNorm in training mode: drop it only then.
    drop_last = len(train_set) % batch == 1 and len(train_set) > 1
    common = dict(num_workers=cfg.num_workers, worker_init_fn=_seed_worker)
    loaders = {
        "train": DataLoader(
            train_set, batch_size=batch, shuffle=True, drop_last=drop_last,
            generator=torch.Generator().manual_seed(cfg.seed), **common,
        ),
        "val": DataLoader(datasets["val"], batch_size=batch, shuffle=False, **common),
        "test": DataLoader(datasets["test"], batch_size=batch, shuffle=False, **common),
    }
    for name, loader in loaders.items():
        if len(loader) == 0:
            raise ValueError(f"the {name} set of fold {cfg.fold} is empty: check the splits file")
    return loaders


def _num_classes(datasets: dict[str, Any]) -> int:
    return int(max(int(np.max(d.labels)) for d in datasets.values() if len(d.labels))) + 1


def train(config: TrainConfig, out_dir: str | Path) -> dict[str, Any]:
    """Train ``config.method`` on ``config.fold``, evaluate the best checkpoint, write the run
    folder ``out_dir`` and return the content of its ``metrics.json``.

    Raises ValueError (or :class:`busmtl.data.errors.DataError`) for bad settings or data,
    :class:`NonFiniteLossError` when a loss becomes NaN/inf.
    """
    cfg = copy.deepcopy(config)
    validate(cfg)
    _check_method(cfg.method)
    data_dir = _data_dir(cfg)
    cfg.data_dir = str(data_dir)  # recorded in config.json as resolved
    device = resolve_device(cfg.device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in ARTIFACTS:  # never leave a stale DONE beside a run being rewritten
        (out / name).unlink(missing_ok=True)
    with _torch_settings(device, cfg.num_threads):
        return _train(cfg, data_dir, device, out)


def _train(cfg: TrainConfig, data_dir: Path, device: torch.device, out: Path) -> dict[str, Any]:
    from busmtl.data.dataset import make_datasets
    from busmtl.data.prepare import dataset_identity
    from busmtl.models import SSCResNet
    from busmtl.weighting import get_weighter

    seed_everything(cfg.seed)
    datasets = make_datasets(
        data_dir, cfg.splits, cfg.fold, augment=cfg.augment, offline_copies=cfg.offline_copies,
        image_size=cfg.image_size, in_channels=cfg.in_channels, seed=cfg.seed,
    )
    write_json(out / "config.json", {
        "config": cfg.to_dict(),
        "data_identity": dataset_identity(data_dir),
        "busmtl_version": __version__,
        "git_commit": git_commit(),
        "torch_version": torch.__version__,
        "device": str(device),
    })
    loaders = _loaders(datasets, cfg)

    model = SSCResNet(
        encoder=cfg.encoder, encoder_weights=cfg.encoder_weights,
        num_classes=_num_classes(datasets), dropout=cfg.dropout,
        decoder_channels=cfg.decoder_channels, in_channels=cfg.in_channels,
    ).to(device)
    weighter = get_weighter(cfg.method, len(TASKS), **cfg.weighter).to(device)
    groups = [{"params": list(model.parameters())}]
    if weighter.network_parameters():
        groups.append({"params": list(weighter.network_parameters()), "weight_decay": 0.0})
    optimizer = torch.optim.Adam(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=cfg.lr_factor, patience=cfg.lr_patience
    )

    history_path = out / "history.csv"
    history: list[dict[str, float]] = []
    steps, epochs = Stopwatch(device), Stopwatch(device)
    best_value, best_epoch, best_state = math.inf, 0, None
    stale, stopped_early = 0, False
    show = _show_progress(cfg)
    reset_peak_memory(device)

    for epoch in range(1, cfg.epochs + 1):
        epochs.start()
        if hasattr(datasets["train"], "set_epoch"):
            datasets["train"].set_epoch(epoch)
        model.train()
        weighter.train()
        loss_sum = torch.zeros(len(TASKS), dtype=torch.float64)
        weight_sum = torch.zeros(len(TASKS), dtype=torch.float64)
        seen, n_steps, epoch_steps = 0, 0, []
        bar = tqdm(loaders["train"], desc=f"{cfg.method} fold {cfg.fold} epoch {epoch}/{cfg.epochs}",
                   leave=False, disable=not show)
        for step, (image, mask, label) in enumerate(bar, start=1):
            steps.start()
            image, mask, label = image.to(device), mask.to(device), label.to(device)
            seg_logits, cls_logits = model(image)
            losses = L.task_losses(seg_logits, cls_logits, mask, label)
            where = f"epoch {epoch}, step {step} (training)"
            _check_finite(losses.detach(), "loss", where, history_path)
            optimizer.zero_grad(set_to_none=True)
            weights = weighter.backward(losses, model)
            _check_finite(weights, "weight", where, history_path)
            optimizer.step()
            epoch_steps.append(steps.stop())
            loss_sum += losses.detach().double().cpu() * len(label)
            weight_sum += weights.detach().double().cpu()
            seen += len(label)
            n_steps += 1
            bar.set_postfix(seg=f"{losses[0].item():.3f}", cls=f"{losses[1].item():.3f}")
        bar.close()
        train_losses = loss_sum / seen
        # the weighter's state *during* this epoch (e.g. the temperature that produced w_seg/w_cls),
        # read before epoch_end prepares the next epoch
        extra = flatten_extra_state(weighter.extra_state())
        weighter.epoch_end(train_losses.to(torch.float32).to(device))

        val = evaluate(model, loaders["val"], device)
        _check_finite(torch.from_numpy(val.losses), "loss", f"epoch {epoch} (validation)",
                      history_path)
        val_mean = float(val.losses.mean())
        scheduler.step(val_mean)
        if val_mean < best_value:
            best_value, best_epoch, stale = val_mean, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        epoch_time = epochs.stop()

        mean_w = weight_sum / max(n_steps, 1)
        history.append({
            "epoch": epoch,
            "train_loss_seg": float(train_losses[0]), "train_loss_cls": float(train_losses[1]),
            "val_loss_seg": float(val.losses[0]), "val_loss_cls": float(val.losses[1]),
            "val_loss_mean": val_mean,
            "w_seg": float(mean_w[0]), "w_cls": float(mean_w[1]),
            **extra,
            "lr": float(optimizer.param_groups[0]["lr"]),
            "epoch_time_s": epoch_time,
            "step_time_ms_max": 1000.0 * max(epoch_steps),
            "step_time_ms_median": 1000.0 * float(np.median(epoch_steps)),
        })
        write_history(history, history_path)
        if stale >= cfg.early_stopping_patience:
            stopped_early = True
            break

    efficiency = efficiency_summary(steps, epochs, device)
    model.load_state_dict(best_state)
    if cfg.save_model:
        with atomic_path(out / "model.pt") as tmp:
            torch.save({"state_dict": best_state, "epoch": best_epoch, "config": cfg.to_dict()}, tmp)
    val = evaluate(model, loaders["val"], device)
    test = evaluate(model, loaders["test"], device)
    test_set = datasets["test"]
    with atomic_path(out / "predictions.npz") as tmp:
        np.savez_compressed(
            tmp,
            ids=np.array(test_set.ids, dtype=str),
            labels=test.labels,
            image=np.asarray(test_set.images_uint8, dtype=np.uint8),
            mask_true=test.mask_true,
            mask_prob=test.mask_prob,
            cls_prob=test.cls_prob.astype(np.float32),
        )
    result = {
        "test": test.metrics(),
        "val": val.metrics(),
        "efficiency": efficiency,
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "stopped_early": stopped_early,
    }
    write_json(out / "metrics.json", result)
    write_json(out / "DONE", {
        "run_hash": cfg.run_hash,
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "busmtl_version": __version__,
    })
    return result

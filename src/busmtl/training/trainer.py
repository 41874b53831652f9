"""Train a network with one loss-weighting method on one fold and evaluate it: :func:`train`.

The network is SSC-ResNet or the decoder-interaction network (``cfg.model``, :func:`build_model`);
the losses are the project's ``[L_seg, L_cls]`` or any named losses (:mod:`busmtl.losses`,
:class:`~busmtl.losses.LossSetup`): with the default settings every step is exactly the one
described below, and ``history.csv`` holds exactly the columns listed in DEVELOPERS.md. Other loss
settings feed the weighter K terms (``loss_terms``), may add DMF's decaying auxiliary term outside
the weighting, and add per-loss history columns (:func:`loss_columns`).

Protocol (the primary paper's; every value is a :class:`~busmtl.config.TrainConfig` setting):

1. Adam (lr ``cfg.lr``, 1e-4 in the paper) over the network's parameters plus the weighter's
   learnable ones (``weighter.network_parameters()``, e.g. UW's ``s_k``).
2. Each step is :func:`busmtl.training.step.train_step`: ``losses = [L_seg, L_cls]``
   (:mod:`busmtl.losses`), then the weighter forms ``sum_k w_k L_k`` (eq. 1 of the ATDWA paper),
   back-propagates it, and Adam steps.
3. After each epoch (:func:`train_epoch`): ``weighter.epoch_end`` with the batch-size-weighted
   mean training losses; validation losses; ``ReduceLROnPlateau`` and early stopping (patience
   ``cfg.early_stopping_patience``) on the mean of the two validation losses; the state with
   the lowest such mean is kept in memory ("best checkpoint").
4. The best checkpoint is evaluated on the validation and held-out test sets
   (:mod:`busmtl.training.metrics`) and the run folder is written (:mod:`busmtl.training.artifacts`).

``config.json`` is written first, ``history.csv`` after every epoch (so a failed run leaves a
readable partial log), ``DONE`` last; every file is written atomically.

An existing run folder is overwritten: its ``DONE`` marker is removed first, so the folder is
never marked complete while it is being rewritten. Only this run's own files are touched.

Reproducibility: ``torch``, ``numpy`` and ``random`` are seeded with ``cfg.seed``, the
training DataLoader draws its order from a seeded generator, online augmentation is seeded
per (seed, epoch, item), and on the CPU ``torch.use_deterministic_algorithms`` is on during
the run: the same settings, threads and precision give identical metrics. Nothing depends on
the epoch cap, so the first epochs of a long run equal a short run's (the drift test uses it).
"""

from __future__ import annotations

import copy
import math
import os
import random
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from busmtl import TASKS
from busmtl import losses as L
from busmtl.config import TrainConfig, validate
from busmtl.io import atomic_path, write_json
from busmtl.runs import marker
from busmtl.runs.lock import RunLock
from busmtl.training import artifacts, isa
from busmtl.training.efficiency import (
    Stopwatch,
    efficiency_summary,
    memory_now_mb,
    reset_peak_memory,
)
from busmtl.training.metrics import all_metrics
from busmtl.training.step import (
    Batch,
    NonFiniteLossError,
    StepLosses,
    check_finite,
    network_outputs,
    resolve_precision,
    torch_settings,
    train_step,
)
from busmtl.weighting import check_method

__all__ = ["Evaluation", "NonFiniteLossError", "evaluate", "resolve_device", "train"]


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> ``cuda`` when available else ``cpu``; anything else as given (checked)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device {name!r} is not a device: use auto, cpu, cuda or cuda:N") from None
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
def evaluate(model: torch.nn.Module, loader: DataLoader, device: torch.device,
             precision: str = "fp32", channels_last: bool = False,
             loss_setup: L.LossSetup | None = None) -> Evaluation:
    """Losses and predictions of ``model`` (in eval mode) over ``loader``, in dataset order.

    The losses are the task losses ``[L_seg, L_cls]`` of ``loss_setup`` (default: the project's
    Dice + BCE and CE); an auxiliary loss is not part of them."""
    setup = loss_setup or L.LossSetup()
    model.eval()
    total, count = torch.zeros(len(TASKS), dtype=torch.float64), 0
    masks, probs, cls_probs, labels_all = [], [], [], []
    for image, mask, label in loader:
        batch = Batch(image, mask, label).to(device, channels_last)
        seg_logits, cls_logits = network_outputs(model, batch, device, precision)
        losses = setup.compute(seg_logits, cls_logits, batch.mask, batch.label).tasks
        total += losses.detach().double().cpu() * len(batch)
        count += len(batch)
        probs.append(torch.round(255 * torch.sigmoid(seg_logits[:, 0])).to(torch.uint8).cpu())
        cls_probs.append(torch.softmax(cls_logits, dim=1).float().cpu())
        masks.append((batch.mask[:, 0] > 0.5).to(torch.uint8).cpu())
        labels_all.append(batch.label.cpu())
    return Evaluation(
        losses=(total / max(count, 1)).numpy(),
        mask_prob=torch.cat(probs).numpy(),
        cls_prob=torch.cat(cls_probs).numpy(),
        mask_true=torch.cat(masks).numpy(),
        labels=torch.cat(labels_all).numpy().astype(np.int64),
    )


# --------------------------------------------------------------------------------------------
# setting up a run
# --------------------------------------------------------------------------------------------
def check_output(out: Path, data_dir: Path | None = None) -> None:
    """A run may be written into ``out`` only when it is new, empty or a run folder (nothing
    in it but a run's own files, :data:`busmtl.training.artifacts.ARTIFACTS`, and the hidden
    lock and temporary files), and, once ``data_dir`` is known, never into the data it trains
    on (UserError)."""
    from busmtl.errors import UserError

    if data_dir is not None:
        target, data = out.resolve(), Path(data_dir).resolve()
        if target == data or target.is_relative_to(data):
            raise UserError(f"--out {out} is the data folder {data_dir} or inside it: a run "
                            "would write among the data; give a new folder, e.g. runs/<name>")
    if not out.is_dir():
        return
    foreign = sorted(p.name for p in out.iterdir()
                     if p.name not in artifacts.ARTIFACTS and not p.name.startswith("."))
    if foreign:
        shown = ", ".join(foreign[:4]) + (", ..." if len(foreign) > 4 else "")
        raise UserError(f"--out {out} holds files that are not a run's ({shown}): give a new or "
                        "empty folder; nothing was written")


def _data_dir(cfg: TrainConfig) -> Path:
    """``cfg.data_dir`` when given, else the profile's default dataset (``cfg.dataset``: BUSI
    when configured, else the phantoms), generated, prepared and split on first use."""
    if cfg.data_dir is not None:
        return Path(cfg.data_dir).expanduser()
    from busmtl.data.default import ensure_dataset

    return ensure_dataset(cfg.dataset, phantoms_n=cfg.phantoms_n, size=cfg.prepare_size, seed=0,
                          progress=cfg.progress, split_group=cfg.split_group)


def _loaders(datasets: dict[str, Dataset], cfg: TrainConfig) -> dict[str, DataLoader]:
    batch = cfg.effective_batch_size
    train_set = datasets["train"]
    # A last batch of one image breaks BatchNorm in training mode: drop it only then.
    drop_last = len(train_set) % batch == 1 and len(train_set) > 1
    common = {"num_workers": cfg.num_workers, "worker_init_fn": _seed_worker}
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


def build_model(cfg: TrainConfig, num_classes: int) -> torch.nn.Module:
    """The network ``cfg.model`` as ``cfg`` describes it (encoder, weights, decoder widths,
    dropout scope; the interaction network's module switches)."""
    from busmtl.models import InteractionNet, SSCResNet, check_model

    common: dict[str, Any] = {
        "encoder": cfg.encoder, "encoder_weights": cfg.encoder_weights,
        "num_classes": num_classes, "dropout": cfg.dropout,
        "decoder_channels": cfg.decoder_channels, "in_channels": cfg.in_channels,
        "decoder_dropout": cfg.dropout if cfg.dropout_scope == "network" else 0.0,
    }
    if check_model(cfg.model) == "interaction":
        on = set(cfg.interaction_modules)
        return InteractionNet(**common, tim="tim" in on, upa="upa" in on, hmsf="hmsf" in on,
                              attention_gates="attention_gates" in on)
    return SSCResNet(**common)


def weighter_settings(cfg: TrainConfig) -> dict[str, Any]:
    """The weighter's hyper-parameters for this run: ``cfg.weighter``, plus ``lr = cfg.lr`` for a
    weighter with its own learning rate (GradNorm) when none is given: its weights then learn at
    the network's rate, as in Chen et al., where they are trained alongside the network. A
    gradient-balancing weighter's ``jacobian`` is always recorded (parameters or representation)."""
    from busmtl.weighting import hyperparameters

    settings = dict(cfg.weighter)
    valid = hyperparameters(cfg.method)
    if "lr" in valid and "lr" not in settings:
        settings["lr"] = cfg.lr
    if "jacobian" in valid and "jacobian" not in settings:  # which Jacobian a gradient method used
        settings["jacobian"] = valid["jacobian"]
    return settings


@dataclass
class Session:
    """Everything one run trains with."""

    cfg: TrainConfig
    device: torch.device
    precision: str
    datasets: dict[str, Any]
    loaders: dict[str, DataLoader]
    model: torch.nn.Module
    weighter: Any
    optimizer: torch.optim.Optimizer
    scheduler: Any
    history_path: Path
    loss_setup: L.LossSetup = field(default_factory=L.LossSetup)
    #: Optimizer steps taken so far (``t`` of the auxiliary loss's ``gamma(t)``).
    global_step: int = 0
    steps: Stopwatch = field(init=False)
    epochs: Stopwatch = field(init=False)

    def __post_init__(self) -> None:
        self.steps, self.epochs = Stopwatch(self.device), Stopwatch(self.device)

    def evaluate(self, part: str) -> Evaluation:
        return evaluate(self.model, self.loaders[part], self.device, self.precision,
                        self.cfg.channels_last, self.loss_setup)


def build_session(cfg: TrainConfig, data_dir: Path, device: torch.device, precision: str,
                  out: Path) -> Session:
    """Seed, load the fold, write ``config.json``, build the model, weighter and optimiser."""
    from busmtl.data.dataset import make_datasets
    from busmtl.data.prepare import dataset_identity
    from busmtl.data.splits import run_split_path
    from busmtl.weighting import get_weighter

    cfg.weighter = weighter_settings(cfg)  # recorded in config.json as used
    seed_everything(cfg.seed)
    datasets = make_datasets(
        data_dir, run_split_path(data_dir, cfg.splits, cfg.split_group), cfg.fold, augment=cfg.augment, offline_copies=cfg.offline_copies,
        image_size=cfg.image_size, in_channels=cfg.in_channels, seed=cfg.seed,
    )
    prov = artifacts.provenance(device, precision, cfg.channels_last, torch.get_num_threads())
    artifacts.write_config(out, cfg.to_dict(), dataset_identity(data_dir), prov)
    loaders = _loaders(datasets, cfg)
    model = build_model(cfg, _num_classes(datasets)).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    loss_setup = L.LossSetup.from_config(cfg)
    weighter = get_weighter(cfg.method, loss_setup.num_terms, **cfg.weighter).to(device)
    groups = [{"params": list(model.parameters())}]
    if weighter.network_parameters():
        groups.append({"params": list(weighter.network_parameters()), "weight_decay": 0.0})
    optimizer = torch.optim.Adam(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=cfg.lr_factor, patience=cfg.lr_patience
    )
    return Session(cfg, device, precision, datasets, loaders, model, weighter, optimizer,
                   scheduler, out / "history.csv", loss_setup)


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------
@dataclass
class EpochResult:
    """Mean training losses and applied weights of one epoch, and its step times (s).

    ``losses``/``weights``: the K weighter terms; ``tasks``/``task_weights``: ``[L_seg, L_cls]``
    and ``[w_seg, w_cls]`` (the same tensors as ``losses``/``weights`` with the default losses);
    ``named``: every named loss (empty with the default losses); ``aux_gamma``/``aux_loss``:
    mean ``gamma(t)`` and mean unscaled auxiliary loss (``None`` without one)."""

    losses: torch.Tensor  # (K,) float64, batch-size-weighted
    weights: torch.Tensor  # (K,) float64, mean over steps
    step_times: list[float]
    tasks: torch.Tensor | None = None  # (2,) float64, batch-size-weighted
    task_weights: torch.Tensor | None = None  # (2,) float64, mean over steps
    named: dict[str, float] = field(default_factory=dict)
    aux_gamma: float | None = None
    aux_loss: float | None = None

    def __post_init__(self) -> None:
        if self.tasks is None:
            self.tasks = self.losses
        if self.task_weights is None:
            self.task_weights = self.weights


@dataclass
class _EpochSums:
    """Running sums of one training epoch: batch-size-weighted losses, per-step weights, and,
    with named losses, the task losses, every named loss and the auxiliary term."""

    setup: L.LossSetup
    terms: torch.Tensor
    weights: torch.Tensor
    tasks: torch.Tensor
    task_weights: torch.Tensor
    named: dict[str, float]
    gamma: float = 0.0
    aux: float = 0.0
    seen: int = 0

    @classmethod
    def start(cls, setup: L.LossSetup) -> _EpochSums:
        k, t = setup.num_terms, len(TASKS)
        return cls(setup, torch.zeros(k, dtype=torch.float64), torch.zeros(k, dtype=torch.float64),
                   torch.zeros(t, dtype=torch.float64), torch.zeros(t, dtype=torch.float64),
                   dict.fromkeys(setup.loss_names, 0.0))

    def add(self, terms: torch.Tensor, weights: torch.Tensor, n: int, values: L.LossValues,
            gamma: float = 0.0) -> None:
        """One step of ``n`` images (``values``: the losses' record of the step)."""
        self.terms += terms.double().cpu() * n
        self.weights += weights.double().cpu()
        self.tasks += values.tasks.detach().double().cpu() * n
        self.task_weights += self.setup.task_weights(weights.double().cpu())
        for name, value in values.named.items():
            self.named[name] += float(value.detach()) * n
        if values.aux is not None:
            self.gamma += gamma
            self.aux += float(values.aux.detach()) * n
        self.seen += n

    def result(self, times: list[float]) -> EpochResult:
        steps = max(len(times), 1)
        if self.setup.is_default:
            return EpochResult(self.terms / self.seen, self.weights / steps, times)
        has_aux = self.setup.aux_loss is not None
        return EpochResult(
            self.terms / self.seen, self.weights / steps, times, self.tasks / self.seen,
            self.task_weights / steps, {k: v / self.seen for k, v in self.named.items()},
            self.gamma / steps if has_aux else None, self.aux / self.seen if has_aux else None,
        )


def batch_terms(s: Session, batch: Batch, gamma: float,
                record: dict[str, L.LossValues]) -> StepLosses:
    """The K weighter terms of ``s.loss_setup`` on ``batch`` and the outside term
    ``gamma * L_a`` (``None`` without an auxiliary loss); the batch's :class:`LossValues` are
    left in ``record["values"]`` for the log."""
    seg_logits, cls_logits = network_outputs(s.model, batch, s.device, s.precision)
    values = s.loss_setup.compute(seg_logits, cls_logits, batch.mask, batch.label)
    record["values"] = values
    outside = gamma * values.aux if values.aux is not None and gamma > 0 else None
    return StepLosses(values.term_parts, outside)


def train_epoch(s: Session, epoch: int, show_progress: bool = False) -> EpochResult:
    """One pass over the training set with :func:`busmtl.training.step.train_step`.

    The weighter sees the K terms of ``s.loss_setup`` (:func:`batch_terms`): with the default
    losses ``[L_seg, L_cls]`` (Dice + BCE, CE), computed with the same operations in the same
    order as the committed reference runs; a decaying auxiliary term, where there is one, is
    added outside the weighting."""
    cfg, setup = s.cfg, s.loss_setup
    if hasattr(s.datasets["train"], "set_epoch"):
        s.datasets["train"].set_epoch(epoch)
    s.model.train()
    s.weighter.train()
    sums, times = _EpochSums.start(setup), []
    bar = tqdm(s.loaders["train"], desc=f"{cfg.method} fold {cfg.fold} epoch {epoch}/{cfg.epochs}",
               leave=False, disable=not show_progress)
    hint = f"The log of the finished epochs is in {s.history_path}."
    for step, (image, mask, label) in enumerate(bar, start=1):
        s.steps.start()
        batch = Batch(image, mask, label).to(s.device, cfg.channels_last)
        record: dict[str, L.LossValues] = {}
        gamma = setup.aux_gamma(s.global_step, epoch - 1)
        terms, weights = train_step(
            s.model, s.weighter, s.optimizer, partial(batch_terms, s, batch, gamma, record),
            where=f"epoch {epoch}, step {step} (training)", hint=hint, names=setup.term_names,
        )
        times.append(s.steps.stop())
        s.global_step += 1
        values = record["values"]
        sums.add(terms, weights, len(batch), values, gamma)
        tasks = values.tasks.detach()
        bar.set_postfix(seg=f"{float(tasks[0]):.3f}", cls=f"{float(tasks[1]):.3f}")
    bar.close()
    return sums.result(times)


def loss_columns(setup: L.LossSetup, result: EpochResult) -> dict[str, float]:
    """History columns of the named losses (none with the default losses): ``train_loss_<name>``
    for every named loss (e.g. ``train_loss_seg_dice``, unscaled), ``w_<term>`` for every
    weighter term in ``"losses"`` mode, ``aux_gamma`` (mean ``gamma(t)`` of the epoch) and
    ``train_loss_aux`` (mean unscaled ``L_a``) with an auxiliary loss."""
    if setup.is_default:
        return {}
    row = {f"train_loss_{name}": float(value) for name, value in result.named.items()}
    if setup.loss_terms == "losses":
        row.update({f"w_{name}": float(w) for name, w in zip(setup.term_names, result.weights)})
    if result.aux_gamma is not None:
        row["aux_gamma"] = float(result.aux_gamma)
        row["train_loss_aux"] = float(result.aux_loss)
    return row


@dataclass
class FitResult:
    best_state: dict[str, torch.Tensor]
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    baseline_mb: float


def fit(s: Session, on_epoch: Callable[[list[dict[str, float]]], None] | None = None) -> FitResult:
    """Train up to ``cfg.epochs`` epochs with validation, LR schedule and early stopping; write
    ``history.csv`` after every epoch; keep the best state (lowest mean validation loss)."""
    cfg = s.cfg
    history: list[dict[str, float]] = []
    best_value, best_epoch, best_state = math.inf, 0, None
    stale, stopped_early = 0, False
    show = _show_progress(cfg)
    reset_peak_memory(s.device)
    baseline = memory_now_mb(s.device)
    for epoch in range(1, cfg.epochs + 1):
        s.epochs.start()
        result = train_epoch(s, epoch, show)
        # the weighter's state *during* this epoch (e.g. the temperature that produced the
        # weights), read before epoch_end prepares the next epoch
        names = None if s.loss_setup.loss_terms == "tasks" else s.loss_setup.term_names
        extra = artifacts.flatten_extra_state(s.weighter.extra_state(), names)
        s.weighter.epoch_end(result.losses.to(torch.float32).to(s.device))
        val = s.evaluate("val")
        check_finite(torch.from_numpy(val.losses), "loss", f"epoch {epoch} (validation)",
                     f"The log of the finished epochs is in {s.history_path}.")
        val_mean = float(val.losses.mean())
        s.scheduler.step(val_mean)
        if val_mean < best_value:
            best_value, best_epoch, stale = val_mean, epoch, 0
            best_state = {k: v.detach().clone() for k, v in s.model.state_dict().items()}
        else:
            stale += 1
        epoch_time = s.epochs.stop()
        history.append({
            "epoch": epoch,
            "train_loss_seg": float(result.tasks[0]), "train_loss_cls": float(result.tasks[1]),
            "val_loss_seg": float(val.losses[0]), "val_loss_cls": float(val.losses[1]),
            "val_loss_mean": val_mean,
            "w_seg": float(result.task_weights[0]), "w_cls": float(result.task_weights[1]),
            **loss_columns(s.loss_setup, result),
            **extra,
            "lr": float(s.optimizer.param_groups[0]["lr"]),
            "epoch_time_s": epoch_time,
            "step_time_ms_max": 1000.0 * max(result.step_times),
            "step_time_ms_median": 1000.0 * float(np.median(result.step_times)),
        })
        artifacts.write_history(history, s.history_path)
        if on_epoch is not None:
            on_epoch(history)
        if stale >= cfg.early_stopping_patience:
            stopped_early = True
            break
    assert best_state is not None
    return FitResult(best_state, best_epoch, len(history), stopped_early, baseline)


def write_results(s: Session, fit_result: FitResult, out: Path) -> dict[str, Any]:
    """Evaluate the best checkpoint and write ``model.pt``, ``predictions.npz``,
    ``per_image.csv``, ``metrics.json`` and, last, ``DONE``; return the metrics."""
    cfg = s.cfg
    efficiency = efficiency_summary(s.steps, s.epochs, s.device, fit_result.baseline_mb)
    s.model.load_state_dict(fit_result.best_state)
    if cfg.save_model:
        with atomic_path(out / "model.pt") as tmp:
            torch.save({"state_dict": fit_result.best_state, "epoch": fit_result.best_epoch,
                        "config": cfg.to_dict(),
                        "image_size": int(s.datasets["train"].image_size)}, tmp)
    val, test = s.evaluate("val"), s.evaluate("test")
    test_set = s.datasets["test"]
    artifacts.write_predictions(out, test_set.ids, test_set.images_uint8, test.labels,
                                test.mask_true, test.mask_prob, test.cls_prob,
                                artifacts.sample_indices(test.labels))
    artifacts.write_per_image(out, artifacts.per_image_table(
        test_set.ids, test.labels, test.mask_true, test.mask_prob, test.cls_prob))
    result = {
        "test": test.metrics(),
        "val": val.metrics(),
        "efficiency": efficiency,
        "best_epoch": fit_result.best_epoch,
        "epochs_run": fit_result.epochs_run,
        "stopped_early": fit_result.stopped_early,
    }
    write_json(out / "metrics.json", result)
    marker.write(out, cfg.run_hash)
    return result


def check_inputs(cfg: TrainConfig, data_dir: Path) -> None:
    """Everything a run needs, checked before anything is written: the split file and the fold,
    both classes in the fold's training images, the weighter and its settings (ValueError or
    :class:`~busmtl.data.errors.DataError` naming the value and what to do)."""
    from busmtl.data.errors import DataError
    from busmtl.data.prepare import read_index
    from busmtl.data.splits import load_splits, run_split_path
    from busmtl.weighting import get_weighter

    splits = load_splits(run_split_path(data_dir, cfg.splits, cfg.split_group), data_dir)
    fold = splits.fold(int(cfg.fold))
    classes = {row["id"]: row["class"] for row in read_index(data_dir)}
    seen = {classes[i] for i in fold.train if i in classes}
    if len(seen) < 2:
        raise DataError(f"fold {cfg.fold} of {data_dir} trains on one class only "
                        f"({', '.join(sorted(seen)) or 'none'}): a classifier needs both; "
                        "prepare a dataset with benign/ and malignant/ images")
    get_weighter(cfg.method, L.LossSetup.from_config(cfg).num_terms, **weighter_settings(cfg))


def replace_folder(new: Path, out: Path) -> None:
    """Put the finished run ``new`` in the place of the finished run ``out``: two renames within
    one folder, the old run removed only once the new one is in place."""
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    out.rename(old)
    new.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def train(config: TrainConfig, out_dir: str | Path, replace: bool = False) -> dict[str, Any]:
    """Train ``config.method`` on ``config.fold``, evaluate the best checkpoint, write the run
    folder ``out_dir`` and return the content of its ``metrics.json``.

    Every input is checked before anything is written (:func:`check_inputs`). A folder that
    holds a finished run (``DONE``) is only replaced with ``replace=True`` (``busmtl train
    --force``; the sweep passes it for the stale runs it re-makes), and then the new run is
    written beside it and swapped in at the end: a failed or killed re-run leaves the old run
    as it was. ``precision="auto"`` is resolved here
    (:func:`busmtl.training.step.resolve_precision`) and recorded as resolved in
    ``config.json``. Raises ValueError, :class:`~busmtl.errors.UserError` or
    :class:`busmtl.data.errors.DataError` for bad settings, data or output folder,
    :class:`~busmtl.training.step.NonFiniteLossError` when a loss becomes NaN/inf.
    """
    from busmtl.errors import UserError

    cfg = copy.deepcopy(config)
    validate(cfg)
    check_method(cfg.method)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder: give a folder for the run")
    finished = marker.exists(out)
    if finished and not replace:
        raise UserError(f"--out {out} holds a finished run: give another folder, or add --force "
                        "to replace it (the old run stays until the new one has finished)")
    # before the default dataset may be made (a given data folder is checked at once)
    check_output(out, Path(cfg.data_dir).expanduser() if cfg.data_dir is not None else None)
    data_dir = _data_dir(cfg)
    cfg.data_dir = str(data_dir)  # recorded in config.json as resolved
    device = resolve_device(cfg.device)
    cfg.device = str(device)  # recorded in config.json as resolved, like the precision
    cfg.precision = resolve_precision(cfg.precision, device, cfg.model)
    if device.type == "cpu":
        isa.check(cfg.cpu_isa)
    check_inputs(cfg, data_dir)
    check_output(out, data_dir)
    out.mkdir(parents=True, exist_ok=True)
    with RunLock(out):  # one writer per run folder (busmtl.runs.lock)
        target = out.with_name(f".{out.name}.new-{os.getpid()}") if finished else out
        if finished:
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
        else:
            artifacts.clear(out)  # never leave a stale DONE beside a run being rewritten
        try:
            with torch_settings(device, cfg.num_threads):
                session = build_session(cfg, data_dir, device, cfg.precision, target)
                result = write_results(session, fit(session), target)
        except BaseException:
            if finished:
                shutil.rmtree(target, ignore_errors=True)
            raise
        if finished:
            replace_folder(target, out)
        return result

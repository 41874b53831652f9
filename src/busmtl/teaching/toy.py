"""A toy two-task problem for watching loss weighters react: one network, one training loop.

The book's methods chapter, the weighting lab and the weighter tests all use this module, so a
student sees the same toy everywhere. It mimics the shape of the real problem, not its scale:

* a shared encoder (two small ``Linear`` + ``tanh`` layers) with one head per task, exposing the
  parameter groups every weighter expects (:class:`busmtl.weighting.base.SharedModel`);
* task 0 stands in for **segmentation**: a regression whose loss is large and falls slowly
  (its size is set by ``seg_scale``);
* task 1 stands in for **classification**: a two-class problem whose loss is small and falls
  fast;
* optionally one task's loss is **noisy** from epoch to epoch: in every epoch it is multiplied
  by a random factor ``exp(noise * z_e)``, ``z_e ~ N(0, 1)``, as if each epoch drew batches of
  a different difficulty. The weighter sees (and back-propagates) the scaled loss.

:func:`simulate` trains the network with a weighter through :func:`busmtl.training.step.train_step`, the
same step the real trainer uses, and returns one row per step. It runs on one CPU thread in well
under a second for the default 300 steps, so every call is cheap enough for a laptop.

>>> from busmtl.teaching.toy import simulate
>>> frame = simulate("atdwa", noise=0.5)                  # doctest: +SKIP
>>> frame.groupby("epoch")[["w_seg", "w_cls", "temperature"]].mean()  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from busmtl import TASKS
from busmtl.models.representation import KeepsRepresentation
from busmtl.training.step import torch_settings, train_step
from busmtl.weighting import get_weighter
from busmtl.weighting.base import Weighter

#: Display names of the toy's tasks (index 0, index 1), as in the real problem.
TASK_NAMES: dict[str, str] = {"seg": "segmentation", "cls": "classification"}

#: The toy's own settings of some weighters. Small loss memories for the DMF weighters, so that
#: they leave their warm-up within the toy's few hundred steps (the real runs use a memory of
#: 100 steps and a warm-up of 50). Nash-MTL solves its bargaining problem only once every few
#: steps and reuses that solution in between (torchjd's ``update_weights_every``): each solve costs
#: tens of milliseconds in cvxpy, which on the tiny toy made this one method cost as much as
#: all the others together; the real runs solve on every step.
TOY_HYPERPARAMETERS: dict[str, dict[str, int]] = {
    "dmf_var": {"history": 40, "warmup": 10},
    "dmf_mad": {"history": 40, "warmup": 10},
    "dmf_bayes": {"history": 40, "warmup": 10},
    "nash_mtl": {"update_weights_every": 5},
}


class ToyMTL(KeepsRepresentation):
    """Shared two-layer encoder, a regression head (task 0) and a two-class head (task 1)."""

    def __init__(self, d_in: int = 6, d_hidden: int = 8) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d_in, d_hidden), nn.Tanh(),
                                     nn.Linear(d_hidden, d_hidden), nn.Tanh())
        self.seg_head = nn.Linear(d_hidden, 1)
        self.cls_head = nn.Linear(d_hidden, 2)
        self.watch_representation(self.encoder)

    def shared_parameters(self) -> Iterable[nn.Parameter]:
        """The encoder's parameters (shared by both tasks)."""
        return self.encoder.parameters()

    def last_shared_parameters(self) -> list[nn.Parameter]:
        """The last shared layer (GradNorm measures the task gradients there)."""
        return [self.encoder[2].weight]

    def loss_terms(self, x: torch.Tensor, y_seg: torch.Tensor,
                   y_cls: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(L_seg, L_cls)``: mean squared error of the regression, cross-entropy of the
        classes, as separate scalars."""
        z = self.encoder(x)
        seg = nn.functional.mse_loss(self.seg_head(z).squeeze(-1), y_seg)
        cls = nn.functional.cross_entropy(self.cls_head(z), y_cls)
        return seg, cls

    def losses(self, x: torch.Tensor, y_seg: torch.Tensor, y_cls: torch.Tensor) -> torch.Tensor:
        """``[L_seg, L_cls]`` (:meth:`loss_terms` stacked)."""
        return torch.stack(self.loss_terms(x, y_seg, y_cls))


def toy_batch(seed: int = 0, n: int = 16) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A random batch for :class:`ToyMTL` with its default sizes (used by the weighter tests)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    return x, 3.0 * torch.randn(n, generator=g), torch.randint(0, 2, (n,), generator=g)


@dataclass(frozen=True)
class ToyData:
    """Inputs ``x`` (N, 8), regression targets ``y_seg`` (N,) and classes ``y_cls`` (N,)."""

    x: torch.Tensor
    y_seg: torch.Tensor
    y_cls: torch.Tensor


def make_data(n: int = 256, seg_scale: float = 3.0, seed: int = 0) -> ToyData:
    """The toy's data set: ``y_seg = seg_scale * (x_1 + ... + x_4 + 0.5 eps)`` (so the
    regression loss starts near ``4.25 seg_scale**2`` and cannot fall below ``0.25
    seg_scale**2``) and ``y_cls = [x_5 > 0]``."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y_seg = seg_scale * (x[:, :4].sum(1) + 0.5 * torch.randn(n, generator=g))
    y_cls = (x[:, 4] > 0).long()
    return ToyData(x, y_seg, y_cls)


def noise_factors(epochs: int, noise: float, seed: int = 0) -> torch.Tensor:
    """Per epoch, the factor ``exp(noise * z_e)`` that multiplies the noisy task's loss
    (all ones when ``noise = 0``)."""
    if noise == 0:
        return torch.ones(epochs)
    g = torch.Generator().manual_seed(10_000 + seed)
    return torch.exp(noise * torch.randn(epochs, generator=g))


def simulate(
    method: str | Weighter,
    epochs: int = 30,
    steps: int = 10,
    seed: int = 0,
    *,
    noise: float = 0.0,
    noisy_task: str = "seg",
    seg_scale: float = 3.0,
    net_lr: float = 3e-3,
    batch_size: int = 32,
    **hparams: float,
) -> pd.DataFrame:
    """Train the toy with a weighter for ``epochs`` x ``steps`` steps; one row per step.

    ``method``: a registered name (built with ``hparams``; the DMF rules get the small memory of
    :data:`TOY_HYPERPARAMETERS` unless given) or a :class:`~busmtl.weighting.base.Weighter`
    instance (e.g. one you are writing, not yet registered). ``noise`` > 0 makes ``noisy_task``
    (``"seg"`` or ``"cls"``) noisy from epoch to epoch (see the module docstring).

    Columns: ``epoch``, ``step``, ``loss_seg``, ``loss_cls`` (the losses the weighter saw),
    ``w_seg``, ``w_cls`` (the weights it applied) and ``temperature`` (the softmax temperature
    of the epoch for DWA and ATDWA, else NaN). Runs on one CPU thread and is deterministic.
    """
    if noisy_task not in TASKS:
        raise ValueError(f"noisy_task must be one of {', '.join(TASKS)}, got {noisy_task!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    if isinstance(method, Weighter):
        weighter = method
        if hparams:
            raise ValueError("hyper-parameters go to the weighter you built, not to simulate()")
    else:
        weighter = get_weighter(method, len(TASKS), **{**TOY_HYPERPARAMETERS.get(method, {}),
                                                      **hparams})
    data = make_data(seg_scale=seg_scale, seed=seed)
    factors = noise_factors(epochs, noise, seed)
    noisy = TASKS.index(noisy_task)
    rows: list[dict[str, float]] = []
    with torch_settings(torch.device("cpu"), num_threads=1):
        torch.manual_seed(seed)
        model = ToyMTL(d_in=8, d_hidden=16)
        optimizer = torch.optim.Adam(list(model.parameters()) + weighter.network_parameters(),
                                     lr=net_lr)
        g = torch.Generator().manual_seed(seed + 1)
        for epoch in range(epochs):
            scale = torch.ones(len(TASKS))
            scale[noisy] = factors[epoch]
            temperature = weighter.extra_state().get("temperature", math.nan)
            totals = torch.zeros(len(TASKS))
            for step in range(steps):
                idx = torch.randint(0, len(data.x), (batch_size,), generator=g)
                batch = (data.x[idx], data.y_seg[idx], data.y_cls[idx])
                losses, weights = train_step(
                    model, weighter, optimizer,
                    lambda batch=batch, scale=scale: scale * model.losses(*batch),
                    where=f"toy epoch {epoch} step {step}")
                totals += losses
                rows.append({"epoch": epoch, "step": epoch * steps + step,
                             "loss_seg": float(losses[0]), "loss_cls": float(losses[1]),
                             "w_seg": float(weights[0]), "w_cls": float(weights[1]),
                             "temperature": float(temperature)})
            weighter.epoch_end(totals / steps)
    return pd.DataFrame(rows)


def per_epoch(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean losses, weights and temperature of each epoch of a :func:`simulate` frame."""
    return frame.drop(columns="step").groupby("epoch").mean()


__all__ = ["TASK_NAMES", "TOY_HYPERPARAMETERS", "ToyData", "ToyMTL", "make_data",
           "noise_factors", "per_epoch", "simulate", "toy_batch"]

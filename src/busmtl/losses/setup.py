"""Which losses a run optimises, and how they reach the weighter: :class:`LossSetup`.

The segmentation task may be trained with several named losses (``seg_losses``), the
classification task with one (``cls_loss``). ``loss_terms`` decides what the weighter sees:

``"tasks"`` (default)
    K = 2 terms, ``[L_seg, L_cls]`` with ``L_seg = sum_j c_j L_j`` over the segmentation losses
    (``c_j`` the optional factor of ``"name:c"``): the project's multi-task setting. With the
    defaults (``dice``, ``bce``; ``ce``) this is exactly :func:`busmtl.losses.task_losses`.
``"losses"``
    K = len(seg_losses) + 1 terms, ``[c_1 L_1, ..., c_J L_J, L_cls]``: every named loss is its own
    term, so a weighter weighs the K losses of one task (DMF's setting, Golnari & Diba eq. 1)
    together with the other task's loss.

An auxiliary segmentation loss ``L_a`` (``aux_loss``) is added outside the weighting, scaled by
DMF's decaying factor (eq. 2)::

    L = sum_k w_k L_k + gamma(t) L_a,      gamma(t) = gamma0 exp(-tau t)

with ``t`` the number of optimizer steps taken before this step (``aux_schedule="step"``) or the
number of finished epochs (``"epoch"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from busmtl.losses._common import check_shapes
from busmtl.losses.registry import (
    CLS_LOSSES,
    DEFAULT_SEG_LOSSES,
    SEG_LOSSES,
    parse_seg_entry,
)

#: What the weighter sees: the two task losses, or every named loss.
LOSS_TERMS: tuple[str, ...] = ("tasks", "losses")
#: What ``t`` of ``gamma(t)`` counts.
AUX_SCHEDULES: tuple[str, ...] = ("step", "epoch")
#: Defaults of the decaying auxiliary factor (DMF eq. 2; the authors' demo code's defaults).
AUX_GAMMA0: float = 1.0
AUX_TAU: float = 0.05


@dataclass
class LossValues:
    """The losses of one batch (all with grad).

    ``named``: every named loss, unscaled, keyed ``seg_<name>`` / ``cls_<name>``;
    ``tasks``: ``[L_seg, L_cls]``; ``terms``: the K terms the weighter sees, stacked;
    ``term_parts``: the same K terms as separate scalars (what the trainer hands the weighter);
    ``aux``: the auxiliary loss ``L_a`` (unscaled) or ``None``.
    """

    named: dict[str, torch.Tensor]
    tasks: torch.Tensor
    term_parts: tuple[torch.Tensor, ...]
    aux: torch.Tensor | None = None

    @property
    def terms(self) -> torch.Tensor:
        """The K weighter terms stacked, ``[L_1, ..., L_K]``."""
        return torch.stack(self.term_parts)


@dataclass(frozen=True)
class LossSetup:
    """The loss settings of a run (the ``TrainConfig`` fields of the same names)."""

    seg_losses: tuple[str, ...] = DEFAULT_SEG_LOSSES
    cls_loss: str = "ce"
    loss_terms: str = "tasks"
    aux_loss: str | None = None
    aux_gamma0: float = AUX_GAMMA0
    aux_tau: float = AUX_TAU
    aux_schedule: str = "step"

    def __post_init__(self) -> None:
        object.__setattr__(self, "seg_losses", tuple(self.seg_losses))
        self.validate()

    @classmethod
    def from_config(cls, cfg: Any) -> LossSetup:
        """The setup of a :class:`busmtl.config.TrainConfig`."""
        return cls(seg_losses=tuple(cfg.seg_losses), cls_loss=cfg.cls_loss,
                   loss_terms=cfg.loss_terms, aux_loss=cfg.aux_loss,
                   aux_gamma0=cfg.aux_gamma0, aux_tau=cfg.aux_tau,
                   aux_schedule=cfg.aux_schedule)

    def validate(self) -> None:
        """ValueError naming the bad value and the valid ones."""
        if not self.seg_losses:
            raise ValueError(
                f"seg_losses is empty; name at least one of: {', '.join(SEG_LOSSES)}"
            )
        names = [parse_seg_entry(e)[0] for e in self.seg_losses]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(
                f"seg_losses names {', '.join(repeated)} more than once ({','.join(self.seg_losses)}); "
                "name each loss once (a factor goes after a colon, e.g. boundary:0.25)"
            )
        if self.cls_loss not in CLS_LOSSES:
            raise ValueError(
                f"unknown classification loss {self.cls_loss!r}; valid: {', '.join(CLS_LOSSES)}"
            )
        if self.loss_terms not in LOSS_TERMS:
            raise ValueError(
                f"loss_terms must be one of {', '.join(LOSS_TERMS)}, got {self.loss_terms!r}"
            )
        if self.aux_loss is not None and self.aux_loss not in SEG_LOSSES:
            raise ValueError(
                f"unknown auxiliary loss {self.aux_loss!r}; valid: {', '.join(SEG_LOSSES)} "
                "(or none)"
            )
        if self.aux_schedule not in AUX_SCHEDULES:
            raise ValueError(
                f"aux_schedule must be one of {', '.join(AUX_SCHEDULES)}, got {self.aux_schedule!r}"
            )
        if not (math.isfinite(self.aux_gamma0) and self.aux_gamma0 >= 0):
            raise ValueError(f"aux_gamma0 must be a number >= 0, got {self.aux_gamma0!r}")
        if not (math.isfinite(self.aux_tau) and self.aux_tau >= 0):
            raise ValueError(f"aux_tau must be a number >= 0, got {self.aux_tau!r}")

    # -- what the run logs and weighs ----------------------------------------------------------
    @property
    def is_default(self) -> bool:
        """True for the project's original losses (Dice + BCE, CE, two task terms, no aux)."""
        return (self.seg_losses == DEFAULT_SEG_LOSSES and self.cls_loss == "ce"
                and self.loss_terms == "tasks" and self.aux_loss is None)

    @property
    def seg_entries(self) -> tuple[tuple[str, float], ...]:
        """``(name, factor)`` of each segmentation loss, in order."""
        return tuple(parse_seg_entry(e) for e in self.seg_losses)

    @property
    def loss_names(self) -> tuple[str, ...]:
        """Keys of :attr:`LossValues.named`: ``seg_<name>`` ... then ``cls_<name>``."""
        return (*(f"seg_{n}" for n, _ in self.seg_entries), f"cls_{self.cls_loss}")

    @property
    def term_names(self) -> tuple[str, ...]:
        """Names of the K weighter terms: ``("seg", "cls")`` or :attr:`loss_names`."""
        return ("seg", "cls") if self.loss_terms == "tasks" else self.loss_names

    @property
    def num_terms(self) -> int:
        return len(self.term_names)

    def task_weights(self, weights: torch.Tensor) -> torch.Tensor:
        """``[w_seg, w_cls]`` from the K applied weights: as given in ``"tasks"`` mode; in
        ``"losses"`` mode the mean weight of the segmentation terms and the classification
        term's weight."""
        if self.loss_terms == "tasks":
            return weights
        return torch.stack([weights[:-1].mean(), weights[-1]])

    # -- computing -----------------------------------------------------------------------------
    def compute(self, mask_logits: torch.Tensor, class_logits: torch.Tensor, mask: torch.Tensor,
                labels: torch.Tensor) -> LossValues:
        """Every named loss of one batch, the task losses, the weighter terms and ``L_a``."""
        check_shapes(mask_logits, mask)
        named: dict[str, torch.Tensor] = {}
        seg_terms = []
        for name, factor in self.seg_entries:
            value = SEG_LOSSES[name](mask_logits, mask)
            named[f"seg_{name}"] = value
            seg_terms.append(value if factor == 1.0 else factor * value)
        l_seg = seg_terms[0]
        for term in seg_terms[1:]:
            l_seg = l_seg + term
        l_cls = CLS_LOSSES[self.cls_loss](class_logits, labels)
        named[f"cls_{self.cls_loss}"] = l_cls
        tasks = torch.stack([l_seg, l_cls])
        parts = (l_seg, l_cls) if self.loss_terms == "tasks" else (*seg_terms, l_cls)
        aux = SEG_LOSSES[self.aux_loss](mask_logits, mask) if self.aux_loss else None
        return LossValues(named, tasks, parts, aux)

    def aux_gamma(self, step: int, epoch: int) -> float:
        """DMF eq. 2: ``gamma0 exp(-tau t)``, ``t = step`` (optimizer steps already taken) or
        ``t = epoch`` (epochs already finished); 0 without an auxiliary loss."""
        if self.aux_loss is None:
            return 0.0
        t = step if self.aux_schedule == "step" else epoch
        return self.aux_gamma0 * math.exp(-self.aux_tau * t)

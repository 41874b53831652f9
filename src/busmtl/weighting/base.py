"""The interface every loss weighter implements.

A weighter receives the K unweighted task losses of one training step and decides how much each
one counts. Because some methods need per-task gradients (GradNorm, DB-MTL), the weighter runs
the backward pass itself; the trainer only calls::

    optimizer.zero_grad()
    weights = weighter.backward(losses, model)   # fills .grad of the network's parameters
    optimizer.step()

and, after each epoch, ``weighter.epoch_end(mean_train_losses)``.

Task order follows :data:`busmtl.TASKS`: index 0 is segmentation, index 1 classification.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Protocol

import torch
from torch import nn


class SharedModel(Protocol):
    """What a weighter needs from the network: the parameter groups of the shared encoder."""

    def shared_parameters(self) -> Iterable[nn.Parameter]: ...

    def last_shared_parameters(self) -> Iterable[nn.Parameter]: ...

    def shared_representation(self) -> list[torch.Tensor]: ...

    def parameters(self) -> Iterable[nn.Parameter]: ...


ExtraState = dict[str, float | list[float]]

#: What :meth:`Weighter.backward` receives: the 1-D tensor ``[L_1, ..., L_K]``, or the K losses
#: as separate scalar tensors (see :meth:`Weighter.terms` for why the trainer gives them apart).
Losses = torch.Tensor | Sequence[torch.Tensor]


class Weighter(nn.Module, ABC):
    """Base class: holds ``num_tasks`` and the recorded epoch losses ``L_k(e)``.

    Subclasses implement :meth:`backward`; the weights they return are on the scale of equal
    weighting (they sum to K) unless their docstring says otherwise (and ``sums_to_k = False``).

    Each subclass is also the method's record, read by the CLI, the sweep and the book:
    ``name`` (registry name), ``label`` (display name), ``reference`` (BibTeX key in ``book/references.bib``) and a one-line ``summary``.
    """

    #: Registry name, e.g. ``"atdwa"``; set by each subclass.
    name: str = ""
    #: Name shown in tables and legends (default: ``name``).
    label: str = ""
    #: BibTeX key of the method's paper (``book/references.bib``).
    reference: str = ""
    #: What the method does, in one line (the book's method table).
    summary: str = ""

    # What the method promises; ``tests/weighting_assertions.py`` checks each promise on every
    # registered weighter. A new class sets only those that differ from these defaults.
    #: The returned weights sum to K, the scale of equal weighting.
    sums_to_k: bool = True
    #: Every returned weight is > 0 (when False, only >= 0 is promised).
    positive_weights: bool = True
    #: After ``backward`` the network's ``.grad`` is the gradient of ``sum_k w_k L_k`` with ``w``
    #: the returned weights (False where the method forms the gradient itself, e.g. DB-MTL).
    weighted_sum_gradient: bool = True
    #: After ``backward`` the shared parameters' ``.grad`` is the gradient of ``sum_k w_k L_k``
    #: and the task-specific parameters' that of ``sum_k L_k`` (the gradient-balancing methods,
    #: which balance only the shared part).
    shared_weighted_sum_gradient: bool = False
    #: The weights may be negative (effective weights of an aggregator that does not weigh the
    #: gradients, e.g. GradDrop); when False they are >= 0.
    signed_weights: bool = False
    #: The weights are drawn at random (RLW, GradDrop): the same seed gives the same run, but
    #: swapping the tasks does not swap the draws.
    stochastic: bool = False
    #: The weights stay the same when one task's loss is multiplied by a constant ``c > 0`` at
    #: every step.
    scale_invariant: bool = False
    #: ``backward`` differentiates each loss alone (GradNorm, DB-MTL, the gradient-balancing
    #: methods): the training step then hands it the losses apart (see :meth:`terms`); the other
    #: methods receive the 1-D tensor.
    per_task_gradients: bool = False

    def __init__(self, num_tasks: int) -> None:
        super().__init__()
        if int(num_tasks) < 1:
            raise ValueError(f"num_tasks must be >= 1, got {num_tasks!r}")
        self.num_tasks = int(num_tasks)
        #: ``epoch_losses[e][k]`` = mean training loss of task k in (0-based) epoch e.
        self.epoch_losses: list[list[float]] = []

    # -- the API used by the trainer ---------------------------------------------------------
    @abstractmethod
    def backward(self, losses: Losses, model: SharedModel) -> torch.Tensor:
        """Back-propagate the weighted losses into ``model`` and return the applied weights."""

    def epoch_end(self, epoch_losses: Sequence[float] | torch.Tensor) -> None:
        """Record the K batch-size-weighted mean training losses of the finished epoch."""
        values = [float(v) for v in torch.as_tensor(epoch_losses).detach().flatten().tolist()]
        if len(values) != self.num_tasks:
            raise ValueError(f"epoch_end expects {self.num_tasks} losses, got {len(values)}")
        self.epoch_losses.append(values)

    def extra_state(self) -> ExtraState:
        """Values worth logging besides the weights (empty by default)."""
        return {}

    def network_parameters(self) -> list[nn.Parameter]:
        """Learnable weighter parameters that the *network's* optimizer must update."""
        return []

    # -- helpers for subclasses ---------------------------------------------------------------
    def _check(self, losses: Losses) -> torch.Tensor:
        """The 1-D tensor ``[L_1, ..., L_K]`` (the separate losses stacked, when given apart);
        a ValueError when there are not K of them."""
        if not isinstance(losses, torch.Tensor):
            parts = list(losses)
            if len(parts) != self.num_tasks or any(p.dim() != 0 for p in parts):
                raise ValueError(
                    f"{self.name or type(self).__name__} expects {self.num_tasks} scalar task "
                    f"losses, got shapes {[tuple(p.shape) for p in parts]}"
                )
            losses = torch.stack(parts)
        if losses.dim() != 1 or losses.numel() != self.num_tasks:
            raise ValueError(
                f"{self.name or type(self).__name__} expects a 1-D tensor of {self.num_tasks} "
                f"task losses, got shape {tuple(losses.shape)}"
            )
        return losses

    @staticmethod
    def terms(losses: Losses) -> list[torch.Tensor]:
        """The K losses as separate scalars, for a method that differentiates each one alone.

        Given apart, each loss's graph reaches only its own head. The rows of a stacked tensor
        share the stacking node, so the gradient of one row is also sent, as zeros, back through
        every other task's head: on SSC-ResNet (ResNet-18, 96 px, batch 16, one thread) the
        classification loss's gradient with respect to the encoder then costs about as much as
        the whole backward pass, twice what it costs from ``L_cls`` alone. The values are the
        same either way.
        """
        return list(losses.unbind()) if isinstance(losses, torch.Tensor) else list(losses)

    @staticmethod
    def _weighted_backward(losses: torch.Tensor, weights: torch.Tensor) -> None:
        """Back-propagate ``sum_k w_k L_k`` with the weights treated as constants."""
        (weights.detach().to(losses) * losses).sum().backward()


def add_grad(param: nn.Parameter, grad: torch.Tensor) -> None:
    """Accumulate ``grad`` into ``param.grad`` (as ``Tensor.backward`` would)."""
    if param.grad is None:
        param.grad = grad.detach().clone()
    else:
        param.grad.add_(grad.detach())


def split_parameters(model: SharedModel) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """``(shared, task_specific)``: the model's shared parameters, and all its other parameters
    (each once, in first-seen order)."""
    shared = unique_parameters(model.shared_parameters())
    own = {id(p) for p in shared}
    return shared, [p for p in unique_parameters(model.parameters()) if id(p) not in own]


def unique_parameters(params: Iterable[nn.Parameter]) -> list[nn.Parameter]:
    """Parameters that require grad, each once, in first-seen order."""
    seen: set[int] = set()
    out: list[nn.Parameter] = []
    for p in params:
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out

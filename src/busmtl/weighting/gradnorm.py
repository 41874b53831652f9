"""GradNorm, Chen et al., ICML 2018: learn the weights so that task gradient norms stay balanced."""

from __future__ import annotations

import torch
from torch import nn

from busmtl.weighting.base import ExtraState, Losses, SharedModel, Weighter, unique_parameters


def gradnorm_target(
    grad_norms: torch.Tensor, losses: torch.Tensor, initial_losses: torch.Tensor, alpha: float
) -> torch.Tensor:
    """GradNorm's target norm (Chen et al., eq. 1-2 and the definition of r_i).

    ``Lt_k = L_k / L_k(0)`` (inverse training rate), ``r_k = Lt_k / mean(Lt)``,
    ``target_k = mean(G) * r_k ** alpha``; returned detached (a constant in ``L_grad``).
    """
    inverse_rate = losses.detach() / initial_losses
    relative = inverse_rate / inverse_rate.mean()
    return (grad_norms.detach().mean() * relative.pow(alpha)).detach()


def renormalize(weights: torch.Tensor, min_weight: float = 1e-6) -> torch.Tensor:
    """After each update: keep every weight positive, then rescale to sum K (``K w / sum w``)."""
    positive = weights.clamp_min(min_weight)
    return weights.numel() * positive / positive.sum()


class GradNorm(Weighter):
    """Learnable task weights ``w`` (initialised to 1) balanced through gradient norms.

    At each step, with ``W`` = ``model.last_shared_parameters()`` (``layer="encoder"``: all
    shared parameters, the costly variant):

    * ``G_k = w_k * ||grad_W L_k||_2``;
    * ``target_k = mean(G) * r_k ** alpha`` (see :func:`gradnorm_target`, ``alpha = 1.5``),
      with ``L_k(0)`` the losses of the first training step;
    * ``L_grad = sum_k |G_k - target_k|`` (Chen et al., eq. 2) updates ``w`` only, through this
      weighter's **own** Adam (learning rate ``lr``; 1e-4 when built alone, the network's
      learning rate when the trainer builds it, see ``busmtl.training.trainer.weighter_settings``);
    * the network receives the gradient of ``sum_k w_k L_k`` with ``w`` detached (the weights
      before this step's update, which are the ones returned);
    * after the update, ``w <- K w / sum(w)``, kept positive (see :func:`renormalize`).

    ``w`` is an ``nn.Parameter`` of this module so it moves with ``.to(device)``, but it is not in
    :meth:`network_parameters`: the trainer's optimizer never sees it. Weights sum to K.
    """

    name = "gradnorm"
    label = "GradNorm"
    reference = "chen2018gradnorm"
    summary = "learned weights that balance the gradient norms"
    per_task_gradients = True

    def __init__(
        self, num_tasks: int, alpha: float = 1.5, lr: float = 1e-4, layer: str = "last"
    ) -> None:
        super().__init__(num_tasks)
        if layer not in ("last", "encoder"):
            raise ValueError(f"gradnorm: layer must be 'last' or 'encoder', got {layer!r}")
        if not float(lr) > 0:
            raise ValueError(f"gradnorm: lr must be > 0, got {lr!r}")
        self.alpha, self.lr, self.layer = float(alpha), float(lr), layer
        self.w = nn.Parameter(torch.ones(num_tasks))
        self.register_buffer("initial_losses", torch.zeros(num_tasks))
        self._has_initial = False
        self._optimizer: torch.optim.Optimizer | None = None
        self._grad_norms: list[float] = [0.0] * num_tasks

    def _shared(self, model: SharedModel) -> list[nn.Parameter]:
        params = model.last_shared_parameters() if self.layer == "last" else model.shared_parameters()
        return unique_parameters(params)

    def backward(self, losses: Losses, model: SharedModel) -> torch.Tensor:
        terms = self.terms(losses)  # per-task gradients, each through its own head only
        losses = self._check(losses)
        if self._optimizer is None:
            self._optimizer = torch.optim.Adam([self.w], lr=self.lr)
        if not self._has_initial:
            self.initial_losses.copy_(losses.detach())
            self._has_initial = True
        shared = self._shared(model)
        norms = []
        for k in range(self.num_tasks):
            grads = torch.autograd.grad(terms[k], shared, retain_graph=True, allow_unused=True)
            squared = sum((g.pow(2).sum() for g in grads if g is not None), torch.zeros((), device=losses.device))
            norms.append(squared.sqrt())
        grad_norms = torch.stack(norms).detach().to(self.w)

        applied = self.w.detach().clone()
        self._weighted_backward(losses, applied)

        G = self.w * grad_norms
        target = gradnorm_target(G, losses.detach().to(self.w), self.initial_losses, self.alpha)
        loss_grad = (G - target).abs().sum()
        self._optimizer.zero_grad(set_to_none=True)
        self.w.grad = torch.autograd.grad(loss_grad, self.w)[0]
        self._optimizer.step()
        with torch.no_grad():
            self.w.copy_(renormalize(self.w))
        self._grad_norms = grad_norms.tolist()
        return applied

    def extra_state(self) -> ExtraState:
        return {"grad_norms": list(self._grad_norms)}

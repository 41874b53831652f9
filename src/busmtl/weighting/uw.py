"""Uncertainty weighting (UW), Kendall, Gal & Cipolla, CVPR 2018."""

from __future__ import annotations

import torch
from torch import nn

from busmtl.weighting.base import ExtraState, Losses, SharedModel, Weighter


def uw_total(losses: torch.Tensor, log_vars: torch.Tensor) -> torch.Tensor:
    """The UW objective ``sum_k (0.5 exp(-s_k) L_k + 0.5 s_k)`` (Kendall et al., eq. 7 form).

    ``s_k = log sigma_k^2`` is the learnable log-variance of task k; the ``0.5 s_k`` term keeps
    ``sigma_k`` from growing without bound.
    """
    return (0.5 * torch.exp(-log_vars) * losses + 0.5 * log_vars).sum()


class UW(Weighter):
    """Homoscedastic-uncertainty weighting with learnable log-variances ``s_k`` (init 0).

    Total loss: ``sum_k (0.5 exp(-s_k) L_k + 0.5 s_k)`` (:func:`uw_total`); the reported weights
    are ``0.5 exp(-s_k)``. They start at 0.5 each (sum K/2) and are not constrained to sum K:
    that is the method. The ``s_k`` are returned by :meth:`network_parameters`, so the trainer
    adds them to the **network's** optimizer (Adam, same learning rate); no extra optimizer.
    """

    name = "uw"
    label = "UW"
    reference = "kendall2018uncertainty"
    summary = "learned homoscedastic uncertainties"
    sums_to_k = False

    def __init__(self, num_tasks: int, init: float = 0.0) -> None:
        super().__init__(num_tasks)
        self.log_vars = nn.Parameter(torch.full((num_tasks,), float(init)))

    def backward(self, losses: Losses, model: SharedModel) -> torch.Tensor:
        losses = self._check(losses)
        uw_total(losses, self.log_vars.to(losses)).backward()
        return (0.5 * torch.exp(-self.log_vars)).detach()

    def network_parameters(self) -> list[nn.Parameter]:
        return [self.log_vars]

    def extra_state(self) -> ExtraState:
        return {"log_var": self.log_vars.detach().tolist()}

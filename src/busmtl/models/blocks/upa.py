"""Uncertainty-Proxy Attention (UPA), eqs. 6-8: how much of TIM's enhancement each task keeps.

The spread of a feature's activations serves as a cheap proxy of uncertainty (one forward pass,
no sampling). For TIM's outputs ``D_enh`` ``[B, c, h, w]`` and ``f_enh`` ``[B, F]``::

    u_seg = mean_c Var_{h,w}(D_enh),   u_clf = Var(f_enh)                         (eq. 6)
    u~    = u / (mean(u) + eps)                     (per task, mean over the batch)
    [w_seg, w_clf] = softmax(Linear_2(ReLU(Linear_32([u~_seg, u~_clf]))))          (eq. 7)
    D_final = D + w_seg (D_enh - D),   f_final = f + w_clf (f_enh - f)             (eq. 8)

Per image and level, ``w_seg + w_clf = 1`` (a softmax over the two tasks): when one task's
features look more uncertain, the other's enhancement is trusted more. ``w = 0`` keeps the base
feature, ``w = 1`` adopts the enhanced one.

Details the paper leaves open (listed in :data:`busmtl.models.interaction.PROJECT_CHOICES`):
variances are population variances; the normalising mean ``mean(u)`` is taken over the images of
the batch (the paper writes ``u / (u_bar + eps)`` without saying over what), with ``eps = 1e-8``;
gradients flow through ``u`` (the paper learns the mapping end to end).
"""

from __future__ import annotations

import torch
from torch import nn

#: Added to the batch mean of the uncertainties before dividing by it.
EPS: float = 1e-8
#: Width of the hidden layer of eq. 7.
HIDDEN: int = 32


class UncertaintyProxyAttention(nn.Module):
    """Returns ``(D_final, f_final, weights)`` with ``weights[:, 0] = w_seg``, ``[:, 1] = w_clf``."""

    def __init__(self, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 2))

    @staticmethod
    def uncertainties(d_enh: torch.Tensor, f_enh: torch.Tensor) -> torch.Tensor:
        """Eq. 6, normalised: ``[B, 2]`` = ``[u~_seg, u~_clf]``."""
        u_seg = d_enh.flatten(2).var(dim=2, correction=0).mean(dim=1)
        u_clf = f_enh.var(dim=1, correction=0)
        u = torch.stack([u_seg, u_clf], dim=1)
        return u / (u.mean(dim=0, keepdim=True) + EPS)

    def weights(self, d_enh: torch.Tensor, f_enh: torch.Tensor) -> torch.Tensor:
        """Eq. 7: ``[B, 2]``, each row a softmax (``w_seg + w_clf = 1``)."""
        return torch.softmax(self.mlp(self.uncertainties(d_enh, f_enh)), dim=1)

    def forward(self, d: torch.Tensor, d_enh: torch.Tensor, f: torch.Tensor,
                f_enh: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        w = self.weights(d_enh, f_enh)
        d_final = d + w[:, 0, None, None, None] * (d_enh - d)
        f_final = f + w[:, 1, None] * (f_enh - f)
        return d_final, f_final, w

"""Additive attention gate on a skip connection (Oktay et al., Attention U-Net).

The decoder feature ``g`` (upsampled to the skip's resolution) tells the gate where the lesion
is; the gate scales every pixel of the skip feature ``x`` by a coefficient in (0, 1)::

    psi = sigmoid(Conv1x1_1(ReLU(Conv1x1(x) + Conv1x1(g))))     ->   x * psi

The decoder-interaction paper uses such gates without equations. Details the paper leaves open
(listed in :data:`busmtl.models.interaction.PROJECT_CHOICES`): the intermediate width is
``max(C_x // 2, 1)``; the gate works at the skip's resolution (``g`` is the decoder feature after
its upsampling, so no resampling of ``psi`` is needed); no normalisation.
"""

from __future__ import annotations

import torch
from torch import nn


class AttentionGate(nn.Module):
    """``x * sigmoid(psi(ReLU(theta(x) + phi(g))))`` with 1 x 1 convolutions ``theta, phi, psi``."""

    def __init__(self, skip_channels: int, gate_channels: int) -> None:
        super().__init__()
        inter = max(skip_channels // 2, 1)
        self.theta = nn.Conv2d(skip_channels, inter, 1)
        self.phi = nn.Conv2d(gate_channels, inter, 1)
        self.psi = nn.Conv2d(inter, 1, 1)

    def coefficients(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """The gate ``psi`` ``[B, 1, H, W]`` in (0, 1)."""
        return torch.sigmoid(self.psi(torch.relu(self.theta(x) + self.phi(g))))

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return x * self.coefficients(x, g)

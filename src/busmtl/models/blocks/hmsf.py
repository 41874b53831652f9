"""Hierarchical Multi-Scale Fusion (HMSF), eqs. 9-10.

Three dilated depthwise-separable 3 x 3 convolutions see the feature map ``X`` (C channels) at
dilations ``r = 1, 2, 4`` (receptive fields 3, 5 and 9 pixels). A squeeze-and-excitation-like
branch turns the global average of ``X`` into one softmax weight per scale::

    F_r   = SepConv3x3_r(X),            r in {1, 2, 4}            (eq. 9)
    g     = ReLU(Linear_{C/8}(GAP(X)))                            (eq. 9)
    alpha = softmax(Linear_3(g))                                  (eq. 10)
    Y     = Conv1x1(sum_i alpha_i F_{r_i})                        (eq. 10)

The softmax makes the scales compete, per image. Details the paper leaves open (listed in
:data:`busmtl.models.interaction.PROJECT_CHOICES`): a separable convolution is a depthwise 3 x 3
(no bias) followed by a pointwise 1 x 1 (with bias), no normalisation or activation between them
(as Keras' ``SeparableConv2D``); the block returns ``X + Y`` (a residual), so that it *augments*
the encoder feature it is applied to and leaves a pretrained encoder's features intact at
initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

#: Dilations of the three branches.
DILATIONS: tuple[int, ...] = (1, 2, 4)


class SeparableConv(nn.Module):
    """Depthwise 3 x 3 convolution with dilation ``r`` followed by a pointwise 1 x 1."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation,
                                   groups=channels, bias=False)
        self.pointwise = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class HMSF(nn.Module):
    """``X + Conv1x1(sum_r alpha_r SepConv_r(X))`` with softmax scale weights ``alpha`` (eqs. 9-10)."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        self.branches = nn.ModuleList(SeparableConv(channels, r) for r in DILATIONS)
        hidden = max(channels // reduction, 1)
        self.scale_mlp = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, len(DILATIONS))
        )
        self.fuse = nn.Conv2d(channels, channels, 1)

    def scale_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 10's ``alpha``: ``[B, 3]``, each row a softmax (sums to 1)."""
        return torch.softmax(self.scale_mlp(x.mean(dim=(2, 3))), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = self.scale_weights(x)
        mixed = sum(alpha[:, i, None, None, None] * branch(x)
                    for i, branch in enumerate(self.branches))
        return x + self.fuse(mixed)

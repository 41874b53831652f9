"""Task Interaction Module (TIM), eqs. 1-5: segmentation and classification exchange features at
one decoder level.

Inputs: the decoder feature ``D`` ``[B, c, h, w]`` of the level and the level's classification
feature ``f`` ``[B, F]`` (``F = 256`` in the paper).

Segmentation -> classification (attention-weighted pooling, eqs. 1-2)::

    a     = ReLU(Conv1x1(D))                       (eq. 1)
    f_ctx = BN(Linear_F(GAP(a)))                   (eq. 1, phi = BN o Dense_F)
    g_clf = sigmoid(Linear_F(f_ctx))               (eq. 2)
    f_enh = f + g_clf * f_ctx                      (eq. 2)

Classification -> segmentation (multiplicative modulation, eqs. 3-5)::

    f_proj = sigmoid(Linear_c(f))                  (eq. 3, psi = sigmoid o Dense_c)
    g_seg  = sigmoid(Linear_c(GAP(D)))             (eq. 4)
    mu     = 1 + tau * g_seg * f_proj              (eq. 4), broadcast over h, w
    D_enh  = D * mu                                (eq. 5)

Both factors of ``mu`` lie in [0, 1], so ``mu`` lies in [1, 1 + tau] = [1, 1.7] for the paper's
``tau = 0.7``: features are amplified by at most 70 %, never attenuated.

Details the paper leaves open (listed in :data:`busmtl.models.interaction.PROJECT_CHOICES`):
the 1 x 1 convolution of eq. 1 has ``max(c // 2, 1)`` channels; each "MLP" is one linear layer;
the linear layer before the batch norm has no bias (the norm's shift replaces it).
"""

from __future__ import annotations

import torch
from torch import nn

#: The paper's modulation strength: ``mu`` in [1, 1 + TAU].
TAU: float = 0.7


class TaskInteraction(nn.Module):
    """Bidirectional exchange at one level: returns ``(D_enh, f_enh)`` (eqs. 1-5)."""

    def __init__(self, seg_channels: int, cls_channels: int = 256, tau: float = TAU) -> None:
        super().__init__()
        attn = max(seg_channels // 2, 1)
        self.tau = float(tau)
        # segmentation -> classification
        self.seg_attention = nn.Sequential(nn.Conv2d(seg_channels, attn, 1), nn.ReLU(inplace=True))
        self.phi = nn.Sequential(nn.Linear(attn, cls_channels, bias=False),
                                 nn.BatchNorm1d(cls_channels))
        self.clf_gate = nn.Linear(cls_channels, cls_channels)
        # classification -> segmentation
        self.psi = nn.Linear(cls_channels, seg_channels)
        self.seg_gate = nn.Linear(seg_channels, seg_channels)

    def seg_to_cls(self, d: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        """Eqs. 1-2: ``f_enh = f + g_clf * f_ctx``."""
        context = self.phi(self.seg_attention(d).mean(dim=(2, 3)))
        return f + torch.sigmoid(self.clf_gate(context)) * context

    def modulation(self, d: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        """Eqs. 3-4: ``mu = 1 + tau * g_seg * f_proj``, shape ``[B, c, 1, 1]``, in [1, 1 + tau]."""
        f_proj = torch.sigmoid(self.psi(f))
        g_seg = torch.sigmoid(self.seg_gate(d.mean(dim=(2, 3))))
        return (1 + self.tau * g_seg * f_proj)[:, :, None, None]

    def forward(self, d: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return d * self.modulation(d, f), self.seg_to_cls(d, f)

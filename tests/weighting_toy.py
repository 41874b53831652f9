"""A tiny two-task network with the parameter groups weighters expect (shared by weighting tests)."""

from __future__ import annotations

import torch
from torch import nn


class ToyMTL(nn.Module):
    """Shared two-layer encoder, one linear head per task."""

    def __init__(self, d_in: int = 6, d_hidden: int = 8) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d_in, d_hidden), nn.Tanh(), nn.Linear(d_hidden, d_hidden), nn.Tanh())
        self.seg_head = nn.Linear(d_hidden, 1)
        self.cls_head = nn.Linear(d_hidden, 2)

    def shared_parameters(self):
        return self.encoder.parameters()

    def last_shared_parameters(self):
        return [self.encoder[2].weight]

    def losses(self, x: torch.Tensor, y_seg: torch.Tensor, y_cls: torch.Tensor) -> torch.Tensor:
        z = self.encoder(x)
        seg = nn.functional.mse_loss(self.seg_head(z).squeeze(-1), y_seg)
        cls = nn.functional.cross_entropy(self.cls_head(z), y_cls)
        return torch.stack([seg, cls])


def toy_batch(seed: int = 0, n: int = 16):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    return x, 3.0 * torch.randn(n, generator=g), torch.randint(0, 2, (n,), generator=g)

"""Soft Dice loss of the lesion, pooled over the batch (the project's default, with BCE).

With ``p = sigmoid(z)`` and the 0/1 mask ``y``, summed over every pixel of the batch::

    L_Dice = 1 - 2 sum(p y) / (sum(p) + sum(y))

This is DMF's mean Dice loss (Golnari & Diba, eq. 18) for the lesion class alone
(``2 TP / (2 TP + FP + FN)`` with soft counts). A batch whose masks are all empty contributes 0
(segmentation-models-pytorch's convention: Dice is undefined there). The implementation is
segmentation-models-pytorch's ``DiceLoss`` in binary mode, as the committed reference runs used.
"""

from __future__ import annotations

from functools import cache

import torch
from torch import nn


@cache
def _dice() -> nn.Module:
    # imported on first use: the toy problem and the weighters need the losses, not the networks
    from segmentation_models_pytorch.losses import DiceLoss

    return DiceLoss(mode="binary", from_logits=True)


def dice_loss(mask_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Soft Dice loss ``1 - 2 sum(p y) / (sum(p) + sum(y))`` pooled over the batch (0 if no ``y``)."""
    return _dice()(mask_logits, mask)

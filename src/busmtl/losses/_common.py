"""Helpers shared by the segmentation losses: shape check and soft confusion counts.

Every segmentation loss takes the mask logits ``z`` ``[B, 1, H, W]`` and the 0/1 mask ``y`` of the
same shape; ``p = sigmoid(z)`` is the predicted lesion probability. The *soft* confusion counts of
the lesion class, pooled over every pixel of the batch, are::

    TP = sum(p y)      FP = sum(p (1 - y))      FN = sum((1 - p) y)

(with hard 0/1 predictions they are the usual counts).
"""

from __future__ import annotations

import torch

#: Smallest denominator of the overlap ratios (as segmentation-models-pytorch's Dice loss).
EPS: float = 1e-7


def check_shapes(mask_logits: torch.Tensor, mask: torch.Tensor) -> None:
    """ValueError when the logits and the mask differ in shape."""
    if mask_logits.shape != mask.shape:
        raise ValueError(
            f"mask logits {tuple(mask_logits.shape)} and masks {tuple(mask.shape)} differ in shape"
        )


def probabilities(mask_logits: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(p, y)``: lesion probabilities and the mask as floats of the logits' dtype."""
    check_shapes(mask_logits, mask)
    return torch.sigmoid(mask_logits), mask.to(mask_logits.dtype)


def soft_counts(p: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Soft ``(TP, FP, FN)`` of the lesion class pooled over the whole batch."""
    tp = (p * y).sum()
    fp = (p * (1 - y)).sum()
    fn = ((1 - p) * y).sum()
    return tp, fp, fn


def has_lesion(y: torch.Tensor) -> torch.Tensor:
    """1.0 when the batch holds at least one lesion pixel, else 0.0 (a lesion-overlap loss is
    undefined on a batch without lesion and then contributes 0, as the project's Dice does)."""
    return (y.sum() > 0).to(y.dtype)

"""The two task losses of SSC-ResNet: segmentation (Dice + BCE) and classification (CE).

Segmentation
    The primary paper does not say which segmentation loss it uses. We use the common sum of a
    soft Dice loss and binary cross-entropy on the mask logits ``z`` (``p = sigmoid(z)``,
    ``y`` the 0/1 mask, sums over every pixel of the batch)::

        L_seg = (1 - 2 sum(p y) / (sum(p) + sum(y))) + mean(-y log p - (1 - y) log(1 - p))

    The Dice part is pooled over the whole batch (segmentation-models-pytorch's ``DiceLoss`` in
    binary mode); a batch whose masks are all empty contributes only its BCE (smp's convention:
    Dice is undefined there).
Classification
    Cross-entropy of the class logits against the integer labels (mean over the batch).

The trainer stacks the two into ``losses = [L_seg, L_cls]`` (task order of ``busmtl.TASKS``)
and hands them to a weighter, which forms the weighted total ``sum_k w_k L_k`` (eq. 1 of the
ATDWA paper).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from segmentation_models_pytorch.losses import DiceLoss

_DICE = DiceLoss(mode="binary", from_logits=True)


def dice_loss(mask_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Soft Dice loss ``1 - 2 sum(p y) / (sum(p) + sum(y))`` pooled over the batch (0 if no ``y``)."""
    return _DICE(mask_logits, mask)


def bce_loss(mask_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy ``-y log p - (1 - y) log(1 - p)`` over every pixel."""
    return F.binary_cross_entropy_with_logits(mask_logits, mask.to(mask_logits.dtype))


def segmentation_loss(mask_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``L_seg = Dice + BCE`` on the mask logits ``[B, 1, H, W]`` against the 0/1 mask ``[B, 1, H, W]``."""
    if mask_logits.shape != mask.shape:
        raise ValueError(
            f"mask logits {tuple(mask_logits.shape)} and masks {tuple(mask.shape)} differ in shape"
        )
    return dice_loss(mask_logits, mask) + bce_loss(mask_logits, mask)


def classification_loss(class_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``L_cls = mean_i -log softmax(z_i)[y_i]``: cross-entropy of ``[B, C]`` logits, labels ``[B]``."""
    return F.cross_entropy(class_logits, labels.long())


def task_losses(
    mask_logits: torch.Tensor,
    class_logits: torch.Tensor,
    mask: torch.Tensor,
    labels: torch.Tensor,
) -> torch.Tensor:
    """The 1-D tensor ``[L_seg, L_cls]`` of unweighted task losses that a weighter consumes."""
    return torch.stack(
        [segmentation_loss(mask_logits, mask), classification_loss(class_logits, labels)]
    )

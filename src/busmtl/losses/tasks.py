"""The two task losses of SSC-ResNet as the project has always defined them.

``L_seg = Dice + BCE`` on the mask logits and ``L_cls = CE`` on the class logits; the trainer
stacks them into ``[L_seg, L_cls]`` (task order of ``busmtl.TASKS``) for a weighter. This is the
default of :class:`busmtl.losses.setup.LossSetup`, kept exactly as it was (the committed reference
runs were trained with it).
"""

from __future__ import annotations

import torch

from busmtl.losses._common import check_shapes
from busmtl.losses.bce import bce_loss
from busmtl.losses.ce import classification_loss
from busmtl.losses.dice import dice_loss


def segmentation_loss(mask_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``L_seg = Dice + BCE`` on the mask logits ``[B, 1, H, W]`` against the 0/1 mask ``[B, 1, H, W]``."""
    check_shapes(mask_logits, mask)
    return dice_loss(mask_logits, mask) + bce_loss(mask_logits, mask)


def task_loss_terms(
    mask_logits: torch.Tensor,
    class_logits: torch.Tensor,
    mask: torch.Tensor,
    labels: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(L_seg, L_cls)``, the unweighted task losses as separate scalars."""
    return segmentation_loss(mask_logits, mask), classification_loss(class_logits, labels)


def task_losses(
    mask_logits: torch.Tensor,
    class_logits: torch.Tensor,
    mask: torch.Tensor,
    labels: torch.Tensor,
) -> torch.Tensor:
    """The 1-D tensor ``[L_seg, L_cls]`` of unweighted task losses that a weighter consumes."""
    return torch.stack(task_loss_terms(mask_logits, class_logits, mask, labels))

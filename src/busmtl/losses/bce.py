"""Binary cross-entropy of the mask logits.

``L_BCE = mean over pixels of -y log p - (1 - y) log(1 - p)``, ``p = sigmoid(z)``. For one lesion
channel this is DMF's categorical cross-entropy (Golnari & Diba, eq. 16) with the two classes
background and lesion: a softmax over the logits ``(0, z)`` gives exactly ``(1 - p, p)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bce_loss(mask_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy ``-y log p - (1 - y) log(1 - p)`` over every pixel."""
    return F.binary_cross_entropy_with_logits(mask_logits, mask.to(mask_logits.dtype))

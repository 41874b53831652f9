"""Cross-entropy of the class logits (the project's default classification loss).

``L_CE = mean_i -log softmax(z_i)[y_i]`` over the images of the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def classification_loss(class_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``L_cls = mean_i -log softmax(z_i)[y_i]``: cross-entropy of ``[B, C]`` logits, labels ``[B]``."""
    return F.cross_entropy(class_logits, labels.long())

"""Cross-entropy of the class logits (the project's default classification loss).

``L_CE = mean_i -log softmax(z_i)[y_i]`` over the images of the batch: the categorical
cross-entropy of Golnari & Diba's eq. 16, with the image classes in place of the pixel classes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def classification_loss(class_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``L_cls = mean_i -log softmax(z_i)[y_i]``: cross-entropy of ``[B, C]`` logits, labels ``[B]``."""
    return F.cross_entropy(class_logits, labels.long())

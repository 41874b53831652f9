"""Texture regulariser of the decoder-interaction paper, eq. 12.

The horizontal Sobel filter ``S_x = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]`` responds to vertical
edges; the spread of its response measures how much edge a map holds::

    L_texture = mean over images of | std(S_x * M) - std(S_x * p) |

with ``*`` a 2-D cross-correlation with zero padding, ``M`` the 0/1 mask, ``p = sigmoid(z)`` and
``std`` the population standard deviation over the pixels of one image.

Details the paper leaves open (listed in :data:`busmtl.losses.PROJECT_CHOICES`):
``std = sqrt(var + 1e-8)`` (finite gradient for a constant map); the expectation of eq. 12 is the
mean over the images of the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from busmtl.losses._common import probabilities

#: Added to the variance before its square root.
VAR_EPS: float = 1e-8


def sobel_x(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The ``[1, 1, 3, 3]`` horizontal Sobel kernel."""
    k = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=dtype)
    return k.reshape(1, 1, 3, 3)


def _edge_std(maps: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    response = F.conv2d(maps.contiguous(), kernel, padding=1).flatten(1)
    return (response.var(dim=1, correction=0) + VAR_EPS).sqrt()


def texture_loss(mask_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 12: ``mean_images |std(S_x * M) - std(S_x * p)|``."""
    p, y = probabilities(mask_logits, mask)
    kernel = sobel_x(p.dtype).to(p.device)
    return (_edge_std(y, kernel) - _edge_std(p, kernel)).abs().mean()

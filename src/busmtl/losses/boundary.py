"""Boundary (curvature) regulariser of the decoder-interaction paper, eq. 11.

A curvature filter responds to the corners and bends of a mask's contour and is 0 inside flat
regions. With ``K(x, y) = (x^2 - y^2) exp(-(x^2 + y^2) / (2 sigma^2))``, ``sigma = 1`` (``x`` the
column offset, ``y`` the row offset)::

    L_boundary = mean over pixels and images of | K * M - K * p |

where ``*`` is a 2-D convolution with zero padding, ``M`` the 0/1 mask and ``p = sigmoid(z)``.

Details the paper leaves open (listed in :data:`busmtl.losses.PROJECT_CHOICES`):

* the kernel is 5 x 5 (offsets -2..2) and divided by the sum of its absolute values, so that
  the filter's responses lie in [-1, 1];
* the paper filters a *binarised* prediction, which has no gradient (a thresholded map is
  piecewise constant), so the loss could not train anything; the soft probability ``p`` is
  filtered instead. The mask ``M`` is binarised at 0.5.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from busmtl.losses._common import probabilities

#: Width of the curvature kernel's Gaussian envelope (the paper's sigma).
SIGMA: float = 1.0
#: Side of the curvature kernel (odd).
KERNEL_SIZE: int = 5


def curvature_kernel(size: int = KERNEL_SIZE, sigma: float = SIGMA,
                     dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The ``[1, 1, size, size]`` kernel ``(x^2 - y^2) exp(-r^2 / 2 sigma^2)``, L1-normalised."""
    offsets = torch.arange(size, dtype=torch.float64) - size // 2
    y, x = torch.meshgrid(offsets, offsets, indexing="ij")  # y: rows, x: columns
    k = (x**2 - y**2) * torch.exp(-(x**2 + y**2) / (2 * sigma**2))
    return (k / k.abs().sum()).to(dtype).reshape(1, 1, size, size)


def boundary_loss(mask_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 11: ``mean |K * M - K * p|`` (mask binarised at 0.5, soft prediction)."""
    p, y = probabilities(mask_logits, mask)
    kernel = curvature_kernel(dtype=p.dtype).to(p.device)
    pad = KERNEL_SIZE // 2
    target = F.conv2d((y > 0.5).to(p.dtype), kernel, padding=pad)
    predicted = F.conv2d(p.contiguous(), kernel, padding=pad)
    return (target - predicted).abs().mean()

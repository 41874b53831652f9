"""The paper's data augmentation: six albumentations transforms, each applied with p = 1.

Grid distortion, rotation by up to 45 degrees, optical distortion, horizontal flip, vertical
flip and an elastic transform are applied in this order to the image and its mask together.
Geometric warps resample the image bilinearly and the mask by nearest neighbour, so the mask
stays in {0, 1}; areas moved in from outside the frame are filled with 0 (black image,
background mask).

Determinism: albumentations 2.x draws from its own generators, not from numpy's or torch's
global state. :func:`augment_pair` therefore reseeds the pipeline before every call with a
seed derived from a tuple of integers, e.g. ``(seed, epoch, index)``, through numpy's
``SeedSequence``. The result depends only on that tuple: not on worker processes, call order
or the global random state.
"""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import cv2
import numpy as np


def paper_augmentation(image_size: int) -> A.Compose:
    """The six transforms of the paper, each with ``p=1``.

    ``image_size`` scales the elastic transform (``alpha = image_size``, ``sigma = image_size / 10``:
    smooth displacements of a few pixels at any resolution); the other parameters are
    resolution-free (albumentations' normalised distortions and angles).
    """
    size = float(image_size)
    border = {"border_mode": cv2.BORDER_CONSTANT, "fill": 0, "fill_mask": 0}
    warp = {"interpolation": cv2.INTER_LINEAR, "mask_interpolation": cv2.INTER_NEAREST}
    return A.Compose(
        [
            A.GridDistortion(num_steps=5, distort_limit=0.3, p=1.0, **warp, **border),
            A.Rotate(limit=45, p=1.0, **warp, **border),
            A.OpticalDistortion(distort_limit=0.05, p=1.0, **warp, **border),
            A.HorizontalFlip(p=1.0),
            A.VerticalFlip(p=1.0),
            A.ElasticTransform(alpha=size, sigma=size / 10.0, p=1.0, **warp, **border),
        ],
        seed=0,
    )


def derive_seed(*parts: int) -> int:
    """A 32-bit seed from a tuple of integers (e.g. ``(seed, epoch, index)``) via
    ``numpy.random.SeedSequence``: distinct tuples give independent streams."""
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(1)[0])


def augment_pair(
    transform: A.Compose, image: np.ndarray, mask: np.ndarray, seed_parts: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``transform`` to an ``(H, W)`` uint8 image and mask, seeded by ``seed_parts``."""
    transform.set_random_seed(derive_seed(*seed_parts))
    out = transform(image=image, mask=mask)
    return np.ascontiguousarray(out["image"]), np.ascontiguousarray(out["mask"])

"""The paper's data augmentation: six transforms, each applied alone with probability 1.

The primary paper (Hariyadi et al., Sec. III-A) lists six augmentations applied "with a
probability of 1.0": grid distortion, rotation by up to 45 degrees, optical distortion,
horizontal flip, vertical flip and an elastic transform, and reports that they grow the
training split (about 413 images per fold) to about 2,900 images. That is seven images per
original: the original and **one copy per transform**. Chaining all six on one image would give
a single copy per image and, because a horizontal plus a vertical flip is a 180-degree rotation,
every training image would be upside down. So copy ``j`` applies transform ``j`` alone
(:data:`TRANSFORM_NAMES`), with ``p = 1``:

* ``offline``: every training image is followed by its six copies (7 N images per epoch);
* ``online``: each read draws one of the seven variants uniformly (identity or one transform), so
  an epoch sees N images and, in expectation, the same distribution as the offline set.

Magnitudes the paper does not give are this project's choices (:data:`PROJECT_CHOICES`):
grid distortion ``distort_limit=0.3`` with 5 steps, optical distortion ``distort_limit=0.05``,
elastic ``alpha = image side``, ``sigma = side / 10``. Geometric warps resample the image
bilinearly and the mask by nearest neighbour (the mask stays in {0, 1}); pixels moved in from
outside the frame are 0 (black image, background mask).

Determinism: albumentations 2.x draws from its own generators, so :func:`augment_pair` reseeds
the chosen transform before every call from a tuple of integers, e.g. ``(seed, epoch, index)``,
through numpy's ``SeedSequence``. The result depends only on that tuple and the variant: not on
worker processes, call order or the global random state.
"""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import cv2
import numpy as np

#: The six transforms in the paper's order; variant ``j`` (1..6) applies ``TRANSFORM_NAMES[j-1]``.
TRANSFORM_NAMES: tuple[str, ...] = (
    "grid_distortion", "rotate", "optical_distortion", "horizontal_flip", "vertical_flip",
    "elastic",
)
#: Variants an online read draws from: 0 = the original, 1..6 = one transform each.
N_VARIANTS: int = len(TRANSFORM_NAMES) + 1

#: Settings of the augmentation that the paper does not state (shown in the book's deviations).
PROJECT_CHOICES: dict[str, str] = {
    "grid distortion": "5 steps, limit 0.3",
    "rotation": "uniform in [-45, 45] degrees",
    "optical distortion": "limit 0.05",
    "elastic": "alpha = side, sigma = side / 10",
    "combination": "one transform per copy, not all six chained",
}


#: The largest rotation, in degrees (the one magnitude the paper gives).
ROTATION_LIMIT: int = 45


def paper_transforms(image_size: int) -> list[A.Compose]:
    """The six transforms of the paper, each alone in a ``Compose`` with ``p=1``.

    ``image_size`` scales the elastic transform; the other parameters are resolution-free
    (albumentations' normalised distortions, angles, flips).
    """
    size = float(image_size)
    border = {"border_mode": cv2.BORDER_CONSTANT, "fill": 0, "fill_mask": 0}
    warp = {"interpolation": cv2.INTER_LINEAR, "mask_interpolation": cv2.INTER_NEAREST}
    transforms = [
        A.GridDistortion(num_steps=5, distort_limit=0.3, p=1.0, **warp, **border),
        A.Rotate(limit=ROTATION_LIMIT, p=1.0, **warp, **border),
        A.OpticalDistortion(distort_limit=0.05, p=1.0, **warp, **border),
        A.HorizontalFlip(p=1.0),
        A.VerticalFlip(p=1.0),
        A.ElasticTransform(alpha=size, sigma=size / 10.0, p=1.0, **warp, **border),
    ]
    return [A.Compose([t], seed=0) for t in transforms]


def derive_seed(*parts: int) -> int:
    """A 32-bit seed from a tuple of integers (e.g. ``(seed, epoch, index)``) via
    ``numpy.random.SeedSequence``: distinct tuples give independent streams."""
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(1)[0])


def online_variant(seed_parts: Sequence[int]) -> int:
    """The variant (0 = original, 1..6 = transform ``j``) an online read uses, drawn uniformly
    from a stream seeded by ``seed_parts``."""
    rng = np.random.default_rng(derive_seed(*seed_parts, 7))
    return int(rng.integers(N_VARIANTS))


def augment_pair(
    transforms: Sequence[A.Compose],
    image: np.ndarray,
    mask: np.ndarray,
    variant: int,
    seed_parts: Sequence[int],
) -> tuple[np.ndarray, np.ndarray]:
    """Variant ``variant`` of an ``(H, W)`` uint8 image and its mask.

    ``0`` returns the pair unchanged; ``j`` in 1..6 applies ``transforms[j - 1]`` alone, its
    random parameters seeded by ``seed_parts``.
    """
    if not 0 <= variant <= len(transforms):
        raise ValueError(f"variant {variant} is not in 0..{len(transforms)}")
    if variant == 0:
        return image, mask
    transform = transforms[variant - 1]
    transform.set_random_seed(derive_seed(*seed_parts))
    out = transform(image=image, mask=mask)
    return np.ascontiguousarray(out["image"]), np.ascontiguousarray(out["mask"])

"""PyTorch datasets over a prepared cache, a split file and a fold.

Each item is ``(image, mask, label)``:

* ``image``: float32 ``[in_channels, H, W]``; the grayscale image ``x`` in [0, 255] is
  replicated to ``in_channels`` channels and normalised per channel with the ImageNet
  statistics used by the pretrained encoders, ``(x / 255 - mean_c) / std_c`` with
  ``mean = (0.485, 0.456, 0.406)`` and ``std = (0.229, 0.224, 0.225)``; a single channel uses
  their averages ``0.449`` and ``0.226`` (:func:`normalize`).
* ``mask``: float32 ``[1, H, W]`` in {0, 1}.
* ``label``: int64 scalar tensor (0 benign, 1 malignant, 2 normal).

Augmentation of the training set (:mod:`busmtl.data.augment`, never of val/test):

* ``"online"``: each read draws one of seven variants (the original or one of the six
  transforms alone). Item ``i`` in epoch ``e`` is seeded by ``(seed, e, i)``: call
  ``train.set_epoch(e)`` at the start of every epoch. The same seed, epoch and index always
  give the same sample, whatever the number of workers.
* ``"offline"``: the paper's expansion, computed once when the dataset is built: every
  training image followed by ``offline_copies`` copies, copy ``j`` applying transform ``j``
  alone (cycling when more than six; seeded by ``(seed, -1, i, j)``). Ids of copies are
  ``"<id>#aug<j>"``.
* ``"none"``: no augmentation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from busmtl.data.augment import TRANSFORM_NAMES, augment_pair, online_variant, paper_transforms
from busmtl.data.errors import DataError
from busmtl.data.prepare import load_prepared, resize_pair
from busmtl.data.splits import SPLITS_FILE, check_two_classes, load_splits

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
GRAY_MEAN, GRAY_STD = 0.449, 0.226
AUGMENT_MODES: tuple[str, ...] = ("online", "offline", "none")


def _stats(in_channels: int) -> tuple[np.ndarray, np.ndarray]:
    if in_channels == 3:
        return np.array(IMAGENET_MEAN, np.float32), np.array(IMAGENET_STD, np.float32)
    return np.full(in_channels, GRAY_MEAN, np.float32), np.full(in_channels, GRAY_STD, np.float32)


def normalize(image: np.ndarray, in_channels: int = 3) -> torch.Tensor:
    """``(H, W)`` uint8 -> float32 ``[in_channels, H, W]``: ``(x / 255 - mean_c) / std_c``."""
    mean, std = _stats(in_channels)
    x = image.astype(np.float32) / 255.0
    out = (x[None, :, :] - mean[:, None, None]) / std[:, None, None]
    return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))


def denormalize(image: torch.Tensor) -> np.ndarray:
    """Inverse of :func:`normalize` for one ``[C, H, W]`` tensor -> ``(H, W)`` uint8 (channel 0)."""
    mean, std = _stats(image.shape[0])
    x = image[0].detach().cpu().numpy() * std[0] + mean[0]
    return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)


class BUSIDataset(Dataset):
    """Images, masks and labels of one split part, optionally augmented online.

    Attributes: ``ids`` (list of str), ``labels`` (int64 array), ``images_uint8`` and
    ``masks_uint8`` ((N, H, W) uint8, before augmentation), ``image_size``, ``in_channels``.
    """

    def __init__(
        self,
        images: np.ndarray,
        masks: np.ndarray,
        labels: np.ndarray,
        ids: list[str],
        *,
        in_channels: int = 3,
        online_augment: bool = False,
        seed: int = 0,
    ) -> None:
        self.images_uint8 = np.ascontiguousarray(images, dtype=np.uint8)
        self.masks_uint8 = np.ascontiguousarray(masks, dtype=np.uint8)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.ids = list(ids)
        self.in_channels = int(in_channels)
        self.image_size = int(images.shape[1]) if len(images) else 0
        self.seed = int(seed)
        self.epoch = 0
        self.transforms = paper_transforms(self.image_size) if online_augment else None

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose online augmentations :meth:`__getitem__` draws (no-op without)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        image, mask = self.images_uint8[index], self.masks_uint8[index]
        if self.transforms is not None:
            parts = (self.seed, self.epoch, index)
            image, mask = augment_pair(self.transforms, image, mask, online_variant(parts), parts)
        return (
            normalize(image, self.in_channels),
            torch.from_numpy(mask.astype(np.float32)[None]),
            torch.tensor(self.labels[index], dtype=torch.int64),
        )


def _offline_expand(
    images: np.ndarray, masks: np.ndarray, labels: np.ndarray, ids: list[str], copies: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Each image followed by ``copies`` copies of it, copy ``j`` applying transform
    ``(j - 1) % 6 + 1`` alone (N * (copies + 1) items)."""
    transforms = paper_transforms(images.shape[1])
    out_images, out_masks, out_labels, out_ids = [], [], [], []
    for i in range(len(ids)):
        out_images.append(images[i])
        out_masks.append(masks[i])
        out_labels.append(labels[i])
        out_ids.append(ids[i])
        for j in range(1, copies + 1):
            variant = (j - 1) % len(TRANSFORM_NAMES) + 1
            image, mask = augment_pair(transforms, images[i], masks[i], variant, (seed, -1, i, j))
            out_images.append(image)
            out_masks.append(mask)
            out_labels.append(labels[i])
            out_ids.append(f"{ids[i]}#aug{j}")
    return np.stack(out_images), np.stack(out_masks), np.array(out_labels, np.int64), out_ids


def make_datasets(
    data_dir: str | Path,
    splits_path: str | Path | None = None,
    fold: int = 0,
    *,
    augment: Literal["online", "offline", "none"] = "online",
    offline_copies: int = 6,
    image_size: int | None = None,
    in_channels: int = 3,
    seed: int = 0,
) -> dict[str, BUSIDataset]:
    """``{"train", "val", "test"}`` datasets for one fold of a prepared cache.

    ``splits_path`` defaults to ``<data_dir>/splits.json``; ``image_size`` other than the
    cache's resizes on load (image bilinear, mask nearest). Only ``train`` is augmented. A cache
    or a training set with one class only is a :class:`DataError`.
    """
    if augment not in AUGMENT_MODES:
        raise DataError(f"augment={augment!r} is unknown: use one of {', '.join(AUGMENT_MODES)}")
    if int(offline_copies) < 0:
        raise DataError(f"offline_copies={offline_copies} must be 0 or more (the paper uses 6)")
    if in_channels not in (1, 3):
        raise DataError(f"in_channels={in_channels} must be 1 or 3")
    data = load_prepared(data_dir)
    check_two_classes(data.labels, data_dir)
    split_path = splits_path or Path(data_dir) / SPLITS_FILE
    splits = load_splits(split_path, data_dir)
    part = splits.fold(int(fold))
    images, masks = data.images, data.masks
    if image_size is not None and int(image_size) != data.size:
        if int(image_size) < 8:
            raise DataError(f"image_size={image_size} is too small: use at least 8")
        pairs = [resize_pair(im, mk, int(image_size)) for im, mk in zip(images, masks)]
        images = np.stack([p[0] for p in pairs])
        masks = np.stack([p[1] for p in pairs])
    position = {case_id: i for i, case_id in enumerate(data.ids)}

    def select(names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        idx = np.array([position[n] for n in names], dtype=np.int64)
        return images[idx], masks[idx], data.labels[idx], list(names)

    train = select(part.train)
    check_two_classes(train[2], f"the training set of fold {fold} in {split_path}")
    if augment == "offline":
        train = _offline_expand(*train, copies=int(offline_copies), seed=seed)
    common = {"in_channels": in_channels, "seed": seed}
    return {
        "train": BUSIDataset(*train, online_augment=augment == "online", **common),
        "val": BUSIDataset(*select(part.val), **common),
        "test": BUSIDataset(*select(splits.test), **common),
    }

"""Lesion masks: the one rule that reads a mask file, and what is suspicious about a mask.

**Reading rule.** A mask file stores a value ``v`` per pixel (the raw integer, or the largest
of the colour channels); the pixel is lesion when ``v > 0``. Every binary encoding reads the
same way under this rule: 1-bit PNGs, 0/1 bytes, 0/255 bytes, 0/65535 16-bit, and a stray value
cannot shrink a lesion (a 0/1 mask holding one 255 keeps all its 1-pixels), unlike a threshold
chosen from the largest value.

**Encoding** of one file: the set of its non-zero values. One value (``0/1``, ``0/255``,
``1-bit``) is binary; more than one (``mixed``: 0/1 with stray 255s, anti-aliased edges, a
JPEG-compressed mask) is reported, since some of those pixels may not be meant as lesion.

**Suspicious merged masks** of a lesion class, by the lesion fraction ``f = lesion px / image
px``: ``f = 0`` empty, ``0 < f < MIN_LESION_FRACTION`` nearly empty (a few stray pixels),
``f > MAX_LESION_FRACTION`` probably inverted (lesion and background swapped). BUSI's masks
lie in 0.0029-0.56.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

#: Below this lesion fraction a lesion mask looks empty (BUSI's smallest: 0.0029).
MIN_LESION_FRACTION = 0.001
#: Above this lesion fraction a lesion mask is probably inverted (BUSI's largest: 0.56).
MAX_LESION_FRACTION = 0.6
_MULTI_CHANNEL = ("RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "P", "PA")


def mask_values(image: Image.Image) -> np.ndarray:
    """The stored value of every pixel, ``(H, W)``: raw for one-channel modes (``1`` as 0/1),
    the largest channel for colour and palette modes, the grey channel for ``LA``."""
    if image.mode == "1":
        return np.asarray(image, dtype=np.uint8)
    if image.mode in ("LA", "La"):
        return np.asarray(image.getchannel(0))
    if image.mode in _MULTI_CHANNEL:
        return np.asarray(image.convert("RGB")).max(axis=-1)
    return np.asarray(image)


def lesion(values: np.ndarray) -> np.ndarray:
    """The reading rule: ``(values > 0)`` as uint8 in {0, 1}."""
    return (values > 0).astype(np.uint8)


def encoding(values: np.ndarray, mode: str) -> str:
    """``"empty"``, ``"1-bit"``, ``"0/<v>"`` (binary) or ``"mixed"`` (several non-zero values)."""
    nonzero = np.unique(values[values != 0])
    if nonzero.size == 0:
        return "empty"
    if nonzero.size > 1:
        return "mixed"
    return "1-bit" if mode == "1" else f"0/{nonzero[0].item():g}"


@dataclass
class MaskFindings:
    """Encodings of the mask files and suspicious merged masks, collected case by case."""

    encodings: dict[str, int] = field(default_factory=dict)
    mixed: list[tuple[str, list[float]]] = field(default_factory=list)  # file, some values
    empty: list[str] = field(default_factory=list)  # example file per case
    nearly_empty: list[tuple[str, int]] = field(default_factory=list)  # file, lesion px
    inverted: list[tuple[str, float]] = field(default_factory=list)  # file, lesion fraction
    lesion_cases: int = 0

    def add_file(self, path: Path, values: np.ndarray, mode: str) -> None:
        """Record the encoding of one mask file."""
        kind = encoding(values, mode)
        self.encodings[kind] = self.encodings.get(kind, 0) + 1
        if kind == "mixed":
            shown = np.unique(values[values != 0])[:4]
            self.mixed.append((str(path), [v.item() for v in shown]))

    def add_case(self, example: Path, mask: np.ndarray, lesion_class: bool) -> None:
        """Record the merged mask of one case (only lesion classes are judged)."""
        if not lesion_class:
            return
        self.lesion_cases += 1
        pixels = int(mask.sum())
        fraction = pixels / max(mask.size, 1)
        if pixels == 0:
            self.empty.append(str(example))
        elif fraction < MIN_LESION_FRACTION:
            self.nearly_empty.append((str(example), pixels))
        elif fraction > MAX_LESION_FRACTION:
            self.inverted.append((str(example), fraction))

    def notes(self) -> list[str]:
        """One warning line per kind of problem found (none when all masks look right)."""
        notes = []
        if self.mixed:
            path, values = self.mixed[0]
            notes.append(
                f"{len(self.mixed)} mask files hold more than one non-zero value (e.g. {path}: "
                f"{', '.join(f'{v:g}' for v in values)}): every value > 0 is read as lesion; "
                "re-save them as 0/255 if some of those pixels are not lesion"
            )
        if self.empty:
            notes.append(
                f"{len(self.empty)} of {self.lesion_cases} lesion masks are empty although the "
                f"class has a lesion (e.g. {self.empty[0]}): check these masks or remove the cases"
            )
        if self.nearly_empty:
            path, pixels = self.nearly_empty[0]
            notes.append(
                f"{len(self.nearly_empty)} lesion masks look empty, under "
                f"{MIN_LESION_FRACTION:.1%} of the image (e.g. {path}: {pixels} px): check "
                "their encoding or remove the cases"
            )
        if self.inverted:
            path, fraction = self.inverted[0]
            notes.append(
                f"{len(self.inverted)} lesion masks cover more than {MAX_LESION_FRACTION:.0%} of "
                f"the image (e.g. {path}: {fraction:.0%}): probably inverted (lesion black, "
                "background white); fix or remove them"
            )
        return notes

    def summary(self) -> dict[str, Any]:
        """The counts for the check report."""
        return {
            "mask_encodings": dict(sorted(self.encodings.items())),
            "mixed_masks": [path for path, _ in self.mixed],
            "empty_masks": len(self.empty),
            "nearly_empty_masks": [path for path, _ in self.nearly_empty],
            "inverted_masks": [path for path, _ in self.inverted],
        }

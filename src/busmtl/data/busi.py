"""Scan and check a raw dataset in the BUSI layout; read images and merge their masks.

The layout (Al-Dhabyani et al., Data in Brief 28, 2020, doi:10.1016/j.dib.2019.104863)::

    <root>/benign/benign (1).png           the image (8-bit RGB with equal channels, or grayscale)
    <root>/benign/benign (1)_mask.png      its lesion mask (1-bit or 8-bit)
    <root>/benign/benign (4)_mask_1.png    a second lesion of the same image
    <root>/malignant/malignant (1).png ...
    <root>/normal/normal (1).png ...       optional; dropped by default (as in the paper)

An image's mask is the union of all its mask files: ``M = M_0 OR M_1 OR ...``.
The same layout is written by :mod:`busmtl.data.phantoms`, so one loader serves both.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from busmtl.data.errors import DataError, DataWarning

#: Class folder names and their integer labels. ``normal`` is only used with ``include_normal``.
LABELS: dict[str, int] = {"benign": 0, "malignant": 1, "normal": 2}
#: Classes whose images show a lesion, i.e. whose masks must not be empty.
LESION_CLASSES: tuple[str, ...] = ("benign", "malignant")
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

_MASK_RE = re.compile(r"^(?P<base>.*?)_mask(?:_(?P<k>\d+))?$", re.IGNORECASE)
_README_HINT = "see data/README.md"


@dataclass(frozen=True)
class Case:
    """One image of the dataset with its class and mask files.

    ``id`` is the image file's stem (``"benign (1)"``); when the stem does not start with the
    class name it is prefixed with it (``"benign 1"``), so ids are unique across classes.
    """

    id: str
    cls: str
    label: int
    image: Path
    masks: tuple[Path, ...]


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key that orders ``"benign (2)"`` before ``"benign (10)"``."""
    return tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text))


# --------------------------------------------------------------------------------------------
# Scanning (file names only)
# --------------------------------------------------------------------------------------------
def find_root(path: str | Path) -> Path:
    """The folder holding the class folders: ``path`` itself or a sub-folder up to two levels
    down (the original download unpacks to ``Dataset_BUSI_with_GT/``)."""
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(
            f"dataset folder {root} does not exist: give the folder that holds benign/ and "
            f"malignant/ ({_README_HINT})"
        )
    if not root.is_dir():
        raise DataError(f"{root} is not a folder: give the folder that holds benign/ and malignant/")
    candidates = [root, *sorted(p for p in root.iterdir() if p.is_dir())]
    candidates += [q for p in candidates[1:] for q in sorted(p.iterdir()) if q.is_dir()]
    for folder in candidates:
        if _class_folders(folder):
            return folder
    raise DataError(
        f"no class folders in {root}: expected benign/ and malignant/ holding "
        f"'<class> (N).png' + '<class> (N)_mask.png' ({_README_HINT})"
    )


def _class_folders(root: Path) -> dict[str, Path]:
    """Sub-folders of ``root`` named like a known class (case-insensitive)."""
    return {
        p.name.lower(): p
        for p in root.iterdir()
        if p.is_dir() and p.name.lower() in LABELS and not p.name.startswith(".")
    }


def _scan(
    root: str | Path, include_normal: bool
) -> tuple[list[Case], list[str], dict[str, int]]:
    """Scan file names; return (cases, warnings, ignored counts)."""
    base = find_root(root)
    folders = _class_folders(base)
    notes: list[str] = []
    ignored: dict[str, int] = {}
    unknown = sorted(
        p.name
        for p in base.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name.lower() not in LABELS
    )
    if unknown:
        notes.append(
            f"unknown class folder(s) in {base} ignored: {', '.join(unknown)} "
            f"(expected {', '.join(LABELS)})"
        )
    for cls in LESION_CLASSES:
        if cls not in folders:
            notes.append(f"no {cls}/ folder in {base}: the dataset has no {cls} cases")
    classes = [c for c in LABELS if c in folders and (c != "normal" or include_normal)]
    if "normal" in folders and not include_normal:
        ignored["normal"] = sum(1 for _ in _images_and_masks(folders["normal"])[0])
    cases: list[Case] = []
    for cls in classes:
        cases.extend(_scan_class(folders[cls], cls))
    if not cases:
        raise DataError(f"no images found in the class folders of {base} ({_README_HINT})")
    ids = [c.id for c in cases]
    if len(set(ids)) != len(ids):
        dup = min({i for i in ids if ids.count(i) > 1})
        raise DataError(f"two images in {base} have the id {dup!r}: rename one of them")
    return cases, notes, ignored


def _images_and_masks(folder: Path) -> tuple[dict[str, Path], dict[str, list[Path]]]:
    images: dict[str, Path] = {}
    masks: dict[str, list[Path]] = {}
    for path in folder.iterdir():
        if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        match = _MASK_RE.match(path.stem)
        if match:
            masks.setdefault(match["base"], []).append(path)
        else:
            images[path.stem] = path
    return images, masks


def _scan_class(folder: Path, cls: str) -> list[Case]:
    images, masks = _images_and_masks(folder)
    orphans = sorted(set(masks) - set(images), key=natural_key)
    if orphans:
        example = masks[orphans[0]][0]
        raise DataError(
            f"mask without image: {example} ({len(orphans)} such in {folder}): "
            f"add the image '{orphans[0]}{example.suffix}' or remove the mask"
        )
    cases = []
    for stem in sorted(images, key=natural_key):
        mask_files = tuple(sorted(masks.get(stem, []), key=lambda p: natural_key(p.name)))
        if not mask_files and cls in LESION_CLASSES:
            raise DataError(
                f"image without mask: {images[stem]}: add '{stem}_mask.png' beside it "
                "or remove the image"
            )
        case_id = stem if stem.lower().startswith(cls) else f"{cls} {stem}"
        cases.append(Case(case_id, cls, LABELS[cls], images[stem], mask_files))
    return cases


def scan_dataset(root: str | Path, include_normal: bool = False) -> list[Case]:
    """List the cases of a dataset in the BUSI layout, sorted by class then number.

    Only file names are looked at (see :func:`check_dataset` to read every file). Raises
    :class:`DataError` for a missing folder, no class folders, an image without mask or a mask
    without image; warns (:class:`DataWarning`) about unknown class folders.
    """
    cases, notes, _ = _scan(root, include_normal)
    for note in notes:
        warnings.warn(note, DataWarning, stacklevel=2)
    return cases


# --------------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------------
def _open(path: Path, what: str) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:  # PIL.UnidentifiedImageError is an OSError
        raise DataError(
            f"cannot read {what} {path} ({type(exc).__name__}: {exc}): the file is corrupt or "
            "not an image; replace it with a good copy or remove the case"
        ) from None
    return image


def _to_gray(image: Image.Image) -> np.ndarray:
    """8-bit grayscale array of an image in any PIL mode. RGB with three equal channels (the
    original BUSI download) keeps that channel exactly; other colour images use luminance."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(image, dtype=np.float64)
        top = arr.max() or 1.0
        return np.round(255.0 * np.clip(arr, 0, None) / top).astype(np.uint8)
    if image.mode in ("L", "1"):
        return np.asarray(image.convert("L"), dtype=np.uint8)
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
        return np.ascontiguousarray(rgb[..., 0])
    return np.asarray(image.convert("L"), dtype=np.uint8)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as an ``(H, W)`` uint8 grayscale array (:class:`DataError` if unreadable)."""
    with _open(Path(path), "image") as image:
        return _to_gray(image)


def read_mask(path: str | Path) -> np.ndarray:
    """Read one mask file as an ``(H, W)`` uint8 array in {0, 1}.

    1-bit masks and 0/255 masks are thresholded at half range; masks stored as 0/1 bytes are
    kept as they are (``> 0``).
    """
    with _open(Path(path), "mask") as image:
        gray = _to_gray(image)
    threshold = 0 if gray.max(initial=0) <= 1 else 127
    return (gray > threshold).astype(np.uint8)


def load_case(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """The image ``(H, W)`` uint8 and the union of its masks ``(H, W)`` uint8 in {0, 1}.

    ``mask = max_k mask_k`` (logical OR over ``_mask.png``, ``_mask_1.png``, ...); a case without
    mask files (``normal``) gets an all-zero mask.
    """
    image = read_image(case.image)
    mask = np.zeros(image.shape, dtype=np.uint8)
    for path in case.masks:
        part = read_mask(path)
        if part.shape != image.shape:
            raise DataError(
                f"mask {path} is {part.shape[1]}x{part.shape[0]} but its image {case.image.name} "
                f"is {image.shape[1]}x{image.shape[0]} (width x height): fix or remove the case"
            )
        np.maximum(mask, part, out=mask)
    return image, mask


def empty_mask_warning(empty: list[Case], total: int) -> str:
    """One-line warning about lesion cases whose merged mask is empty."""
    example = empty[0].masks[0] if empty[0].masks else empty[0].image
    return (
        f"{len(empty)} of {total} lesion masks are empty although the class has a lesion "
        f"(e.g. {example}): check these masks or remove the cases"
    )


# --------------------------------------------------------------------------------------------
# Checking (reads every file)
# --------------------------------------------------------------------------------------------
def check_dataset(
    root: str | Path, include_normal: bool = False, progress: bool | None = None,
    duplicate_threshold: float | None = None,
) -> dict[str, Any]:
    """Validate a raw dataset by reading every image and mask.

    Returns ``{"root", "counts": {class: n}, "total", "multi_mask", "mask_files",
    "width": [min, max], "height": [min, max], "modes": {mode: n}, "empty_masks", "ignored":
    {class: n}, "warnings": [str], "duplicates": {...}}`` (the near-duplicate clusters of
    :mod:`busmtl.data.duplicates` at ``duplicate_threshold``). Hard problems (unreadable file, mask/image size mismatch,
    missing partner file) raise :class:`DataError`; soft ones go to ``warnings``.
    """
    cases, notes, ignored = _scan(root, include_normal)
    counts = {cls: 0 for cls in LABELS if cls != "normal" or include_normal}
    widths: list[int] = []
    heights: list[int] = []
    modes: dict[str, int] = {}
    empty: list[Case] = []
    images: list[np.ndarray] = []
    for case in _progress(cases, "check", progress):
        with _open(case.image, "image") as im:
            modes[im.mode] = modes.get(im.mode, 0) + 1
        image, mask = load_case(case)
        images.append(image)
        heights.append(image.shape[0])
        widths.append(image.shape[1])
        counts[case.cls] += 1
        if case.cls in LESION_CLASSES and not mask.any():
            empty.append(case)
    if empty:
        notes.append(empty_mask_warning(empty, sum(c.cls in LESION_CLASSES for c in cases)))
    return {
        "root": str(find_root(root)),
        "counts": counts,
        "total": len(cases),
        "multi_mask": sum(len(c.masks) > 1 for c in cases),
        "mask_files": sum(len(c.masks) for c in cases),
        "width": [min(widths), max(widths)],
        "height": [min(heights), max(heights)],
        "modes": modes,
        "empty_masks": len(empty),
        "ignored": ignored,
        "warnings": notes,
        "duplicates": duplicate_report(images, cases, duplicate_threshold),
    }


def duplicate_report(images: list[np.ndarray], cases: list[Case],
                     threshold: float | None) -> dict[str, Any]:
    """The near-duplicate clusters of a scanned dataset, by case name, for the check report."""
    from busmtl.data.duplicates import DEFAULT_THRESHOLD, find_duplicates

    table = find_duplicates(images, [c.id for c in cases], [c.cls for c in cases],
                            DEFAULT_THRESHOLD if threshold is None else threshold)
    name = table._name
    cross = table.cross_class()
    return {"threshold": table.threshold, **table.summary(),
            "cross_class": [[name(i) for i in c] for c in cross],
            "cross_class_pairs": [[name(i), name(j)] for c in cross for i in c for j in c
                                  if i < j and table.classes[i] != table.classes[j]],
            "other_clusters": [[name(i) for i in c] for c in table.clusters() if c not in cross]}


def format_duplicates(dup: dict[str, Any], limit: int = 15) -> list[str]:
    """Lines of the check report about near-duplicates."""
    lines = [(f"near-duplicates (32x32 thumbnail correlation >= {dup['threshold']:g}): "
             f"{dup['clusters']} "
             f"clusters holding {dup['images_in_clusters']} of {dup['images']} images")]
    if dup["cross_class"]:
        lines.append(f"  filed under both classes: {dup['cross_class_clusters']} clusters, "
                     f"{len(dup['cross_class_pairs'])} benign/malignant pairs")
        lines += ["    " + " | ".join(c) for c in dup["cross_class"]]
    shown = sorted(dup["other_clusters"], key=len, reverse=True)
    lines += ["  cluster: " + " | ".join(c) for c in shown[:limit]]
    if len(shown) > limit:
        lines.append(f"  ... {len(shown) - limit} more clusters (--json lists them all)")
    return lines


def format_check(report: dict[str, Any]) -> str:
    """Human-readable summary of :func:`check_dataset`'s report."""
    lines = [f"dataset: {report['root']}"]
    lines += [f"  {cls:<10} {n:5d}" for cls, n in report["counts"].items()]
    lines.append(f"  {'total':<10} {report['total']:5d}")
    lines.append(
        f"multi-mask images: {report['multi_mask']} ({report['mask_files']} mask files in all)"
    )
    lines.append(
        f"image size: width {report['width'][0]}-{report['width'][1]} px, "
        f"height {report['height'][0]}-{report['height'][1]} px; modes "
        + ", ".join(f"{m}: {n}" for m, n in sorted(report["modes"].items()))
    )
    for cls, n in report["ignored"].items():
        lines.append(f"ignored: {n} {cls} images (use --include-normal to keep them)")
    lines += [f"warning: {w}" for w in report["warnings"]]
    if report.get("duplicates"):
        lines += format_duplicates(report["duplicates"])
    if report.get("duplicates", {}).get("cross_class"):
        lines.append("warning: some images are filed under both classes (above); the grouped "
                     "split (busmtl data split --group duplicates) leaves them out")
    if not report["warnings"] and not report.get("duplicates", {}).get("cross_class"):
        lines.append("ok: no problems found")
    return "\n".join(lines)


def _progress(items: Iterable[Any], desc: str, progress: bool | None) -> Iterable[Any]:
    """tqdm over ``items``; ``progress=None`` shows it only on a terminal."""
    return tqdm(items, desc=desc, disable=None if progress is None else not progress, leave=False)

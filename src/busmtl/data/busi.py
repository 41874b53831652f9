"""Scan and check a raw dataset in the BUSI layout; read images and merge their masks.

The layout (Al-Dhabyani et al., Data in Brief 28, 2020, doi:10.1016/j.dib.2019.104863)::

    <root>/benign/benign (1).png           the image (8-bit RGB with equal channels, or grayscale)
    <root>/benign/benign (1)_mask.png      its lesion mask (1-bit or 8-bit)
    <root>/benign/benign (4)_mask_1.png    a second lesion of the same image
    <root>/malignant/malignant (1).png ...
    <root>/normal/normal (1).png ...       optional; dropped by default (as in the paper)

An image's mask is the union of all its mask files: ``M = M_0 OR M_1 OR ...``, each file read
by the rule of :mod:`busmtl.data.masks` (a pixel is lesion when its value is > 0). Two files of
one class folder with the same name but another suffix (``x.png`` and ``x.jpg``) are an error
when preparing and a warning when checking: which one is meant is unknown.
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
from busmtl.data.masks import MaskFindings, lesion, mask_values

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
    root: str | Path, include_normal: bool, strict: bool = True
) -> tuple[list[Case], list[str], dict[str, int]]:
    """Scan file names; return (cases, warnings, ignored counts).

    Files sharing a stem are a :class:`DataError` when ``strict``, else a warning (the first
    suffix of :data:`IMAGE_SUFFIXES` is used)."""
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
        ignored["normal"] = len(_images_and_masks(folders["normal"])[0])
    cases: list[Case] = []
    for cls in classes:
        cases.extend(_scan_class(folders[cls], cls, notes, strict))
    if not cases:
        raise DataError(f"no images found in the class folders of {base} ({_README_HINT})")
    ids = [c.id for c in cases]
    if len(set(ids)) != len(ids):
        dup = min({i for i in ids if ids.count(i) > 1})
        raise DataError(f"two images in {base} have the id {dup!r}: rename one of them")
    return cases, notes, ignored


def _suffix_rank(path: Path) -> tuple[int, str]:
    return IMAGE_SUFFIXES.index(path.suffix.lower()), path.name


def _images_and_masks(
    folder: Path,
) -> tuple[dict[str, Path], dict[str, list[Path]], list[list[Path]]]:
    """Images by stem, mask files by their image's stem, and the groups of files that share a
    stem (``x.png`` + ``x.jpg``; of each group only the first by suffix is kept)."""
    by_stem: dict[str, list[Path]] = {}
    for path in folder.iterdir():
        if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        by_stem.setdefault(path.stem, []).append(path)
    images: dict[str, Path] = {}
    masks: dict[str, list[Path]] = {}
    clashes: list[list[Path]] = []
    for stem in sorted(by_stem, key=natural_key):
        paths = sorted(by_stem[stem], key=_suffix_rank)
        if len(paths) > 1:
            clashes.append(paths)
        match = _MASK_RE.match(stem)
        if match:
            masks.setdefault(match["base"], []).append(paths[0])
        else:
            images[stem] = paths[0]
    return images, masks, clashes


def _clash_message(clashes: list[list[Path]], folder: Path) -> str:
    first = clashes[0]
    return (
        f"{len(clashes)} file names in {folder} differ only in suffix (e.g. "
        f"{' and '.join(p.name for p in first)}): one of them would be ignored; "
        "remove or rename the wrong one"
    )


def _scan_class(folder: Path, cls: str, notes: list[str], strict: bool = True) -> list[Case]:
    images, masks, clashes = _images_and_masks(folder)
    if clashes:
        if strict:
            raise DataError(_clash_message(clashes, folder))
        notes.append(_clash_message(clashes, folder))
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


def _read_mask(path: Path, findings: MaskFindings | None) -> np.ndarray:
    with _open(path, "mask") as image:
        values = mask_values(image)
        if findings is not None:
            findings.add_file(path, values, image.mode)
    return lesion(values)


def read_mask(path: str | Path) -> np.ndarray:
    """Read one mask file as an ``(H, W)`` uint8 array in {0, 1}: lesion where the stored value
    is > 0, whatever the encoding (1-bit, 0/1, 0/255; :mod:`busmtl.data.masks`)."""
    return _read_mask(Path(path), None)


def load_case(case: Case, findings: MaskFindings | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The image ``(H, W)`` uint8 and the union of its masks ``(H, W)`` uint8 in {0, 1}.

    ``mask = max_k mask_k`` (logical OR over ``_mask.png``, ``_mask_1.png``, ...); a case without
    mask files (``normal``) gets an all-zero mask. ``findings`` collects the masks' encodings
    and whether the merged mask looks empty or inverted.
    """
    image = read_image(case.image)
    mask = np.zeros(image.shape, dtype=np.uint8)
    for path in case.masks:
        part = _read_mask(path, findings)
        if part.shape != image.shape:
            raise DataError(
                f"mask {path} is {part.shape[1]}x{part.shape[0]} but its image {case.image.name} "
                f"is {image.shape[1]}x{image.shape[0]} (width x height): fix or remove the case"
            )
        np.maximum(mask, part, out=mask)
    if findings is not None:
        findings.add_case(case.masks[0] if case.masks else case.image, mask,
                          case.cls in LESION_CLASSES)
    return image, mask


# --------------------------------------------------------------------------------------------
# Checking (reads every file)
# --------------------------------------------------------------------------------------------
def check_dataset(
    root: str | Path, include_normal: bool = False, progress: bool | None = None,
    duplicate_threshold: float | None = None,
) -> dict[str, Any]:
    """Validate a raw dataset by reading every image and mask.

    Returns ``{"root", "counts": {class: n}, "total", "multi_mask", "mask_files",
    "width": [min, max], "height": [min, max], "modes": {mode: n}, "mask_encodings":
    {encoding: n}, "mixed_masks", "empty_masks" (a count), "nearly_empty_masks",
    "inverted_masks" (file lists; :mod:`busmtl.data.masks`), "ignored": {class: n},
    "warnings": [str], "duplicates": {...}}`` (the near-duplicate clusters of
    :mod:`busmtl.data.duplicates` at ``duplicate_threshold``). Hard problems (unreadable file,
    mask/image size mismatch, missing partner file) raise :class:`DataError`; soft ones (files
    differing only in suffix, suspicious masks, ...) go to ``warnings``.
    """
    cases, notes, ignored = _scan(root, include_normal, strict=False)
    counts = {cls: 0 for cls in LABELS if cls != "normal" or include_normal}
    widths: list[int] = []
    heights: list[int] = []
    modes: dict[str, int] = {}
    findings = MaskFindings()
    images: list[np.ndarray] = []
    for case in _progress(cases, "check", progress):
        with _open(case.image, "image") as im:
            modes[im.mode] = modes.get(im.mode, 0) + 1
        image, _ = load_case(case, findings)
        images.append(image)
        heights.append(image.shape[0])
        widths.append(image.shape[1])
        counts[case.cls] += 1
    notes += findings.notes()
    return {
        "root": str(find_root(root)),
        "counts": counts,
        "total": len(cases),
        "multi_mask": sum(len(c.masks) > 1 for c in cases),
        "mask_files": sum(len(c.masks) for c in cases),
        "width": [min(widths), max(widths)],
        "height": [min(heights), max(heights)],
        "modes": modes,
        **findings.summary(),
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
    if report.get("mask_encodings"):
        lines.append("mask encodings (lesion = value > 0): " + ", ".join(
            f"{e}: {n}" for e, n in report["mask_encodings"].items()))
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

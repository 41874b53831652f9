"""The prepared cache: every image and merged mask resized once and stored as ``.npy`` arrays.

Layout of a prepared folder (the contract in DEVELOPERS.md)::

    images.npy   (N, H, W) uint8 grayscale           resized bilinearly
    masks.npy    (N, H, W) uint8 in {0, 1}           union of the mask files, resized nearest
    labels.npy   (N,) int64: 0 benign, 1 malignant, 2 normal (only with include_normal)
    index.csv    id, class, image, masks, sha256     one row per case, in array order
    info.json    size, source, counts, warnings      for people; not needed to load; its
                                                     ``written_by`` marks the folder as a cache
    duplicates.csv  near-duplicate clusters of the original images (busmtl.data.duplicates)
    splits.json  written later by ``busmtl data split`` (splits-grouped.json: ``--group``)

The dataset's *identity* is a short SHA-256 of ``index.csv``. Its ``sha256`` column hashes the
bytes of each case's image and mask files, so the identity changes when the content does (two
phantom sets with the same file names but different seeds differ) but not with the cache's
image size: a split made on the 64 px cache applies to the 256 px cache of the same data.
"""

from __future__ import annotations

import csv
import hashlib
import json
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from busmtl.data.busi import (
    Case,
    _progress,
    _scan,
    find_root,
    load_case,
)
from busmtl.data.duplicates import DUPLICATES_FILE, find_duplicates
from busmtl.data.errors import DataError, DataWarning
from busmtl.data.masks import MaskFindings
from busmtl.data.outputs import check_output
from busmtl.io import atomic_dir, write_json

CACHE_FILES: tuple[str, ...] = ("images.npy", "masks.npy", "labels.npy", "index.csv")
#: The command named in ``info.json``'s ``written_by``: the folder is a cache it may replace.
WRITTEN_BY = "busmtl data prepare"
INFO_FILE = "info.json"
#: Everything a cache folder holds (``busmtl data split`` adds the split files).
CACHE_NAMES: tuple[str, ...] = (*CACHE_FILES, INFO_FILE, DUPLICATES_FILE, "splits*.json")
INDEX_COLUMNS: tuple[str, ...] = ("id", "class", "image", "masks", "sha256")
#: Length of the short hexadecimal hashes used as identities.
SHORT_HASH = 12


@dataclass
class PreparedData:
    """A prepared cache in memory (see the module docstring for the arrays)."""

    images: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    ids: list[str]
    identity: str
    size: int
    path: Path


def resize_pair(image: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Resize to ``size x size``: the image bilinearly, the mask by nearest neighbour (it stays
    binary). Arrays already at that size are returned unchanged."""
    if image.shape == (size, size):
        return image, mask
    image = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
    mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST)
    return image, mask


def _file_hash(case: Case) -> str:
    digest = hashlib.sha256()
    for path in (case.image, *case.masks):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:SHORT_HASH]


def prepare_dataset(
    source: str | Path,
    out: str | Path,
    size: int = 256,
    include_normal: bool = False,
    progress: bool | None = None,
    force: bool = False,
) -> Path:
    """Scan a raw dataset (folder or ``.zip``), merge masks, resize to ``size``, write the cache.

    The whole output folder is written atomically (:func:`busmtl.io.atomic_dir`): on any error
    nothing is left at ``out`` (an existing cache there stays as it was). ``out`` may replace
    only an earlier cache of this function (``force`` for anything else) and never the source
    or a folder around it (:func:`busmtl.data.outputs.check_output`).
    Lesion cases with an empty mask are kept and reported with a :class:`DataWarning`.
    """
    if int(size) < 8:
        raise DataError(f"--size {size} is too small: use at least 8 (e.g. 64, 128 or 256)")
    source = Path(source).expanduser()
    out = check_output(out, command=WRITTEN_BY, marker=INFO_FILE, expected=CACHE_NAMES,
                       sources=[source], force=force,
                       legacy_keys=("source", "size", "counts", "identity"))
    if source.suffix.lower() == ".zip":
        if not source.is_file():
            raise DataError(f"zip file {source} does not exist: give the downloaded BUSI .zip")
        with tempfile.TemporaryDirectory(prefix="busmtl-unzip-") as tmp:
            try:
                with zipfile.ZipFile(source) as archive:
                    archive.extractall(tmp)
            except zipfile.BadZipFile:
                raise DataError(f"{source} is not a valid zip file: download it again") from None
            return _prepare(find_root(tmp), source, Path(out), int(size), include_normal, progress)
    return _prepare(find_root(source), source, Path(out), int(size), include_normal, progress)


def _prepare(
    root: Path, source: Path, out: Path, size: int, include_normal: bool, progress: bool | None
) -> Path:
    cases, notes, ignored = _scan(root, include_normal)
    for note in notes:
        warnings.warn(note, DataWarning, stacklevel=3)
    n = len(cases)
    images = np.zeros((n, size, size), dtype=np.uint8)
    masks = np.zeros((n, size, size), dtype=np.uint8)
    labels = np.array([c.label for c in cases], dtype=np.int64)
    rows: list[dict[str, str]] = []
    findings = MaskFindings()
    originals: list[np.ndarray] = []  # full-size images, for the duplicate table
    for i, case in enumerate(_progress(cases, f"prepare {size}px", progress)):
        image, mask = load_case(case, findings)
        originals.append(image)
        images[i], masks[i] = resize_pair(image, mask, size)
        rows.append(
            {
                "id": case.id,
                "class": case.cls,
                "image": case.image.relative_to(root).as_posix(),
                "masks": ";".join(p.relative_to(root).as_posix() for p in case.masks),
                "sha256": _file_hash(case),
            }
        )
    for note in findings.notes():
        notes.append(note)
        warnings.warn(note, DataWarning, stacklevel=3)
    with atomic_dir(out) as tmp:
        np.save(tmp / "images.npy", images)
        np.save(tmp / "masks.npy", masks)
        np.save(tmp / "labels.npy", labels)
        with open(tmp / "index.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=INDEX_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        counts = {cls: int((labels == lab).sum()) for cls, lab in _present(cases).items()}
        info: dict[str, Any] = {
            "written_by": WRITTEN_BY,
            "source": str(source.resolve()),
            "size": size,
            "include_normal": include_normal,
            "counts": counts,
            "total": n,
            "ignored": ignored,
            "warnings": notes,
            "identity": _hash_file(tmp / "index.csv"),
        }
        table = find_duplicates(originals, [r["id"] for r in rows], [c.cls for c in cases])
        table.write(tmp / DUPLICATES_FILE)
        info["duplicates"] = {**table.summary(), "threshold": table.threshold}
        write_json(tmp / INFO_FILE, info)
    return out


def _present(cases: list[Case]) -> dict[str, int]:
    return {c.cls: c.label for c in cases}


def _hash_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:SHORT_HASH]


def _require_cache(data_dir: Path) -> None:
    if not data_dir.is_dir():
        raise DataError(
            f"prepared data folder {data_dir} does not exist: run `busmtl data prepare --source "
            f"<BUSI folder> --out {data_dir}` (or `busmtl data phantoms` first)"
        )
    missing = [name for name in CACHE_FILES if not (data_dir / name).is_file()]
    if missing:
        # never suggest writing into this folder: it may be the raw dataset itself
        what = "a raw dataset" if _is_raw(data_dir) else "not a prepared cache"
        source = data_dir if _is_raw(data_dir) else "<BUSI folder>"
        raise DataError(
            f"{data_dir} is {what} (missing {', '.join(missing)}): prepare a cache in a new "
            f"folder, `busmtl data prepare --source {source} --out <new folder>`, and give that "
            "folder as --data-dir"
        )


def _is_raw(folder: Path) -> bool:
    """Whether ``folder`` looks like a dataset in the BUSI layout (it or a sub-folder holds
    class folders)."""
    try:
        find_root(folder)
    except (DataError, OSError):
        return False
    return True


def dataset_identity(data_dir: str | Path) -> str:
    """Short SHA-256 of the cache's ``index.csv``: names the data a split or a run belongs to."""
    data_dir = Path(data_dir)
    _require_cache(data_dir)
    return _hash_file(data_dir / "index.csv")


def read_info(data_dir: str | Path) -> dict[str, Any]:
    """A cache's ``info.json`` (source, size, counts, ...); ``{}`` when it is missing or
    unreadable (it is for people and is not needed to load the cache)."""
    try:
        info = json.loads((Path(data_dir) / INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def read_index(data_dir: str | Path) -> list[dict[str, str]]:
    """Rows of ``index.csv`` as dictionaries, in array order."""
    with open(Path(data_dir) / "index.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def load_prepared(data_dir: str | Path) -> PreparedData:
    """Load a prepared cache; :class:`DataError` (saying to run ``busmtl data prepare``) when
    the folder is not one or its files disagree."""
    data_dir = Path(data_dir).expanduser()
    _require_cache(data_dir)
    try:
        images = np.load(data_dir / "images.npy")
        masks = np.load(data_dir / "masks.npy")
        labels = np.load(data_dir / "labels.npy")
    except (OSError, ValueError) as exc:
        raise DataError(
            f"cannot read the cache in {data_dir} ({exc}): delete the folder and run "
            "`busmtl data prepare` again"
        ) from None
    ids = [row["id"] for row in read_index(data_dir)]
    n = len(ids)
    if (
        images.ndim != 3
        or images.shape != masks.shape
        or images.shape[1] != images.shape[2]
        or len(images) != n
        or labels.shape != (n,)
    ):
        raise DataError(
            f"the cache in {data_dir} is inconsistent (images {images.shape}, masks {masks.shape}, "
            f"labels {labels.shape}, {n} rows in index.csv): delete it and run "
            "`busmtl data prepare` again"
        )
    return PreparedData(
        images=images,
        masks=masks,
        labels=labels.astype(np.int64),
        ids=ids,
        identity=_hash_file(data_dir / "index.csv"),
        size=int(images.shape[1]),
        path=data_dir,
    )

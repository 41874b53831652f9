""":func:`ensure_dataset`: the prepared cache (with ``splits.json``) a run should train on.

Folders under the data root (``busmtl.settings.data_root()``, default ``data/generated``)::

    phantoms-n240-s0/raw            generated phantoms in the BUSI layout (256 px)
    phantoms-n240-s0/prepared-64    their cache at 64 px, with splits.json (seed 0)
    busi-<hash of the BUSI path>/prepared-64

Each step is skipped when its output exists, and each output is written atomically, so the
call is idempotent and an interrupted call leaves nothing half-made. A lock file per dataset
folder serialises concurrent calls (several sweep workers starting at once).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

from busmtl import settings
from busmtl.data.busi import _class_folders, _scan, find_root
from busmtl.data.errors import DataError
from busmtl.data.phantoms import generate_phantoms
from busmtl.data.prepare import CACHE_FILES, prepare_dataset, read_index, read_info
from busmtl.data.splits import load_splits, make_splits, split_file

#: Side of the raw phantom images (BUSI's images are a few hundred pixels wide).
PHANTOM_RAW_SIZE = 256
DATASET_CHOICES: tuple[str, ...] = ("auto", "busi", "phantoms")


def ensure_dataset(
    dataset: str | Path = "auto",
    *,
    phantoms_n: int = 240,
    size: int = 64,
    seed: int = 0,
    busi_dir: str | Path | None = None,
    root: str | Path | None = None,
    progress: bool | None = None,
    split_group: str = "none",
) -> Path:
    """Return a prepared cache folder holding its split file, making whatever is missing.

    ``dataset`` is one of:

    * ``"auto"``: BUSI when ``busi_dir`` or ``busmtl.settings.busi_dir()`` (``BUSMTL_BUSI_DIR``
      or ``data/BUSI``) gives a folder, otherwise the phantoms;
    * ``"busi"``: BUSI (:class:`DataError` when no folder is configured);
    * ``"phantoms"``: ``phantoms_n`` phantoms generated with ``seed``;
    * a path to a prepared cache (used as it is; ``size`` is ignored, the trainer can resize),
      or to a raw dataset in the BUSI layout (prepared at ``size`` under the data root).

    Splits are made with ``seed`` (test fraction 0.2, 5 folds), grouped by ``split_group``
    (``splits.json`` by image, ``splits-grouped.json`` by duplicate cluster). An existing split
    file made with another seed is an error, not silently replaced.
    """
    base = Path(root) if root is not None else settings.data_root()
    name = str(dataset)
    if name not in DATASET_CHOICES:
        path = Path(name).expanduser()
        if not path.exists():
            raise DataError(
                f"dataset {name!r} is neither {', '.join(DATASET_CHOICES)} nor an existing folder: "
                "give one of those or the path of a prepared cache or a BUSI-layout folder"
            )
        if all((path / f).is_file() for f in CACHE_FILES):
            return _ensure_splits(path, seed, base / ".locks" / f"{_short_hash(path)}.lock",
                                  split_group)
        return _ensure_raw(path, base, size, seed, progress, prefix=_slug(path.name),
                               group=split_group)
    if name in ("auto", "busi"):
        source = Path(busi_dir).expanduser() if busi_dir is not None else settings.busi_dir()
        if source is not None:
            return _ensure_raw(source, base, size, seed, progress, prefix="busi",
                               group=split_group)
        if name == "busi":
            raise DataError(
                "no BUSI folder configured: set BUSMTL_BUSI_DIR to the folder holding benign/ and "
                "malignant/ or put it at data/BUSI (see data/README.md), or use the phantoms"
            )
    return _ensure_phantoms(base, phantoms_n, size, seed, progress, split_group)


def is_busi(dataset: str | Path = "auto", busi_dir: str | Path | None = None) -> bool:
    """True when :func:`ensure_dataset` given ``dataset`` trains on real images in BUSI's layout,
    False when on phantoms; decided from what is configured and on disk, making nothing.

    ``"busi"`` is BUSI; ``"phantoms"`` is not; ``"auto"`` is BUSI when a BUSI folder is
    configured (``busi_dir``, ``BUSMTL_BUSI_DIR`` or ``data/BUSI``). A folder is phantoms when
    it holds the phantom generator's marker (:data:`busmtl.data.phantoms.MARKER_FILE`) or is a
    cache prepared from such a folder (its ``info.json`` names the source)."""
    from busmtl.data.phantoms import MARKER_FILE

    name = str(dataset)
    if name == "busi":
        return True
    if name == "phantoms":
        return False
    if name == "auto":
        if busi_dir is not None:
            return True
        try:
            return settings.busi_dir() is not None
        except FileNotFoundError:  # BUSMTL_BUSI_DIR names a missing folder: no BUSI here
            return False
    folder = Path(name).expanduser()
    source = Path(read_info(folder).get("source") or folder)
    return not ((folder / MARKER_FILE).is_file() or (source / MARKER_FILE).is_file())


def _ensure_phantoms(base: Path, n: int, size: int, seed: int, progress: bool | None,
                     group: str = "none") -> Path:
    folder = base / f"phantoms-n{int(n)}-s{int(seed)}"
    with _locked(folder / ".lock"):
        raw = folder / "raw"
        if not _class_folders_exist(raw):
            generate_phantoms(raw, n=n, seed=seed, size=PHANTOM_RAW_SIZE, progress=progress)
        prepared = folder / f"prepared-{int(size)}"
        if not _is_cache(prepared):
            prepare_dataset(raw, prepared, size=size, progress=progress)
        return _make_or_check_splits(prepared, seed, group)


def _ensure_raw(
    source: Path, base: Path, size: int, seed: int, progress: bool | None, prefix: str,
    group: str = "none",
) -> Path:
    source = find_root(source).resolve()
    folder = base / f"{prefix}-{_short_hash(source)}"
    with _locked(folder / ".lock"):
        prepared = folder / f"prepared-{int(size)}"
        if not _is_cache(prepared) or not _matches_source(prepared, source):
            prepare_dataset(source, prepared, size=size, progress=progress)
        return _make_or_check_splits(prepared, seed, group)


def _ensure_splits(prepared: Path, seed: int, lock: Path, group: str = "none") -> Path:
    with _locked(lock):
        return _make_or_check_splits(prepared, seed, group)


def _make_or_check_splits(prepared: Path, seed: int, group: str = "none") -> Path:
    path = prepared / split_file(group)
    if path.is_file():
        try:
            splits = load_splits(path, prepared)
        except DataError:
            splits = None  # made for an older cache at this place: make a fresh one
        if splits is not None:
            if splits.seed != int(seed):
                raise DataError(
                    f"{path} was made with seed {splits.seed}, not {seed}: run `busmtl data split "
                    f"--data-dir {prepared} --seed {seed}` to replace it, or use seed {splits.seed}"
                )
            return prepared
    make_splits(prepared, seed=seed, group=group)
    return prepared


def _matches_source(prepared: Path, source: Path) -> bool:
    """Whether the cache lists the same cases as the raw folder (file names only: cheap)."""
    include_normal = bool(read_info(prepared).get("include_normal", False))
    cases, _, _ = _scan(source, include_normal)
    return [c.id for c in cases] == [row["id"] for row in read_index(prepared)]


def _is_cache(path: Path) -> bool:
    return all((path / f).is_file() for f in CACHE_FILES)


def _class_folders_exist(path: Path) -> bool:
    return path.is_dir() and bool(_class_folders(path))


def _short_hash(path: Path) -> str:
    return hashlib.sha256(str(path.resolve()).encode("utf-8")).hexdigest()[:8]


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name.lower()) or "data"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (POSIX ``flock``; no locking where unavailable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

"""The run hash that decides whether a sweep run is already done.

A run is identified by what could change its result:

* its specification (:mod:`busmtl.runs.spec`): every setting after the profile's defaults,
  the overrides, the device and the precision are resolved, minus the ones that only say
  *where* it reads and writes (:data:`busmtl.runs.spec.WHERE_ONLY`);
* the notebook's source: the cells' sources only, so executing a notebook (which adds outputs
  and execution counts) does not change its hash;
* the library: ``busmtl.__version__`` plus a hash of the files listed in
  :data:`TRAINING_SOURCES`, the ones that can change a result (model, weighting, losses,
  metrics, data, the training step and loop, the settings, the run artifacts). The command line,
  the sweep driver, the report and the benchmarks are not in it: editing them never re-trains;
* the data: the bytes of the prepared cache's ``index.csv`` and of the split file the run
  reads (``splits.json``, or ``splits-grouped.json`` for a split by duplicate groups).

The sweep passes the hash to the notebook (parameter ``run_hash``), the trainer records it in
the run folder's ``DONE`` marker, and a later sweep skips the run only when the recorded hash
equals the one it computes. (The thread count is part of the specification: on a CPU, the
order of floating-point sums depends on it, and over a few epochs two thread counts give
visibly different metrics; the sweep therefore fixes it per run.)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat

from busmtl.config import TrainConfig
from busmtl.runs import spec

#: The package's files and folders (relative to ``src/busmtl``) whose source can change a run's
#: result. An explicit list, so that a new module is outside the hash until someone decides it
#: belongs here; ``tests/test_sweep.py`` checks that every entry exists and that a CLI or report
#: edit leaves the hash alone while a trainer edit changes it.
TRAINING_SOURCES: tuple[str, ...] = (
    "models", "weighting", "data", "losses", "training", "config.py",
)

#: The file of a prepared cache whose bytes identify its images (the folds are identified by
#: the split file a run reads, see :func:`data_hash`).
INDEX_FILE: str = "index.csv"


def _sha256(parts: list[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def notebook_source_hash(path: str | Path) -> str:
    """Hash of a notebook's cell types and sources (outputs, counts and metadata ignored)."""
    nb = nbformat.read(str(path), as_version=4)
    return _sha256([f"{cell.cell_type}\n{cell.source}".encode() for cell in nb.cells])


def training_files(package: Path | None = None) -> list[Path]:
    """The ``.py`` files of :data:`TRAINING_SOURCES` (ValueError when an entry is missing)."""
    import busmtl

    package = package or Path(busmtl.__file__).resolve().parent
    files: list[Path] = []
    for entry in TRAINING_SOURCES:
        path = package / entry
        if path.is_dir():
            files.extend(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
        elif path.is_file():
            files.append(path)
        else:
            raise ValueError(f"TRAINING_SOURCES names {entry}, which is not in {package}")
    return sorted(files)


def library_hash(package: Path | None = None) -> str:
    """Hash of ``busmtl.__version__`` and the contents of :func:`training_files` (of the
    installed package, or of the copy in ``package``)."""
    import busmtl

    package = package or Path(busmtl.__file__).resolve().parent
    files = training_files(package)
    parts = [busmtl.__version__.encode()]
    for path in files:
        parts.append(path.relative_to(package).as_posix().encode())
        parts.append(path.read_bytes())
    return _sha256(parts)


def data_hash(data_dir: str | Path | None, splits: str | Path | None = None) -> str | None:
    """Hash of the prepared cache's ``index.csv`` and of the split file ``splits`` (default:
    ``<data_dir>/splits.json``); ``None`` without a data folder."""
    if data_dir is None:
        return None
    folder = Path(data_dir)
    parts = []
    for name, path in ((INDEX_FILE, folder / INDEX_FILE),
                       ("splits", Path(splits) if splits else folder / "splits.json")):
        parts.append(name.encode())
        parts.append(path.read_bytes() if path.is_file() else b"<missing>")
    return _sha256(parts)


def run_hash(
    config: TrainConfig,
    notebook: str | Path,
    *,
    data_dir: str | Path | None = None,
    library: str | None = None,
) -> str:
    """The run hash (24 hex digits) of the resolved specification ``config`` executed with
    ``notebook`` on the prepared cache ``data_dir`` (default: ``config.data_dir``).

    ``library`` is :func:`library_hash` (computed when not given; pass it in when hashing many
    runs at once).
    """
    from busmtl.data.splits import run_split_path

    folder = data_dir if data_dir is not None else config.data_dir
    splits = (run_split_path(folder, config.splits, config.split_group) if folder is not None
              else None)
    record = {
        "spec": spec.identity(config),
        "notebook": notebook_source_hash(notebook),
        "library": library if library is not None else library_hash(),
        "data": data_hash(folder, splits),
    }
    blob = json.dumps(record, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]

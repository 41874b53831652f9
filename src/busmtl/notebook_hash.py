"""The run hash that decides whether a sweep run is already done.

A run is identified by what could change its result:

* its parameters (method, fold, profile, data folder, overrides, ...), minus the ones that only
  say *where* or *how fast* it runs (:data:`EXECUTION_ONLY`);
* the notebook's source: the cells' sources only, so executing a notebook (which adds outputs
  and execution counts) does not change its hash;
* the library: ``busmtl.__version__`` plus a hash of the ``src/busmtl/**/*.py`` files that can
  change a result (all but :data:`NOT_TRAINING`);
* the data: the bytes of ``splits.json`` and ``index.csv`` of the prepared cache, when present.

The sweep passes the hash to the notebook (parameter ``run_hash``), the trainer records it in
the run folder's ``DONE`` marker, and a later sweep skips the run only when the recorded hash
equals the one it computes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat

#: Parameters that do not change a run's result and so are left out of its hash: the output
#: folder and progress bars. (The thread count is *not* one of them: on a CPU, the order of
#: floating-point sums depends on it, and over a few epochs two thread counts give visibly
#: different metrics; the sweep therefore fixes it per run, see ``busmtl.sweep``.)
EXECUTION_ONLY: frozenset[str] = frozenset({"out_dir", "progress", "run_hash"})

#: Parts of the package that cannot change a run's result (the report, the benchmarks, the sweep
#: driver): editing them does not invalidate finished runs.
NOT_TRAINING: frozenset[str] = frozenset({"report", "bench", "sweep.py", "sweep_worker.py", "cli.py"})

#: Files of a prepared cache whose bytes identify the data and the folds.
DATA_FILES: tuple[str, ...] = ("splits.json", "index.csv")


def _sha256(parts: list[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def notebook_source_hash(path: str | Path) -> str:
    """Hash of a notebook's cell types and sources (outputs, counts and metadata ignored)."""
    nb = nbformat.read(str(path), as_version=4)
    return _sha256([f"{cell.cell_type}\n{cell.source}".encode() for cell in nb.cells])


def library_hash() -> str:
    """Hash of ``busmtl.__version__`` and the contents of every ``.py`` file of the package."""
    import busmtl

    package = Path(busmtl.__file__).resolve().parent
    files = sorted(
        p for p in package.rglob("*.py")
        if "__pycache__" not in p.parts and p.relative_to(package).parts[0] not in NOT_TRAINING
    )
    parts = [busmtl.__version__.encode()]
    for path in files:
        parts.append(path.relative_to(package).as_posix().encode())
        parts.append(path.read_bytes())
    return _sha256(parts)


def data_hash(data_dir: str | Path | None) -> str | None:
    """Hash of the prepared cache's small identity files, or ``None`` without a data folder."""
    if data_dir is None:
        return None
    folder = Path(data_dir)
    parts = []
    for name in DATA_FILES:
        path = folder / name
        parts.append(name.encode())
        parts.append(path.read_bytes() if path.is_file() else b"<missing>")
    return _sha256(parts)


def run_hash(
    parameters: Mapping[str, Any],
    notebook: str | Path,
    *,
    library: str | None = None,
) -> str:
    """The run hash (24 hex digits) of ``parameters`` executed with ``notebook``.

    ``library`` is :func:`library_hash` (computed when not given; pass it in when hashing many
    runs at once).
    """
    params = {k: v for k, v in parameters.items() if k not in EXECUTION_ONLY}
    record = {
        "parameters": params,
        "notebook": notebook_source_hash(notebook),
        "library": library if library is not None else library_hash(),
        "data": data_hash(params.get("data_dir")),
    }
    blob = json.dumps(record, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]

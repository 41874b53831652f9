"""The ``DONE`` marker: the last file a run writes, and the one every reader asks whether a run
finished.

``DONE`` is a small JSON file ``{"run_hash", "finished", "busmtl_version"}``:

* ``run_hash``: the hash of the run specification that made the folder
  (:mod:`busmtl.runs.hashing`); ``null`` for a run made by hand (``busmtl train --out``), which
  a sweep may adopt (:func:`adopt`) when its settings are exactly the sweep's;
* ``finished``: when the run finished (ISO 8601, UTC).

Only this module names the file, reads it or writes it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from busmtl import __version__
from busmtl.io import write_json

#: The marker's file name inside a run folder.
NAME: str = "DONE"


def path(run_dir: str | Path) -> Path:
    """Where a run folder's marker is."""
    return Path(run_dir) / NAME


def exists(run_dir: str | Path) -> bool:
    """True when the run folder holds a marker (the run finished, whatever its hash)."""
    return path(run_dir).is_file()


def read(run_dir: str | Path) -> dict[str, Any] | None:
    """The marker's record; ``None`` when the folder has none or it cannot be read."""
    try:
        record = json.loads(path(run_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def run_hash(run_dir: str | Path) -> str | None:
    """The run hash the marker records: ``None`` without a readable marker, ``""`` for a run
    made by hand (no hash recorded)."""
    record = read(run_dir)
    if record is None:
        return None
    return record.get("run_hash") or ""


def finished(run_dir: str | Path) -> dt.datetime | None:
    """When the run finished (``None`` when the marker does not say)."""
    try:
        return dt.datetime.fromisoformat((read(run_dir) or {})["finished"])
    except (KeyError, TypeError, ValueError):
        return None


def write(run_dir: str | Path, run_hash: str | None) -> Path:
    """Mark a run finished (atomically; the run's last write)."""
    return write_json(path(run_dir), {
        "run_hash": run_hash,
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "busmtl_version": __version__,
    })


def adopt(run_dir: str | Path, run_hash: str) -> Path:
    """Give a hand-made run's marker the hash of the sweep run it matches exactly (the record
    keeps its other fields and gains ``"adopted": true``)."""
    record = read(run_dir)
    if record is None:
        raise FileNotFoundError(f"{path(run_dir)} is missing or unreadable: nothing to adopt")
    return write_json(path(run_dir), {**record, "run_hash": run_hash, "adopted": True})

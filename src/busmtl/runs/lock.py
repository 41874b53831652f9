"""One writer per run folder: an advisory file lock with its owner written inside.

Whoever trains into a run folder holds ``<run folder>/.lock`` (``fcntl.flock``, exclusive) for
the whole run: a sweep's worker from before the notebook starts, ``busmtl train``, a SLURM job.
The file records the owner (pid, host, start time). The operating system releases the lock when
its process dies however it dies (``kill -9`` included), so a lock is never left held by a dead
process: a file whose lock is free is *stale* and is simply taken over.

A kernel started by a sweep worker trains inside the worker's lock: :class:`RunLock` accepts a
lock held by its own parent process on the same host.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
from pathlib import Path
from typing import Any

from typing_extensions import Self

from busmtl.errors import UserError

LOCK_FILE = ".lock"


class RunBusyError(UserError, RuntimeError):
    """The run folder is being written by another process (named in the message)."""


def _owner() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def _read_owner(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def describe(owner: dict[str, Any]) -> str:
    return f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}"


def holder(run_dir: str | Path) -> dict[str, Any] | None:
    """The owner of a held lock (``{"pid", "host", "started"}``), or ``None`` when nobody writes
    the folder (no lock file, or a stale one)."""
    path = Path(run_dir) / LOCK_FILE
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read_owner(path) or {"pid": None, "host": None}
            fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError:
        return None
    return None


def is_stale(run_dir: str | Path) -> bool:
    """True when a lock file is left by a process that has ended."""
    return (Path(run_dir) / LOCK_FILE).is_file() and holder(run_dir) is None


def held_by_parent(run_dir: str | Path) -> bool:
    """True when the lock is held by this process's parent on this host (a sweep worker)."""
    owner = holder(run_dir)
    return bool(owner) and owner.get("pid") == os.getppid() \
        and owner.get("host") == socket.gethostname()


class RunLock:
    """``with RunLock(run_dir):`` write the folder as its only writer.

    Raises :class:`RunBusyError` (naming the owner) when another live process holds it. Inside a
    sweep worker's lock (the parent holds it) the lock is not taken again."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self._handle = None

    def __enter__(self) -> Self:
        if held_by_parent(self.run_dir):
            return self
        self.run_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+b")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise RunBusyError(
                f"run folder {self.run_dir} is being written by {describe(_read_owner(self.path))}"
                ": wait for it to finish (busmtl sweep status shows it) or stop that process"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(_owner()).encode())
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

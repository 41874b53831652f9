"""The states a run can be in: one enumeration for every module that asks.

The sweep (:mod:`busmtl.orchestration.sweep`), ``busmtl sweep status``
(:mod:`busmtl.orchestration.status`) and the book's tables (:mod:`busmtl.report.aggregate`,
:mod:`busmtl.report.pages`) all name a run's state with :class:`Status`, and all read a run
folder's state with :func:`folder_status`.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from busmtl.runs import lock, marker


class Status(str, Enum):
    """A run's state. A ``str`` enumeration: ``Status.DONE == "done"``, and it prints as its
    value, so tables and JSON files show the plain word."""

    DONE = "done"  # a DONE marker and metrics.json: the run finished
    RUNNING = "running"  # a writer holds the folder's lock, or a SLURM job runs it
    QUEUED = "queued"  # waiting in SLURM's queue or in the sweep's
    FAILED = "failed"  # the last sweep recorded that it failed
    PENDING = "pending"  # not made yet, interrupted, or made with other settings or code

    def __str__(self) -> str:
        return self.value


def is_finished(run_dir: str | Path) -> bool:
    """True when the run folder holds a finished run: ``DONE`` and ``metrics.json``."""
    return marker.exists(run_dir) and (Path(run_dir) / "metrics.json").is_file()


def finished_hash(run_dir: str | Path) -> str | None:
    """The run hash of a finished run: what its ``DONE`` records (``""`` when it records no
    key) when the folder also holds ``metrics.json``; ``None`` for a folder without both, or
    whose ``DONE`` records a hash of ``null`` (a run made by hand)."""
    folder = Path(run_dir)
    if not is_finished(folder):
        return None
    record = marker.read(folder)
    return None if record is None else record.get("run_hash", "")


def folder_status(run_dir: str | Path, failed: bool = False) -> Status:
    """What a run folder tells of its run: :attr:`Status.DONE` when it holds ``DONE`` and
    ``metrics.json``, :attr:`Status.RUNNING` while a writer holds its lock
    (:mod:`busmtl.runs.lock`), else :attr:`Status.FAILED` when the caller knows the last sweep
    failed it (``failed``), else :attr:`Status.PENDING`."""
    folder = Path(run_dir)
    if is_finished(folder):
        return Status.DONE
    if lock.holder(folder) is not None:
        return Status.RUNNING
    return Status.FAILED if failed else Status.PENDING

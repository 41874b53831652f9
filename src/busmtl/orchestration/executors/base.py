"""What every executor shares: the job file of a run, the worker's environment, the outcome.

An executor takes the sweep's pending runs (:class:`busmtl.orchestration.sweep.Run`) and executes each with
the same worker, ``python -m busmtl.orchestration.worker JOB.json`` (:mod:`busmtl.orchestration.worker`). The
worker runs papermill, which writes the run's notebook and run folder, and the trainer writes
the ``DONE`` marker with the run hash last. So the run folders, ``DONE`` markers and hashes are
the same whichever executor ran them, and a sweep started with one executor resumes with another.

An executor sets on each run: ``status`` (``queued``, ``running``, then ``done`` or ``failed``),
``error`` (one line), ``seconds``, ``train_seconds``, ``log`` (the worker's log file) and, where
it applies, ``job_id`` and ``device``; it calls ``report(run)`` after each change so that the
sweep can update its progress bar and ``sweep_summary.json``.
"""

from __future__ import annotations

import json
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from busmtl.io import write_json
from busmtl.settings import repo_root

if TYPE_CHECKING:  # the sweep imports this module; no import back at run time
    from busmtl.orchestration.plan import Run

#: The Jupyter kernel that executes the run notebooks (installed by ``make install``).
KERNEL_NAME = "python3"

#: Called by an executor after every change of a run's status.
Report = Callable[["Run"], None]


@dataclass(frozen=True)
class SweepContext:
    """What an executor needs besides the runs."""

    profile: str
    profile_dir: Path  # <runs>/<profile>: run folders, sweep_summary.json, logs
    notebook: Path  # the notebook every run executes
    retries: int = 2  # kernel start-up failures retried by the worker
    base: Path | None = None  # the folder the notebooks run in (default: the repository root)


class Executor(ABC):
    """Executes the pending runs of a sweep; never raises for a failing run."""

    #: The ``--executor`` value.
    name: ClassVar[str]

    def check(self, context: SweepContext) -> None:
        """Fail before the sweep writes or starts anything (missing tools, bad settings, jobs of a
        previous submission still running). Raise :class:`busmtl.errors.UserError`."""

    def precision_device(self, device: str) -> str | None:
        """The device type (``"cpu"``, ``"cuda"``) the runs will train on, when it cannot be
        found on this machine (a login node without the compute nodes' GPUs); ``None``: resolve
        ``device`` here."""
        return None

    @abstractmethod
    def execute(self, runs: list[Run], context: SweepContext, report: Report) -> None:
        """Execute ``runs`` (none of them done), setting their outcome; see the module doc."""

    def describe(self) -> dict[str, Any]:
        """Settings recorded in ``sweep_summary.json`` (``executor``)."""
        return {"name": self.name}


def job_name(run: Run) -> str:
    """``<method>-fold<k>`` (``-seed<s>`` for seeds other than 0): the file names of a run's
    job and log files."""
    return f"{run.method}-{run.key.name}"


from busmtl.training.isa import env_for


def write_job(run: Run, folder: Path, context: SweepContext,
              env: dict[str, str] | None = None) -> Path:
    """Write ``<folder>/<method>-fold<k>.job.json`` for the worker (a stale result file of an
    earlier attempt is removed first) and return its path. ``env`` is added to the worker's
    environment (see :func:`worker_env`)."""
    folder.mkdir(parents=True, exist_ok=True)
    run.run_dir.mkdir(parents=True, exist_ok=True)
    job_file = folder / f"{job_name(run)}.job.json"
    result_file = folder / f"{job_name(run)}.result.json"
    result_file.unlink(missing_ok=True)
    threads = str(int(run.config.num_threads or 1))
    # the instruction-set level reaches the kernel before it imports torch
    isa_env = env_for(run.config.cpu_isa)
    job = {"input": str(context.notebook), "output": str(run.notebook),
           "parameters": dict(run.parameters), "kernel_name": KERNEL_NAME,
           "cwd": str(context.base or repo_root()), "retries": context.retries, "result": str(result_file),
           "title": run.title,
           "run_dir": str(run.run_dir),
           "env": {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
                   "PYTHONUNBUFFERED": "1", **isa_env, **(env or {})}}
    write_json(job_file, job)
    return job_file


def read_job(job_file: str | Path) -> dict[str, Any]:
    return json.loads(Path(job_file).read_text(encoding="utf-8"))


def worker_command(job_file: str | Path) -> list[str]:
    """The command that executes one run (the same for every executor)."""
    return [sys.executable, "-m", "busmtl.orchestration.worker", str(job_file)]


def worker_env(job: dict[str, Any]) -> dict[str, str]:
    """This process's environment plus the job's: thread caps (``OMP``/``MKL``, equal to the
    run's ``num_threads``) and, when the executor placed the run, ``CUDA_VISIBLE_DEVICES``."""
    return dict(os.environ, **job.get("env", {}))


def read_result(job: dict[str, Any]) -> dict[str, Any] | None:
    """The worker's result record (``status``, ``error``, ``attempts``), or ``None`` when the
    worker ended without writing it (killed, crashed)."""
    try:
        return json.loads(Path(job["result"]).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def train_seconds(run_dir: Path) -> float:
    """Time spent in training epochs (``history.csv``); 0 for a run without history."""
    try:
        import pandas as pd

        return float(pd.read_csv(run_dir / "history.csv")["epoch_time_s"].sum())
    except Exception:  # noqa: BLE001 - a failed run may have no history
        return 0.0


def settle(run: Run, result: dict[str, Any] | None, seconds: float,
           killed: str | None = None) -> None:
    """Set the outcome of a finished run: ``done`` when the worker reported success *and* the
    run folder's ``DONE`` records this run's hash, else ``failed`` with one error line (the
    scheduler's verdict ``killed`` first, then the worker's error)."""
    run.seconds = seconds
    run.train_seconds = train_seconds(run.run_dir)
    if result is not None and result.get("status") == "ok" and run.is_done():
        run.status, run.error = "done", None
        return
    if result is not None and result.get("status") == "busy":
        # another process writes this run folder: it is that writer's run, not a failure here
        run.status, run.error = "skipped", result.get("error")
        return
    run.status = "failed"
    if killed:
        run.error = killed
    elif result is None:
        run.error = "the worker process died before reporting"
    else:
        run.error = result.get("error") or "the run finished without a matching DONE marker"

"""``--executor local`` (the default): a pool of worker processes on this machine.

* **CPU**: ``jobs`` runs at once, each in its own process and with a fixed number of threads
  (the run's ``num_threads``; see :mod:`busmtl.orchestration.sweep`), so the numbers do not depend on ``jobs``.
* **GPUs**: each run is placed on a free GPU (:class:`~busmtl.orchestration.executors.devices.DevicePool`),
  ``runs_per_device`` runs per GPU; the worker sees only its GPU (``CUDA_VISIBLE_DEVICES``).
  ``jobs`` is not used then: the places on the GPUs decide how many runs go at once.

Each worker's output goes to ``<runs>/<profile>/logs/<method>-fold<k>.log`` (the path is in
``sweep_summary.json``). Ctrl-C stops the running workers; their runs stay not done and the
next sweep runs them again.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from busmtl.orchestration.executors.base import (
    Executor,
    Report,
    SweepContext,
    job_name,
    read_job,
    read_result,
    settle,
    worker_command,
    worker_env,
    write_job,
)
from busmtl.orchestration.executors.devices import DevicePool

if TYPE_CHECKING:
    from busmtl.orchestration.plan import Run


@dataclass
class _Active:
    run: Run
    proc: subprocess.Popen
    job: dict[str, Any]
    log: IO[bytes]
    device: str | None
    started: float


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, jobs: int = 1, devices: list[str] | None = None,
                 runs_per_device: int = 1, poll_s: float = 0.2) -> None:
        if int(jobs) < 1:
            raise ValueError(f"--jobs {jobs}: use 1 or more")
        self.jobs = int(jobs)
        self.pool = DevicePool(devices or [], runs_per_device)
        self.poll_s = poll_s

    @property
    def slots(self) -> int:
        """Runs executed at once."""
        return self.pool.capacity or self.jobs

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "jobs": self.slots, "devices": self.pool.devices,
                "runs_per_device": self.pool.runs_per_device if self.pool.devices else None}

    def execute(self, runs: list[Run], context: SweepContext, report: Report) -> None:
        logs = context.profile_dir / "logs"
        queue = list(runs)
        active: list[_Active] = []
        with tempfile.TemporaryDirectory(prefix="busmtl-sweep-") as tmp:
            try:
                while queue or active:
                    while queue and len(active) < self.slots:
                        active.append(self._launch(queue.pop(0), Path(tmp), logs, context))
                        report(active[-1].run)
                    time.sleep(self.poll_s)
                    for item in [a for a in active if a.proc.poll() is not None]:
                        active.remove(item)
                        self._finish(item)
                        report(item.run)
            except KeyboardInterrupt:
                for item in active:
                    item.proc.terminate()
                for item in active:
                    item.proc.wait(timeout=30)
                    item.log.close()
                raise

    def _launch(self, run: Run, tmp: Path, logs: Path, context: SweepContext) -> _Active:
        device = self.pool.acquire() if self.pool.devices else None
        env = {"CUDA_VISIBLE_DEVICES": device} if device is not None else {}
        job_file = write_job(run, tmp, context, env)
        job = read_job(job_file)
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{job_name(run)}.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(worker_command(job_file), env=worker_env(job),
                                stdout=log, stderr=subprocess.STDOUT)
        run.status, run.error, run.log, run.placement = "running", None, log_path, device
        return _Active(run, proc, job, log, device, time.perf_counter())

    def _finish(self, item: _Active) -> None:
        item.log.close()
        if item.device is not None:
            self.pool.release(item.device)
        settle(item.run, read_result(item.job), time.perf_counter() - item.started)

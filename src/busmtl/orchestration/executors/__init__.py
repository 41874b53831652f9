"""Where the runs of a sweep execute: ``local`` (a process pool on this machine, the default)
or ``slurm`` (one SLURM job array, through submitit).

| module | job |
|---|---|
| ``base.py`` | the :class:`Executor` interface; job file, worker command and outcome of a run |
| ``local.py`` | :class:`LocalExecutor`: worker processes, CPU threads, GPU placement |
| ``devices.py`` | ``--devices`` / ``--runs-per-device``: which GPUs, free places on them |
| ``slurm.py`` | :class:`SlurmExecutor`: submit the array, wait, record each job's outcome |
| ``slurm_settings.py`` | partition, time, CPUs, memory, GPUs, sbatch options (flags or a file) |
| ``slurm_queue.py`` | ``squeue`` states and the verdicts in a killed job's log |

Every executor runs each run with the same worker (:mod:`busmtl.orchestration.worker`), so run folders,
``DONE`` markers and run hashes do not depend on the executor.
"""

from __future__ import annotations

from busmtl.orchestration.executors.base import Executor, SweepContext

#: The values of ``--executor``.
EXECUTORS: tuple[str, ...] = ("local", "slurm")


def make_executor(name: str | Executor | None = None, *, jobs: int = 1, device: str | None = None,
                  devices: str | list[str] | None = None, runs_per_device: int = 1) -> Executor:
    """An executor by name (``None`` = ``local``) with default settings; an :class:`Executor`
    is returned as it is. ``jobs``, ``device``, ``devices`` and ``runs_per_device`` configure
    the local executor (``devices``: ``--devices`` text or already resolved
    ``CUDA_VISIBLE_DEVICES`` entries)."""
    if isinstance(name, Executor):
        return name
    name = name or "local"
    if name == "local":
        from busmtl.orchestration.executors.devices import parse_devices
        from busmtl.orchestration.executors.local import LocalExecutor

        gpus = devices if isinstance(devices, list) else parse_devices(devices, device)
        return LocalExecutor(jobs, gpus, runs_per_device)
    if name == "slurm":
        from busmtl.orchestration.executors.slurm import SlurmExecutor

        return SlurmExecutor()
    raise ValueError(f"--executor {name!r}: use one of {', '.join(EXECUTORS)}")


__all__ = ["EXECUTORS", "Executor", "SweepContext", "make_executor"]

"""``--executor slurm``: the pending runs as one SLURM job array, submitted through submitit.

Each array task executes one run with the same worker as the local executor
(:func:`run_job` starts ``python -m busmtl.orchestration.worker JOB.json`` with the run's thread caps),
so it writes the same notebook, run folder and ``DONE`` marker. Files of a submission, under
``<runs>/<profile>/slurm_logs/``:

* ``<method>-fold<k>.job.json`` / ``.result.json``: the worker's job and its result;
* ``<job id>_0_log.out``: the job's log (stdout and stderr of the job, the worker and submitit;
  ``slurmstepd`` writes its verdict there when it kills the job);
* submitit's ``*_submitted.pkl``, ``*_result.pkl`` and ``*_submission.sh`` (the sbatch script).

The sweep waits for the array (a tqdm bar, ``squeue`` every ``poll_seconds``) and records each
run as ``done`` or ``failed`` with one error line (``TIMEOUT``, ``CANCELLED``, the notebook's
error ...) and its log path. Ctrl-C leaves the jobs running (``busmtl sweep status`` follows
them); a later sweep refuses to submit while jobs of the previous submission are still queued or
running, and then submits only the runs that are not done (resume by run hash, as locally).

The jobs must see the same ``busmtl`` as the sweep (the run hash covers the library's source):
the sweep passes its environment (sbatch's default ``--export=ALL``) and, when ``busmtl`` is not
installed into the job's Python but found through ``PYTHONPATH`` or a source checkout, exports
that folder again in the job script.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from busmtl.errors import UserError
from busmtl.orchestration.executors import slurm_queue
from busmtl.orchestration.executors.base import (
    Executor,
    Report,
    SweepContext,
    read_job,
    read_result,
    settle,
    worker_command,
    worker_env,
    write_job,
)
from busmtl.orchestration.executors.slurm_settings import SlurmSettings, format_time

if TYPE_CHECKING:
    from busmtl.orchestration.plan import Run

#: The folder of a sweep's SLURM files, inside ``<runs>/<profile>``.
LOG_FOLDER = "slurm_logs"


def run_job(job_file: str) -> dict[str, Any]:
    """Executed inside each SLURM job (by submitit): the run's worker, as the local executor
    starts it. Its output goes to the job's log. Returns the worker's result record."""
    import subprocess

    job = read_job(job_file)
    done = subprocess.run(worker_command(job_file), env=worker_env(job), check=False)
    result = read_result(job)
    if result is None:
        raise RuntimeError(f"the worker exited with code {done.returncode} before reporting")
    return result


def package_path_setup() -> list[str]:
    """Job-script lines that put this ``busmtl``'s source folder on ``PYTHONPATH``, unless it is
    installed in a ``site-packages`` folder (which the job's Python finds by itself)."""
    import busmtl

    source = Path(busmtl.__file__).resolve().parent.parent
    if "site-packages" in source.parts or "dist-packages" in source.parts:
        return []
    return [f"export PYTHONPATH={shlex.quote(str(source))}${{PYTHONPATH:+:$PYTHONPATH}}"]


@dataclass
class _Tracked:
    run: Run
    job: Any  # submitit.slurm.slurm.SlurmJob
    spec: dict[str, Any]  # the worker's job file
    gone_since: float | None = None
    started: float | None = None


class SlurmExecutor(Executor):
    name = "slurm"

    def __init__(self, settings: SlurmSettings | None = None) -> None:
        self.settings = settings or SlurmSettings()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **self.settings.describe()}

    def precision_device(self, device: str) -> str | None:
        if self.settings.gpus_per_run > 0 or device.startswith("cuda"):
            return "cuda"  # the compute nodes' GPUs, which this machine may not have
        return None

    # ---------------------------------------------------------------------------------------
    def check(self, context: SweepContext) -> None:
        if not slurm_queue.available():
            raise UserError("--executor slurm: sbatch/squeue/srun are not on PATH; run the sweep "
                            "on a SLURM login node (tools/local-slurm.sh starts a one-node "
                            "cluster for testing), or use --executor local")
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise UserError("--executor slurm needs submitit: pip install submitit") from None
        previous = previous_job_ids(context.profile_dir)
        try:
            active = slurm_queue.squeue_states(previous) if previous else {}
        except RuntimeError as exc:
            raise UserError(f"--executor slurm: {exc}") from None
        if active:
            ids = " ".join(sorted(active))
            raise UserError(f"jobs of the previous submission of {context.profile} are still "
                            f"queued or running ({ids}): wait for them (busmtl sweep status "
                            f"--profile {context.profile}) or cancel them (scancel {ids}), "
                            "then submit again")

    def execute(self, runs: list[Run], context: SweepContext, report: Report) -> None:
        folder = context.profile_dir / LOG_FOLDER
        job_files = [write_job(r, folder, context) for r in runs]
        threads = int(runs[0].config.num_threads or 1) if runs else 1
        try:
            jobs = self._submitit(folder, context, threads).map_array(
                run_job, [str(f) for f in job_files])
        except Exception as exc:  # noqa: BLE001 - sbatch's refusal, as one line
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            errors = [line for line in lines if "error" in line.lower()] or lines
            reason = errors[0].removeprefix("sbatch: error: ") if errors else type(exc).__name__
            raise UserError(f"sbatch refused the job array: {reason} (check --partition, --time, "
                            "--mem, --sbatch)") from None
        tracked = [_Tracked(r, job, read_job(f)) for r, job, f in zip(runs, jobs, job_files)]
        for t in tracked:
            t.run.job_id, t.run.log, t.run.status = t.job.job_id, Path(t.job.paths.stdout), "queued"
            report(t.run)
        try:
            self._wait(tracked, report)
        except KeyboardInterrupt:
            ids = " ".join(t.run.job_id for t in tracked if t.run.status in ("queued", "running"))
            print(f"\ninterrupted: the SLURM jobs keep running ({ids}); follow them with "
                  f"busmtl sweep status --profile {context.profile}, cancel them with scancel "
                  f"{ids}", file=sys.stderr)
            raise

    def _submitit(self, folder: Path, context: SweepContext, threads: int) -> Any:
        import submitit

        s = self.settings
        executor = submitit.SlurmExecutor(folder=folder, python=shlex.quote(sys.executable))
        params: dict[str, Any] = {
            "job_name": f"busmtl-{context.profile}", "time": s.time_min,
            "cpus_per_task": s.cpus_per_run or threads, "mem": s.mem,
            "stderr_to_stdout": True, "setup": package_path_setup(),
            "additional_parameters": dict(s.sbatch),
        }
        if s.partition:
            params["partition"] = s.partition
        if s.gpus_per_run:
            params["gpus_per_node"] = s.gpus_per_run
        if s.max_running:
            params["array_parallelism"] = s.max_running
        executor.update_parameters(**params)
        return executor

    def _wait(self, tracked: list[_Tracked], report: Report) -> None:
        grace = max(3.0, 2 * self.settings.poll_seconds)  # result files may lag on shared disks
        pending = list(tracked)
        while pending:
            try:
                states = slurm_queue.squeue_states({t.run.job_id for t in pending})
            except RuntimeError as exc:  # a busy controller: ask again later
                print(f"warning: {exc}; retrying", file=sys.stderr)
                time.sleep(self.settings.poll_seconds)
                continue
            now = time.monotonic()
            for t in list(pending):
                state = states.get(t.run.job_id)
                if state is not None:
                    t.gone_since = None
                    status = "running" if state in slurm_queue.RUNNING_STATES else "queued"
                    if status == "running" and t.started is None:
                        t.started = now
                    if status != t.run.status:
                        t.run.status = status
                        report(t.run)
                    continue
                result = read_result(t.spec)
                t.gone_since = t.gone_since or now
                if result is None and now - t.gone_since < grace:
                    continue
                pending.remove(t)
                seconds = float(result.get("seconds", 0.0)) if result else \
                    now - (t.started or now)
                settle(t.run, result, seconds,
                       killed=slurm_queue.verdict(t.run.log, format_time(self.settings.time_min)))
                report(t.run)
            if pending:
                time.sleep(self.settings.poll_seconds)


def previous_job_ids(profile_dir: Path) -> set[str]:
    """The SLURM job ids recorded in the last ``sweep_summary.json`` of a profile."""
    try:
        summary = json.loads((profile_dir / "sweep_summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if summary.get("executor", {}).get("name") != "slurm":
        return set()
    return {r["job_id"] for r in summary.get("runs", []) if r.get("job_id")}

"""What the SLURM scheduler says about our jobs: ``squeue`` states and the verdicts that
``slurmstepd`` writes into a killed job's log.

The sweep does not rely on ``sacct`` (clusters without accounting storage, such as the one-node
test cluster of ``tools/local-slurm.sh``, have none): a job is in progress while ``squeue``
lists it; once it is gone, the worker's result file says how the run ended, and a job that was
killed before the worker could report has the scheduler's reason in its log, e.g.
``slurmstepd: error: *** JOB 12 ON node1 CANCELLED AT 2025-01-01T10:00:00 DUE TO TIME LIMIT ***``.
"""

from __future__ import annotations

import getpass
import re
import shutil
import subprocess
from pathlib import Path

#: ``squeue`` states of a job that has started.
RUNNING_STATES: frozenset[str] = frozenset(
    {"RUNNING", "COMPLETING", "CONFIGURING", "STAGE_OUT", "SIGNALING", "RESIZING"})

_STEPD = re.compile(r"\*\*\* (?:JOB|STEP) (\S+) ON (\S+) CANCELLED AT (\S+)"
                    r"(?: DUE TO ([A-Z_ ]+?))? \*\*\*")
_OOM = re.compile(r"oom[-_]kill|Exceeded job memory limit|OUT_OF_MEMORY", re.IGNORECASE)


def available() -> bool:
    """True when the SLURM client commands the sweep needs are on ``PATH``."""
    return all(shutil.which(cmd) for cmd in ("sbatch", "squeue", "srun"))


def squeue_states(job_ids: set[str] | list[str] | None = None) -> dict[str, str]:
    """``{job id: state}`` of this user's jobs that ``squeue`` still lists (array tasks as
    ``<array>_<index>``), restricted to ``job_ids`` when given. Finished jobs are absent.
    Raises ``RuntimeError`` when ``squeue`` fails (the controller does not answer)."""
    cmd = ["squeue", "--noheader", "--array", "--user", getpass.getuser(), "--format", "%i|%T"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"squeue did not answer: {exc}") from None
    if done.returncode != 0:
        raise RuntimeError(f"squeue failed: {done.stderr.strip() or done.stdout.strip()}")
    wanted = set(job_ids) if job_ids is not None else None
    states: dict[str, str] = {}
    for line in done.stdout.splitlines():
        job_id, _, state = line.strip().partition("|")
        if job_id and (wanted is None or job_id in wanted):
            states[job_id] = state.strip()
    return states


def verdict(log: str | Path | None, time_limit: str | None = None) -> str | None:
    """The scheduler's reason for ending a job early, read from its log: ``"TIMEOUT: ..."``,
    ``"CANCELLED: ..."``, ``"OUT_OF_MEMORY: ..."``, ``"PREEMPTED: ..."``; ``None`` when the log
    holds no such line (the job ended by itself)."""
    try:
        text = Path(log).read_text(encoding="utf-8", errors="replace") if log else ""
    except OSError:
        return None
    match = None
    for match in _STEPD.finditer(text):
        pass  # the last one counts (a requeued job appends to the same log)
    limit = f" ({time_limit})" if time_limit else ""
    if match is not None:
        when, reason = match.group(3), (match.group(4) or "").strip()
        if reason == "TIME LIMIT":
            return f"TIMEOUT: the job reached its time limit{limit} at {when}"
        if reason:
            return f"{reason.replace(' ', '_')}: the job was stopped by SLURM at {when}"
        return f"CANCELLED: the job was cancelled (scancel) at {when}"
    if "Job not requeued because: timed-out" in text:
        return f"TIMEOUT: the job reached its time limit{limit}"
    if _OOM.search(text):
        return "OUT_OF_MEMORY: the run needed more memory than --mem"
    return None

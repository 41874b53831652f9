"""``busmtl sweep status``: done / running / failed / pending for each method and fold.

Read, never written: the run folders (a ``DONE`` marker with the run hash of the last sweep
means done), the last ``sweep_summary.json`` (which runs were planned, which failed and why,
their logs and SLURM job ids) and, for SLURM jobs, ``squeue`` (queued or running now). A local
sweep's running runs count as running only while the sweep that started them is alive; after
an interruption they are pending again (the next sweep runs them).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from busmtl.runs import layout, lock, marker
from busmtl.runs.layout import RunKey
from busmtl.runs.state import Status, finished_hash

#: The states shown, in the order of the counts line.
STATES: tuple[str, ...] = tuple(s.value for s in Status)


@dataclass
class RunState:
    method: str
    fold: int
    state: str  # a Status value
    detail: str = ""
    seed: int = 0
    #: When a finished run started and finished (``None`` when its folder does not record it).
    started: dt.datetime | None = None
    finished: dt.datetime | None = None


def _timestamp(path: Path, *keys: str) -> dt.datetime | None:
    """The ISO time stored under ``keys`` in the JSON file at ``path`` (``None`` if absent)."""
    try:
        value: Any = json.loads(path.read_text(encoding="utf-8"))
        for key in keys:
            value = value[key]
        return dt.datetime.fromisoformat(value)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run_span(run_dir: Path) -> tuple[dt.datetime | None, dt.datetime | None]:
    """When a finished run started (its ``config.json`` provenance) and finished (``DONE``)."""
    return (_timestamp(run_dir / "config.json", "provenance", "started"),
            marker.finished(run_dir))


def timing_line(states: list[RunState]) -> str:
    """The time the finished runs took: run-hours (sum over runs), mean and range per run, and
    the wall time during which at least one of them was training (overlapping runs counted
    once, the gaps between sessions not at all). Empty without a timed finished run."""
    spans = sorted((s.started, s.finished) for s in states
                   if s.state == Status.DONE.value and s.started and s.finished)
    if not spans:
        return ""
    minutes = [(end - start).total_seconds() / 60 for start, end in spans]
    busy, (start, end) = 0.0, spans[0]
    for s, e in spans[1:]:
        if s > end:
            busy += (end - start).total_seconds()
            start, end = s, e
        else:
            end = max(end, e)
    busy += (end - start).total_seconds()
    done = sum(s.state == Status.DONE.value for s in states)
    untimed = f" ({done - len(spans)} finished runs record no start)" if done > len(spans) else ""
    return (f"time of the {len(spans)} timed finished runs{untimed}: "
            f"{sum(minutes) / 60:.1f} run-hours, {sum(minutes) / len(minutes):.1f} min per run "
            f"({min(minutes):.1f}-{max(minutes):.1f}); wall time with at least one of them "
            f"training {busy / 3600:.1f} h, from {spans[0][0]:%Y-%m-%d %H:%M} to "
            f"{max(e for _, e in spans):%Y-%m-%d %H:%M} UTC")


def _alive(driver: dict[str, Any]) -> bool:
    """True when the sweep process that wrote the summary still runs (on this host)."""
    if driver.get("host") != socket.gethostname() or not driver.get("pid"):
        return False
    try:
        os.kill(int(driver["pid"]), 0)
    except (OSError, ValueError):
        return False
    return True


def read_summary(profile_dir: Path) -> tuple[dict[str, Any], str | None]:
    """The profile's ``sweep_summary.json`` and None; ``({}, why)`` when it exists but cannot
    be used (not JSON, or not the layout the sweep writes); ``({}, None)`` when it is absent."""
    path = profile_dir / "sweep_summary.json"
    if not path.exists():
        return {}, None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {}, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if not isinstance(summary, dict):
        return {}, f"a JSON {type(summary).__name__}, not an object"
    for key in ("executor", "driver"):
        if not isinstance(summary.get(key, {}), dict):
            return {}, f"'{key}' is not an object"
    runs = summary.get("runs", [])
    if not isinstance(runs, list):
        return {}, "'runs' is not a list"
    for i, run in enumerate(runs):
        if not (isinstance(run, dict) and isinstance(run.get("method"), str)
                and isinstance(run.get("fold"), int) and not isinstance(run.get("fold"), bool)):
            return {}, f"runs[{i}] lacks a method name or an integer fold"
    return summary, None


def sweep_status(profile: str, runs_root: str | Path | None = None) -> tuple[list[RunState], str]:
    """The state of every planned run of ``profile`` and a note on where it came from."""
    from busmtl.config import PROFILES
    from busmtl.orchestration.executors import slurm_queue
    from busmtl.orchestration.sweep import default_runs_root

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    folder = (Path(runs_root) if runs_root else default_runs_root()) / profile
    summary, unreadable = read_summary(folder)
    planned = summary.get("runs", [])
    executor = summary.get("executor", {}).get("name", "local")
    note = (f"last sweep: {summary.get('updated', '?')}, executor {executor}" if planned else
            f"no sweep_summary.json in {folder}: showing the profile's runs found on disk")
    if unreadable is not None:
        note = (f"summary unreadable: {folder / 'sweep_summary.json'} ({unreadable}); showing "
                "the profile's runs found on disk (the next sweep rewrites it)")
    if not planned:
        p = PROFILES[profile]
        planned = [{"method": m, "fold": f, "seed": sd} for sd in p.seeds for f in p.folds
                   for m in p.methods]
    queue: dict[str, str] = {}
    job_ids = {r["job_id"] for r in planned if r.get("job_id")}
    if job_ids:
        try:
            queue = slurm_queue.squeue_states(job_ids)
        except (RuntimeError, OSError) as exc:
            note += f"; squeue unavailable ({exc}): queued/running SLURM jobs are not shown"
    driver_alive = _alive(summary.get("driver", {}))
    states = []
    for r in planned:
        key = RunKey(r["method"], int(r["fold"]), int(r.get("seed", 0)))
        run_dir = layout.run_dir(folder.parent, profile, key)
        recorded = finished_hash(run_dir)
        job = r.get("job_id")
        owner = lock.holder(run_dir)
        started = finished = None
        if recorded is not None and r.get("run_hash") in (None, recorded):
            state, detail = Status.DONE.value, ""
            started, finished = run_span(run_dir)
        elif job and job in queue:
            state = (Status.RUNNING if queue[job] in slurm_queue.RUNNING_STATES
                     else Status.QUEUED).value
            detail = f"job {job} ({queue[job]}), log {r.get('log')}"
            if owner is not None:
                detail += f"; writer {lock.describe(owner)}"
        elif owner is not None:
            state, detail = Status.RUNNING.value, f"{lock.describe(owner)}; log {r.get('log')}"
        elif r.get("status") == "failed":
            state, detail = Status.FAILED.value, f"{r.get('error')}; log {r.get('log')}"
        elif r.get("status") in ("running", "queued") and executor == "local" and driver_alive:
            state, detail = Status.RUNNING.value, f"log {r.get('log')}"
        else:
            state, detail = Status.PENDING.value, ("finished with other parameters or code"
                                        if recorded is not None else "")
            if lock.is_stale(run_dir):
                detail = (detail + "; " if detail else "") + "stale lock (its writer has ended; " \
                    "the next sweep takes it over)"
        states.append(RunState(r["method"], int(r["fold"]), state, detail, key.seed,
                               started, finished))
    return states, note


def format_status(profile: str, states: list[RunState], note: str) -> str:
    """A table (method, fold, state, detail), the counts and the time the finished runs took."""
    lines = [f"sweep {profile} ({note})",
             f"{'method':<10} {'fold':>4} {'seed':>4}  {'state':<8} detail"]
    lines += [f"{s.method:<10} {s.fold:>4} {s.seed:>4}  {s.state:<8} {s.detail}".rstrip()
              for s in states]
    counts = {k: sum(s.state == k for s in states) for k in STATES}
    lines.append(", ".join(f"{n} {k}" for k, n in counts.items()))
    timing = timing_line(states)
    if timing:
        lines.append(timing)
    return "\n".join(lines)

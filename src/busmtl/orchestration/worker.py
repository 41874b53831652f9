"""Execute one notebook with papermill, in its own process (one per sweep run).

Every executor (:mod:`busmtl.orchestration.executors`: a local process, a SLURM job) starts
``python -m busmtl.orchestration.worker JOB.json`` for every run, so each run has its own environment
(thread caps, ``CUDA_VISIBLE_DEVICES``) and a crash cannot take the sweep down. ``JOB.json``
(written by :func:`busmtl.orchestration.executors.base.write_job`) holds ``input``, ``output``,
``parameters``, ``kernel_name``, ``cwd``, ``retries``, ``title`` (the heading the executed
notebook gets, e.g. "ATDWA, fold 0"), ``env`` (the variables the executor sets for this
process) and ``result``: the path of a JSON file the worker writes at the end::

    {"status": "ok" | "failed", "error": str | None, "attempts": int, "seconds": float}

Starting many kernels at once can fail for reasons unrelated to the notebook (the kernel dies
before answering, a ZMQ port is taken by a neighbour); such failures are retried up to
``retries`` times. An exception raised by a cell is never retried.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm
from papermill.exceptions import PapermillExecutionError

from busmtl.io import write_json
from busmtl.runs import state
from busmtl.runs.lock import RunBusyError, RunLock

#: Substrings of errors raised while a kernel starts; these are worth another try.
KERNEL_START_ERRORS: tuple[str, ...] = (
    "Kernel died before replying",
    "Address already in use",
    "ZMQError",
    "didn't respond",
    "Kernel didn't respond",
)


def is_kernel_start_error(exc: BaseException) -> bool:
    """True for the start-up races listed in :data:`KERNEL_START_ERRORS`."""
    text = f"{type(exc).__name__}: {exc}"
    return any(pattern in text for pattern in KERNEL_START_ERRORS)


def first_error_line(notebook: str | Path) -> str | None:
    """``"ename: evalue"`` of the first error output in an executed notebook, if any."""
    try:
        nb = nbformat.read(str(notebook), as_version=4)
    except Exception:  # noqa: BLE001 - a missing or half-written notebook has no error to show
        return None
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                value = str(output.get("evalue", "")).strip().splitlines()
                return f"{output.get('ename', 'Error')}: {value[0] if value else ''}".strip()
    return None


def retitle(notebook: str | Path, title: str | None, root: str | Path | None = None) -> None:
    """Give the executed notebook its own heading (``# <title>`` replaces the first line of the
    first Markdown cell), hide papermill's injected parameters from the book (the ``spec``
    dict, which the notebook shows as a table of settings) and make papermill's recorded paths
    relative to ``root``, so that the book's run pages are titled by method and fold and show no
    folder of the machine."""
    path = Path(notebook)
    if not path.is_file():
        return
    nb = nbformat.read(str(path), as_version=4)
    if title:
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                lines = cell.source.splitlines()
                cell.source = "\n".join([f"# {title}", *lines[1:]])
                break
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    meta = nb.metadata.get("papermill", {})
    if root is not None:
        for key in ("input_path", "output_path"):
            value = meta.get(key)
            if value and Path(value).is_absolute() and Path(value).is_relative_to(root):
                meta[key] = Path(value).relative_to(root).as_posix()
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    nbformat.write(nb, str(tmp))
    tmp.replace(path)


def execute(job: dict[str, Any]) -> dict[str, Any]:
    """Run papermill for ``job``; return the result record (never raises for notebook errors)."""
    retries = int(job.get("retries", 3))
    error: str | None = None
    for attempt in range(1, retries + 2):
        try:
            pm.execute_notebook(
                job["input"],
                job["output"],
                parameters=job["parameters"],
                kernel_name=job["kernel_name"],
                cwd=job["cwd"],
                progress_bar=False,
                log_output=False,
            )
            return {"status": "ok", "error": None, "attempts": attempt}
        except PapermillExecutionError as exc:
            error = first_error_line(job["output"]) or f"{exc.ename}: {exc.evalue}"
            return {"status": "failed", "error": error, "attempts": attempt}
        except Exception as exc:  # noqa: BLE001 - reported in the sweep's summary
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            if not is_kernel_start_error(exc) or attempt > retries:
                return {"status": "failed", "error": error, "attempts": attempt}
    return {"status": "failed", "error": error, "attempts": retries + 1}  # pragma: no cover


def finished_elsewhere(job: dict[str, Any]) -> bool:
    """True when the job's run folder already holds the finished run of the job's hash: a
    second sweep planned the run while the first was training it, and must not train it
    again (checked inside the run's lock, so the answer cannot change before training)."""
    run_hash = job.get("parameters", {}).get("run_hash")
    return bool(run_hash and job.get("run_dir")
                and state.finished_hash(job["run_dir"]) == run_hash)


def die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent (the sweep driver) dies, even by
    ``kill -9``: no worker trains on as an orphan. A no-op elsewhere."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _terminate(signum: int, frame: Any) -> None:
    # Turn SIGTERM into KeyboardInterrupt so papermill shuts its kernel down on the way out.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m busmtl.orchestration.worker JOB.json", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    if os.environ.get("BUSMTL_WORKER_DETACHED") != "1":
        die_with_parent()
    job = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    start = time.perf_counter()
    try:
        # one writer per run folder: the kernel trains inside this lock (busmtl.runs.lock)
        with RunLock(job["run_dir"]) if job.get("run_dir") else contextlib.nullcontext():
            if finished_elsewhere(job):
                result = {"status": "ok", "error": None, "attempts": 0,
                          "note": "finished by another writer before this one took the folder"}
            else:
                result = execute(job)
                retitle(job["output"], job.get("title"), job.get("cwd"))
    except RunBusyError as exc:
        result = {"status": "busy", "error": str(exc), "attempts": 0}
    result["seconds"] = time.perf_counter() - start
    write_json(job["result"], result)
    return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``busmtl sweep``: execute ``notebooks/train_fold.ipynb`` with papermill for every method x fold.

Layout (DEVELOPERS.md): ``<runs>/<profile>/<method>/fold<k>.ipynb`` (the executed notebook) and
``<runs>/<profile>/<method>/fold<k>/`` (its run folder), with ``<runs>`` = ``book/runs``.

* **Plan**: :func:`plan` gives every method x fold its parameters and run hash; nothing runs.
* **Resume**: a run is done only when its ``DONE`` marker records the run hash of the same
  parameters, notebook and library (:mod:`busmtl.runs.hashing`); done runs are skipped, every
  other run is executed from scratch. Nothing of a finished run is touched, so killing the sweep
  at any moment and starting it again loses nothing that had finished, whichever executor ran it.
* **Executors** (:mod:`busmtl.orchestration.executors`): ``local`` runs ``jobs`` notebooks at once on this
  machine, each in its own worker process (or places them on GPUs, ``--devices``); ``slurm``
  submits them as one SLURM job array. Both run the same worker (:mod:`busmtl.orchestration.worker`).
  Each run uses a fixed number of CPU threads (``--threads``, default 1, also set as
  ``OMP``/``MKL`` threads), not ``cores // jobs``: CPU results depend on the thread count, so it
  is part of the run's parameters and hash, and the numbers of a sweep do not change with
  ``--jobs`` or the executor.
* **Failures**: a failing run does not stop the others; its notebook (with the error cells) and
  its log are kept for inspection. ``sweep_summary.json`` is rewritten whenever a run starts or
  ends (``busmtl sweep status`` reads it); the CLI exits with 1 when anything failed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from busmtl import __version__
from busmtl.config import PROFILES, make_config
from busmtl.io import write_json
from busmtl.orchestration.executors import Executor, SweepContext, make_executor
from busmtl.orchestration.executors.base import KERNEL_NAME  # noqa: F401 - re-exported
from busmtl.orchestration.plan import (
    Run,
    check_runs,
    parse_folds,
    parse_methods,
    parse_seeds,
    resolve,
)
from busmtl.runs import hashing, layout, lock, marker, protect, spec
from busmtl.runs.layout import RunKey
from busmtl.settings import repo_root


def default_notebook() -> Path:
    return repo_root() / "notebooks" / "train_fold.ipynb"


#: CPU threads per run. Fixed (not derived from ``--jobs`` or the machine's cores) because CPU
#: results depend on the thread count: with a fixed count, the same sweep gives the same numbers
#: whatever ``--jobs`` is and on any machine; parallelism comes from running several notebooks.
DEFAULT_THREADS: int = 1


def default_jobs() -> int:
    """Notebooks run at once by default: one per core, at most 4 (each run holds ~1.6 GB)."""
    return max(1, min(os.cpu_count() or 1, 4))


def default_runs_root() -> Path:
    return repo_root() / "book" / "runs"


@dataclass
class SweepSummary:
    profile: str
    runs: list[Run] = field(default_factory=list)
    seconds: float = 0.0
    executor: dict[str, Any] = field(default_factory=lambda: {"name": "local"})

    @property
    def failed(self) -> list[Run]:
        return [r for r in self.runs if r.status == "failed"]

    def counts(self) -> dict[str, int]:
        out = {"done": 0, "skipped": 0, "failed": 0}
        for r in self.runs:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def table(self) -> str:
        lines = [f"{'method':<10} {'fold':>4} {'seed':>4}  {'status':<8} {'time s':>7}  detail"]
        for r in self.runs:
            detail = str(r.notebook)
            if r.status == "failed":
                detail = f"{r.error}  ({r.notebook}" + (f"; log {r.log})" if r.log else ")")
            elif r.error:
                detail = r.error
            lines.append(f"{r.method:<10} {r.fold:>4} {r.seed:>4}  {r.status:<8} {r.seconds:>7.1f}"
                         f"  {detail}")
        c = self.counts()
        lines.append(f"{c['done']} done, {c['skipped']} skipped (already done), {c['failed']} failed "
                     f"in {self.seconds:.0f} s")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile, "seconds": self.seconds, "counts": self.counts(),
            "busmtl_version": __version__, "executor": self.executor,
            "updated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "driver": {"host": socket.gethostname(), "pid": os.getpid()},
            "runs": [{"method": r.method, "fold": r.fold, "seed": r.seed, "status": r.status, "error": r.error,
                      "seconds": r.seconds, "train_seconds": r.train_seconds,
                      "notebook": portable(r.notebook), "run_dir": portable(r.run_dir),
                      "run_hash": r.run_hash, "log": portable(r.log) if r.log else None,
                      "job_id": r.job_id, "cuda_visible_devices": r.placement}
                     for r in self.runs],
        }


def prepare_data(profile: str, data_dir: str | Path | None, progress: bool | None = None) -> Path:
    """The prepared cache (with the profile's split file) the sweep's runs read, made when
    missing."""
    from busmtl.data.default import ensure_dataset

    cfg = make_config(profile, method="ew")
    dataset = str(data_dir) if data_dir is not None else cfg.dataset
    return ensure_dataset(dataset, phantoms_n=cfg.phantoms_n, size=cfg.prepare_size, seed=0,
                          progress=progress, split_group=cfg.split_group).resolve()


def portable(path: Path, base: Path | None = None) -> str:
    """``path`` as the notebooks see it from the folder they run in: relative when it lies inside
    the repository root (or inside ``base``, a book built elsewhere such as a copy, or beside it
    under a common parent other than the file system's root), else absolute. Executed notebooks
    and hashes then carry no machine-specific folder."""
    path = Path(path).resolve()
    root = Path(base).resolve() if base else repo_root()
    if path.is_relative_to(root):
        return path.relative_to(root).as_posix()
    if base is not None and os.path.commonpath([path, root]) != os.path.sep:
        return Path(os.path.relpath(path, root)).as_posix()
    return str(path)


#: The orders a sweep can run its runs in. ``"fold"``: seed by seed, fold by fold, every method
#: of a fold before the next fold, so that an interrupted sweep leaves complete folds of the first
#: seeds (every method compared on them). ``"method"``: method by method, in the order given,
#: so that an interrupted sweep leaves the first methods complete (a benchmark of many methods).
ORDERS: tuple[str, ...] = ("fold", "method")


def plan(profile: str, methods: list[str], folds: list[int], data_dir: Path, *,
         runs_root: Path, notebook: Path, overrides: dict[str, Any] | None = None,
         precision_device: str | None = None, base: Path | None = None,
         seeds: list[int] | None = None, settings: dict[str, Any] | None = None,
         order: str = "fold") -> list[Run]:
    """The runs of a sweep with their specifications and hashes (nothing is executed), in
    ``order`` (:data:`ORDERS`).

    Each run's settings are resolved here, once (:func:`busmtl.orchestration.plan.resolve`): the
    profile's defaults, ``settings`` (``--set model=interaction``) and ``overrides`` (``None``
    values ignored), the device and ``precision="auto"`` for the device the run trains on
    (``precision_device`` when the runs train elsewhere, e.g. on a cluster's GPU nodes). The
    resolved specification is what the run hash covers and the one setting parameter the
    notebook receives (``spec``), so a variant of a profile needs no profile of its own and
    the hash records the precision the run will actually use."""
    library = hashing.library_hash()
    runs = []
    seeds = [None] if seeds is None else seeds
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
    if order == "fold":
        triples = [(s, f, m) for s in seeds for f in folds for m in methods]
    else:
        triples = [(s, f, m) for m in methods for s in seeds for f in folds]
    for seed, fold, method in triples:
        key = RunKey(method, fold, int(seed or 0))
        run_dir = layout.run_dir(runs_root, profile, key).resolve()
        config = resolve(make_config(profile, **{  # validates early
            **(settings or {}), **given, "method": method, "fold": fold,
            "seed": None if seed is None else int(seed),
            "data_dir": portable(data_dir, base)}), precision_device)
        digest = hashing.run_hash(config, notebook, data_dir=data_dir, library=library)
        # force: the sweep re-makes its own stale runs (committed ones are refused before)
        params = {"spec": spec.to_parameter(config), "out_dir": portable(run_dir, base),
                  "force": True, "run_hash": digest}
        runs.append(Run(method, fold, layout.notebook_path(runs_root, profile, key).resolve(),
                        run_dir, params, digest, config=config, seed=key.seed))
    return runs


#: Settings of ``config.json`` that do not change a run's result: left out when a hand-made run
#: is compared with the sweep's plan (the data are compared by identity and split file instead).
ADOPT_IGNORED: frozenset[str] = frozenset({"data_dir", "splits", "progress", "run_hash",
                                           "save_model"})


def hand_made_differences(r: Run, data_dir: Path) -> dict[str, tuple[Any, Any]] | None:
    """For a run folder whose ``DONE`` records no run hash (made by hand, e.g. ``busmtl train
    --out`` into the sweep layout): ``{setting: (recorded, planned)}`` of every result-relevant
    difference from the sweep's plan (empty: the run can be adopted). ``None`` when the folder
    is not a finished hand-made run (no ``DONE``, or a ``DONE`` with a hash)."""
    import torch

    from busmtl.data.prepare import dataset_identity
    from busmtl.training.trainer import resolve_device, weighter_settings

    if marker.run_hash(r.run_dir) != "" or not (r.run_dir / "metrics.json").is_file():
        return None
    try:
        recorded = json.loads((r.run_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"config.json": ("missing or unreadable", "present")}
    mine = dict(recorded.get("config", {}))
    if mine.get("device") == "auto":  # runs recorded before the trainer resolved the device
        mine["device"] = str(resolve_device("auto"))
    planned = r.config.to_dict()
    planned["weighter"] = weighter_settings(r.config)
    diff: dict[str, tuple[Any, Any]] = {
        key: (mine.get(key), value) for key, value in planned.items()
        if key not in ADOPT_IGNORED and json.dumps(mine.get(key), sort_keys=True, default=str)
        != json.dumps(value, sort_keys=True, default=str)}
    identity = dataset_identity(data_dir)
    if recorded.get("data_identity") != identity:
        diff["data identity"] = (recorded.get("data_identity"), identity)
    from busmtl.data.splits import split_file

    name = split_file(r.config.split_group)
    splits = Path(mine["splits"]) if mine.get("splits") else Path(str(mine.get("data_dir"))) / name
    ours = data_dir / name
    if not splits.is_file() or splits.read_bytes() != ours.read_bytes():
        diff[name] = (portable(splits) if splits.is_file() else f"{splits} (not found)",
                               portable(ours))
    prov = recorded.get("provenance", {})
    for key, value in (("busmtl_version", __version__), ("torch_version", torch.__version__)):
        if prov.get(key, recorded.get(key)) != value:
            diff[key] = (prov.get(key, recorded.get(key)), value)
    return diff


def adopt_hand_made_runs(runs: list[Run], data_dir: Path, log=print) -> list[Run]:
    """Adopt or refuse the finished runs that were made by hand in the sweep's layout.

    A run folder whose ``DONE`` has ``run_hash: null`` was not made by a sweep. When its
    ``config.json`` records exactly what the sweep plans for that folder (every setting,
    threads and precision included, the same data and split file, the same busmtl and torch
    versions), its ``DONE`` gets the planned run hash and the sweep keeps it; otherwise nothing
    is run, deleted or overwritten: :class:`~busmtl.errors.UserError` names each folder and its
    differing settings. Returns the adopted runs."""
    from busmtl.errors import UserError

    adopted, refused = [], []
    for r in runs:
        diff = hand_made_differences(r, Path(data_dir))
        if diff is None:
            continue
        if diff:
            shown = "; ".join(f"{k} {a!r} (sweep: {b!r})" for k, b_a in sorted(diff.items())
                              for a, b in [b_a])
            refused.append(f"{portable(r.run_dir)}: {shown}")
            continue
        marker.adopt(r.run_dir, r.run_hash)
        adopted.append(r)
        if log is not None:
            log(f"adopted {portable(r.run_dir)}: made by hand with exactly the sweep's settings")
    if refused:
        raise UserError(
            f"{len(refused)} run folder(s) hold a run made by hand (DONE without a run hash) with "
            "other settings than this sweep; nothing was run or deleted. Move the folder away (or "
            "delete it) to let the sweep re-run it, or run the sweep with those settings.\n  "
            + "\n  ".join(refused))
    return adopted


def refuse_committed(pending: list[Run], data_dir: Path, retrain: bool) -> None:
    """Stop (:class:`~busmtl.errors.UserError`, nothing touched) when pending runs would overwrite
    committed run folders, unless ``retrain`` and the data are the ones those runs recorded."""
    from busmtl.data.prepare import dataset_identity
    from busmtl.errors import UserError

    committed = protect.committed_dirs(r.run_dir for r in pending)
    if not committed:
        return
    shown = ", ".join(sorted(portable(d) for d in committed)[:6])
    more = f" and {len(committed) - 6} more" if len(committed) > 6 else ""
    if not retrain:
        raise UserError(
            f"{len(committed)} of these runs are committed to the repository ({shown}{more}); "
            "nothing was run or changed. Re-training them replaces the reference results: add "
            "--retrain-committed to do so on the same data, or sweep into another folder "
            "with --runs-dir")
    identity = dataset_identity(data_dir)
    other = sorted(portable(d) for d in committed if protect.recorded_identity(d) != identity)
    if other:
        raise UserError(
            f"--retrain-committed: the data at {data_dir} (identity {identity}) are not the data "
            f"the committed runs recorded ({', '.join(other[:6])}): point --data-dir at the same "
            "dataset; nothing was run or changed")


def check_pretrained_weights(r: Run) -> None:
    """Fail before any notebook starts when the runs need pretrained encoder weights that are
    neither cached nor downloadable (the ``paper`` profile on an offline machine): one clear
    :class:`FileNotFoundError` with instructions, instead of every run failing alike. When the
    weights can be downloaded, they are fetched here once, not by parallel runs."""
    cfg = r.config
    if cfg is not None and cfg.encoder_weights:
        from busmtl.models.ssc_resnet import resolve_pretrained_file

        resolve_pretrained_file(cfg.encoder, cfg.encoder_weights)


def run_sweep(profile: str = "quick", methods: list[str] | str | None = None,
              folds: list[int] | str | None = None, data_dir: str | Path | None = None,
              jobs: int | None = 1, device: str | None = None, *,
              runs_root: str | Path | None = None, notebook: str | Path | None = None,
              epochs: int | None = None, image_size: int | None = None, seed: int | None = None,
              retries: int = 2, threads: int | None = None, progress: bool | None = None,
              executor: Executor | str | None = None, devices: str | list[str] | None = None,
              runs_per_device: int = 1, base: str | Path | None = None,
              seeds: list[int] | str | None = None, retrain_committed: bool = False,
              settings: dict[str, Any] | None = None, order: str = "fold",
              log=print) -> SweepSummary:
    """Execute every pending method x fold; return the summary (also written as
    ``<runs>/<profile>/sweep_summary.json``, and rewritten whenever a run starts or ends).
    Never raises for a failing run.

    ``executor``: ``"local"`` (default), ``"slurm"`` or an :class:`~busmtl.orchestration.executors.Executor`
    (e.g. a :class:`~busmtl.orchestration.executors.slurm.SlurmExecutor` with its settings). ``jobs``
    (``None``: :func:`default_jobs`), ``devices`` and ``runs_per_device`` configure the local
    executor. ``seeds``: the training seeds (``None``: the profile's; ``--seeds 0,1,2``).
    ``order``: the order of the runs (:data:`ORDERS`; ``--order method`` runs the methods one
    after the other, in the order of ``methods``).

    Runs whose folder git tracks (committed runs) are never re-trained unless
    ``retrain_committed`` is set and the data have the identity the committed runs recorded
    (:mod:`busmtl.runs.protect`); a run whose folder another process is writing is left to it
    (:mod:`busmtl.runs.lock`)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    if order not in ORDERS:
        raise ValueError(f"--order must be one of {', '.join(ORDERS)}, got {order!r}")
    jobs = default_jobs() if jobs is None else int(jobs)
    runner = make_executor(executor, jobs=jobs, device=device, devices=devices,
                           runs_per_device=runs_per_device)
    methods = parse_methods(methods, profile) if not isinstance(methods, list) else methods
    folds = parse_folds(folds, profile) if not isinstance(folds, list) else folds
    seeds = parse_seeds(seeds, profile) if not isinstance(seeds, list) else seeds
    notebook = Path(notebook) if notebook else default_notebook()
    root = Path(runs_root) if runs_root else default_runs_root()
    threads = DEFAULT_THREADS if threads is None else int(threads)
    if threads < 1:
        raise ValueError(f"--threads {threads}: use 1 or more")
    base = Path(base).resolve() if base else None
    context = SweepContext(profile, (root / profile).resolve(), notebook.resolve(), retries, base)
    runner.check(context)
    start = time.perf_counter()
    data = prepare_data(profile, data_dir, progress)
    if seed is not None:  # the older single-seed flag
        seeds = [int(seed)]
    overrides = {"device": device, "epochs": epochs, "image_size": image_size,
                 "num_threads": threads}
    runs = plan(profile, methods, folds, data, runs_root=root, notebook=notebook,
                overrides=overrides, precision_device=runner.precision_device(device or "auto"),
                base=base, seeds=seeds if seeds != [0] else None, settings=settings,
                order=order)
    check_runs(runs, data)
    adopt_hand_made_runs(runs, data, log=log)
    summary = SweepSummary(profile, runs, executor=runner.describe())
    for r in runs:
        r.status = "skipped" if r.is_done() else "pending"
    refuse_committed([r for r in runs if r.status == "pending"], data, retrain_committed)
    for r in runs:
        owner = lock.holder(r.run_dir) if r.status == "pending" else None
        if owner is not None:
            r.status, r.error = "skipped", f"being written by {lock.describe(owner)}"
    pending = [r for r in runs if r.status == "pending"]
    if pending:
        check_pretrained_weights(pending[0])
    summary_file = context.profile_dir / "sweep_summary.json"
    bar = tqdm(total=len(runs), initial=len(runs) - len(pending), desc=f"sweep {profile}",
               unit="run", disable=None if progress is None else not progress)

    def report(r: Run) -> None:
        """An executor changed ``r``: show it and rewrite the summary."""
        if r.status in ("done", "failed"):
            bar.update(1)
            bar.write(f"{r.status:<6} {r.method} {r.key.name} ({r.seconds:.0f} s)"
                      + (f": {r.error}" if r.error else ""))
        in_progress = {s: sum(x.status == s for x in runs) for s in ("queued", "running")}
        bar.set_postfix({k: v for k, v in in_progress.items() if v}, refresh=True)
        summary.seconds = time.perf_counter() - start
        write_json(summary_file, summary.to_dict())

    write_json(summary_file, summary.to_dict())
    try:
        if pending:
            runner.execute(pending, context, report)
    finally:
        bar.close()
    summary.seconds = time.perf_counter() - start
    write_json(summary_file, summary.to_dict())
    if log is not None:
        log(summary.table())
    return summary

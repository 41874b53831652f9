"""Collect the run folders of a sweep (:mod:`busmtl.runs.layout`) into tables.

Every expected method x fold x seed appears, with its ``status``
(:func:`busmtl.runs.state.folder_status`): ``done`` (``DONE`` and ``metrics.json`` present),
``failed`` (the sweep recorded a failure), ``running`` (a process holds the run's lock) or
``pending`` (not run yet): unfinished runs are shown as such, never silently dropped.

A run whose classifier predicts one class for at least :data:`COLLAPSE_SHARE` of the test images
is flagged ``collapsed``: its accuracy is then close to the share of the majority class and says
nothing about what the network learned (the book marks such runs wherever their numbers appear).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from busmtl.config import PROFILES
from busmtl.report.paper_values import METRIC_NAMES
from busmtl.runs import layout
from busmtl.runs.layout import RunKey
from busmtl.runs.state import folder_status

#: A classifier that predicts one class for this share of the test set (or more) has collapsed.
COLLAPSE_SHARE: float = 0.95


def summary_runs(runs_root: Path, profile: str) -> list[dict[str, Any]]:
    """The runs recorded in the sweep's ``sweep_summary.json`` (empty when there is none)."""
    summary = runs_root / profile / "sweep_summary.json"
    if not summary.is_file():
        return []
    return json.loads(summary.read_text(encoding="utf-8"))["runs"]


def expected_runs(runs_root: Path, profile: str,
                  summary: list[dict[str, Any]] | None = None
                  ) -> tuple[list[str], list[int], list[int]]:
    """Methods, folds and seeds the sweep planned (its summary, read unless given), else the
    profile's defaults, plus any method, fold or seed found finished on disk."""
    summary = summary_runs(runs_root, profile) if summary is None else summary
    defaults = PROFILES.get(profile, PROFILES["quick"])
    methods: list[str] = [run["method"] for run in summary] or list(defaults.methods)
    folds: list[int] = [int(run["fold"]) for run in summary] or list(defaults.folds)
    seeds: list[int] = [int(run.get("seed", 0)) for run in summary] or list(defaults.seeds)
    for key in layout.finished_runs(runs_root / profile):
        methods.append(key.method)
        folds.append(key.fold)
        seeds.append(key.seed)
    return list(dict.fromkeys(methods)), sorted(set(folds)), sorted(set(seeds))


def collect(runs_root: str | Path, profile: str, methods: list[str] | None = None,
            folds: list[int] | None = None, seeds: list[int] | None = None) -> pd.DataFrame:
    """One row per expected (method, fold, seed): ``status``, ``test_<metric>``,
    ``val_<metric>``, efficiency columns, ``best_epoch``, ``epochs_run``, ``run_dir``,
    ``notebook``."""
    root = Path(runs_root)
    summary = summary_runs(root, profile)
    exp_methods, exp_folds, exp_seeds = expected_runs(root, profile, summary)
    methods = methods or exp_methods
    folds = folds if folds is not None else exp_folds
    seeds = seeds if seeds is not None else exp_seeds
    failed = {RunKey(r["method"], int(r["fold"]), int(r.get("seed", 0)))
              for r in summary if r["status"] == "failed"}
    rows: list[dict[str, Any]] = []
    for method, seed, fold in ((m, s, f) for m in methods for s in seeds for f in folds):
        key = RunKey(method, fold, seed)
        run_dir = layout.run_dir(root, profile, key)
        row: dict[str, Any] = {"method": method, "fold": fold, "seed": seed,
                               "run_dir": str(run_dir),
                               "notebook": str(layout.notebook_path(root, profile, key)),
                               "status": folder_status(run_dir, key in failed).value}
        if row["status"] == "done":
            m = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
            # every metric a run records (the tables choose which they show)
            row.update({f"test_{k}": m["test"].get(k, np.nan) for k in METRIC_NAMES})
            row.update({f"val_{k}": m["val"].get(k, np.nan) for k in METRIC_NAMES})
            row.update({k: v for k, v in m["efficiency"].items()})
            row.update(best_epoch=m["best_epoch"], epochs_run=m["epochs_run"])
            row.update(_config_columns(run_dir))
            row.update(classifier_shares(run_dir))
        rows.append(row)
    frame = pd.DataFrame(rows)
    if "collapsed" not in frame:
        frame["collapsed"] = False
    frame["collapsed"] = frame["collapsed"].fillna(False).astype(bool)
    return frame


def _config_columns(run_dir: Path) -> dict[str, Any]:
    """Batch size, threads, precision and commit of a run (from ``config.json``)."""
    path = run_dir / "config.json"
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    cfg, prov = raw.get("config", {}), raw.get("provenance", {})
    batch = cfg.get("batch_size_overrides", {}).get(cfg.get("method"), cfg.get("batch_size"))
    return {"batch_size": batch, "threads": prov.get("num_threads", cfg.get("num_threads")),
            "precision": prov.get("precision", cfg.get("precision")),
            "git_commit": prov.get("git_commit", raw.get("git_commit")),
            "torch_version": prov.get("torch_version", raw.get("torch_version")),
            "cpu": prov.get("cpu"), "device": prov.get("device", raw.get("device"))}


def classifier_shares(run_dir: Path) -> dict[str, Any]:
    """From ``per_image.csv``: the share of test images in the most predicted class
    (``predicted_share``), the share of the most frequent true class (``majority_share``, the
    accuracy of always answering it) and ``collapsed`` (predicted share >= COLLAPSE_SHARE)."""
    path = Path(run_dir) / "per_image.csv"
    if not path.is_file():
        return {}
    table = pd.read_csv(path, usecols=["label", "cls_pred"])
    predicted = float(table["cls_pred"].value_counts(normalize=True).max())
    majority = float(table["label"].value_counts(normalize=True).max())
    return {"predicted_share": predicted, "majority_share": majority,
            "collapsed": predicted >= COLLAPSE_SHARE}


def per_image(runs: pd.DataFrame) -> pd.DataFrame:
    """Every done run's ``per_image.csv`` rows, with ``method`` and ``fold`` columns (empty when
    no run has one)."""
    frames = []
    for _, run in runs[runs["status"] == "done"].iterrows():
        path = Path(run["run_dir"]) / "per_image.csv"
        if path.is_file():
            table = pd.read_csv(path)
            table.insert(0, "seed", run.get("seed", 0))
            table.insert(0, "fold", run["fold"])
            table.insert(0, "method", run["method"])
            frames.append(table)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def histories(runs: pd.DataFrame) -> pd.DataFrame:
    """All ``history.csv`` rows of the done runs, with ``method`` and ``fold`` columns."""
    frames = []
    for _, run in runs[runs["status"] == "done"].iterrows():
        h = pd.read_csv(Path(run["run_dir"]) / "history.csv")
        h.insert(0, "seed", run.get("seed", 0))
        h.insert(0, "fold", run["fold"])
        h.insert(0, "method", run["method"])
        frames.append(h)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def predictions(run_dir: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a run's ``predictions.npz``."""
    with np.load(Path(run_dir) / "predictions.npz") as data:
        return {k: data[k] for k in data.files}


def completeness(runs: pd.DataFrame) -> pd.DataFrame:
    """Per method: runs done / expected, and the runs that are pending, running or failed."""
    out = []
    seeded = "seed" in runs and runs["seed"].nunique() > 1
    for method, group in runs.groupby("method", sort=False):
        bad = group[group["status"] != "done"]
        names = [f"fold {f}" + (f" seed {s}" if seeded else "") + f" ({st})"
                 for f, s, st in zip(bad["fold"], bad.get("seed", [0] * len(bad)), bad["status"])]
        out.append({"method": method, "done": int((group["status"] == "done").sum()),
                    "expected": len(group), "not finished": ", ".join(names)})
    return pd.DataFrame(out)

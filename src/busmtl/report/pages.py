"""Helpers of the book's chapters other than the results: the methods table, the appendix's table
of runs, the profiles, and the data chapter's fallback on the runs' own records.

Numbered tables are :func:`busmtl.report.tables.myst_table` (a code cell returns it; its Markdown
output is parsed as MyST: ``nb_render_markdown_format`` is ``myst`` in ``_config.yml``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from busmtl.report.colors import label
from busmtl.runs.state import Status, folder_status

#: The BUSI counts the primary paper uses (benign + malignant, normals left out) and its test set.
BUSI_PAPER: dict[str, int] = {"benign": 437, "malignant": 210, "test": 129}
#: Credit line of every figure that shows BUSI images.
BUSI_CREDIT: str = "BUSI images: Al-Dhabyani et al. 2020, CC BY 4.0"


def methods_table() -> pd.DataFrame:
    """One row per registered weighter (registry order): display name, registry name, what it
    does, its paper (a ``{cite}`` role) and its colour in every figure (a swatch and the code)."""
    from busmtl.report.colors import color
    from busmtl.weighting import WEIGHTERS

    return pd.DataFrame([
        {"method": cls.label or cls.name, "name": f"`{name}`", "what it does": cls.summary,
         "paper": f"{{cite}}`{cls.reference}`" if cls.reference else "",
         "colour": f'<span style="color:{color(name)}">&#9632;</span> `{color(name)}`'}
        for name, cls in WEIGHTERS.items()])


def families_table() -> pd.DataFrame:
    """One row per weighter built on torchjd (registry order): display name, family (loss only
    or gradient balancing), what it balances, its equation as its class docstring states it (the
    paragraph up to the first blank line, its Sphinx roles as inline code) and its paper."""
    from busmtl.report.markup import roles_as_code
    from busmtl.weighting import FAMILIES, WEIGHTERS

    rows = []
    for name, cls in WEIGHTERS.items():
        if "torchjd" not in FAMILIES[name]:
            continue
        first = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
        rows.append({"method": cls.label or cls.name, "family": FAMILIES[name],
                     "what it balances": cls.summary, "equation": roles_as_code(first),
                     "paper": f"{{cite}}`{cls.reference}`" if cls.reference else ""})
    return pd.DataFrame(rows)


def profiles_table(runs_root: Path) -> pd.DataFrame:
    """One row per profile of :data:`busmtl.config.PROFILES`: what it is for, its data and budget
    (image size, encoder, epochs, folds, seeds), its methods, and whether its runs under
    ``runs_root`` are committed (:func:`busmtl.runs.protect.committed_sets`)."""
    from busmtl.config import PROFILES, make_config
    from busmtl.runs.protect import committed_sets

    committed = set(committed_sets(runs_root))

    rows = []
    for name, profile in PROFILES.items():
        cfg = make_config(name, method=profile.methods[0])
        data = {"busi": "BUSI", "phantoms": "phantoms"}.get(cfg.dataset, "BUSI if configured, "
                                                            "else phantoms")
        if cfg.dataset in ("auto", "phantoms"):
            data = f"{cfg.phantoms_n} phantoms" + (" (or BUSI if configured)"
                                                   if cfg.dataset == "auto" else "")
        encoder = cfg.encoder + (f" ({cfg.encoder_weights})" if cfg.encoder_weights else "")
        seeds = len(profile.seeds)
        budget = (f"{cfg.prepare_size} px, {encoder}, {cfg.epochs} epochs, "
                  f"{len(profile.folds)} folds" + (f", {seeds} seeds" if seeds > 1 else ""))
        rows.append({
            "profile": f"`{name}`", "meant for": profile.summary, "data": data,
            "budget": budget, "methods": ", ".join(profile.methods),
            "runs committed": "yes" if name in committed else "no",
        })
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class RunRecord:
    """One run folder of a sweep and its :class:`~busmtl.runs.state.Status`."""

    method: str
    fold: int
    status: Status
    run_dir: Path
    metrics: dict[str, Any] | None
    seed: int = 0


def run_records(runs_root: str | Path, profile: str) -> list[RunRecord]:
    """Every run folder under ``<runs_root>/<profile>`` plus the runs the sweep summary lists
    as failed, in registry order of the methods, then seed and fold order."""
    from busmtl.runs import layout
    from busmtl.runs.layout import RunKey
    from busmtl.weighting import available

    folder = Path(runs_root) / profile
    summary = folder / "sweep_summary.json"
    failed: set[RunKey] = set()
    if summary.is_file():
        failed = {RunKey(r["method"], int(r["fold"]), int(r.get("seed", 0))) for r in
                  json.loads(summary.read_text(encoding="utf-8"))["runs"] if r["status"] == "failed"}
    found = layout.run_folders(folder)
    for key in failed:
        found.setdefault(key, layout.run_dir(Path(runs_root), profile, key))
    order = {m: i for i, m in enumerate(available())}
    records = []
    for key, run_dir in sorted(found.items(), key=lambda kv: (
            order.get(kv[0].method, len(order)), kv[0].method, kv[0].seed, kv[0].fold)):
        status = folder_status(run_dir, failed=key in failed)
        metrics = (json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
                   if status == Status.DONE else None)
        records.append(RunRecord(key.method, key.fold, status, run_dir, metrics, key.seed))
    return records


def runs_sentence(profile: str, n_runs: int, n_done: int, n_pages: int) -> str:
    """The appendix's sentence on the runs of a build, e.g. ``This build (profile busi-cpu)
    holds 25 run folders, all finished, each with its executed notebook in the book.``"""
    from busmtl.report.numbers import count

    head = f"This build (profile {profile})"
    if n_runs == 0:
        return f"{head} holds no run folder yet."
    if n_runs == 1:
        done = "finished" if n_done else "not finished yet"
        pages = ", with its executed notebook in the book" if n_pages else ""
        return f"{head} holds one run folder, {done}{pages}."
    folders = f"{count(n_runs)} run folders"
    done = ("all finished" if n_done == n_runs else
            f"{count(n_done)} of them finished" if n_done else "none finished yet")
    if n_pages == n_runs:
        pages = "each with its executed notebook in the book"
    elif n_pages:
        pages = f"{count(n_pages)} with their executed notebook in the book"
    else:
        pages = "none with its notebook in the book"
    return f"{head} holds {folders}, {done}, {pages}."


def system_title(method: str, profile: str, main: str | None = None) -> str:
    """The system a run page shows: ``EW, SSC-ResNet`` (method, network, auxiliary loss), with
    ``leak-free split`` for a profile split by duplicate cluster and the profile's name when it
    is not ``main`` (the profile of the build, when given)."""
    from busmtl.config import PROFILES
    from busmtl.report.systems import system_key, system_name

    title = system_name(system_key(profile, method))
    if PROFILES[profile].settings.get("split_group") == "duplicates":
        title += ", leak-free split"
    return title if profile == (main or profile) else f"{title} ({profile})"


def runs_table(records: list[RunRecord], pages: dict[tuple[str, int, int], str] | None = None,
               profile: str | None = None) -> pd.DataFrame:
    """The appendix's table: method, fold (and seed, where a run has a seed other than 0),
    status, test Dice and accuracy, best epoch and a link to the run's page (``pages``:
    (method, fold, seed) -> document path for ``{doc}``). With ``profile``, a method is named
    with the system it trains (``EW, interaction network``)."""
    from busmtl.report.systems import system_key, system_name

    pages = pages or {}
    seeded = any(r.seed for r in records)
    rows = []
    for r in records:
        test = (r.metrics or {}).get("test", {})
        page = pages.get((r.method, r.fold, r.seed))
        method = system_name(system_key(profile, r.method)) if profile else label(r.method)
        title = system_title(r.method, profile) if profile else method
        name = f"{title}, fold {r.fold}" + (f", seed {r.seed}" if r.seed else "")
        rows.append({
            "method": method, "fold": r.fold, "seed": r.seed, "status": r.status.value,
            "test Dice": f"{test['seg_dice']:.3f}" if "seg_dice" in test else "",
            "test accuracy": f"{test['cls_acc']:.3f}" if "cls_acc" in test else "",
            "best epoch": (r.metrics or {}).get("best_epoch", ""),
            "run page": f"{{doc}}`{name} <{page}>`" if page else "",
        })
    columns = ["method", "fold", *(["seed"] if seeded else []), "status", "test Dice",
               "test accuracy", "best epoch", "run page"]
    return pd.DataFrame(rows, columns=columns)


def sample_predictions(records: list[RunRecord]) -> dict[str, np.ndarray] | None:
    """The fixed test sample (``predictions.npz``) of the first finished run, or ``None``."""
    for r in records:
        path = r.run_dir / "predictions.npz"
        if r.status == "done" and path.is_file():
            with np.load(path) as data:
                return {k: data[k] for k in data.files}
    return None


def test_set_counts(records: list[RunRecord]) -> dict[str, int] | None:
    """Size of the held-out test set and its classes, from a finished run's ``per_image.csv``."""
    for r in records:
        path = r.run_dir / "per_image.csv"
        if r.status == "done" and path.is_file():
            table = pd.read_csv(path)
            return {"test": len(table), "benign": int((table["label"] == 0).sum()),
                    "malignant": int((table["label"] == 1).sum())}
    return None

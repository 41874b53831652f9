"""The committed reference runs (profile ``busi-cpu``) and the check that they still match the code.

The book's numbers come from runs committed under ``book/runs/busi-cpu``: hours of CPU training
that ``busmtl book`` never repeats. Whether they are still what the current code would produce
is decided by :func:`check_drift`: it re-trains a reference run for its first few epochs, on the
same data, threads and precision, and compares the per-epoch training losses and weights with
the committed ``history.csv``. Training is deterministic at a fixed thread count and precision,
and nothing in an epoch depends on the epoch cap, so any difference beyond floating-point
printing means that a change of the code (or of the libraries) changed the results: the
reference runs must then be re-run (``busmtl sweep --profile busi-cpu --data-dir BUSI``).

DWA and ATDWA apply equal weights until two epochs have been recorded, so a check of ATDWA needs
three epochs to exercise its weighting; GradNorm updates its weights from the first step.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from busmtl.artifacts import read_config
from busmtl.settings import repo_root

#: The profile whose runs are the companion's committed reference results.
REFERENCE_PROFILE = "busi-cpu"
#: History columns compared by the drift check.
DRIFT_COLUMNS: tuple[str, ...] = ("train_loss_seg", "train_loss_cls", "w_seg", "w_cls")
#: Relative tolerance of the drift check.
DRIFT_RTOL: float = 1e-6
#: Runs the drift check re-trains by default, with the epochs each needs.
DRIFT_RUNS: dict[str, int] = {"atdwa/fold0": 3, "gradnorm/fold0": 2}


def reference_root(root: Path | None = None) -> Path:
    """``book/runs/busi-cpu`` of the repository (or of ``root``)."""
    return (root or repo_root()) / "book" / "runs" / REFERENCE_PROFILE


def reference_runs(root: Path | None = None) -> list[Path]:
    """The finished reference run folders (those with ``DONE``), sorted."""
    base = reference_root(root)
    return sorted(p.parent for p in base.glob("*/fold*/DONE")) if base.is_dir() else []


@dataclass
class DriftReport:
    """Result of re-training one reference run for ``epochs`` epochs."""

    run: Path
    epochs: int
    max_relative_difference: float
    committed: pd.DataFrame
    retrained: pd.DataFrame

    @property
    def ok(self) -> bool:
        return self.max_relative_difference <= DRIFT_RTOL

    def message(self, root: Path | None = None) -> str:
        """What differs and what to re-run."""
        runs = reference_runs(root)
        methods = sorted({p.parent.name for p in runs})
        return (
            f"the code no longer reproduces the committed reference run {self.run.parent.name}/"
            f"{self.run.name}: over the first {self.epochs} epochs the training losses/weights "
            f"differ by up to {self.max_relative_difference:.3g} (relative; tolerance "
            f"{DRIFT_RTOL:g}).\ncommitted:\n{self.committed.to_string()}\nre-trained:\n"
            f"{self.retrained.to_string()}\nAll {len(runs)} reference runs ({', '.join(methods)}) "
            f"were made with the old code and must be re-run: `busmtl sweep --profile "
            f"{REFERENCE_PROFILE} --methods {','.join(methods)} --data-dir /path/to/BUSI`, then "
            "commit book/runs/busi-cpu (or revert the change if it was not meant to alter results)."
        )


def _prepared_like(run_config: dict, busi_dir: Path, workdir: Path) -> Path:
    """BUSI prepared and split as the run's data were, checked by their identity."""
    from busmtl.data.errors import DataError
    from busmtl.data.prepare import dataset_identity, prepare_dataset
    from busmtl.data.splits import make_splits

    cfg = run_config["config"]
    size = int(cfg["prepare_size"])
    prepared = workdir / f"prepared-{size}"
    if not (prepared / "splits.json").is_file():
        prepare_dataset(busi_dir, prepared, size=size, progress=False)
        make_splits(prepared, seed=0)
    if dataset_identity(prepared) != run_config["data_identity"]:
        raise DataError(
            f"{busi_dir} prepared at {size} px has identity {dataset_identity(prepared)}, but the "
            f"reference runs were made from data with identity {run_config['data_identity']}: "
            "point the check at the same BUSI copy (647 benign + malignant cases)"
        )
    return prepared


def check_drift(run: Path, busi_dir: Path, workdir: Path, epochs: int = 2) -> DriftReport:
    """Re-train reference run ``run`` for ``epochs`` epochs from ``busi_dir`` into ``workdir``
    with its recorded settings (threads and precision included) and compare the histories."""
    from busmtl.config import FIELD_NAMES, make_config
    from busmtl.trainer import train

    run = Path(run)
    run_config = read_config(run)
    recorded = run_config["config"]
    prepared = _prepared_like(run_config, Path(busi_dir), Path(workdir))
    skip = {"profile", "data_dir", "splits", "epochs", "save_model", "progress", "run_hash"}
    settings = {k: v for k, v in recorded.items() if k in FIELD_NAMES and k not in skip}
    cfg = make_config(recorded["profile"], **settings, data_dir=str(prepared), epochs=int(epochs),
                      save_model=False, progress=False)
    out = Path(workdir) / f"{run.parent.name}-{run.name}"
    train(dataclasses.replace(cfg), out)
    committed = pd.read_csv(run / "history.csv")[list(DRIFT_COLUMNS)].iloc[:epochs]
    retrained = pd.read_csv(out / "history.csv")[list(DRIFT_COLUMNS)]
    a, b = committed.to_numpy(np.float64), retrained.to_numpy(np.float64)
    if a.shape != b.shape:
        difference = float("inf")
    else:
        difference = float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-12)))
    return DriftReport(run, int(epochs), difference, committed, retrained)

"""One planned run of a sweep (:class:`Run`), the resolution of its settings into its
specification (:func:`resolve`) and the parsing of what a sweep plans: methods, folds and seeds. The sweep (:mod:`~busmtl.orchestration.sweep`) makes the plan and the executors
(:mod:`~busmtl.orchestration.executors`) carry it out; both read this module, neither the other.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from busmtl.config import PROFILES, TrainConfig, validate
from busmtl.runs import state
from busmtl.runs.layout import RunKey


def parse_methods(text: str | None, profile: str) -> list[str]:
    """``"all"`` (every registered weighter), ``"ew,dwa"``, or ``None`` (the profile's)."""
    from busmtl.weighting import available

    if text is None:
        return list(PROFILES[profile].methods)
    names = available() if text.strip() == "all" else [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in available()]
    if unknown or not names:
        raise ValueError(f"unknown method(s) {', '.join(unknown) or text!r}; valid: "
                         f"{', '.join(available())} or 'all'")
    return list(dict.fromkeys(names))


def parse_folds(text: str | None, profile: str) -> list[int]:
    """``"0-4"``, ``"0,2,3"``, ``"1"`` or ``None`` (the profile's folds)."""
    if text is None:
        return list(PROFILES[profile].folds)
    folds: list[int] = []
    reversed_ranges: list[tuple[int, int]] = []
    try:
        for part in text.split(","):
            if "-" in part:
                low, high = (int(x) for x in part.split("-"))
                if low > high:
                    reversed_ranges.append((low, high))
                folds.extend(range(low, high + 1))
            elif part.strip():
                folds.append(int(part))
    except ValueError:
        raise ValueError(f"--folds {text!r}: use a range like 0-4 or a list like 0,2,3") from None
    if reversed_ranges:
        low, high = reversed_ranges[0]
        raise ValueError(f"--folds {text!r}: the range {low}-{high} is reversed; write it low "
                         f"to high, {high}-{low}")
    if not folds or min(folds) < 0:
        raise ValueError(f"--folds {text!r}: give fold numbers >= 0, e.g. 0-4")
    return sorted(set(folds))


def parse_seeds(text: str | None, profile: str) -> list[int]:
    """``"0,1,2"``, ``"0-2"`` or ``None`` (the profile's seeds)."""
    if text is None:
        return list(PROFILES[profile].seeds)
    try:
        return parse_folds(text, profile)
    except ValueError as exc:
        reason = str(exc).split(": ", 1)[1] if "reversed" in str(exc) else (
            "use a list like 0,1,2 or a range like 0-2")
        raise ValueError(f"--seeds {text!r}: {reason}") from None


def resolve(config: TrainConfig, device: str | None = None) -> TrainConfig:
    """A copy of ``config`` with its device, precision and weighter settings decided: the run's
    specification (:mod:`busmtl.runs.spec`).

    ``device``: where the run will train when that is not this machine (a cluster's GPU
    node); otherwise ``config.device`` is resolved here (``"auto"``: ``cuda`` when available,
    else ``cpu``). ``precision="auto"`` becomes ``bf16`` or ``fp32`` for that device
    (:func:`busmtl.training.step.resolve_precision`). Validates the result.
    """
    from busmtl.training.step import resolve_precision
    from busmtl.training.trainer import resolve_device, weighter_settings

    cfg = copy.deepcopy(config)
    target = device if device not in (None, "auto") else str(resolve_device(cfg.device))
    if cfg.device == "auto":
        cfg.device = target
    cfg.precision = resolve_precision(cfg.precision, target, cfg.model)
    # the weighter's settings as it will use them (GradNorm's lr, a gradient method's
    # Jacobian): the specification that is hashed is the one config.json records
    cfg.weighter = weighter_settings(cfg)
    validate(cfg)
    return cfg


@dataclass
class Run:
    """One method x fold x seed of a sweep."""

    method: str
    fold: int
    notebook: Path  # the executed notebook
    run_dir: Path
    parameters: dict[str, Any]  # papermill's: spec (the settings), out_dir, force, run_hash
    run_hash: str
    config: TrainConfig  # the resolved specification (busmtl.runs.spec), as in ``spec``
    status: str = "pending"  # a busmtl.runs.state.Status value, or "skipped" (done before this sweep)
    error: str | None = None
    seconds: float = 0.0
    train_seconds: float = 0.0
    log: Path | None = None  # the worker's log (the SLURM job's log)
    job_id: str | None = None  # SLURM job id (``<array>_<index>``)
    placement: str | None = None  # CUDA_VISIBLE_DEVICES of a run placed on a GPU
    seed: int = 0

    @property
    def key(self) -> RunKey:
        return RunKey(self.method, self.fold, self.seed)

    @property
    def title(self) -> str:
        """The heading of the executed notebook: method, the network and auxiliary loss when
        not the paper's, fold and seed (``ATDWA (interaction), fold 0, seed 2``)."""
        from busmtl.weighting import label

        name = label(self.method)
        cfg = self.config
        if cfg.model != "ssc_resnet":
            name = f"{name.split(' (')[0]} ({cfg.model})"
        if cfg.aux_loss:
            name += f" + {cfg.aux_loss}"
        return f"{name}, fold {self.fold}" + (f", seed {self.seed}" if self.seed else "")

    def is_done(self) -> bool:
        """True when the run folder holds a finished run (``DONE`` and ``metrics.json``) whose
        ``DONE`` records this run's hash."""
        return state.finished_hash(self.run_dir) == self.run_hash


def check_runs(runs: list[Run], data_dir: Path) -> None:
    """Refuse a plan that cannot run, before anything is written (UserError naming the value):
    a run folder that is a file, or a fold that the run's split file does not have."""
    from busmtl.data.splits import load_splits, run_split_path
    from busmtl.errors import UserError

    files = [str(r.run_dir) for r in runs if r.run_dir.exists() and not r.run_dir.is_dir()]
    if files:
        raise UserError(f"{len(files)} run folder(s) are files, not folders ({', '.join(files[:3])}"
                        f"{', ...' if len(files) > 3 else ''}): move them away or sweep into "
                        "another folder with --runs-dir; nothing was run or changed")
    folds_n: dict[Path, int] = {}
    for r in runs:
        path = run_split_path(data_dir, r.config.splits, r.config.split_group)
        if path not in folds_n:
            folds_n[path] = len(load_splits(path, data_dir).folds)
        if r.fold >= folds_n[path]:
            raise UserError(f"--folds: fold {r.fold} is not in {path.name}, which has folds "
                            f"0-{folds_n[path] - 1}: give folds in that range; nothing was run")

"""The one place that knows where a run lives.

A sweep of profile ``P`` keeps its runs under ``<runs root>/P/``::

    <method>/fold<k>/               run folder of seed 0 (the layout of every older run)
    <method>/fold<k>.ipynb          its executed notebook
    <method>/fold<k>-seed<s>/       run folder of seed s > 0
    <method>/fold<k>-seed<s>.ipynb

Seed 0 keeps the plain name, so run folders made before seeds existed are read as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_NAME = re.compile(r"^fold(\d+)(?:-seed(\d+))?$")


@dataclass(frozen=True, order=True)
class RunKey:
    """What tells one run of a profile from another: method, fold and seed."""

    method: str
    fold: int
    seed: int = 0

    @property
    def name(self) -> str:
        """``fold<k>`` or ``fold<k>-seed<s>`` (the run folder's name)."""
        return run_name(self.fold, self.seed)

    @property
    def label(self) -> str:
        """``<method>/<name>`` (e.g. ``atdwa/fold0-seed2``), for messages and logs."""
        return f"{self.method}/{self.name}"


def run_name(fold: int, seed: int = 0) -> str:
    """``fold<k>`` for seed 0, ``fold<k>-seed<s>`` otherwise."""
    return f"fold{int(fold)}" if int(seed) == 0 else f"fold{int(fold)}-seed{int(seed)}"


def parse_run_name(name: str) -> tuple[int, int] | None:
    """``(fold, seed)`` of a run folder's (or notebook's stem's) name; ``None`` for other names."""
    match = _NAME.match(name)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def profile_dir(runs_root: Path, profile: str) -> Path:
    return Path(runs_root) / profile


def run_dir(runs_root: Path, profile: str, key: RunKey) -> Path:
    """``<runs root>/<profile>/<method>/<name>``."""
    return profile_dir(runs_root, profile) / key.method / key.name


def notebook_path(runs_root: Path, profile: str, key: RunKey) -> Path:
    """The executed notebook beside the run folder."""
    return profile_dir(runs_root, profile) / key.method / f"{key.name}.ipynb"


def key_of(path: Path) -> RunKey | None:
    """The key of a run folder ``.../<method>/<name>`` (``None`` when the name is no run's)."""
    parsed = parse_run_name(Path(path).name)
    if parsed is None:
        return None
    return RunKey(Path(path).parent.name, *parsed)


def finished_runs(folder: Path) -> dict[RunKey, Path]:
    """Every run folder under one profile's folder that holds a finished run (``DONE`` and
    ``metrics.json``, :func:`busmtl.runs.state.is_finished`), by key, sorted."""
    from busmtl.runs.state import is_finished

    return {key: run_dir for key, run_dir in run_folders(folder).items() if is_finished(run_dir)}


def run_folders(folder: Path) -> dict[RunKey, Path]:
    """Every run folder under one profile's folder (``<method>/<name>``, finished or not), by
    key, sorted."""
    folder = Path(folder)
    found: dict[RunKey, Path] = {}
    if not folder.is_dir():
        return found
    for run_dir in folder.glob("*/*"):
        key = key_of(run_dir)
        if key is not None and run_dir.is_dir():
            found[key] = run_dir
    return dict(sorted(found.items()))

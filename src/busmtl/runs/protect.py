"""Committed runs are protected: a sweep never overwrites a run folder that git tracks.

"Committed" is a property of run folders (files tracked by the repository's git), not of a
profile: whatever a sweep would re-train is checked, and a folder with tracked files is only
replaced when the user asks for it (``busmtl sweep --retrain-committed``) *and* the data the
sweep trains on are the data the committed run recorded (``data_identity`` in its
``config.json``). A *set* of runs (the folder ``<runs root>/<name>/`` of one profile) is
committed when it holds such files (:func:`committed_sets`): the book shows a committed set as it
is and never re-trains it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from pathlib import Path

from busmtl.runs.lock import LOCK_FILE
from busmtl.settings import repo_root


def committed_dirs(run_dirs: Iterable[Path], root: Path | None = None) -> set[Path]:
    """The folders among ``run_dirs`` that hold at least one file tracked by git (none outside a
    git checkout)."""
    root = Path(root or repo_root()).resolve()
    inside = [Path(d).resolve() for d in run_dirs]
    inside = [d for d in inside if d.is_relative_to(root)]
    if not inside:
        return set()
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--", *(d.relative_to(root).as_posix() for d in inside)],
            cwd=root, capture_output=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    tracked = [root / name for name in out.decode().split("\0") if name]
    return {d for d in inside if any(t.is_relative_to(d) for t in tracked)}


def committed_sets(runs_root: Path, root: Path | None = None) -> list[str]:
    """Names of the run sets under ``runs_root`` (its sub-folders) that hold at least one file
    tracked by git, sorted. Outside a git checkout (a source archive) a set counts when it holds
    files and none of its runs was trained here: no run folder holds the writer's lock file
    (:data:`busmtl.runs.lock.LOCK_FILE`, left by every run made on this machine and never
    committed)."""
    root = Path(root or repo_root()).resolve()
    base = Path(runs_root).resolve()
    if not base.is_dir() or not base.is_relative_to(root):
        return []
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--", base.relative_to(root).as_posix()],
                             cwd=root, capture_output=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return sorted(d.name for d in base.iterdir()
                      if d.is_dir() and any(f.is_file() for f in d.rglob("*"))
                      and not any(d.rglob(LOCK_FILE)))
    names = {(root / name).relative_to(base).parts[0]
             for name in out.decode().split("\0") if name}
    return sorted(n for n in names if (base / n).is_dir())


def recorded_identity(run_dir: Path) -> str | None:
    """The ``data_identity`` a run folder's ``config.json`` records (``None`` when unreadable)."""
    try:
        return json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8")).get(
            "data_identity")
    except (OSError, ValueError, AttributeError):
        return None

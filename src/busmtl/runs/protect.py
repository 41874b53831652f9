"""Committed runs are protected: a sweep never overwrites a run folder that git tracks.

"Committed" is a property of run folders (files tracked by the repository's git), not of a
profile: whatever a sweep would re-train is checked, and a folder with tracked files is only
replaced when the user asks for it (``busmtl sweep --retrain-committed``) *and* the data the
sweep trains on are the data the committed run recorded (``data_identity`` in its
``config.json``).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from pathlib import Path

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


def recorded_identity(run_dir: Path) -> str | None:
    """The ``data_identity`` a run folder's ``config.json`` records (``None`` when unreadable)."""
    try:
        return json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8")).get(
            "data_identity")
    except (OSError, ValueError, AttributeError):
        return None

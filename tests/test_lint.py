"""The code passes the project's linter (ruff, configured in ``pyproject.toml``): the rules a
contributor's editor shows are the ones the test suite holds the code to."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from busmtl.settings import repo_root


def _ruff() -> str | None:
    """The environment's ruff (a dev dependency), else one on PATH."""
    local = Path(sys.executable).parent / "ruff"
    return str(local) if local.exists() else shutil.which("ruff")


def test_the_code_passes_ruff():
    ruff = _ruff()
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    root = repo_root()
    result = subprocess.run([ruff, "check", "--no-cache", "src", "tests", "tools"],
                            cwd=root, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr

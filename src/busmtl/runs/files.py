"""Reading a run folder's files: ``config.json``, ``history.csv``, ``metrics.json`` and
``per_image.csv``, as :mod:`busmtl.training.artifacts` wrote them.

Readers only: nothing here imports torch, so the report layer and the book's chapters read runs
without loading the training stack.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd


def read_json(path: str | Path) -> dict[str, Any]:
    """A JSON file as a dictionary."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_config(run_dir: str | Path) -> dict[str, Any]:
    """``config.json`` of a run folder."""
    return read_json(Path(run_dir) / "config.json")


def read_history(run_dir: str | Path) -> pd.DataFrame:
    """``history.csv`` of a run folder."""
    return pd.read_csv(Path(run_dir) / "history.csv")


def read_metrics(run_dir: str | Path) -> dict[str, Any]:
    """``metrics.json`` of a run folder."""
    return read_json(Path(run_dir) / "metrics.json")


def read_per_image(run_dir: str | Path) -> pd.DataFrame:
    """``per_image.csv`` of a run folder."""
    return pd.read_csv(Path(run_dir) / "per_image.csv")

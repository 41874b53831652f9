"""Where things live: repository root, default data folders, and the user's data settings.

Settings are read from environment variables so that notebooks, the CLI and tests agree:

* ``BUSMTL_BUSI_DIR``: folder of the raw BUSI dataset (``benign/``, ``malignant/``). When it is
  unset, ``data/BUSI`` inside the repository is used if it exists.
* ``BUSMTL_DATA_ROOT``: where generated and prepared data go (default ``data/generated``).
"""

from __future__ import annotations

import os
from pathlib import Path

BUSI_ENV = "BUSMTL_BUSI_DIR"
DATA_ROOT_ENV = "BUSMTL_DATA_ROOT"


def repo_root() -> Path:
    """The repository root: the nearest parent of this file (or of the CWD) holding ``pyproject.toml``."""
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for parent in (start, *start.parents):
            if (parent / "pyproject.toml").is_file() and (parent / "src" / "busmtl").is_dir():
                return parent
    return Path.cwd().resolve()


def data_root() -> Path:
    """Folder for generated phantoms and prepared caches."""
    env = os.environ.get(DATA_ROOT_ENV)
    return Path(env).expanduser().resolve() if env else repo_root() / "data" / "generated"


def busi_dir() -> Path | None:
    """The raw BUSI folder given by ``BUSMTL_BUSI_DIR`` or ``data/BUSI``; ``None`` when neither exists.

    An explicitly set but missing folder is an error: the user asked for it.
    """
    env = os.environ.get(BUSI_ENV)
    if env:
        path = Path(env).expanduser().resolve()
        if not path.is_dir():
            raise FileNotFoundError(
                f"{BUSI_ENV}={env} does not exist: point it at the BUSI folder holding "
                "benign/ and malignant/ (see data/README.md), or unset it to use the phantoms."
            )
        return path
    default = repo_root() / "data" / "BUSI"
    return default if default.is_dir() else None

"""Where things live: repository root, default data folders, the user's data settings, and where
the project lives online (:class:`Repository`, from ``repository`` in ``_config.yml``).

Settings are read from environment variables so that notebooks, the CLI and tests agree:

* ``BUSMTL_BUSI_DIR``: folder of the raw BUSI dataset (``benign/``, ``malignant/``). When it is
  unset, ``data/BUSI`` inside the repository is used if it exists.
* ``BUSMTL_DATA_ROOT``: where generated and prepared data go (default ``data/generated``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

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


# --------------------------------------------------------------------------------------------
# where the project lives online: every address derives from repository.url of _config.yml, so
# moving the repository means editing that one line (the published book is its GitHub Pages;
# the lab notebook opens on Binder and Colab from the repository)
# --------------------------------------------------------------------------------------------
#: The student notebook, written by ``python -m busmtl.teaching.lab`` and committed (Binder and Colab
#: open it from the repository).
STUDENT_NOTEBOOK: str = "notebooks/lab.ipynb"

_GITHUB = re.compile(r"^https://github\.com/(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)/?$")


@dataclass(frozen=True)
class Repository:
    """The repository of ``_config.yml`` and every address derived from it."""

    owner: str
    name: str
    branch: str = "main"

    @property
    def url(self) -> str:
        """The repository's page."""
        return f"https://github.com/{self.owner}/{self.name}"

    @property
    def clone_url(self) -> str:
        """What ``git clone`` takes."""
        return f"{self.url}.git"

    @property
    def book_url(self) -> str:
        """The published book (GitHub Pages of the repository), ending with ``/``."""
        return f"https://{self.owner.lower()}.github.io/{self.name}/"

    def page_url(self, page: str, anchor: str | None = None) -> str:
        """The HTML address of the chapter ``page`` (``book/methods.md`` or ``methods``)."""
        stem = Path(page).with_suffix("").as_posix()
        stem = stem if stem.startswith("book/") else f"book/{stem}"
        return f"{self.book_url}{stem}.html" + (f"#{anchor}" if anchor else "")

    def binder_url(self, path: str = STUDENT_NOTEBOOK) -> str:
        """``path`` of the repository opened in JupyterLab on mybinder.org."""
        return f"https://mybinder.org/v2/gh/{self.owner}/{self.name}/{self.branch}?labpath={path}"

    def colab_url(self, path: str = STUDENT_NOTEBOOK) -> str:
        """``path`` of the repository opened in Google Colab."""
        return (f"https://colab.research.google.com/github/{self.owner}/{self.name}/blob/"
                f"{self.branch}/{path}")

    def raw_url(self, path: str) -> str:
        """The file ``path`` of the repository, for download."""
        return f"{self.url}/raw/{self.branch}/{path}"


def repository(config: str | Path | None = None) -> Repository:
    """The repository named by ``repository.url`` (and ``repository.branch``) in the book's
    ``_config.yml`` (default: the one of this checkout); ValueError naming the setting when it
    is missing or not a GitHub address."""
    path = Path(config) if config is not None else repo_root() / "_config.yml"
    settings = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    section = settings.get("repository") or {}
    url = str(section.get("url", ""))
    match = _GITHUB.match(url)
    if match is None:
        raise ValueError(f"repository.url in {path.name} must be https://github.com/<owner>/<name>, "
                         f"got {url!r}: set it to the repository's address")
    name = match["name"].removesuffix(".git")
    return Repository(match["owner"], name, str(section.get("branch") or "main"))

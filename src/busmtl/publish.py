"""Where the project lives online, from its one setting: ``repository.url`` (and
``repository.branch``) of ``_config.yml``.

Every address the book, the student notebook and the instructor page show is derived here, so
moving the repository means editing that one line:

* the repository ``https://github.com/<owner>/<name>``;
* the published book (GitHub Pages): ``https://<owner>.github.io/<name>/``, a chapter
  ``book/<page>.md`` at ``<book>/book/<page>.html``;
* the lab notebook on Binder (``mybinder.org/v2/gh/<owner>/<name>/<branch>?labpath=...``) and
  on Colab (``colab.research.google.com/github/<owner>/<name>/blob/<branch>/...``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from busmtl.settings import repo_root

#: The student notebook, written by ``python -m busmtl.lab`` and committed (Binder and Colab
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

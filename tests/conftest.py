"""Shared fixtures: a tiny prepared phantom dataset (generated once per test session)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")
# `busmtl train` re-runs itself in a fresh process to pin the CPU level; never inside pytest
os.environ.setdefault("BUSMTL_NO_REEXEC", "1")


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """36 phantoms at 32 px, prepared and split (test 8, two folds)."""
    from busmtl.data.phantoms import generate_phantoms
    from busmtl.data.prepare import prepare_dataset
    from busmtl.data.splits import make_splits

    base = tmp_path_factory.mktemp("tiny_data")
    raw = generate_phantoms(base / "raw", n=36, seed=0, size=64, progress=False)
    prepared = prepare_dataset(raw, base / "prepared", size=32, progress=False)
    make_splits(prepared, seed=0, test_fraction=0.2, folds=2)
    return prepared


@pytest.fixture(autouse=True)
def _isolated_data_root(tmp_path_factory, monkeypatch):
    """Nothing a test does may write into the repository's data/generated."""
    monkeypatch.setenv("BUSMTL_DATA_ROOT", str(tmp_path_factory.getbasetemp() / "data_root"))
    # A user's BUSI setting must not turn the tests' "auto" datasets into BUSI runs.
    monkeypatch.delenv("BUSMTL_BUSI_DIR", raising=False)


@pytest.fixture(scope="module")
def module_data_root(tmp_path_factory):
    """The isolated data root of :func:`_isolated_data_root` for module-scoped fixtures (which
    pytest sets up before any function-scoped one): they too must not write into the
    repository's data/generated."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BUSMTL_DATA_ROOT", str(tmp_path_factory.getbasetemp() / "data_root"))
        patch.delenv("BUSMTL_BUSI_DIR", raising=False)
        yield


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory) -> tuple[Path, Path]:
    """The smoke book built once per session, offline with warnings as errors, as after `make
    test` in a fresh clone (a .pytest_cache with its README.md lies in the root): the root of
    the copy and its HTML folder. Shared by tests/test_book.py and tests/test_browser.py."""
    from book_fixtures import copy_book_sources

    from busmtl.publish.pipeline import build_book

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BUSMTL_DATA_ROOT", str(tmp_path_factory.getbasetemp() / "data_root"))
        patch.delenv("BUSMTL_BUSI_DIR", raising=False)
        root = copy_book_sources(tmp_path_factory.mktemp("book") / "repo")
        (root / ".pytest_cache").mkdir()
        (root / ".pytest_cache" / "README.md").write_text("# pytest cache directory #\n")
        index = build_book("smoke", root=root, progress=False)
    return root, index.parent

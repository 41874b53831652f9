"""Helpers that write tiny datasets in the BUSI layout for the data tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image


def shared_busi() -> Path | None:
    """The raw BUSI copy of this machine, or None: ``BUSMTL_REFERENCE_BUSI`` (set by ``.ci/run``
    wherever it finds one), else the shared copy beside the repository."""
    from busmtl.settings import repo_root

    candidates = [os.environ.get("BUSMTL_REFERENCE_BUSI"),
                  str(repo_root().parent / "shared" / "data" / "busi")]
    for c in candidates:
        if c and (Path(c) / "benign").is_dir() and (Path(c) / "malignant").is_dir():
            return Path(c)
    return None


def write_png(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path)
    return path


def disc(h: int, w: int, cy: int, cx: int, r: int) -> np.ndarray:
    y, x = np.ogrid[:h, :w]
    return (((y - cy) ** 2 + (x - cx) ** 2) <= r * r).astype(np.uint8)


def make_busi(root: Path, benign: int = 4, malignant: int = 2, size: tuple[int, int] = (40, 48),
              multi: bool = True) -> Path:
    """``benign (i).png`` + ``_mask.png`` ...; benign (1) also gets a ``_mask_1.png`` second lesion."""
    h, w = size
    rng = np.random.default_rng(0)
    for cls, n in (("benign", benign), ("malignant", malignant)):
        for i in range(1, n + 1):
            image = rng.integers(0, 255, size=(h, w), dtype=np.uint8)
            if cls == "malignant":  # RGB with equal channels, like the original download
                write_png(root / cls / f"{cls} ({i}).png", np.stack([image] * 3, -1))
            else:
                write_png(root / cls / f"{cls} ({i}).png", image)
            write_png(root / cls / f"{cls} ({i})_mask.png", 255 * disc(h, w, h // 3, w // 3, 5))
            if multi and cls == "benign" and i == 1:
                write_png(root / cls / f"{cls} ({i})_mask_1.png", 255 * disc(h, w, 2 * h // 3, 2 * w // 3, 4))
    return root


def tree_snapshot(root: Path) -> dict[str, tuple[str, bytes | None]]:
    """Every path under ``root`` (itself included) with its kind and, for files, its bytes:
    two snapshots are equal when nothing on disk changed."""
    root = Path(root)
    paths = [root, *sorted(root.rglob("*"))] if root.exists() else []
    return {
        str(p.relative_to(root.parent)): ("dir", None) if p.is_dir() else ("file", p.read_bytes())
        for p in paths
    }


def refused(capsys, argv: list[str], watched: Path, *needles: str) -> str:
    """Run ``busmtl argv``; assert exit 2, one line holding ``needles``, ``watched`` unchanged."""
    from busmtl.cli import main

    before = tree_snapshot(watched)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    for needle in needles:
        assert needle in err, (needle, err)
    assert tree_snapshot(watched) == before
    return err

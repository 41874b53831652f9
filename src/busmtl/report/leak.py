"""How much BUSI's near-duplicate images leak across the paper's split, and what it does to scores.

The book is built without the dataset, so what needs the images is computed once from a BUSI
copy and committed as small tables (no pixels but the cross-class thumbnails, credited):

* ``busi-duplicates.csv``: the duplicate table of :mod:`busmtl.data.duplicates`;
* ``busi-leak.csv``: for the paper's split by image (seed 0) and the grouped split, one row per
  (split, fold, test image): whether the image has a near-duplicate in that fold's training or
  validation images (``leaked``);
* ``busi-cross-class.png``: the clusters filed under both classes, as thumbnails.

``python -m busmtl.report.leak --busi /path/to/BUSI --out book/data`` writes them; the data
chapter joins ``busi-leak.csv`` with the committed runs' ``per_image.csv`` (:func:`leak_metrics`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from busmtl.report.colors import LABEL_SIZE

#: Files of the committed leak record (under ``book/data``).
DUPLICATES_CSV = "busi-duplicates.csv"
LEAK_CSV = "busi-leak.csv"
CROSS_CLASS_PNG = "busi-cross-class.png"
#: Resolution of the cross-class figure (its thumbnails are small; see :func:`write_record`).
CROSS_CLASS_DPI = 100
#: Image side of the cache the record is computed on (the busi-cpu profiles' size).
RECORD_SIZE = 96


def leak_table(data_dir: Path) -> pd.DataFrame:
    """For a prepared cache with ``duplicates.csv`` and both split files: one row per (split,
    fold, test image) with ``leaked`` (a member of its duplicate cluster is among the fold's
    training images: the network saw a copy), ``near_val`` (among its validation images: the
    checkpoint was chosen on a copy) and ``label``."""
    from busmtl.data.duplicates import read_groups
    from busmtl.data.prepare import read_index
    from busmtl.data.splits import load_splits, split_file

    rows = read_index(data_dir)
    ids = [r["id"] for r in rows]
    labels = dict(zip(ids, np.load(data_dir / "labels.npy").tolist()))
    groups, _ = read_groups(data_dir / "duplicates.csv", ids)
    group_of = dict(zip(ids, groups.tolist()))
    out = []
    for split in ("none", "duplicates"):
        splits = load_splits(data_dir / split_file(split), data_dir)
        for k, fold in enumerate(splits.folds):
            train = {group_of[i] for i in fold.train}
            val = {group_of[i] for i in fold.val}
            out += [{"split": "by image" if split == "none" else "grouped", "fold": k, "id": i,
                     "label": labels[i], "leaked": group_of[i] in train,
                     "near_val": group_of[i] in val} for i in splits.test]
    return pd.DataFrame(out)


def cross_class_figure(images: dict[str, np.ndarray], clusters: list[list[str]],
                       classes: dict[str, str]) -> plt.Figure:
    """One row per cross-class cluster: its images side by side, titled by name and class."""
    width = max(len(c) for c in clusters)
    fig, axes = plt.subplots(len(clusters), width, figsize=(2.1 * width, 2.25 * len(clusters)),
                             squeeze=False)
    for row, cluster in zip(axes, clusters):
        for ax in row:
            ax.axis("off")
        for ax, name in zip(row, cluster):
            ax.imshow(images[name], cmap="gray")
            ax.set_title(f"{name}\nfiled as {classes[name]}", fontsize=LABEL_SIZE)
    fig.tight_layout()
    return fig


def write_record(busi_dir: Path, out: Path) -> list[Path]:
    """Compute the leak record from a BUSI copy and write its three files into ``out``."""
    from busmtl.data.busi import load_case, scan_dataset
    from busmtl.data.duplicates import DUPLICATES_FILE
    from busmtl.data.prepare import prepare_dataset
    from busmtl.data.splits import make_splits

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="busmtl-leak-") as tmp:
        cache = prepare_dataset(busi_dir, Path(tmp) / "cache", size=RECORD_SIZE, progress=False)
        make_splits(cache, seed=0)
        make_splits(cache, seed=0, group="duplicates")
        duplicates = pd.read_csv(cache / DUPLICATES_FILE)
        duplicates.to_csv(out / DUPLICATES_CSV, index=False)
        leak_table(cache).to_csv(out / LEAK_CSV, index=False)
    crossing = duplicates[duplicates["cross_class"] == 1]
    clusters = [list(g["id"]) for _, g in crossing.groupby("cluster", sort=True)]
    names = {n for c in clusters for n in c}
    cases = {c.id: c for c in scan_dataset(busi_dir) if c.id in names}
    images = {name: load_case(case)[0] for name, case in cases.items()}
    classes = dict(zip(duplicates["id"], duplicates["class"]))
    fig = cross_class_figure(images, clusters, classes)
    # 6.3 in at 100 dpi is 630 px: the page shows it at 85 % of its 672 px column (571 px),
    # slightly downscaled, never blown up
    fig.savefig(out / CROSS_CLASS_PNG, dpi=CROSS_CLASS_DPI)
    plt.close(fig)
    return [out / DUPLICATES_CSV, out / LEAK_CSV, out / CROSS_CLASS_PNG]


def cross_class_ids(record: Path) -> set[str]:
    """The images of BUSI filed under both classes (a cross-class cluster of near-duplicates;
    their label is unknowable), from the committed record in the folder ``record``; empty
    without it."""
    path = record / DUPLICATES_CSV
    if not path.is_file():
        return set()
    dups = pd.read_csv(path)
    return set(dups.loc[dups["cross_class"] == 1, "id"].astype(str))


def leak_metrics(per_image: pd.DataFrame, leak: pd.DataFrame) -> pd.DataFrame:
    """Per method: accuracy and mean Dice of the test images with a near-duplicate in their
    fold's training images (``leaked``) and of the others, pooled over folds and seeds, with the
    numbers of image-runs. ``per_image``: rows of :func:`busmtl.report.aggregate.per_image` of
    runs on the paper's split by image."""
    columns = ["method", "acc_leaked", "dice_leaked", "n_leaked", "acc_clean", "dice_clean",
               "n_clean"]
    if per_image.empty or "id" not in per_image:
        return pd.DataFrame(columns=columns)
    paper = leak[leak["split"] == "by image"][["fold", "id", "leaked"]]
    table = per_image.merge(paper, on=["fold", "id"], how="inner")
    rows = []
    for method, group in table.groupby("method", sort=False):
        row = {"method": method}
        for name, part in (("leaked", group[group["leaked"]]), ("clean", group[~group["leaked"]])):
            row[f"acc_{name}"] = float(part["cls_correct"].mean())
            row[f"dice_{name}"] = float(part["seg_dice"].mean())
            row[f"n_{name}"] = len(part)
        rows.append(row)
    return pd.DataFrame(rows)


def leak_gap(per_image: pd.DataFrame, leak: pd.DataFrame, column: str = "cls_correct",
             n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """How much better the test images with a copy in their fold's training images score than
    the others, pooled over methods, folds and seeds: ``(gap, low, high)``, the difference of
    the two means of ``column`` with a 95 % percentile interval from resampling the test images
    (an image keeps all its rows, whatever its fold, so its repeated use is not counted as
    independent). NaNs without rows of both kinds."""
    paper = leak[leak["split"] == "by image"][["fold", "id", "leaked"]]
    table = per_image.merge(paper, on=["fold", "id"], how="inner")
    if table.empty or table["leaked"].all() or not table["leaked"].any():
        return (float("nan"),) * 3
    ids = table["id"].unique()
    # per image: sum and count of its leaked and clean rows, so a resample is a weighted sum
    sums = table.pivot_table(index="id", columns="leaked", values=column, aggfunc="sum",
                             fill_value=0.0).reindex(index=ids, columns=[True, False],
                                                     fill_value=0.0)
    counts = table.pivot_table(index="id", columns="leaked", values=column, aggfunc="count",
                               fill_value=0).reindex(index=ids, columns=[True, False],
                                                     fill_value=0)
    s, n = sums.to_numpy(float), counts.to_numpy(float)
    gap = s[:, 0].sum() / n[:, 0].sum() - s[:, 1].sum() / n[:, 1].sum()
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(ids), np.full(len(ids), 1 / len(ids)), size=n_boot)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = weights @ s[:, 0] / (weights @ n[:, 0]) - weights @ s[:, 1] / (weights @ n[:, 1])
    low, high = np.nanpercentile(boot, [2.5, 97.5])
    return float(gap), float(low), float(high)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m busmtl.report.leak",
                                     description="write the committed leak record of BUSI")
    parser.add_argument("--busi", type=Path, required=True, help="folder with benign/ malignant/")
    parser.add_argument("--out", type=Path, default=Path("book/data"))
    args = parser.parse_args(argv)
    for path in write_record(args.busi, args.out):
        print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

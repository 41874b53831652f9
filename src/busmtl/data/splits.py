"""The paper's evaluation protocol: a stratified held-out test set and k stratified folds.

1. ``test`` = ``floor(test_fraction * N)`` cases, stratified by class (scikit-learn
   ``train_test_split``): 129 of BUSI's 647 cases at 0.2, as in the paper. (A fractional
   ``test_size`` would round up to 130.)
2. The remaining cases are split by ``StratifiedKFold(folds)``; fold ``k`` trains on four
   parts and validates on the fifth (val ~ 1/folds of the rest).

**Grouped by duplicates** (``group="duplicates"``, ``busmtl data split --group duplicates``,
written to ``splits-grouped.json``): near-duplicate images (:mod:`busmtl.data.duplicates`)
form one group, and scikit-learn's ``StratifiedGroupKFold`` draws the test set (one of
``round(1 / test_fraction)`` group folds, about 20 %) and then the folds, so no group crosses a
test/train/validation boundary; the classes stay stratified as far as the groups allow.
Cross-class clusters (the same frame filed as benign and as malignant) are **excluded from
training and evaluation**: one of their labels is wrong, nothing says which, and keeping one
label would train or score on a guess. They are listed under ``excluded``.

Everything is reproducible from ``seed`` and recorded with the dataset's identity (a hash of
``index.csv``, :func:`busmtl.data.prepare.dataset_identity`), so a split file is never applied
to other data. ``splits.json``::

    {"dataset_identity": str, "seed": int, "test_fraction": float, "folds_n": int,
     "test": [id, ...], "folds": [{"train": [id, ...], "val": [id, ...]}, ...],
     "group": "none" | "duplicates", "excluded": [id, ...]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split

from busmtl.data.errors import DataError
from busmtl.data.prepare import _require_cache, dataset_identity, read_index
from busmtl.io import write_json

SPLITS_FILE = "splits.json"
#: Split file of each grouping (``TrainConfig.split_group``).
SPLIT_FILES: dict[str, str] = {"none": SPLITS_FILE, "duplicates": "splits-grouped.json"}


def split_file(group: str) -> str:
    """The file name of the split of ``group`` (``DataError`` for an unknown grouping)."""
    if group not in SPLIT_FILES:
        raise DataError(f"split grouping {group!r} is unknown: use one of {', '.join(SPLIT_FILES)}")
    return SPLIT_FILES[group]


def run_split_path(data_dir: str | Path, splits: str | Path | None, group: str) -> Path:
    """The split file a run reads: ``splits`` (``TrainConfig.splits``) when given, else the
    file of the grouping ``group`` in the prepared cache ``data_dir``."""
    return Path(splits) if splits else Path(data_dir) / split_file(group)


@dataclass
class Fold:
    """Training and validation ids of one fold."""

    train: list[str]
    val: list[str]


@dataclass
class Splits:
    """Contents of ``splits.json``."""

    dataset_identity: str
    seed: int
    test_fraction: float
    folds_n: int
    test: list[str]
    folds: list[Fold] = field(default_factory=list)
    group: str = "none"
    excluded: list[str] = field(default_factory=list)

    def fold(self, k: int) -> Fold:
        """Fold ``k`` (``DataError`` when out of range)."""
        if not 0 <= k < self.folds_n:
            raise DataError(f"fold {k} does not exist: this split has folds 0 to {self.folds_n - 1}")
        return self.folds[k]


def check_two_classes(labels: np.ndarray, where: str | Path) -> None:
    """:class:`DataError` unless ``labels`` hold at least two classes: with one, a classifier
    learns a constant and scores a meaningless accuracy of 1."""
    present = np.unique(labels)
    if labels.size and len(present) < 2:
        from busmtl.data.busi import LABELS

        names = {v: k for k, v in LABELS.items()}
        cls = names.get(int(present[0]), str(int(present[0])))
        raise DataError(
            f"{where} holds one class only ({cls}, {labels.size} cases): a classifier cannot be "
            "trained or tested on it; prepare a dataset with both benign/ and malignant/"
        )


def make_splits(
    data_dir: str | Path,
    seed: int = 0,
    test_fraction: float = 0.2,
    folds: int = 5,
    out: str | Path | None = None,
    group: str = "none",
) -> Path:
    """Write the split file of a prepared cache (default ``<data_dir>/`` + :func:`split_file`).

    ``group="duplicates"`` keeps every near-duplicate cluster on one side of every boundary and
    drops cross-class clusters (module docstring); the clusters come from the cache's
    ``duplicates.csv`` (computed from its images when the file is absent)."""
    data_dir = Path(data_dir)
    _require_cache(data_dir)
    target = Path(out).expanduser() if out is not None else data_dir / split_file(group)
    _check_target(target)
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"--test-fraction {test_fraction} must be between 0 and 1 (e.g. 0.2)")
    if int(folds) < 2:
        raise DataError(f"--folds {folds} must be at least 2 (the paper uses 5)")
    rows = read_index(data_dir)
    ids = np.array([row["id"] for row in rows])
    labels = np.load(data_dir / "labels.npy")
    check_two_classes(labels, data_dir)
    classes, per_class = np.unique(labels, return_counts=True)
    smallest = int(per_class.min()) if len(per_class) else 0
    # each class needs one test case and, in the rest, one case per fold
    need = int(folds) + 1 + int(np.ceil(int(folds) * test_fraction / (1 - test_fraction)))
    if len(ids) == 0 or per_class.min() < need:
        raise DataError(
            f"{data_dir} has too few cases per class ({dict(zip(classes.tolist(), per_class.tolist()))}, "
            f"smallest {smallest}) for a test set plus {folds} folds: use fewer --folds or more data "
            f"(at least {need} per class)"
        )
    split_file(group)  # an unknown grouping is refused before anything is computed
    if group == "duplicates":
        test, fold_list, excluded = _grouped(data_dir, ids, labels, seed, test_fraction,
                                             int(folds))
    else:
        (test, fold_list), excluded = _by_image(ids, labels, seed, test_fraction, int(folds)), []
    payload = {
        "dataset_identity": dataset_identity(data_dir),
        "seed": int(seed),
        "test_fraction": float(test_fraction),
        "folds_n": int(folds),
        "test": ids[np.sort(test)].tolist(),
        "folds": fold_list,
        "group": group,
        "excluded": excluded,
    }
    return write_json(target, payload)


def _check_target(target: Path) -> None:
    """Refuse a split file path that is a folder, lies under a file, or names an existing file
    that is not a split file (it would be replaced)."""
    if target.is_dir():
        raise DataError(f"--out {target} is a folder: give a file name such as "
                        f"{target / SPLITS_FILE}")
    blocking = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise DataError(f"--out {target}: {blocking} is a file, not a folder; give a path in a "
                        "folder")
    if target.exists():
        try:
            raw = json.loads(target.read_text(encoding="utf-8"))
            is_split = isinstance(raw, dict) and "dataset_identity" in raw and "folds" in raw
        except (OSError, ValueError):
            is_split = False
        if not is_split:
            raise DataError(f"--out {target} exists and is not a split file: give a new file "
                            "name (it would be replaced)")


def _by_image(ids: np.ndarray, labels: np.ndarray, seed: int, test_fraction: float,
              folds: int) -> tuple[np.ndarray, list[dict[str, list[str]]]]:
    """The paper's split: a stratified test set of ``floor(test_fraction N)`` images, then
    stratified folds of the rest."""
    order = np.arange(len(ids))
    n_test = int(np.floor(test_fraction * len(ids)))
    rest, test = train_test_split(
        order, test_size=n_test, stratify=labels, random_state=seed, shuffle=True
    )
    rest = np.sort(rest)
    kfold = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return test, [
        {"train": ids[rest[np.sort(tr)]].tolist(), "val": ids[rest[np.sort(va)]].tolist()}
        for tr, va in kfold.split(rest, labels[rest])
    ]


def _grouped(data_dir: Path, ids: np.ndarray, labels: np.ndarray, seed: int,
             test_fraction: float, folds: int
             ) -> tuple[np.ndarray, list[dict[str, list[str]]], list[str]]:
    """Test set and folds with every duplicate cluster on one side; cross-class clusters out."""
    from busmtl.data.duplicates import DUPLICATES_FILE, read_groups

    table = data_dir / DUPLICATES_FILE
    if not table.is_file():
        write_duplicates(data_dir)
    groups, crossing = read_groups(table, ids.tolist())
    keep = np.array([i not in crossing for i in ids.tolist()])
    order = np.flatnonzero(keep)
    parts = max(2, round(1.0 / test_fraction))
    outer = StratifiedGroupKFold(n_splits=parts, shuffle=True, random_state=seed)
    rest_pos, test_pos = next(outer.split(order, labels[order], groups[order]))
    test, rest = order[test_pos], np.sort(order[rest_pos])
    inner = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    fold_list = [
        {"train": ids[rest[np.sort(tr)]].tolist(), "val": ids[rest[np.sort(va)]].tolist()}
        for tr, va in inner.split(rest, labels[rest], groups[rest])
    ]
    return test, fold_list, sorted(ids[~keep].tolist())


def write_duplicates(data_dir: str | Path, threshold: float | None = None) -> Path:
    """Compute the duplicate table of a prepared cache from its images and write it there."""
    from busmtl.data.duplicates import DEFAULT_THRESHOLD, DUPLICATES_FILE, find_duplicates

    data_dir = Path(data_dir)
    rows = read_index(data_dir)
    images = np.load(data_dir / "images.npy")
    table = find_duplicates(list(images), [r["id"] for r in rows], [r["class"] for r in rows],
                            threshold=DEFAULT_THRESHOLD if threshold is None else threshold)
    return table.write(data_dir / DUPLICATES_FILE)


def load_splits(path: str | Path, data_dir: str | Path) -> Splits:
    """Read a split file and check it was made for the cache in ``data_dir``.

    Raises :class:`DataError` when the file is missing or malformed, when its
    ``dataset_identity`` differs from the cache's, or when it names ids the cache lacks.
    """
    path = Path(path)
    if not path.is_file():
        _require_cache(Path(data_dir))  # a raw or unprepared folder: say how to prepare it first
        raise DataError(
            f"split file {path} does not exist: run `busmtl data split --data-dir {data_dir}`"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        splits = Splits(
            dataset_identity=str(raw["dataset_identity"]),
            seed=int(raw["seed"]),
            test_fraction=float(raw["test_fraction"]),
            folds_n=int(raw["folds_n"]),
            test=list(raw["test"]),
            folds=[Fold(list(f["train"]), list(f["val"])) for f in raw["folds"]],
            group=str(raw.get("group", "none")),
            excluded=list(raw.get("excluded", [])),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"split file {path} is not valid ({type(exc).__name__}: {exc}): delete it and run "
            f"`busmtl data split --data-dir {data_dir}`"
        ) from None
    identity = dataset_identity(data_dir)
    if splits.dataset_identity != identity:
        raise DataError(
            f"split file {path} was made for another dataset (identity {splits.dataset_identity}, "
            f"but {data_dir} is {identity}): run `busmtl data split --data-dir {data_dir}` "
            "to make one for this data"
        )
    known = {row["id"] for row in read_index(data_dir)}
    used = set(splits.test).union(*(set(f.train) | set(f.val) for f in splits.folds))
    if not used <= known:
        raise DataError(
            f"split file {path} names ids missing from {data_dir} (e.g. {min(used - known)!r}): "
            f"run `busmtl data split --data-dir {data_dir}` again"
        )
    return splits

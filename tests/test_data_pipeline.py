"""Phantoms, the prepared cache, splits, augmentation and the torch Dataset."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch
from data_fixtures import make_busi, shared_busi

from busmtl.data.augment import (
    N_VARIANTS,
    TRANSFORM_NAMES,
    augment_pair,
    online_variant,
    paper_transforms,
)
from busmtl.data.busi import scan_dataset
from busmtl.data.dataset import make_datasets
from busmtl.data.phantoms import generate_phantoms, save_preview
from busmtl.data.prepare import dataset_identity, load_prepared, prepare_dataset
from busmtl.data.splits import load_splits, make_splits


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    return generate_phantoms(tmp_path_factory.mktemp("ph") / "raw", n=30, seed=0, size=64, progress=False)


@pytest.fixture(scope="module")
def prepared(phantoms, tmp_path_factory):
    out = prepare_dataset(phantoms, tmp_path_factory.mktemp("prep") / "p32", size=32, progress=False)
    make_splits(out, seed=0, test_fraction=0.2, folds=3)
    return out


def test_phantoms_use_the_busi_layout_with_split_masks(phantoms):
    cases = scan_dataset(phantoms)
    labels = [c.label for c in cases]
    assert len(cases) == 30 and 0.2 <= np.mean(labels) <= 0.45  # about BUSI's 2:1
    assert all((phantoms / c.cls / f"{c.cls} ({i})_mask.png").is_file()
               for c in cases[:1] for i in [1])
    big = generate_phantoms(phantoms.parent / "many", n=120, seed=1, size=32, progress=False)
    assert any(len(c.masks) > 1 for c in scan_dataset(big)), "no two-lesion (_mask_1) phantoms"


def test_phantoms_are_deterministic_for_a_seed(phantoms, tmp_path):
    again = generate_phantoms(tmp_path / "again", n=30, seed=0, size=64, progress=False)
    other = generate_phantoms(tmp_path / "other", n=30, seed=1, size=64, progress=False)
    name = "benign/benign (1).png"
    assert (phantoms / name).read_bytes() == (again / name).read_bytes()
    assert (phantoms / name).read_bytes() != (other / name).read_bytes()


def test_phantom_classes_differ_in_shape(tmp_path):
    """Malignant lesions are taller-than-wide more often than benign ones (a learnable cue)."""
    from busmtl.data.busi import load_case

    raw = generate_phantoms(tmp_path / "raw", n=60, seed=2, size=64, progress=False)
    ratio = {0: [], 1: []}
    for case in scan_dataset(raw):
        _, mask = load_case(case)
        ys, xs = np.nonzero(mask)
        ratio[case.label].append((np.ptp(ys) + 1) / (np.ptp(xs) + 1))
    assert np.mean(ratio[1]) > np.mean(ratio[0])


def test_preview_grid_is_written(phantoms, tmp_path):
    path = save_preview(phantoms, tmp_path / "grid.png", per_class=3)
    assert path.stat().st_size > 10_000


def test_prepared_cache_format(prepared):
    data = load_prepared(prepared)
    assert data.images.shape == (30, 32, 32) and data.images.dtype == np.uint8
    assert set(np.unique(data.masks)) <= {0, 1} and data.labels.dtype == np.int64
    header = (prepared / "index.csv").read_text().splitlines()[0]
    assert header.split(",")[:2] == ["id", "class"]


def test_prepare_from_zip_equals_prepare_from_folder(tmp_path):
    root = make_busi(tmp_path / "BUSI")
    with zipfile.ZipFile(tmp_path / "busi.zip", "w") as archive:
        for path in root.rglob("*.png"):
            archive.write(path, path.relative_to(tmp_path))
    a = load_prepared(prepare_dataset(root, tmp_path / "a", size=16, progress=False))
    b = load_prepared(prepare_dataset(tmp_path / "busi.zip", tmp_path / "b", size=16, progress=False))
    assert np.array_equal(a.images, b.images) and np.array_equal(a.masks, b.masks)


def test_splits_are_stratified_disjoint_covering_and_reproducible(prepared, tmp_path):
    splits = load_splits(prepared / "splits.json", prepared)
    labels = dict(zip(load_prepared(prepared).ids, load_prepared(prepared).labels))
    everything = set(labels)
    test = set(splits.test)
    assert len(test) == 6 and np.mean([labels[i] for i in test]) == pytest.approx(
        np.mean(list(labels.values())), abs=0.2)
    vals = [set(f.val) for f in splits.folds]
    for f in splits.folds:
        assert not set(f.train) & set(f.val) and not (set(f.train) | set(f.val)) & test
        assert set(f.train) | set(f.val) | test == everything
    assert set().union(*vals) == everything - test and sum(map(len, vals)) == len(everything - test)
    again = make_splits(prepared, seed=0, test_fraction=0.2, folds=3, out=tmp_path / "again.json")
    assert json.loads(again.read_text())["test"] == splits.test
    assert json.loads(again.read_text())["dataset_identity"] == dataset_identity(prepared)


def test_shared_busi_split_sizes_when_present(tmp_path):
    shared = shared_busi()
    if shared is None:
        pytest.skip("no BUSI copy (set BUSMTL_REFERENCE_BUSI, or put it in ../shared/data/busi)")
    prep = prepare_dataset(shared, tmp_path / "busi16", size=16, progress=False)
    splits = load_splits(make_splits(prep, seed=0), prep)
    assert len(splits.test) == 129 and len(splits.folds) == 5  # floor(0.2 * 647), the paper's
    assert all(100 <= len(f.val) <= 106 for f in splits.folds)


def test_test_split_is_the_floor_of_the_fraction(prepared):
    n = len(json.loads((prepared / "splits.json").read_text())["test"]) if (
        prepared / "splits.json").is_file() else None
    splits = load_splits(make_splits(prepared, seed=3, out=prepared / "s3.json"), prepared)
    total = len(splits.test) + len(splits.folds[0].train) + len(splits.folds[0].val)
    assert len(splits.test) == int(0.2 * total)
    assert n is None or n == len(splits.test)


def _square(size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A bright lesion in the top-left quadrant (the mask is the bright region)."""
    mask = np.zeros((size, size), np.uint8)
    mask[8:24, 10:26] = 1
    return (mask * 200 + 20).astype(np.uint8), mask


def _quadrant(mask: np.ndarray) -> tuple[bool, bool]:
    """(top?, left?) of the mask's centre of mass."""
    rows, cols = np.nonzero(mask)
    half = mask.shape[0] / 2
    return bool(rows.mean() < half), bool(cols.mean() < half)


def test_each_copy_applies_one_transform_alone():
    image, mask = _square()
    transforms = paper_transforms(64)
    assert len(transforms) == len(TRANSFORM_NAMES) == N_VARIANTS - 1 == 6
    assert all(len(t.transforms) == 1 and t.transforms[0].p == 1.0 for t in transforms)
    moved = {}
    for j, name in enumerate(TRANSFORM_NAMES, start=1):
        _, msk = augment_pair(transforms, image, mask, j, (0, -1, 0, j))
        moved[name] = _quadrant(msk)
    assert moved["horizontal_flip"] == (True, False)  # right, still top
    assert moved["vertical_flip"] == (False, True)  # bottom, still left
    for name in ("grid_distortion", "rotate", "optical_distortion", "elastic"):
        assert moved[name] == (True, True), name  # small warps keep the quadrant
    same = augment_pair(transforms, image, mask, 0, (0, 0, 0))
    assert same[0] is image and same[1] is mask


def test_online_draws_are_uniform_over_the_seven_variants_and_never_flip_both_ways():
    image, mask = _square()
    transforms = paper_transforms(64)
    n = 700
    variants = [online_variant((0, epoch, 3)) for epoch in range(n)]
    counts = np.bincount(variants, minlength=N_VARIANTS)
    assert counts.sum() == n and counts.min() > n / 7 * 0.6 and counts.max() < n / 7 * 1.4
    quadrants = []
    for epoch in range(0, n, 5):
        _, msk = augment_pair(transforms, image, mask, variants[epoch], (0, epoch, 3))
        quadrants.append(_quadrant(msk))
    share = {q: quadrants.count(q) / len(quadrants) for q in set(quadrants)}
    assert (False, False) not in share  # a lesion never ends up diagonally opposite
    assert abs(share.get((True, False), 0) - 1 / 7) < 0.08  # horizontal flip only
    assert abs(share.get((False, True), 0) - 1 / 7) < 0.08  # vertical flip only
    assert abs(share[(True, True)] - 5 / 7) < 0.1


def test_augmentation_keeps_image_and_mask_aligned():
    size = 64
    mask = np.zeros((size, size), np.uint8)
    mask[10:30, 14:40] = 1
    image = (mask * 200 + 20).astype(np.uint8)  # the bright region is the mask
    transforms = paper_transforms(size)
    for j in range(1, N_VARIANTS):
        for seed in range(3):
            img, msk = augment_pair(transforms, image, mask, j, (0, seed, 0))
            assert img.shape == (size, size) and set(np.unique(msk)) <= {0, 1}
            inside, outside = img[msk == 1], img[msk == 0]
            assert inside.mean() > 150 and outside.mean() < 80, (j, seed)
            assert not np.array_equal(msk, mask), (j, seed)


def test_augmentation_is_seeded():
    image = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    mask = (image > 128).astype(np.uint8)
    t = paper_transforms(32)
    a = augment_pair(t, image, mask, 2, (0, 1, 2))
    b = augment_pair(t, image, mask, 2, (0, 1, 2))
    c = augment_pair(t, image, mask, 2, (0, 2, 2))
    assert np.array_equal(a[0], b[0]) and not np.array_equal(a[0], c[0])
    assert online_variant((0, 1, 2)) == online_variant((0, 1, 2))


def test_dataset_items_and_modes(prepared):
    sets = make_datasets(prepared, fold=1, augment="online", seed=0)
    image, mask, label = sets["train"][0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32
    assert mask.shape == (1, 32, 32) and label.dtype == torch.int64
    assert sets["val"].transforms is None and sets["test"].transforms is None
    offline = make_datasets(prepared, fold=1, augment="offline", offline_copies=2)
    assert len(offline["train"]) == 3 * len(sets["train"])
    seven = make_datasets(prepared, fold=1, augment="offline", offline_copies=6)
    assert len(seven["train"]) == 7 * len(sets["train"])  # the paper's ~2,900 from ~413
    assert seven["train"].ids[:7] == [sets["train"].ids[0]] + [
        f"{sets['train'].ids[0]}#aug{j}" for j in range(1, 7)]
    assert len(offline["val"]) == len(sets["val"])
    resized = make_datasets(prepared, fold=0, augment="none", image_size=16, in_channels=1)
    assert resized["test"][0][0].shape == (1, 16, 16)


def test_is_busi_tells_phantoms_from_busi_layout_data(phantoms, prepared, tmp_path, monkeypatch):
    from busmtl.data.default import is_busi

    busi = make_busi(tmp_path / "BUSI")
    busi_cache = prepare_dataset(busi, tmp_path / "busi32", size=32, progress=False)
    assert is_busi(busi) and is_busi(busi_cache) and is_busi("busi")
    assert not is_busi(phantoms) and not is_busi(prepared) and not is_busi("phantoms")
    monkeypatch.setenv("BUSMTL_BUSI_DIR", str(busi))
    assert is_busi("auto")
    monkeypatch.setenv("BUSMTL_BUSI_DIR", str(tmp_path / "missing"))
    assert not is_busi("auto")
    assert is_busi("auto", busi_dir=busi)

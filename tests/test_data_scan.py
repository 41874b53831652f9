"""Scanning, checking and merging a dataset in the BUSI layout."""

from __future__ import annotations

import numpy as np
import pytest
from data_fixtures import disc, make_busi, shared_busi, write_png

from busmtl.data.busi import check_dataset, load_case, read_mask, scan_dataset


def test_scan_counts_classes_and_merges_multi_masks(tmp_path):
    root = make_busi(tmp_path / "BUSI")
    cases = scan_dataset(root)
    assert [c.cls for c in cases].count("benign") == 4 and len(cases) == 6
    first = next(c for c in cases if c.id == "benign (1)")
    assert len(first.masks) == 2
    image, mask = load_case(first)
    union = np.maximum(disc(40, 48, 13, 16, 5), disc(40, 48, 26, 32, 4))
    assert image.dtype == np.uint8 and np.array_equal(mask, union)


def test_check_reports_counts_sizes_and_multi_masks(tmp_path):
    report = check_dataset(make_busi(tmp_path / "BUSI"))
    assert report["counts"] == {"benign": 4, "malignant": 2} and report["total"] == 6
    assert report["multi_mask"] == 1 and report["mask_files"] == 7
    assert report["width"] == [48, 48] and report["height"] == [40, 40]
    assert report["warnings"] == []


def test_root_may_be_one_level_up_like_the_original_zip(tmp_path):
    make_busi(tmp_path / "download" / "Dataset_BUSI_with_GT")
    assert len(scan_dataset(tmp_path / "download")) == 6


def test_normal_is_ignored_by_default_and_optional_third_class(tmp_path):
    root = make_busi(tmp_path / "BUSI")
    write_png(root / "normal" / "normal (1).png", np.zeros((40, 48), np.uint8))
    write_png(root / "normal" / "normal (1)_mask.png", np.zeros((40, 48), np.uint8))
    assert check_dataset(root)["ignored"] == {"normal": 1}
    with_normal = scan_dataset(root, include_normal=True)
    assert sum(c.cls == "normal" for c in with_normal) == 1
    assert next(c for c in with_normal if c.cls == "normal").label == 2


def test_one_bit_and_zero_one_masks_are_read_as_binary(tmp_path):
    m = disc(20, 20, 10, 10, 4)
    one_bit = write_png(tmp_path / "a_mask.png", (m * 255).astype(np.uint8)).with_name("b_mask.png")
    from PIL import Image

    Image.fromarray(m.astype(bool)).save(one_bit)
    zero_one = write_png(tmp_path / "c_mask.png", m)
    for path in (tmp_path / "a_mask.png", one_bit, zero_one):
        assert np.array_equal(read_mask(path), m), path


def test_shared_busi_counts_when_present():
    shared = shared_busi()
    if shared is None:
        pytest.skip("no BUSI copy (set BUSMTL_REFERENCE_BUSI, or put it in ../shared/data/busi)")
    from busmtl.data.busi import scan_dataset as scan

    cases = scan(shared)
    assert (sum(c.cls == "benign" for c in cases), sum(c.cls == "malignant" for c in cases)) == (437, 210)

"""Masks read by one rule (value > 0) and bad labels or masks caught by ``data check``,
``data prepare`` and the training datasets."""

from __future__ import annotations

import json

import numpy as np
import pytest
from data_fixtures import disc, make_busi, tree_snapshot, write_png
from PIL import Image

from busmtl.cli import main
from busmtl.data.busi import check_dataset, format_check, read_mask
from busmtl.data.errors import DataError, DataWarning
from busmtl.data.masks import (
    MAX_LESION_FRACTION,
    MIN_LESION_FRACTION,
    encoding,
    mask_values,
)
from busmtl.data.prepare import load_prepared, prepare_dataset, resize_pair

H, W = 40, 48  # make_busi's image size


def check_text(root, capsys) -> str:
    assert main(["data", "check", "--data-dir", str(root)]) == 0
    return capsys.readouterr().out


def test_a_stray_255_in_a_zero_one_mask_keeps_the_whole_lesion(tmp_path, capsys):
    root = make_busi(tmp_path / "BUSI")
    lesion = disc(H, W, 20, 24, 12)
    stray = lesion.copy()
    stray[0, 0] = 255
    path = write_png(root / "benign" / "benign (2)_mask.png", stray)
    expected = lesion.copy()
    expected[0, 0] = 1
    assert np.array_equal(read_mask(path), expected)
    assert int(read_mask(path).sum()) == int(lesion.sum()) + 1
    report = check_dataset(root)
    assert report["mixed_masks"] == [str(path)]
    text = check_text(root, capsys)
    assert "warning: 1 mask files hold more than one non-zero value" in text
    assert "benign (2)_mask.png: 1, 255" in text
    assert "ok: no problems found" not in text
    with pytest.warns(DataWarning, match="more than one non-zero value"):
        cache = prepare_dataset(root, tmp_path / "cache", size=16, progress=False)
    image = np.zeros((H, W), np.uint8)
    assert np.array_equal(load_prepared(cache).masks[1], resize_pair(image, expected, 16)[1])


@pytest.mark.parametrize("kind", ["one-bit", "zero-one", "zero-255", "sixteen-bit"])
def test_every_binary_encoding_reads_the_same_and_is_not_flagged(tmp_path, kind):
    m = disc(H, W, 15, 20, 6)
    path = tmp_path / "x_mask.png"
    if kind == "one-bit":
        Image.fromarray(m.astype(bool)).save(path)
    elif kind == "sixteen-bit":
        Image.fromarray(m.astype(np.uint16) * np.uint16(65535)).save(path)
    else:
        write_png(path, m * (1 if kind == "zero-one" else 255))
    assert np.array_equal(read_mask(path), m)
    with Image.open(path) as image:
        name = encoding(mask_values(image), image.mode)
    assert name == {"one-bit": "1-bit", "zero-one": "0/1", "zero-255": "0/255",
                    "sixteen-bit": "0/65535"}[kind]


def test_clean_data_is_ok_and_lists_its_encodings(tmp_path, capsys):
    text = check_text(make_busi(tmp_path / "BUSI"), capsys)
    assert "mask encodings (lesion = value > 0): 0/255: 7" in text
    assert "warning" not in text
    assert text.rstrip().endswith("ok: no problems found")


def test_an_inverted_mask_is_reported(tmp_path, capsys):
    root = make_busi(tmp_path / "BUSI")
    inverted = 1 - disc(H, W, 20, 24, 8)
    write_png(root / "malignant" / "malignant (2)_mask.png", 255 * inverted)
    fraction = inverted.mean()
    assert fraction > MAX_LESION_FRACTION
    report = check_dataset(root)
    assert report["inverted_masks"] == [str(root / "malignant" / "malignant (2)_mask.png")]
    text = format_check(report)
    assert f"(e.g. {report['inverted_masks'][0]}: {fraction:.0%}): probably inverted" in text
    assert "ok: no problems found" not in text
    with pytest.warns(DataWarning, match="probably inverted"):
        prepare_dataset(root, tmp_path / "cache", size=16, progress=False)


def test_a_mask_of_a_few_pixels_looks_empty(tmp_path, capsys):
    root = make_busi(tmp_path / "BUSI")
    speck = np.zeros((H, W), np.uint8)
    speck[5, 5] = 255
    assert 0 < speck.astype(bool).mean() < MIN_LESION_FRACTION
    write_png(root / "benign" / "benign (3)_mask.png", speck)
    text = check_text(root, capsys)
    assert "warning: 1 lesion masks look empty" in text and "benign (3)_mask.png: 1 px" in text
    assert "ok: no problems found" not in text


def test_same_stem_files_are_reported_by_check_and_refused_by_prepare(tmp_path, capsys):
    root = make_busi(tmp_path / "BUSI")
    write_png(root / "benign" / "benign (2).jpg", np.zeros((H, W), np.uint8))
    report = check_dataset(root)
    assert report["counts"] == {"benign": 4, "malignant": 2}
    assert any("benign (2).png and benign (2).jpg" in w for w in report["warnings"])
    assert "ok: no problems found" not in format_check(report)
    before = tree_snapshot(tmp_path)
    assert main(["data", "prepare", "--source", str(root), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "differ only in suffix" in err and "benign (2).jpg" in err
    assert tree_snapshot(tmp_path) == before


def test_a_dataset_with_one_class_cannot_be_split_or_trained(tmp_path):
    from busmtl.data.dataset import make_datasets
    from busmtl.data.splits import make_splits

    only_benign = make_busi(tmp_path / "B", benign=12, malignant=0)
    with pytest.warns(DataWarning, match="no malignant"):
        one = prepare_dataset(only_benign, tmp_path / "one", size=16, progress=False)
    with pytest.raises(DataError, match=r"holds one class only \(benign, 12 cases\)"):
        make_splits(one, folds=2, test_fraction=0.25)
    # a cache whose labels were changed after its split: refused when loaded for training
    two = prepare_dataset(make_busi(tmp_path / "A", 8, 8), tmp_path / "two", size=16,
                          progress=False)
    split = make_splits(two, folds=2, test_fraction=0.25)
    labels = np.load(two / "labels.npy")
    np.save(two / "labels.npy", np.zeros_like(labels))
    with pytest.raises(DataError, match="holds one class only"):
        make_datasets(two, split, 0)
    train_ids = set(json.loads(split.read_text())["folds"][0]["train"])
    ids = [row.split(",")[0] for row in (two / "index.csv").read_text().splitlines()[1:]]
    np.save(two / "labels.npy", np.array([0 if i in train_ids else 1 for i in ids], np.int64))
    with pytest.raises(DataError, match="the training set of fold 0"):
        make_datasets(two, split, 0)

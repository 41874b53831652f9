"""Every bad input gets one clear line naming the file or value, and leaves nothing half-written."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from data_fixtures import make_busi, write_png

from busmtl.data.busi import check_dataset, scan_dataset
from busmtl.data.errors import DataError, DataWarning
from busmtl.data.prepare import prepare_dataset
from busmtl.data.splits import load_splits, make_splits


def assert_one_line(exc: pytest.ExceptionInfo, *needles: str) -> None:
    text = str(exc.value)
    assert "\n" not in text
    for needle in needles:
        assert needle in text, (needle, text)


def prepare_fails(source, out, *needles):
    with pytest.raises(DataError) as exc:
        prepare_dataset(source, out, size=16, progress=False)
    assert_one_line(exc, *needles)
    assert not out.exists(), "a failed prepare left output behind"
    leftovers = [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}") or out.name + "." in p.name]
    assert not leftovers, leftovers


def test_missing_folder(tmp_path):
    prepare_fails(tmp_path / "nope", tmp_path / "out", "does not exist", "nope")


def test_no_class_folders(tmp_path):
    (tmp_path / "empty" / "pictures").mkdir(parents=True)
    prepare_fails(tmp_path / "empty", tmp_path / "out", "no class folders", "benign/")


def test_image_without_mask(tmp_path):
    root = make_busi(tmp_path / "BUSI")
    (root / "benign" / "benign (2)_mask.png").unlink()
    prepare_fails(root, tmp_path / "out", "image without mask", "benign (2).png")


def test_mask_without_image(tmp_path):
    root = make_busi(tmp_path / "BUSI")
    (root / "malignant" / "malignant (1).png").unlink()
    prepare_fails(root, tmp_path / "out", "mask without image", "malignant (1)_mask.png")


def test_corrupt_png(tmp_path):
    root = make_busi(tmp_path / "BUSI")
    (root / "benign" / "benign (3).png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    prepare_fails(root, tmp_path / "out", "cannot read image", "benign (3).png", "corrupt")


def test_mask_and_image_sizes_differ(tmp_path):
    root = make_busi(tmp_path / "BUSI")
    write_png(root / "benign" / "benign (4)_mask.png", np.zeros((10, 10), np.uint8))
    prepare_fails(root, tmp_path / "out", "benign (4)_mask.png", "10x10", "48x40")


def test_empty_lesion_mask_warns_with_count(tmp_path):
    root = make_busi(tmp_path / "BUSI")
    for i in (2, 3):
        write_png(root / "benign" / f"benign ({i})_mask.png", np.zeros((40, 48), np.uint8))
    assert check_dataset(root)["empty_masks"] == 2
    with pytest.warns(DataWarning, match="2"):
        prepare_dataset(root, tmp_path / "out", size=16, progress=False)
    assert (tmp_path / "out" / "images.npy").is_file()


def test_unknown_class_folder_warns_and_lists_it(tmp_path):
    root = make_busi(tmp_path / "BUSI")
    (root / "cysts").mkdir()
    with pytest.warns(DataWarning, match="cysts"):
        scan_dataset(root)


def test_split_made_for_another_dataset(tmp_path):
    a = prepare_dataset(make_busi(tmp_path / "A", 6, 6), tmp_path / "a", size=16, progress=False)
    b = prepare_dataset(make_busi(tmp_path / "B", 7, 6), tmp_path / "b", size=16, progress=False)
    split = make_splits(a, seed=0, folds=2, test_fraction=0.34)
    with pytest.raises(DataError) as exc:
        load_splits(split, b)
    assert_one_line(exc, "another dataset", "busmtl data split")


def test_failed_prepare_keeps_an_existing_cache(tmp_path):
    out = prepare_dataset(make_busi(tmp_path / "A"), tmp_path / "cache", size=16, progress=False)
    before = (out / "index.csv").read_bytes()
    bad = make_busi(tmp_path / "B")
    (bad / "benign" / "benign (1).png").write_bytes(b"garbage")
    with pytest.raises(DataError):
        prepare_dataset(bad, out, size=16, progress=False)
    assert (out / "index.csv").read_bytes() == before


def test_cli_prints_one_line_and_exits_2(tmp_path, capsys):
    from busmtl.cli import main

    assert main(["data", "check", "--data-dir", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "missing" in err


def test_no_warning_on_clean_data(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        scan_dataset(make_busi(tmp_path / "BUSI"))

"""``data prepare`` and ``data phantoms`` never replace what they did not write.

Each refusal: exit code 2, one line naming the folder and what to do, nothing changed on disk.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from data_fixtures import make_busi, refused, write_png

from busmtl.cli import main
from busmtl.data.errors import DataError
from busmtl.data.phantoms import generate_phantoms
from busmtl.data.prepare import load_prepared, prepare_dataset


@pytest.mark.parametrize("where", ["same", "inside", "around"])
def test_prepare_never_writes_over_or_around_its_source(tmp_path, capsys, where):
    source = make_busi(tmp_path / "BUSI")
    out = {"same": source, "inside": source / "cache", "around": tmp_path}[where]
    for force in ([], ["--force"]):
        err = refused(capsys, ["data", "prepare", "--source", str(source), "--out", str(out),
                               "--size", "16", *force], tmp_path, str(out), "source",
                      "outside")
        assert f"--out {source}`" not in err  # the hint never points at the source


def test_prepare_refuses_a_zip_source_inside_the_output(tmp_path, capsys):
    import shutil

    make_busi(tmp_path / "dl" / "BUSI")
    archive = shutil.make_archive(str(tmp_path / "dl" / "busi"), "zip", tmp_path / "dl")
    refused(capsys, ["data", "prepare", "--source", archive, "--out", str(tmp_path / "dl"),
                     "--force"], tmp_path, "holds the source")


def test_prepare_refuses_a_folder_it_did_not_write_unless_forced(tmp_path, capsys):
    source = make_busi(tmp_path / "BUSI")
    other = make_busi(tmp_path / "mine")  # e.g. another raw dataset
    (other / "notes.txt").write_text("keep")
    refused(capsys, ["data", "prepare", "--source", str(source), "--out", str(other),
                     "--size", "16"], tmp_path, str(other), "not written by", "--force")
    assert main(["data", "prepare", "--source", str(source), "--out", str(other), "--size",
                 "16", "--force"]) == 0
    assert sorted(p.name for p in other.iterdir()) == [
        "duplicates.csv", "images.npy", "index.csv", "info.json", "labels.npy", "masks.npy"]


def test_prepare_replaces_its_own_cache_with_its_split_but_not_foreign_files(tmp_path, capsys):
    source = make_busi(tmp_path / "BUSI", 8, 8)
    cache = prepare_dataset(source, tmp_path / "cache", size=16, progress=False)
    assert json.loads((cache / "info.json").read_text())["written_by"] == "busmtl data prepare"
    assert main(["data", "split", "--data-dir", str(cache), "--folds", "2",
                 "--test-fraction", "0.25"]) == 0
    assert main(["data", "prepare", "--source", str(source), "--out", str(cache),
                 "--size", "24"]) == 0
    assert load_prepared(cache).size == 24
    (cache / "model.pt").write_bytes(b"someone's file")
    refused(capsys, ["data", "prepare", "--source", str(source), "--out", str(cache),
                     "--size", "16"], tmp_path, "did not write (model.pt)", "--force")


def test_a_cache_from_before_the_marker_is_still_its_own(tmp_path):
    source = make_busi(tmp_path / "BUSI")
    cache = prepare_dataset(source, tmp_path / "cache", size=16, progress=False)
    info = json.loads((cache / "info.json").read_text())
    del info["written_by"]
    (cache / "info.json").write_text(json.dumps(info))
    assert load_prepared(prepare_dataset(source, cache, size=20, progress=False)).size == 20


def test_outputs_at_a_file_or_an_empty_folder(tmp_path, capsys):
    source = make_busi(tmp_path / "BUSI")
    (tmp_path / "a.txt").write_text("x")
    refused(capsys, ["data", "prepare", "--source", str(source), "--out",
                     str(tmp_path / "a.txt"), "--force"], tmp_path, "is a file")
    (tmp_path / "empty").mkdir()
    assert prepare_dataset(source, tmp_path / "empty", size=16, progress=False).is_dir()
    assert (tmp_path / "empty" / "images.npy").is_file()


def test_phantoms_replace_only_their_own_output(tmp_path, capsys):
    busi = make_busi(tmp_path / "BUSI")
    refused(capsys, ["data", "phantoms", "--out", str(busi), "--n", "4", "--size", "16"],
            tmp_path, str(busi), "not written by `busmtl data phantoms`", "--force")
    out = generate_phantoms(tmp_path / "ph", n=4, seed=0, size=16, progress=False)
    marker = json.loads((out / "phantoms.json").read_text())
    assert marker == {"written_by": "busmtl data phantoms", "n": 4, "seed": 0, "size": 16}
    assert main(["data", "phantoms", "--out", str(out), "--n", "6", "--size", "16"]) == 0
    assert sum(1 for p in out.rglob("*).png")) == 6
    assert main(["data", "phantoms", "--out", str(busi), "--n", "4", "--size", "16",
                 "--force"]) == 0
    assert (busi / "phantoms.json").is_file()


def test_the_hint_for_a_raw_data_dir_names_a_new_folder(tmp_path, capsys):
    from busmtl.data.splits import make_splits

    source = make_busi(tmp_path / "BUSI")
    with pytest.raises(DataError) as exc:
        make_splits(source)
    text = str(exc.value)
    assert "is a raw dataset" in text and f"--source {source} --out <new folder>" in text
    assert f"--out {source}" not in text


def test_training_on_a_raw_data_dir_says_to_prepare_it_first(tmp_path, capsys):
    # the hint is the one of a raw folder (prepare a cache elsewhere), not to split it in place
    source = make_busi(tmp_path / "BUSI")
    err = refused(capsys, ["train", "--profile", "smoke", "--method", "ew", "--fold", "0",
                           "--data-dir", str(source), "--out", str(tmp_path / "run")],
                  tmp_path, "is a raw dataset", f"--source {source} --out <new folder>")
    assert "busmtl data split" not in err


def test_split_out_at_a_folder_or_a_foreign_file(tmp_path, capsys):
    cache = prepare_dataset(make_busi(tmp_path / "BUSI", 8, 8), tmp_path / "cache", size=16,
                            progress=False)
    common = ["data", "split", "--data-dir", str(cache), "--folds", "2", "--test-fraction",
              "0.25"]
    refused(capsys, [*common, "--out", str(tmp_path)], tmp_path, "is a folder",
            str(tmp_path / "splits.json"))
    refused(capsys, [*common, "--out", str(cache / "index.csv")], tmp_path,
            "is not a split file")
    refused(capsys, [*common, "--out", str(cache / "index.csv" / "s.json")], tmp_path,
            "is a file, not a folder")
    assert main([*common, "--out", str(tmp_path / "s.json")]) == 0
    assert main([*common, "--out", str(tmp_path / "s.json"), "--seed", "1"]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["seed"] == 1


def test_preview_is_never_written_into_the_dataset(tmp_path, capsys):
    busi = make_busi(tmp_path / "BUSI")
    target = busi / "benign" / "benign (1).png"
    refused(capsys, ["data", "preview", "--data-dir", str(busi), "--out", str(target)],
            tmp_path, "inside the dataset")
    refused(capsys, ["data", "preview", "--data-dir", str(busi), "--out", str(tmp_path)],
            tmp_path, "is a folder")


def test_a_failed_refusal_leaves_no_temporary_folder(tmp_path):
    source = make_busi(tmp_path / "BUSI")
    write_png(tmp_path / "keep" / "x.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(DataError):
        prepare_dataset(source, tmp_path / "keep", size=16, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["BUSI", "keep"]

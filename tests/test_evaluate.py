"""``busmtl evaluate``: a trained run scored on another prepared dataset."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from busmtl.config import make_config
from busmtl.data.errors import DataError
from busmtl.training import trainer
from busmtl.training.evaluate import evaluate_run


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "ew"
    cfg = make_config("smoke", method="ew", data_dir=str(tiny_data), progress=False,
                      save_model=True, epochs=1, num_threads=1)
    result = trainer.train(cfg, out)
    return out, result


def test_evaluating_on_the_training_cache_scores_every_case(trained, tiny_data, tmp_path):
    run, result = trained
    metrics = evaluate_run(run, tiny_data, tmp_path / "ext")
    per_image = pd.read_csv(tmp_path / "ext" / "per_image.csv")
    n_cases = len(pd.read_csv(tiny_data / "index.csv"))
    assert metrics["cases"] == n_cases == len(per_image)
    assert set(metrics["test"]) == set(result["test"])
    # the run's own test images are among the cases and score exactly as in training
    test_ids = json.loads((tiny_data / "splits.json").read_text())["test"]
    own = pd.read_csv(run / "per_image.csv").set_index("id")
    again = per_image.set_index("id").loc[test_ids]
    assert (again["cls_pred"] == own.loc[test_ids, "cls_pred"]).all()
    assert again["seg_dice"].to_numpy() == pytest.approx(own.loc[test_ids, "seg_dice"].to_numpy())
    assert (tmp_path / "ext" / "DONE").is_file()


def test_a_run_without_model_is_a_clear_error(trained, tiny_data, tmp_path):
    run, _ = trained
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.json").write_text((run / "config.json").read_text())
    with pytest.raises(DataError, match="has no model.pt"):
        evaluate_run(bare, tiny_data, tmp_path / "out")
    with pytest.raises(DataError, match="not a run folder"):
        evaluate_run(tmp_path, tiny_data, tmp_path / "out")


def test_another_image_size_is_a_clear_error(trained, tmp_path):
    from busmtl.data.phantoms import generate_phantoms
    from busmtl.data.prepare import prepare_dataset

    run, _ = trained
    raw = generate_phantoms(tmp_path / "raw", n=12, seed=1, size=64, progress=False)
    other = prepare_dataset(raw, tmp_path / "p48", size=48, progress=False)
    with pytest.raises(DataError, match="48 px images but the run was trained at 32 px"):
        evaluate_run(run, other, tmp_path / "out")


def test_cli_evaluate(trained, tiny_data, tmp_path, capsys):
    from busmtl.cli import main

    run, _ = trained
    code = main(["evaluate", "--run", str(run), "--data-dir", str(tiny_data),
                 "--out", str(tmp_path / "cli")])
    assert code == 0 and "cases:" in capsys.readouterr().out
    code = main(["evaluate", "--run", str(tmp_path), "--data-dir", str(tiny_data),
                 "--out", str(tmp_path / "x")])
    assert code == 2 and "not a run folder" in capsys.readouterr().err


def test_an_empty_cache_is_a_clear_error(trained, tmp_path):
    import numpy as np

    run, _ = trained
    empty = tmp_path / "empty"
    empty.mkdir()
    for name in ("images", "masks"):
        np.save(empty / f"{name}.npy", np.zeros((0, 32, 32), np.uint8))
    np.save(empty / "labels.npy", np.zeros(0, np.int64))
    (empty / "index.csv").write_text("id,class,image,masks,sha256\n")
    with pytest.raises(DataError, match="holds no cases") as exc:
        evaluate_run(run, empty, tmp_path / "out")
    assert "--out <new folder>" in str(exc.value)
    assert not (tmp_path / "out").exists()


def _train_and_val(data_dir) -> set[str]:
    fold = json.loads((data_dir / "splits.json").read_text())["folds"][0]
    return set(fold["train"]) | set(fold["val"])


def test_evaluating_on_the_training_cache_warns_and_names_the_cases(trained, tiny_data, tmp_path,
                                                                    capsys):
    from busmtl.cli import main

    run, _ = trained
    assert main(["evaluate", "--run", str(run), "--data-dir", str(tiny_data),
                 "--out", str(tmp_path / "ext")]) == 0
    err = capsys.readouterr().err
    overlap = json.loads((tmp_path / "ext" / "metrics.json").read_text())["training_overlap"]
    assert overlap["checked"] and _train_and_val(tiny_data) <= set(overlap["ids"])
    assert f"{overlap['cases']} of 36 cases" in err and "trained on" in err


def test_near_copies_in_another_cache_are_found(trained, tiny_data, tmp_path):
    """A cache prepared from part of the same source, resized before preparing (other files,
    another dataset identity), still holds the run's training images: found by content."""
    import shutil

    import cv2

    from busmtl.data.prepare import prepare_dataset

    run, _ = trained
    raw = tmp_path / "raw"
    shutil.copytree(tiny_data.parent / "raw", raw)
    images = sorted(p for p in raw.glob("*/*.png") if "_mask" not in p.name)
    for i, image in enumerate(images):
        files = [image, *image.parent.glob(f"{image.stem}_mask*.png")]
        if i % 3 == 0:   # leave out a third of the cases
            for path in files:
                path.unlink()
            continue
        for path in files:
            nearest = "_mask" in path.name   # masks stay 0/255
            resized = cv2.resize(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), (56, 56),
                                 interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)
            cv2.imwrite(str(path), resized)
    subset = prepare_dataset(raw, tmp_path / "subset", size=32, progress=False)
    overlap = evaluate_run(run, subset, tmp_path / "ext")["training_overlap"]
    kept = {row.split(",")[0] for row in (subset / "index.csv").read_text().splitlines()[1:]}
    assert overlap["checked"] and overlap["training_cache"] == str(tiny_data)
    assert kept & _train_and_val(tiny_data) <= set(overlap["ids"])
    assert len(kept) == 24 and overlap["warning"].startswith("warning: ")


def test_an_unseen_cache_gives_no_warning(trained, tmp_path):
    from busmtl.data.phantoms import generate_phantoms
    from busmtl.data.prepare import prepare_dataset

    run, _ = trained
    raw = generate_phantoms(tmp_path / "raw", n=12, seed=7, size=64, progress=False)
    other = prepare_dataset(raw, tmp_path / "other", size=32, progress=False)
    overlap = evaluate_run(run, other, tmp_path / "ext")["training_overlap"]
    assert overlap["checked"] and overlap["cases"] == 0 and overlap["warning"] is None


def test_a_missing_training_cache_is_said(trained, tmp_path):
    from busmtl.data.phantoms import generate_phantoms
    from busmtl.data.prepare import prepare_dataset

    run, _ = trained
    moved = tmp_path / "run"
    moved.mkdir()
    for name in ("model.pt", "config.json"):
        (moved / name).write_bytes((run / name).read_bytes())
    config = json.loads((moved / "config.json").read_text())
    config["config"]["data_dir"] = str(tmp_path / "gone")
    (moved / "config.json").write_text(json.dumps(config))
    raw = generate_phantoms(tmp_path / "raw", n=12, seed=7, size=64, progress=False)
    other = prepare_dataset(raw, tmp_path / "other", size=32, progress=False)
    overlap = evaluate_run(moved, other, tmp_path / "ext")["training_overlap"]
    assert not overlap["checked"] and "could not check" in overlap["warning"]
    assert str(tmp_path / "gone") in overlap["warning"]

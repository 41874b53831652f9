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

"""The trainer end to end on tiny phantoms: every weighter, artifacts, determinism, NaN handling,
early stopping and checkpoint selection."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from busmtl.config import make_config
from busmtl.training import trainer
from busmtl.weighting import available

METRICS = {"seg_acc", "seg_dice", "seg_iou", "seg_auc", "seg_recall", "seg_precision",
           "cls_acc", "cls_f1", "cls_recall", "cls_precision"}


def cfg(data, method="ew", **over):
    return make_config("smoke", method=method, data_dir=str(data), progress=False, **over)


@pytest.mark.parametrize("method", available())
def test_smoke_run_of_every_weighter(tiny_data, tmp_path, method):
    result = trainer.train(cfg(tiny_data, method), tmp_path / method)
    run = tmp_path / method
    assert {p.name for p in run.iterdir()} >= {"config.json", "history.csv", "metrics.json",
                                                "predictions.npz", "per_image.csv", "DONE"}
    assert set(result["test"]) == METRICS and set(result["val"]) == METRICS
    assert all(0.0 <= v <= 1.0 for v in result["test"].values())
    history = pd.read_csv(run / "history.csv")
    assert len(history) == 2 and {"w_seg", "w_cls", "lr", "epoch_time_s"} <= set(history.columns)
    assert np.isfinite(history[["w_seg", "w_cls"]].to_numpy()).all()
    if method == "atdwa":
        assert "x_temperature" in history.columns and (history["x_temperature"] >= 2.0).all()
    eff = result["efficiency"]
    assert eff["peak_memory_mb"] > 0 and eff["step_time_ms_max"] >= eff["step_time_ms_median"] > 0
    assert 0 <= eff["step_memory_mb"] <= eff["peak_memory_mb"]
    per_image = pd.read_csv(run / "per_image.csv")
    # the per-image table reproduces the test metrics (mean of per-image values, accuracy)
    assert per_image["seg_dice"].mean() == pytest.approx(result["test"]["seg_dice"], rel=1e-6)
    assert per_image["cls_correct"].mean() == pytest.approx(result["test"]["cls_acc"])
    pred = np.load(run / "predictions.npz")
    assert pred["mask_prob"].dtype == np.uint8 and len(pred["ids"]) == len(pred["labels"])
    assert len(pred["ids"]) == min(8, len(per_image))
    assert list(per_image["id"].iloc[pred["index"]]) == list(pred["ids"])
    config = json.loads((run / "config.json").read_text())
    assert config["config"]["method"] == method and config["data_identity"]
    prov = config["provenance"]
    assert prov["num_threads"] >= 1 and prov["precision"] == "fp32" and prov["torch_version"]


def test_a_short_run_repeats_the_first_epochs_of_a_longer_one(tiny_data, tmp_path):
    """What the drift test relies on: nothing in an epoch depends on the epoch cap."""
    trainer.train(cfg(tiny_data, "atdwa", augment="online", epochs=3), tmp_path / "long")
    trainer.train(cfg(tiny_data, "atdwa", augment="online", epochs=2), tmp_path / "short")
    long = pd.read_csv(tmp_path / "long" / "history.csv")
    short = pd.read_csv(tmp_path / "short" / "history.csv")
    columns = ["train_loss_seg", "train_loss_cls", "val_loss_mean", "w_seg", "w_cls"]
    assert np.array_equal(long[columns].to_numpy()[:2], short[columns].to_numpy())


def test_identical_settings_give_identical_test_metrics(tiny_data, tmp_path):
    a = trainer.train(cfg(tiny_data, "atdwa", augment="online"), tmp_path / "a")
    b = trainer.train(cfg(tiny_data, "atdwa", augment="online"), tmp_path / "b")
    assert (tmp_path / "a" / "metrics.json").exists()
    assert a["test"] == b["test"] and a["val"] == b["val"]
    other = trainer.train(cfg(tiny_data, "atdwa", augment="online", seed=1), tmp_path / "c")
    assert other["test"] != a["test"]


def test_nan_loss_fails_clearly_and_keeps_the_partial_log(tiny_data, tmp_path, monkeypatch):
    import dataclasses

    real = trainer.L.LossSetup.compute
    calls = {"n": 0}

    def poisoned(self, *args):
        calls["n"] += 1
        values = real(self, *args)
        if calls["n"] > 6:  # past epoch 1 (3 training steps + 1 validation batch)
            bad = torch.stack([values.tasks[0], values.tasks[1] * float("nan")])
            return dataclasses.replace(values, tasks=bad, term_parts=tuple(bad))
        return values

    monkeypatch.setattr(trainer.L.LossSetup, "compute", poisoned)
    with pytest.raises(trainer.NonFiniteLossError, match=r"cls.*epoch 2|epoch 2.*cls"):
        trainer.train(cfg(tiny_data, "dwa", epochs=3), tmp_path / "nan")
    history = pd.read_csv(tmp_path / "nan" / "history.csv")
    assert list(history["epoch"]) == [1]
    assert not (tmp_path / "nan" / "DONE").exists()


def scripted_validation(monkeypatch, values):
    """Make the per-epoch validation loss follow ``values`` (the final evaluations stay real)."""
    real, calls = trainer.evaluate, {"n": 0}

    def fake(model, loader, device, *args):
        result = real(model, loader, device, *args)
        if calls["n"] < len(values) and loader is scripted_validation.val_loader:
            result.losses = np.array([values[calls["n"]]] * 2)
            calls["n"] += 1
        return result

    real_loaders = trainer._loaders

    def loaders(*args, **kw):
        out = real_loaders(*args, **kw)
        scripted_validation.val_loader = out["val"]
        return out

    monkeypatch.setattr(trainer, "_loaders", loaders)
    monkeypatch.setattr(trainer, "evaluate", fake)


def test_early_stopping_and_best_checkpoint_selection(tiny_data, tmp_path, monkeypatch):
    scripted_validation(monkeypatch, [3.0, 1.0, 2.0, 4.0, 5.0, 6.0])
    run = tmp_path / "es"
    result = trainer.train(cfg(tiny_data, "ew", epochs=6, early_stopping_patience=2,
                               save_model=True), run)
    assert result["best_epoch"] == 2 and result["epochs_run"] == 4 and result["stopped_early"]
    checkpoint = torch.load(run / "model.pt", weights_only=False)
    assert checkpoint["epoch"] == 2
    # the evaluated model is the epoch-2 checkpoint: re-evaluating it gives the same test metrics
    from busmtl.data.dataset import make_datasets
    from busmtl.models import SSCResNet

    c = cfg(tiny_data, "ew")
    model = SSCResNet(encoder=c.encoder, num_classes=2, dropout=c.dropout,
                      decoder_channels=c.decoder_channels)
    model.load_state_dict(checkpoint["state_dict"])
    test = make_datasets(tiny_data, fold=0, augment="none")["test"]
    loader = torch.utils.data.DataLoader(test, batch_size=8)
    model = model.to(memory_format=torch.channels_last)
    again = trainer.evaluate(model, loader, torch.device("cpu"), "fp32", True).metrics()
    assert again == pytest.approx(result["test"])


def test_unknown_method_is_a_clear_error(tiny_data, tmp_path):
    with pytest.raises(ValueError, match="unknown weighting method 'nope'.*atdwa"):
        trainer.train(cfg(tiny_data, "nope"), tmp_path / "x")


def test_training_batches_follow_the_method_s_batch_size():
    """GradNorm trains with batch 8, the others with 16 (the paper's protocol), and a last
    training batch of one image (which BatchNorm cannot train on) is dropped."""
    datasets = {"train": list(range(33)), "val": list(range(5)), "test": list(range(5))}
    for method, batch in (("gradnorm", 8), ("ew", 16)):
        loaders = trainer._loaders(datasets, make_config("quick", method=method, num_workers=0))
        assert [len(b) for b in loaders["train"]] == [batch] * (32 // batch)
        assert [len(b) for b in loaders["test"]] == [5]


def test_cli_train(tiny_data, tmp_path, capsys):
    from busmtl.cli import main

    code = main(["train", "--method", "uw", "--fold", "1", "--data-dir", str(tiny_data),
                 "--out", str(tmp_path / "cli"), "--profile", "smoke", "--epochs", "1",
                 "--no-progress"])
    assert code == 0 and (tmp_path / "cli" / "DONE").is_file()
    assert "uw fold 1" in capsys.readouterr().out
    assert json.loads((tmp_path / "cli" / "config.json").read_text())["config"]["fold"] == 1
    assert math.isfinite(json.loads((tmp_path / "cli" / "metrics.json").read_text())["test"]["seg_dice"])

"""The trainer with the new systems, on tiny phantoms: the decoder-interaction network, named
losses as K weighter terms, DMF's decaying auxiliary loss, and the command-line flags."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from busmtl.config import make_config
from busmtl.losses import LossSetup
from busmtl.training import trainer
from busmtl.training.step import StepLosses, train_step

TIMING = ["epoch_time_s", "step_time_ms_max", "step_time_ms_median"]


def cfg(data, method="ew", **over):
    return make_config("smoke", method=method, data_dir=str(data), progress=False, num_threads=1,
                       **over)


def test_interaction_network_trains_with_atdwa(tiny_data, tmp_path):
    result = trainer.train(cfg(tiny_data, "atdwa", model="interaction"), tmp_path / "run")
    run = tmp_path / "run"
    history = pd.read_csv(run / "history.csv")
    assert len(history) == 2 and np.isfinite(history.drop(columns=TIMING).to_numpy()).all()
    # default losses: the columns are the original ones
    assert not [c for c in history.columns if c.startswith("train_loss_seg_") or c == "aux_gamma"]
    assert all(0.0 <= v <= 1.0 for v in result["test"].values())
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["model"] == "interaction"
    assert config["interaction_modules"] == ["attention_gates", "hmsf", "tim", "upa"]


def test_dmf_weighs_the_named_losses_with_a_decaying_cb_dice_term(tiny_data, tmp_path):
    settings = {"seg_losses": ("bce", "iou", "dice"), "loss_terms": "losses", "aux_loss": "cb_dice",
                    "aux_gamma0": 2.0, "aux_tau": 0.1, "weighter": {"history": 4, "warmup": 2}}
    c = cfg(tiny_data, "dmf_var", **settings)
    trainer.train(c, tmp_path / "run")
    h = pd.read_csv(tmp_path / "run" / "history.csv")
    terms = ["seg_bce", "seg_iou", "seg_dice", "cls_ce"]
    assert {f"train_loss_{t}" for t in terms} | {f"w_{t}" for t in terms} <= set(h.columns)
    assert {f"x_statistic_{t}" for t in terms} <= set(h.columns)
    assert {"aux_gamma", "train_loss_aux", "w_seg", "w_cls", "train_loss_seg"} <= set(h.columns)
    # the original columns keep their meaning
    seg_sum = h[["train_loss_seg_bce", "train_loss_seg_iou", "train_loss_seg_dice"]].sum(axis=1)
    assert np.allclose(h["train_loss_seg"], seg_sum, rtol=1e-6)  # float32 sums per step
    assert np.allclose(h["train_loss_cls"], h["train_loss_cls_ce"], rtol=1e-12)
    assert np.allclose(h["w_seg"], h[["w_seg_bce", "w_seg_iou", "w_seg_dice"]].mean(axis=1))
    assert np.allclose(h["w_cls"], h["w_cls_ce"])
    assert np.allclose(h[[f"w_{t}" for t in terms]].sum(axis=1), 4.0)  # DMF weights sum to K
    assert not np.allclose(h["w_seg_bce"], 1.0)  # past the warm-up the memory moves them
    # gamma(t) = gamma0 exp(-tau t) per step; the log holds each epoch's mean
    n_train = len(json.loads((tiny_data / "splits.json").read_text())["folds"][0]["train"])
    steps = math.ceil(n_train / c.effective_batch_size)
    for epoch in (1, 2):
        t = np.arange((epoch - 1) * steps, epoch * steps)
        assert h["aux_gamma"][epoch - 1] == pytest.approx(np.mean(2.0 * np.exp(-0.1 * t)))


def test_the_named_losses_path_with_the_default_losses_is_the_original_epoch(tiny_data, tmp_path,
                                                                             monkeypatch):
    """Dice + BCE and CE through LossSetup.compute (the named-losses path) train exactly as
    through task_losses: every original history column is the same, bit for bit."""

    trainer.train(cfg(tiny_data, "gradnorm"), tmp_path / "original")
    monkeypatch.setattr(LossSetup, "is_default", property(lambda self: False))
    trainer.train(cfg(tiny_data, "gradnorm"), tmp_path / "named")
    a = pd.read_csv(tmp_path / "original" / "history.csv").drop(columns=TIMING)
    b = pd.read_csv(tmp_path / "named" / "history.csv").drop(columns=TIMING)
    assert set(a.columns) < set(b.columns)  # plus the per-loss columns of the named path
    assert b[list(a.columns)].equals(a)


def test_the_auxiliary_term_is_added_outside_the_weighting():
    from busmtl.weighting import get_weighter
    from busmtl.weighting.uw import uw_total

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    model.shared_parameters = model.parameters
    model.last_shared_parameters = lambda: [model.weight]
    x = torch.randn(4, 3)

    def parts():
        out = model(x)
        return torch.stack([out[:, 0].pow(2).mean(), out[:, 1].abs().mean()]), out.sum().pow(2)

    weighter = get_weighter("uw", 2)  # UW's own objective, not a plain weighted sum
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    losses, aux = parts()
    expected = torch.autograd.grad(uw_total(losses, weighter.log_vars) + 0.3 * aux,
                                   list(model.parameters()))

    def closure():
        terms, aux_loss = parts()
        return StepLosses(tuple(terms.unbind()), 0.3 * aux_loss)

    train_step(model, weighter, optimizer, closure)
    assert all(torch.allclose(p.grad, g) for p, g in zip(model.parameters(), expected))


def test_cli_flags_reach_the_config(tiny_data, tmp_path, monkeypatch):
    from busmtl.cli import main

    seen = {}

    def fake_train(config, out, replace=False):
        seen["cfg"] = config
        return {"test": {}, "best_epoch": 1, "epochs_run": 1}

    monkeypatch.setattr(trainer, "train", fake_train)
    code = main(["train", "--method", "dmf_var", "--data-dir", str(tiny_data), "--out",
                 str(tmp_path / "x"), "--profile", "quick", "--model", "interaction",
                 "--ablation", "tim_upa", "--seg-losses", "bce,iou,dice", "--loss-terms",
                 "losses", "--aux-loss", "cb_dice", "--aux-gamma0", "5", "--aux-tau", "0.01",
                 "--aux-schedule", "epoch", "--cls-loss", "focal_ce"])
    c = seen["cfg"]
    assert code == 0 and c.model == "interaction"
    assert c.interaction_modules == ("attention_gates", "tim", "upa")
    assert c.seg_losses == ("bce", "iou", "dice") and c.cls_loss == "focal_ce"
    assert LossSetup.from_config(c).num_terms == 4
    assert (c.aux_loss, c.aux_gamma0, c.aux_tau, c.aux_schedule) == ("cb_dice", 5.0, 0.01, "epoch")


def test_bad_settings_are_one_clear_error(capsys, tmp_path):
    from busmtl.cli import main

    code = main(["train", "--method", "ew", "--out", str(tmp_path / "x"), "--seg-losses",
                 "dice,hausdorff"])
    err = capsys.readouterr().err
    assert code == 2 and "unknown segmentation loss 'hausdorff'" in err and "cb_dice" in err
    with pytest.raises(ValueError, match="applies to model 'interaction' only"):
        make_config("smoke", interaction_modules="tim")
    with pytest.raises(ValueError, match="needs 5 decoder_channels"):
        make_config("smoke", model="interaction", decoder_channels=(16, 8, 8, 8))

"""``busmtl train``'s setting flags are generated from TrainConfig: every documented setting is a
flag, typed by its field, read by the same rule as ``--set``, and a bad value is one message."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from busmtl.cli.setting_flags import add_setting_flags, flag, given_settings
from busmtl.config import FIELD_NAMES, SETTING_CHOICES, SETTING_HELP, TrainConfig, make_config


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(exit_on_error=False)
    add_setting_flags(p)
    return p


def test_every_documented_setting_is_a_field_and_every_field_has_a_home():
    assert set(SETTING_HELP) <= set(FIELD_NAMES)
    own_flags = {"method", "profile", "weighter"}          # --method, --profile, --weighter-param
    no_flag = {"run_hash", "batch_size_overrides"}          # set by the sweep / --set only
    assert set(FIELD_NAMES) == set(SETTING_HELP) | own_flags | no_flag
    assert set(SETTING_CHOICES) <= set(SETTING_HELP)


def test_flags_are_typed_by_their_field_and_reach_the_config():
    args = parser().parse_args(["--epochs", "3", "--lr", "0.01", "--decoder-channels",
                                "16,8,8,8,8", "--no-save-model", "--seg-losses", "dice,iou",
                                "--image-size", "none", "--precision", "fp32"])
    given = given_settings(args, tuple(SETTING_HELP))
    assert given == {"epochs": 3, "lr": 0.01, "decoder_channels": ("16", "8", "8", "8", "8"),
                     "save_model": False, "seg_losses": ("dice", "iou"), "precision": "fp32",
                     "image_size": None}   # `none` is a value, not an absent flag
    given.pop("image_size")
    cfg = make_config("smoke", method="ew", **given)
    assert cfg.decoder_channels == (16, 8, 8, 8, 8) and cfg.save_model is False
    assert cfg.seg_losses == ("dice", "iou") and cfg.lr == 0.01


def test_absent_flags_keep_the_profile():
    args = parser().parse_args([])
    assert given_settings(args, tuple(SETTING_HELP)) == {}
    assert make_config("smoke", method="ew") == make_config(
        "smoke", method="ew", **given_settings(args, tuple(SETTING_HELP)))


@pytest.mark.parametrize(("argv", "message"), [
    (["--epochs", "three"], "--epochs 'three': expected int for epochs (e.g. --epochs 3)"),
    (["--lr", "nan"], "--lr 'nan': expected float for lr (e.g. --lr 0.001)"),
    (["--precision", "fp16"], "invalid choice: 'fp16'"),
])
def test_a_bad_value_names_the_flag_and_an_example(argv, message):
    with pytest.raises(argparse.ArgumentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parser().parse_args(argv)


def test_flag_names_follow_the_fields():
    assert flag("num_threads") == "--num-threads"
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert {flag(n)[2:].replace("-", "_") for n in SETTING_HELP} <= fields


def test_none_clears_a_profile_setting_on_the_command_line(tiny_data, tmp_path, monkeypatch):
    """`--aux-loss none` on a profile with an auxiliary loss trains without it."""
    from busmtl.cli import main
    from busmtl.config import make_config as real_make_config

    seen = {}

    def capture(cfg, out, replace=False):
        seen["cfg"] = cfg
        raise SystemExit(0)

    monkeypatch.setattr("busmtl.training.trainer.train", capture)
    monkeypatch.setenv("BUSMTL_NO_REEXEC", "1")
    assert real_make_config("busi-cpu-cbdice", method="dmf_var").aux_loss == "cb_dice"
    with pytest.raises(SystemExit):
        main(["train", "--method", "dmf_var", "--profile", "busi-cpu-cbdice", "--data-dir",
              str(tiny_data), "--aux-loss", "none", "--cpu-isa", "native",
              "--out", str(tmp_path / "run")])
    assert seen["cfg"].aux_loss is None and seen["cfg"].profile == "busi-cpu-cbdice"

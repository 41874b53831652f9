"""``--set key=value``: any training setting for a run or a sweep, typed by its field."""

from __future__ import annotations

import json

import pytest

from busmtl.cli import main
from busmtl.config import parse_settings


def test_values_are_read_by_the_type_of_their_setting():
    got = parse_settings(["model=interaction", "lr=0.01", "epochs=3", "channels_last=false",
                          "seg_losses=dice,boundary:0.25", "image_size=none",
                          'batch_size_overrides={"gradnorm": 4}', "aux-loss=cb_dice"])
    assert got == {"model": "interaction", "lr": 0.01, "epochs": 3, "channels_last": False,
                   "seg_losses": ("dice", "boundary:0.25"), "image_size": None,
                   "batch_size_overrides": {"gradnorm": 4}, "aux_loss": "cb_dice"}


@pytest.mark.parametrize("item, message", [
    ("lr", "is not key=value"),
    ("learning_rate=0.1", "unknown setting 'learning_rate'"),
    ("epochs=three", "expected int for epochs"),
    ("lr=nan", "expected float for lr"),
    ("channels_last=maybe", "expected bool"),
])
def test_a_bad_setting_is_named_with_what_to_write(item, message):
    with pytest.raises(ValueError, match=message):
        parse_settings([item])


def test_a_sweep_variant_needs_no_profile(tiny_data, tmp_path, capsys):
    """`busmtl sweep --set model=interaction`: the interaction network without a profile of its
    own; the run records the setting and the hash differs from the plain sweep's."""
    args = ["sweep", "--profile", "smoke", "--methods", "ew", "--folds", "0", "--epochs", "1",
            "--data-dir", str(tiny_data), "--runs-dir", str(tmp_path), "--no-progress"]
    assert main([*args, "--set", "model=interaction", "--set", "dropout=0.5"]) == 0
    run = tmp_path / "smoke" / "ew" / "fold0"
    recorded = json.loads((run / "config.json").read_text())["config"]
    assert recorded["model"] == "interaction" and recorded["dropout"] == 0.5
    assert main([*args, "--set", "dropout=1.5"]) == 2
    assert "dropout must be in [0, 1)" in capsys.readouterr().err

"""The run specification (busmtl.runs.spec) and the run states (busmtl.runs.state)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from busmtl.config import make_config
from busmtl.orchestration.plan import resolve
from busmtl.runs import spec
from busmtl.runs.state import Status, folder_status


def test_a_spec_survives_the_trip_through_papermill_and_config_json(tmp_path):
    # a setting cleared to None must stay None (make_config would read None as "the profile's")
    profile = make_config("busi-cpu-cbdice", method="dwa", fold=3, seed=2)
    assert profile.aux_loss is not None
    config = dataclasses.replace(profile, aux_loss=None)
    parameter = spec.to_parameter(config)
    assert json.loads(json.dumps(parameter)) == parameter
    assert spec.from_parameter(parameter) == config and spec.from_parameter(parameter).aux_loss is None
    (tmp_path / "config.json").write_text(json.dumps({"config": {**parameter, "retired": 1}}))
    assert spec.recorded(tmp_path) == config  # a setting that no longer exists is ignored


def test_bad_specs_are_named():
    with pytest.raises(ValueError, match="unknown setting.*learning_rate"):
        spec.from_parameter({"learning_rate": 0.1})
    with pytest.raises(ValueError, match="epochs"):
        spec.from_parameter({"epochs": 0})
    with pytest.raises(TypeError, match="dict"):
        spec.from_parameter("epochs=3")


def test_resolve_decides_device_precision_and_weighter_settings_and_nothing_else():
    config = make_config("quick", precision="auto", device="auto")
    resolved = resolve(config, "cpu")
    assert (resolved.device, config.device) == ("cpu", "auto")
    assert resolved.precision in ("fp32", "bf16") and config.precision == "auto"
    differs = {k for k, v in resolved.to_dict().items() if config.to_dict()[k] != v}
    assert differs <= {"device", "precision"}


@pytest.mark.parametrize(("method", "filled"), [
    ("gradnorm", {"lr"}), ("upgrad", {"jacobian"}), ("ew", set())])
def test_the_hashed_spec_holds_the_weighter_settings_config_json_records(method, filled):
    from busmtl.training.trainer import weighter_settings

    resolved = resolve(make_config("busi-cpu", method=method), "cpu")
    assert set(resolved.weighter) == filled
    assert weighter_settings(resolved) == resolved.weighter      # the trainer adds nothing


def test_identity_leaves_out_where_a_run_reads_and_writes():
    a = make_config("smoke", data_dir="/a", progress=True, run_hash="x")
    b = make_config("smoke", data_dir="/b", progress=False)
    assert spec.identity(a) == spec.identity(b)
    assert spec.identity(a) != spec.identity(make_config("smoke", num_threads=2))


def test_one_state_for_every_reader(tmp_path):
    run = tmp_path / "fold0"
    run.mkdir()
    assert folder_status(run) is Status.PENDING
    assert folder_status(run, failed=True) is Status.FAILED
    (run / "DONE").write_text("{}")
    assert folder_status(run) is Status.PENDING, "a DONE marker without metrics is not done"
    (run / "metrics.json").write_text("{}")
    assert folder_status(run) is Status.DONE and Status.DONE == "done" and str(Status.DONE) == "done"

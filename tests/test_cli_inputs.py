"""Bad command-line values end in one line naming the value and what to do (exit code 2),
before anything is written: no traceback, nothing changed on disk."""

from __future__ import annotations

import json

import pytest
from data_fixtures import refused, tree_snapshot

from busmtl.cli import main
from busmtl.cli.train import parse_weighter_params
from busmtl.errors import UserError


@pytest.mark.parametrize(("value", "needles"), [
    ("gamma=[1,2]", ("--weighter-param gamma=[1,2]", "one number or word")),
    ("gamma=abc", ("gamma=abc is not a number", "default gamma=0.8")),
    ("gamma=0,8", ("gamma=0,8 is not a number",)),
    ("gamma=NaN", ("gamma=NaN is not a finite number",)),
    ("gamma=nan", ("gamma=nan is not a finite number",)),
    ("gamma=-Infinity", ("gamma=-Infinity is not a finite number",)),
    ("window=2.5", ("window=2.5 is not a whole number", "default window=3")),
    ("gamma", ("is not key=value",)),
])
def test_bad_weighter_params_name_the_parameter(tmp_path, capsys, value, needles):
    refused(capsys, ["train", "--method", "atdwa", "--profile", "smoke", "--out",
                     str(tmp_path / "run"), "--weighter-param", value], tmp_path, *needles)


def test_good_weighter_params_keep_their_types():
    params = parse_weighter_params(["gamma=0.5", "window=4.0", "T0=3"], "atdwa")
    assert params == {"gamma": 0.5, "window": 4, "T0": 3}
    assert isinstance(params["window"], int)
    assert parse_weighter_params(["layer=last", "alpha=2"], "gradnorm") == {
        "layer": "last", "alpha": 2}
    assert parse_weighter_params(None, "ew") is None
    with pytest.raises(UserError, match="alpha=inf is not a finite number"):
        parse_weighter_params(["alpha=inf"], None)


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_invalid_device_and_out_at_a_file(tmp_path, capsys, command):
    head = (["train", "--method", "ew", "--profile", "smoke"] if command == "train" else
            ["evaluate", "--run", str(tmp_path / "run"), "--data-dir", str(tmp_path / "d")])
    refused(capsys, [*head, "--out", str(tmp_path / "o"), "--device", "gpu0"], tmp_path,
            "--device 'gpu0' is not a device", "cuda:N")
    (tmp_path / "file.txt").write_text("mine")
    refused(capsys, [*head, "--out", str(tmp_path / "file.txt")], tmp_path,
            f"--out {tmp_path / 'file.txt'} is a file, not a folder")
    refused(capsys, [*head, "--out", str(tmp_path / "file.txt" / "run")], tmp_path,
            "file.txt is a file, not a folder")


def test_evaluate_a_run_folder_that_is_a_file(tmp_path, capsys):
    (tmp_path / "run").write_text("not a folder")
    refused(capsys, ["evaluate", "--run", str(tmp_path / "run"), "--data-dir", str(tmp_path),
                     "--out", str(tmp_path / "o")], tmp_path, "is not a run folder")


def test_a_reversed_fold_range_says_so(tmp_path, capsys):
    refused(capsys, ["sweep", "--profile", "smoke", "--folds", "3-1", "--runs-dir",
                     str(tmp_path)], tmp_path, "--folds '3-1'", "the range 3-1 is reversed",
            "1-3")


@pytest.mark.parametrize(("content", "why"), [
    ("{\"runs\": [", "JSONDecodeError"),
    ("[1, 2]", "a JSON list, not an object"),
    ("{\"runs\": \"ew\"}", "'runs' is not a list"),
    ("{\"runs\": [{\"method\": \"ew\"}]}", "runs[0] lacks a method name or an integer fold"),
    ("{\"runs\": [], \"executor\": \"local\"}", "'executor' is not an object"),
])
def test_sweep_status_of_an_unreadable_summary(tmp_path, capsys, content, why):
    folder = tmp_path / "smoke"
    folder.mkdir()
    (folder / "sweep_summary.json").write_text(content)
    (folder / "ew").mkdir()
    (folder / "ew" / "fold0").write_text("a run folder that is a file")
    before = tree_snapshot(tmp_path)
    assert main(["sweep", "status", "--profile", "smoke", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"summary unreadable: {folder / 'sweep_summary.json'} ({why}" in out
    assert "ew            0    0  pending" in out
    assert tree_snapshot(tmp_path) == before


def test_sweep_status_reads_a_well_formed_summary(tmp_path, capsys):
    folder = tmp_path / "smoke"
    folder.mkdir()
    summary = {"runs": [{"method": "ew", "fold": 0, "status": "failed", "error": "boom",
                         "log": "x.log"}], "executor": {"name": "local"}, "updated": "today"}
    (folder / "sweep_summary.json").write_text(json.dumps(summary))
    assert main(["sweep", "status", "--profile", "smoke", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "last sweep: today" in out and "failed   boom; log x.log" in out

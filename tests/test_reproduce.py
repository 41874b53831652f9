"""The reproduction commands the book prints give the sweep's numbers bit for bit, and a run made
by hand into the sweep's layout is adopted (same settings) or refused (other settings), never
silently overwritten."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from busmtl.errors import UserError
from busmtl.orchestration.reproduce import commands, compare_runs, planned_recipe, recorded_recipe
from busmtl.orchestration.sweep import run_sweep
from busmtl.settings import repo_root

pytestmark = pytest.mark.slow

PROFILE, METHOD, FOLD = "smoke", "atdwa", 0


def _env() -> dict[str, str]:
    """The reader's shell: the project's executables (busmtl, papermill, python) first on PATH,
    no thread settings of ours (the commands must carry their own)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory, module_data_root) -> Path:
    """One run of a smoke sweep, made exactly as `make book PROFILE=smoke` makes it."""
    runs = tmp_path_factory.mktemp("sweep") / "runs"
    summary = run_sweep(PROFILE, [METHOD], [FOLD], runs_root=runs, jobs=1, progress=False, log=None)
    assert [r.status for r in summary.runs] == ["done"], summary.table()
    return runs / PROFILE / METHOD / f"fold{FOLD}"


@pytest.fixture(scope="module")
def hand_runs(sweep_run, tmp_path_factory, module_data_root) -> dict[str, Path]:
    """Every printed command, executed in a shell from the repository root."""
    out_root = tmp_path_factory.mktemp("by-hand")
    spec = planned_recipe(PROFILE, METHOD, FOLD)
    made = {}
    for kind, command in commands(spec, str(out_root / "run")).items():
        out = out_root / kind
        command = command.replace(str(out_root / "run"), str(out))
        done = subprocess.run(["bash", "-c", command], cwd=repo_root(), env=_env(),
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        made[kind] = out
    return made


def test_the_book_prints_all_three_forms():
    assert set(commands(planned_recipe(PROFILE, METHOD, FOLD), "runs/x")) == {
        "busmtl", "papermill", "python"}


@pytest.mark.parametrize("kind", ["busmtl", "papermill", "python"])
def test_each_printed_command_gives_the_sweep_run_bit_for_bit(hand_runs, sweep_run, kind):
    assert compare_runs(hand_runs[kind], sweep_run) == []


def test_the_commands_read_from_a_run_folder_are_the_planned_ones(sweep_run):
    """The chapter prints a committed run's commands from its config.json: the same ones."""
    assert recorded_recipe(sweep_run) == planned_recipe(PROFILE, METHOD, FOLD)


def _layout(run: Path, root: Path) -> Path:
    """Copy a run folder into a fresh sweep layout (as a reader writing into book/runs would)."""
    target = root / PROFILE / METHOD / f"fold{FOLD}"
    shutil.copytree(run, target)
    return target


def test_a_hand_made_run_with_the_sweep_settings_is_adopted(hand_runs, tmp_path):
    target = _layout(hand_runs["busmtl"], tmp_path / "runs")
    assert json.loads((target / "DONE").read_text())["run_hash"] is None
    before = (target / "metrics.json").stat().st_mtime_ns
    summary = run_sweep(PROFILE, [METHOD], [FOLD], runs_root=tmp_path / "runs", jobs=1,
                        progress=False, log=None)
    assert [r.status for r in summary.runs] == ["skipped"]          # adopted, not re-run
    done = json.loads((target / "DONE").read_text())
    assert done["run_hash"] == summary.runs[0].run_hash and done["adopted"] is True
    assert (target / "metrics.json").stat().st_mtime_ns == before


def test_a_hand_made_run_with_other_settings_is_refused_and_kept(hand_runs, tmp_path):
    target = _layout(hand_runs["busmtl"], tmp_path / "runs")
    config = json.loads((target / "config.json").read_text())
    config["config"]["num_threads"] = 2
    config["config"]["epochs"] = 1
    (target / "config.json").write_text(json.dumps(config))
    files = sorted(p.name for p in target.iterdir())
    with pytest.raises(UserError) as error:
        run_sweep(PROFILE, [METHOD], [FOLD], runs_root=tmp_path / "runs", jobs=1,
                  progress=False, log=None)
    message = str(error.value)
    assert f"{METHOD}/fold{FOLD}" in message
    assert "epochs 1 (sweep: 2)" in message and "num_threads 2 (sweep: 1)" in message
    assert sorted(p.name for p in target.iterdir()) == files           # nothing deleted
    assert json.loads((target / "DONE").read_text())["run_hash"] is None

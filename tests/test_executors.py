"""Executors without a scheduler: SLURM settings and their errors, GPU placement, the verdicts in
a killed job's log, ``busmtl sweep status``. The real SLURM run is in ``tests/test_slurm.py``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from busmtl.cli import main
from busmtl.errors import UserError
from busmtl.orchestration import sweep
from busmtl.orchestration.executors import make_executor, slurm_queue
from busmtl.orchestration.executors.devices import DevicePool, parse_devices
from busmtl.orchestration.executors.local import LocalExecutor
from busmtl.orchestration.executors.slurm import SlurmExecutor, previous_job_ids
from busmtl.orchestration.executors.slurm_settings import (
    SlurmSettings,
    format_time,
    parse_mem,
    parse_sbatch,
    parse_time,
)
from busmtl.orchestration.status import format_status, sweep_status

PLACED_SOURCE = '''
import json, os, time
from pathlib import Path
out = Path(out_dir)
out.mkdir(parents=True, exist_ok=True)
time.sleep(1)
(out / "env.json").write_text(json.dumps({k: os.environ.get(k) for k in
                                          ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS")}))
(out / "metrics.json").write_text("{}")
(out / "DONE").write_text(json.dumps({"run_hash": run_hash}))
'''


@pytest.fixture()
def placed_notebook(tmp_path) -> Path:
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    params = new_code_cell("spec = None\nout_dir = 'x'\nforce = False\nrun_hash = None",
                           metadata={"tags": ["parameters"]})
    nb.cells = [params, new_code_cell(PLACED_SOURCE)]
    path = tmp_path / "placed.ipynb"
    nbformat.write(nb, path)
    return path


# --- SLURM settings ---------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "minutes"), [
    ("90", 90), ("30:30", 31), ("1:30:00", 90), ("2-00", 2880), ("1-02:03", 1563),
    ("0-00:00:01", 1), (45, 45)])
def test_time_limits_in_slurm_forms(text, minutes):
    assert parse_time(text) == minutes


@pytest.mark.parametrize("text", ["1h", "", "1:2:3:4", "0", "-5", "1-"])
def test_bad_time_limits_say_which_forms_work(text):
    with pytest.raises(ValueError, match=r"--time .*(H:MM:SS|at least 1 minute)"):
        parse_time(text)


def test_memory_and_sbatch_options():
    assert parse_mem("4G") == "4G" and parse_mem("4gb") == "4G" and parse_mem("500") == "500M"
    with pytest.raises(ValueError, match="--mem '4 gigs'.*4G or 500M"):
        parse_mem("4 gigs")
    assert parse_sbatch(["account=lab", "--qos=low", "exclusive", "mail_type=END"]) == {
        "account": "lab", "qos": "low", "exclusive": True, "mail-type": "END"}
    with pytest.raises(ValueError, match="--sbatch partition=x: use --partition"):
        parse_sbatch(["partition=x"])
    with pytest.raises(ValueError, match="busmtl sets --array itself"):
        parse_sbatch(["array=0-3"])
    with pytest.raises(ValueError, match="give a value"):
        parse_sbatch(["account="])
    assert format_time(90) == "1:30:00" and format_time(2880 + 61) == "2-01:01:00"


def test_settings_from_a_file_and_flags(tmp_path):
    yaml_file = tmp_path / "slurm.yaml"
    yaml_file.write_text("partition: gpu\ntime: '2:00:00'\ncpus-per-run: 4\nmem: 8G\n"
                         "gpus_per_run: 1\nsbatch:\n  account: lab\n")
    s = SlurmSettings.from_sources(yaml_file, time="30", sbatch=["qos=low"])
    assert (s.partition, s.time_min, s.cpus_per_run, s.mem, s.gpus_per_run) == ("gpu", 30, 4, "8G", 1)
    assert s.sbatch == {"account": "lab", "qos": "low"}
    toml_file = tmp_path / "slurm.toml"
    toml_file.write_text('partition = "cpu"\nmem = "2G"\n[sbatch]\naccount = "lab"\n')
    pytest.importorskip("tomllib")
    assert SlurmSettings.from_sources(toml_file).sbatch == {"account": "lab"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("partition: cpu\ngpu: 1\n")
    with pytest.raises(ValueError, match=r"unknown setting\(s\) gpu; valid: partition"):
        SlurmSettings.from_sources(bad)
    bad.write_text("time: soon\n")
    with pytest.raises(ValueError, match=r"bad.yaml: time 'soon'"):
        SlurmSettings.from_sources(bad)
    with pytest.raises(ValueError, match="no such file"):
        SlurmSettings.from_sources(tmp_path / "missing.yaml")
    with pytest.raises(ValueError, match="--cpus-per-run 'two'"):
        SlurmSettings.from_sources(cpus_per_run="two")


def test_cli_names_flags_of_the_other_executor(capsys, tmp_path):
    code = main(["sweep", "--profile", "smoke", "--partition", "cpu", "--runs-dir", str(tmp_path)])
    assert code == 2 and "--partition set(s) up SLURM jobs: add --executor slurm" in capsys.readouterr().err
    code = main(["sweep", "--profile", "smoke", "--executor", "slurm", "--devices", "cuda:0",
                 "--runs-dir", str(tmp_path)])
    assert code == 2 and "--gpus-per-run" in capsys.readouterr().err
    code = main(["sweep", "--profile", "smoke", "--executor", "slurm", "--time", "1h",
                 "--runs-dir", str(tmp_path)])
    assert code == 2 and "--time '1h': use minutes" in capsys.readouterr().err


def test_slurm_executor_without_slurm_fails_before_anything(monkeypatch, tiny_data, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    with pytest.raises(UserError, match="sbatch/squeue/srun are not on PATH"):
        sweep.run_sweep("smoke", "ew", "0", tiny_data, runs_root=tmp_path / "runs",
                        executor=SlurmExecutor(), progress=False, log=None)
    assert not (tmp_path / "runs").exists()


def test_gpu_runs_resolve_precision_for_the_compute_nodes():
    assert SlurmExecutor(SlurmSettings(gpus_per_run=1)).precision_device("auto") == "cuda"
    assert SlurmExecutor().precision_device("auto") is None
    assert make_executor("local").precision_device("auto") is None


# --- GPU placement ----------------------------------------------------------------------------
def test_devices_follow_torch_names_of_the_visible_gpus():
    visible = ["2", "3"]  # CUDA_VISIBLE_DEVICES=2,3 in the user's shell
    assert parse_devices(None, "auto", visible) == ["2", "3"]
    assert parse_devices(None, "cpu", visible) == []
    assert parse_devices(None, "cuda:1", visible) == []  # one explicit device: no placement
    assert parse_devices("cuda:1", "auto", visible) == ["3"]
    assert parse_devices("0,1,0", None, visible) == ["2", "3"]
    assert parse_devices("all", "cuda", visible) == ["2", "3"]
    with pytest.raises(ValueError, match=r"cuda:2 is not visible here \(visible: cuda:0 to cuda:1\)"):
        parse_devices("cuda:2", "auto", visible)
    with pytest.raises(ValueError, match="'gpu0' is not a GPU"):
        parse_devices("gpu0", "auto", visible)
    with pytest.raises(ValueError, match="--device is 'cpu'"):
        parse_devices("all", "cpu", visible)
    with pytest.raises(ValueError, match="no CUDA device is visible"):
        parse_devices("all", "auto", [])


def test_device_pool_fills_the_least_busy_gpu():
    pool = DevicePool(["0", "1"], runs_per_device=2)
    taken = [pool.acquire() for _ in range(4)]
    assert taken == ["0", "1", "0", "1"] and pool.acquire() is None and pool.capacity == 4
    pool.release("1")
    assert pool.acquire() == "1"
    with pytest.raises(ValueError, match="--runs-per-device 0"):
        DevicePool(["0"], 0)


def test_local_executor_places_each_run_on_a_free_gpu(placed_notebook, tiny_data, tmp_path):
    executor = LocalExecutor(jobs=1, devices=["0", "1"], runs_per_device=1)
    assert executor.slots == 2  # the places on the GPUs, not --jobs
    summary = sweep.run_sweep("smoke", "ew,atdwa,dwa", "0", tiny_data, runs_root=tmp_path / "runs",
                              notebook=placed_notebook, executor=executor, progress=False, log=None)
    assert [r.status for r in summary.runs] == ["done"] * 3
    seen = [json.loads((r.run_dir / "env.json").read_text()) for r in summary.runs]
    assert [s["CUDA_VISIBLE_DEVICES"] for s in seen[:2]] == ["0", "1"]
    assert seen[2]["CUDA_VISIBLE_DEVICES"] in ("0", "1") and {s["OMP_NUM_THREADS"] for s in seen} == {"1"}
    saved = json.loads((tmp_path / "runs/smoke/sweep_summary.json").read_text())
    assert saved["executor"] == {"name": "local", "jobs": 2, "devices": ["0", "1"], "runs_per_device": 1}
    assert [r["cuda_visible_devices"] for r in saved["runs"]] == [s["CUDA_VISIBLE_DEVICES"] for s in seen]
    assert all(Path(r["log"]).is_file() for r in saved["runs"])


# --- the scheduler's verdicts -----------------------------------------------------------------
@pytest.mark.parametrize(("line", "start"), [
    ("slurmstepd: error: *** JOB 12 ON vm CANCELLED AT 2025-01-01T10:00:00 ***", "CANCELLED: "),
    ("slurmstepd: error: *** JOB 12 ON vm CANCELLED AT 2025-01-01T10:00:00 DUE TO TIME LIMIT ***",
     "TIMEOUT: the job reached its time limit (0:05:00) at 2025-01-01T10:00:00"),
    ("slurmstepd: error: *** STEP 12.0 ON vm CANCELLED AT 2025-01-01T10:00:00 DUE TO PREEMPTION ***",
     "PREEMPTION: "),
    ("slurmstepd: error: Detected 1 oom_kill event in StepId=12.batch.", "OUT_OF_MEMORY: "),
    ("submitit INFO  Job not requeued because: timed-out and not checkpointable.", "TIMEOUT: "),
])
def test_verdicts_of_killed_jobs(tmp_path, line, start):
    log = tmp_path / "12_0_log.out"
    log.write_text(f"some output\n{line}\nmore\n")
    assert slurm_queue.verdict(log, "0:05:00").startswith(start)


def test_no_verdict_for_a_job_that_ended_by_itself(tmp_path):
    (tmp_path / "log").write_text("submitit INFO Job completed successfully\n")
    assert slurm_queue.verdict(tmp_path / "log") is None
    assert slurm_queue.verdict(tmp_path / "missing") is None


# --- busmtl sweep status ----------------------------------------------------------------------
def _summary(folder: Path, runs: list[dict], executor: str = "slurm", pid: int = 0) -> None:
    import socket

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sweep_summary.json").write_text(json.dumps({
        "executor": {"name": executor}, "updated": "2025-01-01T10:00:00+00:00",
        "driver": {"host": socket.gethostname(), "pid": pid}, "runs": runs}))


def test_status_from_run_folders_and_the_last_summary(tmp_path, monkeypatch):
    folder = tmp_path / "smoke"
    for method, fold, digest in (("ew", 0, "h1"), ("atdwa", 0, "old")):
        (folder / method / f"fold{fold}").mkdir(parents=True)
        (folder / method / f"fold{fold}" / "DONE").write_text(json.dumps({"run_hash": digest}))
        (folder / method / f"fold{fold}" / "metrics.json").write_text("{}")
    runs = [
        {"method": "ew", "fold": 0, "status": "done", "run_hash": "h1", "job_id": "7_0"},
        {"method": "atdwa", "fold": 0, "status": "failed", "run_hash": "h2", "job_id": "7_1",
         "error": "CANCELLED: the job was cancelled", "log": "slurm_logs/7_1_0_log.out"},
        {"method": "ew", "fold": 1, "status": "running", "run_hash": "h3", "job_id": "8_0"},
        {"method": "atdwa", "fold": 1, "status": "queued", "run_hash": "h4", "job_id": "8_1"},
        {"method": "dwa", "fold": 1, "status": "queued", "run_hash": "h5", "job_id": "8_2"},
    ]
    _summary(folder, runs)
    monkeypatch.setattr(slurm_queue, "squeue_states",
                        lambda ids=None: {"8_0": "RUNNING", "8_1": "PENDING"})
    states, note = sweep_status("smoke", tmp_path)
    assert [(s.method, s.fold, s.state) for s in states] == [
        ("ew", 0, "done"), ("atdwa", 0, "failed"), ("ew", 1, "running"), ("atdwa", 1, "queued"),
        ("dwa", 1, "pending")]
    assert "slurm_logs/7_1_0_log.out" in states[1].detail and "executor slurm" in note
    text = format_status("smoke", states, note)
    assert "1 done, 1 running, 1 queued, 1 failed, 1 pending" in text


def test_status_of_an_interrupted_local_sweep(tmp_path):
    folder = tmp_path / "smoke"
    _summary(folder, [{"method": "ew", "fold": 0, "status": "running", "run_hash": "h"}],
             executor="local", pid=os.getpid())
    assert sweep_status("smoke", tmp_path)[0][0].state == "running"  # this process is alive
    _summary(folder, [{"method": "ew", "fold": 0, "status": "running", "run_hash": "h"}],
             executor="local", pid=2**22 + 12345)  # no such process
    assert sweep_status("smoke", tmp_path)[0][0].state == "pending"
    assert previous_job_ids(folder) == set()


def test_status_without_a_summary_lists_the_profiles_runs(tmp_path, capsys):
    assert main(["sweep", "status", "--profile", "smoke", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "no sweep_summary.json" in out and "0 done" in out and "4 pending" in out


def test_log_folders_are_not_methods(tmp_path):
    from busmtl.report.aggregate import expected_runs

    for folder in ("ew/fold0", "atdwa/fold0", "slurm_logs", "logs"):
        (tmp_path / "smoke" / folder).mkdir(parents=True)
    (tmp_path / "smoke" / "atdwa" / "fold0" / "DONE").write_text("{}")
    (tmp_path / "smoke" / "atdwa" / "fold0" / "metrics.json").write_text("{}")
    (tmp_path / "smoke" / "slurm_logs" / "ew-fold0.job.json").write_text("{}")
    _summary(tmp_path / "smoke", [{"method": "ew", "fold": 0, "status": "failed"}])
    assert expected_runs(tmp_path, "smoke")[0] == ["ew", "atdwa"]


def test_book_passes_the_executor_to_the_sweep(monkeypatch):
    import busmtl.publish.pipeline

    seen = {}
    monkeypatch.setattr(busmtl.publish.pipeline, "build_book", lambda *a, **kw: seen.update(kw))
    assert main(["book", "--profile", "smoke", "--executor", "slurm", "--partition", "gpu",
                 "--time", "30", "--gpus-per-run", "1", "--sbatch", "account=lab"]) == 0
    executor = seen["executor"]
    assert isinstance(executor, SlurmExecutor)
    assert executor.describe() | {"cpus_per_run": None} == {
        "name": "slurm", "partition": "gpu", "time": "0:30:00", "cpus_per_run": None, "mem": "4G",
        "gpus_per_run": 1, "max_running": None, "sbatch": {"account": "lab"}}
    assert main(["book", "--profile", "smoke", "--jobs", "3"]) == 0
    local = seen["executor"]  # on a GPU machine, the places on the GPUs decide instead of --jobs
    assert isinstance(local, LocalExecutor) and (local.slots == 3 or local.pool.devices)

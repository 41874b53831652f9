"""``busmtl sweep --executor slurm`` against a real scheduler (slurmctld + slurmd).

The cluster is the one-node cluster of ``tools/local-slurm.sh`` (partition ``cpu``), started
(or reused) by the fixture below; ``.ci/run`` starts it, installing the packages, before
``make test``. Elsewhere the test is skipped with the script's reason (not root, SLURM not
installed, ...). ``BUSMTL_TEST_SLURM_INSTALL=1`` lets the fixture install the packages itself.

One smoke sweep (2 methods, 1 epoch, 1 thread) runs locally and through SLURM: same run folders,
metrics bit for bit. Then a second fold is submitted and one of its jobs is cancelled mid-way
(``scancel``): the sweep records it as failed with its log, ``busmtl sweep status`` shows it,
and the re-submission runs only that run, leaving every finished run untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from busmtl.errors import UserError
from busmtl.orchestration import sweep
from busmtl.orchestration.executors import slurm_queue
from busmtl.orchestration.executors.slurm import SlurmExecutor
from busmtl.orchestration.executors.slurm_settings import SlurmSettings
from busmtl.orchestration.status import sweep_status

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "local-slurm.sh"
METHODS = "ew,atdwa"


@pytest.fixture(scope="module")
def slurm_cluster() -> None:
    """A SLURM partition ``cpu`` that runs jobs, or a skip that says why there is none."""
    install = os.environ.get("BUSMTL_TEST_SLURM_INSTALL") == "1"
    cmd = ["bash", str(SCRIPT)] + ([] if install else ["--no-install"])
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip("tools/local-slurm.sh did not finish within 10 minutes")
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        pytest.skip(f"no SLURM cluster to test against: {reason}")


def busmtl_sweep(*args: str, wait: bool = True) -> subprocess.CompletedProcess | subprocess.Popen:
    cmd = [sys.executable, "-m", "busmtl", "sweep", *args]
    if wait:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def summary(runs: Path) -> dict:
    return json.loads((runs / "smoke" / "sweep_summary.json").read_text())


def run_record(runs: Path, method: str, fold: int) -> dict:
    return next(r for r in summary(runs)["runs"] if (r["method"], r["fold"]) == (method, fold))


def assert_same_results(a: Path, b: Path) -> None:
    """Two run folders of the same run: same files, same numbers bit for bit (times aside)."""
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    for key in ("test", "val", "best_epoch", "epochs_run", "stopped_early"):
        assert ma[key] == mb[key], key
    pa, pb = np.load(a / "predictions.npz"), np.load(b / "predictions.npz")
    assert all(np.array_equal(pa[k], pb[k]) for k in pa.files)
    ha, hb = pd.read_csv(a / "history.csv"), pd.read_csv(b / "history.csv")
    columns = [c for c in ha.columns if "time" not in c]
    assert ha[columns].equals(hb[columns])
    assert json.loads((a / "DONE").read_text())["run_hash"] == json.loads((b / "DONE").read_text())["run_hash"]
    ca, cb = (json.loads((d / "config.json").read_text())["provenance"] for d in (a, b))
    assert ca["num_threads"] == cb["num_threads"] == 1 and ca["device"] == cb["device"]


def mtimes(runs: Path, keep: list[tuple[str, int]]) -> dict[str, int]:
    """Modification times of every file of the given runs (run folder and notebook)."""
    out = {}
    for method, fold in keep:
        folder = runs / "smoke" / method / f"fold{fold}"
        for path in [folder.with_suffix(".ipynb"), *folder.iterdir()]:
            out[str(path)] = path.stat().st_mtime_ns
    return out


def notebook_started(path: Path) -> bool:
    """True once papermill has recorded an executed code cell: the run's kernel is working."""
    try:
        cells = json.loads(path.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return False  # not there yet, or being rewritten
    return any(c["cell_type"] == "code" and c.get("execution_count") for c in cells)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture()
def cancel_leftovers(tmp_path):
    """Cancel jobs of this test that are still queued when it ends (only ours, by id)."""
    yield
    ids = set()
    for path in tmp_path.glob("*/smoke/sweep_summary.json"):
        ids |= {r["job_id"] for r in json.loads(path.read_text())["runs"] if r.get("job_id")}
    active = slurm_queue.squeue_states(ids) if ids else {}
    if active:
        subprocess.run(["scancel", *sorted(active)], check=False)


def test_slurm_sweep_matches_local_and_resumes_a_killed_job(slurm_cluster, tiny_data, tmp_path,
                                                            cancel_leftovers):
    config = tmp_path / "slurm.yaml"
    config.write_text("partition: cpu\ntime: 15\nmem: 1G\npoll_seconds: 1\n")
    runs, local = tmp_path / "slurm", tmp_path / "local"
    common = ["--profile", "smoke", "--methods", METHODS, "--epochs", "1", "--threads", "1",
              "--data-dir", str(tiny_data), "--runs-dir", str(runs), "--no-progress",
              "--executor", "slurm", "--slurm-config", str(config)]

    # 1. the same smoke sweep locally and through SLURM: same run folders, same numbers
    reference = sweep.run_sweep("smoke", METHODS, "0", tiny_data, 2, runs_root=local, epochs=1,
                                threads=1, progress=False, log=None)
    assert [r.status for r in reference.runs] == ["done", "done"]
    first = busmtl_sweep(*common, "--folds", "0")
    assert first.returncode == 0, first.stdout + first.stderr
    saved = summary(runs)
    assert saved["executor"]["name"] == "slurm" and saved["counts"] == {"done": 2, "skipped": 0, "failed": 0}
    for r, ref in zip(saved["runs"], summary(local)["runs"]):
        assert (r["method"], r["fold"], r["status"]) == (ref["method"], ref["fold"], ref["status"])
        assert r["run_hash"] == ref["run_hash"] and r["job_id"] and Path(r["log"]).is_file()
        assert_same_results(local / "smoke" / r["method"] / "fold0", runs / "smoke" / r["method"] / "fold0")

    # 2. a second fold; its atdwa job is cancelled while its notebook runs (kernel started,
    #    the library being imported or the model training)
    before = mtimes(runs, [("ew", 0), ("atdwa", 0)])
    victim = runs / "smoke" / "atdwa" / "fold1"
    proc = busmtl_sweep(*common, "--folds", "0-1", wait=False)
    try:
        wait_for(lambda: notebook_started(victim.with_suffix(".ipynb")), 300,
                 "the atdwa fold-1 notebook to start")
        job = run_record(runs, "atdwa", 1)["job_id"]
        states = {(s.method, s.fold): s for s in sweep_status("smoke", runs)[0]}
        assert states["atdwa", 1].state == "running" and f"job {job} " in states["atdwa", 1].detail
        with pytest.raises(UserError, match=f"still queued or running .*{job}"):  # no duplicates
            sweep.run_sweep("smoke", METHODS, "0-1", tiny_data, runs_root=runs, executor="slurm",
                            progress=False, log=None)
        assert not (victim / "DONE").exists(), "the run finished before it could be killed"
        subprocess.run(["scancel", job], check=True)
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, out
    killed = run_record(runs, "atdwa", 1)
    assert killed["status"] == "failed" and killed["error"].startswith("CANCELLED"), killed
    assert "CANCELLED" in Path(killed["log"]).read_text() and killed["log"] in out
    assert [r["status"] for r in summary(runs)["runs"]] == ["skipped", "skipped", "done", "failed"]
    assert not (victim / "DONE").exists()
    status = busmtl_sweep("status", "--profile", "smoke", "--runs-dir", str(runs))
    assert "3 done, 0 running, 0 queued, 1 failed, 0 pending" in status.stdout, status.stdout

    # 3. the re-submission runs only the killed run and touches nothing that had finished
    before |= mtimes(runs, [("ew", 1)])
    again = busmtl_sweep(*common, "--folds", "0-1")
    assert again.returncode == 0, again.stdout + again.stderr
    assert [r["status"] for r in summary(runs)["runs"]] == ["skipped", "skipped", "skipped", "done"]
    assert mtimes(runs, [("ew", 0), ("atdwa", 0), ("ew", 1)]) == before
    assert (victim / "DONE").exists() and run_record(runs, "atdwa", 1)["job_id"] != job


def test_sbatch_refusal_is_one_clear_error(slurm_cluster, tiny_data, tmp_path):
    settings = SlurmSettings(partition="no-such-partition", time_min=5, mem="1G")
    with pytest.raises(UserError, match="sbatch refused the job array: .*(partition|Partition)"):
        sweep.run_sweep("smoke", "ew", "0", tiny_data, runs_root=tmp_path, epochs=1,
                        executor=SlurmExecutor(settings), progress=False, log=None)

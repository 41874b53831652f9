"""The papermill sweep: parameters, hashes, resume after an interruption, failures, parallel jobs.

Most tests execute a tiny stand-in notebook (it writes the run folder's ``DONE`` marker itself)
so that they take seconds; one test executes the real ``notebooks/train_fold.ipynb``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from busmtl.orchestration import sweep
from busmtl.runs import hashing

FAKE_SOURCE = '''
import json, os, time
from pathlib import Path
out = Path(out_dir)
out.mkdir(parents=True, exist_ok=True)
(out / "params.json").write_text(json.dumps({**spec, "omp": os.environ.get("OMP_NUM_THREADS")}))
if spec["method"] == "dwa":
    raise RuntimeError("deliberate failure for the test")
if spec["fold"] == 1 and os.environ.get("BUSMTL_TEST_SLOW"):
    time.sleep(60)
(out / "metrics.json").write_text("{}")
(out / "DONE").write_text(json.dumps({"run_hash": run_hash}))
'''


@pytest.fixture()
def fake_notebook(tmp_path) -> Path:
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    params = new_code_cell("spec = None\nout_dir = 'x'\nforce = False\nrun_hash = None",
                           metadata={"tags": ["parameters"]})
    nb.cells = [params, new_code_cell(FAKE_SOURCE)]
    path = tmp_path / "fake.ipynb"
    nbformat.write(nb, path)
    return path


def sweep_fake(fake_notebook, tiny_data, tmp_path, methods="ew,atdwa", folds="0-1", jobs=1, **kw):
    return sweep.run_sweep("smoke", methods, folds, tiny_data, jobs, runs_root=tmp_path / "runs",
                           notebook=fake_notebook, progress=False, log=None, **kw)


def test_parse_methods_and_folds():
    assert sweep.parse_folds("0-2,4", "quick") == [0, 1, 2, 4]
    assert sweep.parse_folds(None, "smoke") == [0, 1]
    assert sweep.parse_methods("all", "quick")[:3] == ["ew", "dwa", "atdwa"]
    assert sweep.parse_methods(None, "quick") == ["ew", "gradnorm", "dwa", "atdwa"]
    with pytest.raises(ValueError, match="unknown method.*nope"):
        sweep.parse_methods("ew,nope", "quick")
    with pytest.raises(ValueError, match="--folds"):
        sweep.parse_folds("a-b", "quick")


def test_hash_follows_the_spec_notebook_and_data_not_where_it_runs(tmp_path, fake_notebook,
                                                                    tiny_data):
    from busmtl.config import make_config

    base = make_config("smoke", method="ew", fold=0, data_dir=str(tiny_data))
    h = hashing.run_hash(base, fake_notebook)
    moved = dataclasses.replace(base, data_dir=str(tmp_path / "elsewhere"), progress=True)
    assert h == hashing.run_hash(moved, fake_notebook, data_dir=tiny_data)
    # CPU results depend on the thread count: a run with other threads is another run
    assert h != hashing.run_hash(dataclasses.replace(base, num_threads=3), fake_notebook)
    assert h != hashing.run_hash(dataclasses.replace(base, fold=1), fake_notebook)
    assert h != hashing.run_hash(dataclasses.replace(base, epochs=5), fake_notebook)
    # the split file the run reads is part of the data
    grouped = dataclasses.replace(base, split_group="duplicates")
    assert h != hashing.run_hash(grouped, fake_notebook)
    executed = nbformat.read(fake_notebook, as_version=4)
    executed.cells[1].outputs = [nbformat.v4.new_output("stream", text="hello")]
    executed.cells[1].execution_count = 7
    nbformat.write(executed, tmp_path / "executed.ipynb")
    assert h == hashing.run_hash(base, tmp_path / "executed.ipynb")
    edited = nbformat.read(fake_notebook, as_version=4)
    edited.cells[1].source += "\nprint('changed')"
    nbformat.write(edited, tmp_path / "edited.ipynb")
    assert h != hashing.run_hash(base, tmp_path / "edited.ipynb")


def test_parameters_are_injected_and_recorded(fake_notebook, tiny_data, tmp_path):
    summary = sweep_fake(fake_notebook, tiny_data, tmp_path, methods="ew", folds="1", epochs=3)
    run = summary.runs[0]
    assert run.status == "done" and run.notebook == (tmp_path / "runs/smoke/ew/fold1.ipynb").resolve()
    recorded = json.loads((run.run_dir / "params.json").read_text())
    assert recorded["fold"] == 1 and recorded["epochs"] == 3
    assert recorded["num_threads"] == sweep.DEFAULT_THREADS and recorded["omp"] == str(sweep.DEFAULT_THREADS)
    executed = nbformat.read(run.notebook, as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and '"fold": 1' in injected[0].source and run.run_hash in injected[0].source
    assert "remove-cell" in injected[0].metadata["tags"], "the spec dict stays out of the book"
    # the one setting parameter is the resolved specification: no "auto" left in it
    assert recorded["precision"] in ("fp32", "bf16") and recorded["device"] in ("cpu", "cuda")
    saved = json.loads((tmp_path / "runs/smoke/sweep_summary.json").read_text())
    assert saved["counts"] == {"done": 1, "skipped": 0, "failed": 0}


def test_failing_run_is_reported_while_the_others_complete(fake_notebook, tiny_data, tmp_path, capsys):
    summary = sweep_fake(fake_notebook, tiny_data, tmp_path, methods="ew,dwa,atdwa", folds="0", jobs=2)
    status = {r.method: r.status for r in summary.runs}
    assert status == {"ew": "done", "dwa": "failed", "atdwa": "done"}
    # --jobs does not change a run's thread count (and so its numbers)
    params = json.loads((summary.runs[0].run_dir / "params.json").read_text())
    assert params["num_threads"] == sweep.DEFAULT_THREADS
    failed = summary.failed[0]
    assert failed.error == "RuntimeError: deliberate failure for the test"
    assert failed.notebook.is_file(), "the failed notebook is kept for inspection"
    table = summary.table()
    assert "failed" in table and "deliberate failure" in table and str(failed.notebook) in table
    from busmtl.cli import main

    code = main(["sweep", "--profile", "smoke", "--methods", "ew,dwa", "--folds", "0",
                 "--data-dir", str(tiny_data), "--runs-dir", str(tmp_path / "cli"), "--no-progress",
                 "--notebook", str(fake_notebook)])
    assert code == 1
    assert "1 failed" in capsys.readouterr().out


def test_resume_skips_finished_runs_and_reruns_the_rest(fake_notebook, tiny_data, tmp_path):
    first = sweep_fake(fake_notebook, tiny_data, tmp_path)
    assert first.counts()["done"] == 4
    keep = first.runs[0].run_dir / "DONE"
    mtime = keep.stat().st_mtime_ns
    (first.runs[3].run_dir / "DONE").unlink()  # as if killed during that run
    again = sweep_fake(fake_notebook, tiny_data, tmp_path)
    assert again.counts() == {"done": 1, "skipped": 3, "failed": 0}
    assert keep.stat().st_mtime_ns == mtime, "a finished run was touched"
    from busmtl.config import make_config

    same = make_config("smoke").epochs  # the profile's value, given explicitly: the same runs
    assert sweep_fake(fake_notebook, tiny_data, tmp_path, epochs=same).counts()["skipped"] == 4
    changed = sweep_fake(fake_notebook, tiny_data, tmp_path, epochs=same + 1)  # new settings
    assert changed.counts()["done"] == 4


def test_killed_sweep_resumes_without_losing_finished_runs(fake_notebook, tiny_data, tmp_path):
    script = (f"from busmtl.orchestration import sweep; sweep.run_sweep('smoke', 'ew', '0-1', {str(tiny_data)!r}, 1, "
              f"runs_root={str(tmp_path / 'runs')!r}, notebook={str(fake_notebook)!r}, progress=False)")
    env = dict(os.environ, BUSMTL_TEST_SLOW="1")
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, start_new_session=True)
    done0 = tmp_path / "runs/smoke/ew/fold0/DONE"
    deadline = time.time() + 120
    while not done0.exists() and time.time() < deadline:
        time.sleep(0.5)
    assert done0.exists()
    time.sleep(2)  # fold 1 is running (sleeping) now
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "runs/smoke/ew/fold1/DONE").exists()
    resumed = sweep_fake(fake_notebook, tiny_data, tmp_path, methods="ew", folds="0-1")
    assert [r.status for r in resumed.runs] == ["skipped", "done"]


def test_real_notebook_smoke_run(tiny_data, tmp_path):
    summary = sweep.run_sweep("smoke", "atdwa", "0", tiny_data, 1, runs_root=tmp_path / "runs",
                              epochs=1, progress=False, log=None)
    run = summary.runs[0]
    assert run.status == "done", run.error
    for name in ("config.json", "history.csv", "metrics.json", "predictions.npz", "DONE"):
        assert (run.run_dir / name).is_file(), name
    executed = nbformat.read(run.notebook, as_version=4)
    images = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # losses, weights, predictions
    config = json.loads((run.run_dir / "config.json").read_text())["config"]
    assert config["run_hash"] == run.run_hash and config["epochs"] == 1


def test_committed_notebooks_have_no_outputs():
    for path in (Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"strip outputs of {path.name}"
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1 or path.name != "train_fold.ipynb"


def test_paper_profile_without_imagenet_weights_fails_before_any_run(fake_notebook, tiny_data, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("BUSMTL_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="ImageNet weights for encoder 'resnet34'"):
        sweep.run_sweep("paper", "ew,atdwa", "0", tiny_data, 1, runs_root=tmp_path / "runs",
                        notebook=fake_notebook, progress=False, log=None)
    assert not (tmp_path / "runs" / "paper" / "ew").exists(), "no run was started"


def test_library_hash_reads_only_the_files_that_can_change_a_result(tmp_path):
    import shutil

    import busmtl

    package = tmp_path / "busmtl"
    shutil.copytree(Path(busmtl.__file__).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    base = hashing.library_hash(package)
    assert base == hashing.library_hash()  # the copy hashes like the installed package
    for not_training in ("cli/train.py", "orchestration/sweep.py", "report/tables.py",
                         "publish/pipeline.py"):
        with (package / not_training).open("a") as f:
            f.write("\n# a comment\n")
        assert hashing.library_hash(package) == base, not_training
    with (package / "training" / "trainer.py").open("a") as f:
        f.write("\n# a comment\n")
    assert hashing.library_hash(package) != base
    for entry in hashing.TRAINING_SOURCES:
        assert (package / entry).exists(), entry

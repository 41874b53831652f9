"""Run folders: one writer at a time, committed runs protected, seeds in the layout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from busmtl.config import make_config
from busmtl.errors import UserError
from busmtl.runs import layout, lock, protect
from busmtl.runs.layout import RunKey


# --------------------------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------------------------
def test_seed_zero_keeps_the_old_folder_name_and_other_seeds_are_named():
    assert RunKey("atdwa", 3).name == "fold3"
    assert RunKey("atdwa", 3, 2).name == "fold3-seed2"
    assert layout.parse_run_name("fold3-seed2") == (3, 2)
    assert layout.parse_run_name("fold0") == (0, 0)
    assert layout.parse_run_name("logs") is None
    assert layout.parse_run_name("fold0.ipynb") is None
    root = Path("/r")
    assert layout.run_dir(root, "p", RunKey("ew", 1, 1)) == Path("/r/p/ew/fold1-seed1")
    assert layout.notebook_path(root, "p", RunKey("ew", 1)) == Path("/r/p/ew/fold1.ipynb")


def test_finished_runs_reads_old_and_seeded_folders(tmp_path):
    for name in ("fold0", "fold0-seed1", "fold1-seed2", "fold3"):
        (tmp_path / "ew" / name).mkdir(parents=True)
        (tmp_path / "ew" / name / "DONE").write_text("{}")
        if name != "fold3":                     # fold3: DONE without metrics is not finished
            (tmp_path / "ew" / name / "metrics.json").write_text("{}")
    (tmp_path / "ew" / "fold2").mkdir()  # unfinished: no DONE
    (tmp_path / "logs" / "x").mkdir(parents=True)
    found = layout.finished_runs(tmp_path)
    assert list(found) == [RunKey("ew", 0, 0), RunKey("ew", 0, 1), RunKey("ew", 1, 2)]


# --------------------------------------------------------------------------------------------
# the writer lock
# --------------------------------------------------------------------------------------------
def test_a_second_writer_is_refused_with_the_owner_named(tmp_path):
    with lock.RunLock(tmp_path / "run"):
        owner = lock.holder(tmp_path / "run")
        assert owner["pid"] == os.getpid()
        with pytest.raises(lock.RunBusyError, match=f"pid {os.getpid()}"), \
                lock.RunLock(tmp_path / "run"):
            pass
    assert lock.holder(tmp_path / "run") is None


def test_a_lock_left_by_a_killed_process_is_stale_and_taken_over(tmp_path):
    run = tmp_path / "run"
    code = ("import sys, time; from busmtl.runs.lock import RunLock\n"
            f"l = RunLock({str(run)!r}).__enter__(); print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        assert lock.holder(run)["pid"] == proc.pid
        with pytest.raises(lock.RunBusyError):
            lock.RunLock(run).__enter__()
    finally:
        proc.kill()  # like kill -9: no clean-up in the owner
        proc.wait()
    assert lock.is_stale(run) and lock.holder(run) is None
    with lock.RunLock(run):
        assert lock.holder(run)["pid"] == os.getpid()


def test_training_into_a_folder_another_process_writes_is_refused(tmp_path, tiny_data):
    from busmtl.config import make_config
    from busmtl.training.trainer import train

    run = tmp_path / "run"
    run.mkdir()
    (run / "DONE").write_text("{}")
    cfg = make_config("smoke", method="ew", epochs=1, data_dir=str(tiny_data), progress=False)
    code = ("import time; from busmtl.runs.lock import RunLock\n"
            f"l = RunLock({str(run)!r}).__enter__(); print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(lock.RunBusyError, match="being written by"):
            train(cfg, run, replace=True)
        assert (run / "DONE").read_text() == "{}"  # the other writer's folder is untouched
    finally:
        proc.kill()
        proc.wait()


# --------------------------------------------------------------------------------------------
# committed runs
# --------------------------------------------------------------------------------------------
def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})


@pytest.fixture()
def repo(tmp_path):
    _git(tmp_path, "init", "-q")
    committed = tmp_path / "book" / "runs" / "p" / "ew" / "fold0"
    committed.mkdir(parents=True)
    (committed / "config.json").write_text(json.dumps({"data_identity": "abc"}))
    (committed / "DONE").write_text("{}")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "runs")
    (tmp_path / "book" / "runs" / "p" / "ew" / "fold1").mkdir()
    return tmp_path


def test_committed_folders_are_the_ones_git_tracks(repo):
    runs = repo / "book" / "runs" / "p" / "ew"
    found = protect.committed_dirs([runs / "fold0", runs / "fold1", runs / "fold2"], root=repo)
    assert found == {(runs / "fold0").resolve()}
    assert protect.recorded_identity(runs / "fold0") == "abc"


def test_a_set_of_runs_is_committed_when_git_tracks_some_of_it(repo, tmp_path_factory):
    runs = repo / "book" / "runs"
    (runs / "q" / "ew" / "fold0").mkdir(parents=True)
    (runs / "q" / "ew" / "fold0" / "DONE").write_text("{}")  # made here, never committed
    assert protect.committed_sets(runs, root=repo) == ["p"]
    assert protect.committed_sets(repo / "absent", root=repo) == []
    # a source archive (no git): what it ships is what was committed
    archive = tmp_path_factory.mktemp("archive")
    (archive / "runs" / "p" / "ew").mkdir(parents=True)
    (archive / "runs" / "p" / "ew" / "DONE").write_text("{}")
    (archive / "runs" / "empty").mkdir()
    (archive / "runs" / "quick" / "ew" / "fold0").mkdir(parents=True)  # trained here
    (archive / "runs" / "quick" / "ew" / "fold0" / ".lock").write_text("{}")
    assert protect.committed_sets(archive / "runs", root=archive) == ["p"]


def test_the_book_shows_this_repository_s_committed_sets():
    from busmtl.publish.pipeline import companion_profiles
    from busmtl.settings import repo_root

    runs = repo_root() / "book" / "runs"
    if not (repo_root() / ".git").exists():
        pytest.skip("not a git checkout: nothing tells committed runs apart")
    assert {"busi-cpu", "busi-cpu-grouped"} <= set(protect.committed_sets(runs))
    assert "quick" not in companion_profiles("busi-cpu", runs)
    assert "busi-cpu-interaction" in companion_profiles("busi-cpu", runs)


def test_a_sweep_refuses_to_overwrite_committed_runs(repo, monkeypatch, tmp_path_factory):
    from busmtl.orchestration import sweep

    monkeypatch.setattr(protect, "repo_root", lambda: repo)
    monkeypatch.setattr(sweep, "portable", lambda path, base=None: str(path))
    run = sweep.Run("ew", 0, Path("nb.ipynb"), (repo / "book/runs/p/ew/fold0").resolve(), {}, "h",
                    config=make_config("smoke"))
    data = tmp_path_factory.mktemp("d")
    with pytest.raises(UserError, match="committed to the repository.*--retrain-committed"):
        sweep.refuse_committed([run], data, retrain=False)
    monkeypatch.setattr("busmtl.data.prepare.dataset_identity", lambda d: "other")
    with pytest.raises(UserError, match="not the data the committed runs recorded"):
        sweep.refuse_committed([run], data, retrain=True)
    monkeypatch.setattr("busmtl.data.prepare.dataset_identity", lambda d: "abc")
    sweep.refuse_committed([run], data, retrain=True)  # same data, asked for: allowed
    assert (repo / "book/runs/p/ew/fold0/DONE").read_text() == "{}"


def test_the_committed_reference_runs_of_this_repository_are_protected(tiny_data):
    """`busmtl sweep --profile busi-cpu --data-dir <phantoms>` stops before anything runs."""
    from busmtl.cli import main
    from busmtl.settings import repo_root

    runs = repo_root() / "book" / "runs" / "busi-cpu"
    if not (runs / "ew" / "fold0" / "DONE").is_file():
        pytest.skip("no committed busi-cpu runs in this checkout")
    before = {p: p.stat().st_mtime_ns for p in runs.rglob("*") if p.is_file()}
    assert main(["sweep", "--profile", "busi-cpu", "--data-dir", str(tiny_data), "--folds", "0",
                 "--methods", "ew", "--no-progress"]) == 2
    assert {p: p.stat().st_mtime_ns for p in runs.rglob("*") if p.is_file()} == before


# --------------------------------------------------------------------------------------------
# seeds in a sweep's plan
# --------------------------------------------------------------------------------------------
def test_a_sweep_plans_every_seed_in_its_own_folder(tiny_data, tmp_path):
    from busmtl.orchestration import sweep

    runs = sweep.plan("smoke", ["ew"], [0, 1], tiny_data, runs_root=tmp_path,
                      notebook=sweep.default_notebook(), seeds=[0, 2])
    assert [(r.seed, r.fold, r.run_dir.name) for r in runs] == [
        (0, 0, "fold0"), (0, 1, "fold1"), (2, 0, "fold0-seed2"), (2, 1, "fold1-seed2")]
    assert runs[2].parameters["spec"]["seed"] == 2 and runs[2].config.seed == 2
    assert len({r.run_hash for r in runs}) == 4
    assert sweep.parse_seeds("0-2", "smoke") == [0, 1, 2]
    assert sweep.parse_seeds(None, "busi-cpu-grouped") == [0, 1, 2]
    with pytest.raises(ValueError, match="--seeds"):
        sweep.parse_seeds("a,b", "smoke")


def test_a_sweep_runs_folds_first_or_methods_first(tiny_data, tmp_path):
    from busmtl.orchestration import sweep

    def order(**kwargs):
        runs = sweep.plan("smoke", ["dwa", "ew"], [0, 1], tiny_data, runs_root=tmp_path,
                          notebook=sweep.default_notebook(), **kwargs)
        return [(r.method, r.fold) for r in runs]

    assert order() == [("dwa", 0), ("ew", 0), ("dwa", 1), ("ew", 1)]
    assert order(order="method") == [("dwa", 0), ("dwa", 1), ("ew", 0), ("ew", 1)]
    with pytest.raises(ValueError, match="order must be one of fold, method"):
        order(order="seed")


# --------------------------------------------------------------------------------------------
# a finished run is replaced only on request, and never lost
# --------------------------------------------------------------------------------------------
def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".lock"}


@pytest.fixture()
def finished_run(tiny_data, tmp_path):
    from busmtl.config import make_config
    from busmtl.training.trainer import train

    run = tmp_path / "runs" / "ew"
    train(make_config("smoke", method="ew", epochs=1, data_dir=str(tiny_data), progress=False,
                      save_model=True), run)
    return run


@pytest.mark.parametrize("extra, message", [
    ([], "holds a finished run"),
    (["--force", "--fold", "9"], "fold 9 does not exist"),
    (["--force", "--weighter-param", "bogus=1"], "unknown hyper-parameter"),
])
def test_a_finished_run_survives_every_refused_retrain(finished_run, tiny_data, extra, message,
                                                       capsys):
    from busmtl.cli import main

    before = _snapshot(finished_run)
    code = main(["train", "--method", "ew", "--profile", "smoke", "--epochs", "1",
                 "--data-dir", str(tiny_data), "--out", str(finished_run), "--no-progress",
                 *extra])
    assert code == 2
    assert message in capsys.readouterr().err
    assert _snapshot(finished_run) == before
    assert sorted(p.name for p in finished_run.parent.iterdir()) == ["ew"]


def test_force_swaps_in_the_new_run_and_a_failed_rerun_keeps_the_old(finished_run, tiny_data,
                                                                     monkeypatch):
    from busmtl.config import make_config
    from busmtl.training import trainer

    before = _snapshot(finished_run)
    cfg = make_config("smoke", method="ew", epochs=2, data_dir=str(tiny_data), progress=False)

    def broken_fit(session, on_epoch=None):
        raise KeyboardInterrupt  # a killed re-run

    monkeypatch.setattr(trainer, "fit", broken_fit)
    with pytest.raises(KeyboardInterrupt):
        trainer.train(cfg, finished_run, replace=True)
    assert _snapshot(finished_run) == before
    monkeypatch.undo()
    result = trainer.train(cfg, finished_run, replace=True)
    assert result["epochs_run"] == 2
    assert json.loads((finished_run / "metrics.json").read_text())["epochs_run"] == 2
    assert sorted(p.name for p in finished_run.parent.iterdir()) == ["ew"]


def test_evaluate_never_writes_into_a_run(finished_run, tiny_data, tmp_path, capsys):
    from busmtl.cli import main

    before = _snapshot(finished_run)
    for out in (finished_run, finished_run / "eval"):
        assert main(["evaluate", "--run", str(finished_run), "--data-dir", str(tiny_data),
                     "--out", str(out)]) == 2
        assert "would overwrite the run" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(["evaluate", "--run", str(finished_run), "--data-dir", str(tiny_data),
                 "--out", str(other)]) == 2
    assert "other files" in capsys.readouterr().err
    assert _snapshot(finished_run) == before and (other / "notes.txt").read_text() == "mine"


# --------------------------------------------------------------------------------------------
# whole sweeps: two at once, and a killed driver
# --------------------------------------------------------------------------------------------
def _sweep_command(data: Path, runs: Path, epochs: int) -> list[str]:
    return [sys.executable, "-m", "busmtl", "sweep", "--profile", "smoke", "--methods", "ew",
            "--folds", "0-1", "--epochs", str(epochs), "--data-dir", str(data),
            "--runs-dir", str(runs), "--jobs", "2", "--no-progress"]


@pytest.mark.slow
def test_two_sweeps_at_once_train_every_run_once(tiny_data, tmp_path):
    runs = tmp_path / "runs"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(_sweep_command(tiny_data, runs, 2), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    for fold in (0, 1):
        run = runs / "smoke" / "ew" / f"fold{fold}"
        history = (run / "history.csv").read_text().splitlines()
        assert [line.split(",")[0] for line in history[1:]] == ["1", "2"]  # one writer
        done = json.loads((run / "DONE").read_text())
        assert json.loads((run / "metrics.json").read_text())["epochs_run"] == 2
        assert done["run_hash"]
    assert sum("being written by" in out or "skipped" in out for out in outputs) >= 1


@pytest.mark.slow
def test_a_killed_driver_takes_its_workers_and_kernels_with_it(tiny_data, tmp_path):
    import signal
    import time

    import psutil

    runs = tmp_path / "runs"
    driver = subprocess.Popen(_sweep_command(tiny_data, runs, 200),
                              env={**os.environ, "OMP_NUM_THREADS": "1"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = runs / "smoke" / "ew" / "fold0"
    deadline = time.time() + 180
    while lock.holder(run) is None and time.time() < deadline:
        time.sleep(0.5)
    owner = lock.holder(run)
    assert owner is not None, "the sweep never started a run"
    worker = psutil.Process(owner["pid"])
    time.sleep(3)  # the kernel is up and training
    family = [worker, *worker.children(recursive=True)]
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    _gone, alive = psutil.wait_procs(family, timeout=60)
    assert not alive, [p.cmdline() for p in alive]
    assert lock.holder(run) is None


# --------------------------------------------------------------------------------------------
# what counts as finished, and a run another sweep finished meanwhile
# --------------------------------------------------------------------------------------------
def test_a_run_is_finished_only_with_its_metrics(tmp_path):
    from busmtl.runs import state

    run = tmp_path / "ew" / "fold0"
    run.mkdir(parents=True)
    (run / "DONE").write_text(json.dumps({"run_hash": "abc"}))
    assert state.finished_hash(run) is None                       # DONE without metrics.json
    (run / "metrics.json").write_text("{}")
    assert state.finished_hash(run) == "abc"
    (run / "DONE").write_text(json.dumps({"run_hash": None}))
    assert state.finished_hash(run) is None                       # made by hand


def test_a_worker_never_trains_a_run_another_sweep_finished(tmp_path):
    from busmtl.orchestration import worker

    run = tmp_path / "ew" / "fold0"
    run.mkdir(parents=True)
    job = {"input": str(tmp_path / "no-such-notebook.ipynb"), "output": str(run) + ".ipynb",
           "parameters": {"run_hash": "abc"}, "kernel_name": "python3", "cwd": str(tmp_path),
           "retries": 0, "run_dir": str(run), "result": str(tmp_path / "result.json")}
    (tmp_path / "job.json").write_text(json.dumps(job))
    (run / "DONE").write_text(json.dumps({"run_hash": "abc"}))
    (run / "metrics.json").write_text("{}")
    assert worker.main([str(tmp_path / "job.json")]) == 0         # nothing executed
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["attempts"] == 0 and "another writer" in result["note"]
    (run / "metrics.json").unlink()                               # not finished: it would train
    assert worker.main([str(tmp_path / "job.json")]) == 1
    assert json.loads((tmp_path / "result.json").read_text())["attempts"] == 1


def test_train_writes_only_into_a_new_empty_or_run_folder(tiny_data, tmp_path, capsys):
    from data_fixtures import refused

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"mine": true}')
    (mine / "notes.txt").write_text("keep")
    head = ["train", "--method", "ew", "--profile", "smoke", "--epochs", "1", "--no-progress"]
    refused(capsys, [*head, "--data-dir", str(tiny_data), "--out", str(mine)], tmp_path,
            "holds files that are not a run's (notes.txt)", "new or empty folder")
    refused(capsys, [*head, "--data-dir", str(tiny_data), "--out", str(tiny_data)], tmp_path,
            "is the data folder", "give a new folder")
    refused(capsys, [*head, "--data-dir", str(tiny_data), "--out", str(tiny_data / "run")],
            tmp_path, "is the data folder")


def test_a_busy_run_folder_is_one_line_and_exit_2(tiny_data, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    code = ("import time; from busmtl.runs.lock import RunLock\n"
            f"l = RunLock({str(run)!r}).__enter__(); print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        from busmtl.cli import main

        assert main(["train", "--method", "ew", "--profile", "smoke", "--epochs", "1",
                     "--data-dir", str(tiny_data), "--out", str(run), "--no-progress"]) == 2
        err = capsys.readouterr().err.strip()
        assert "being written by" in err and err.count("\n") == 0
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize(("extra", "needles"), [
    (["--folds", "7"], ("fold 7 is not in splits.json", "folds 0-1")),
    (["--device", "gpu0"], ("'gpu0' is not a device",)),
])
def test_a_sweep_that_cannot_run_changes_nothing(tiny_data, tmp_path, capsys, extra, needles):
    from data_fixtures import refused

    refused(capsys, ["sweep", "--profile", "smoke", "--methods", "ew", "--data-dir",
                     str(tiny_data), "--runs-dir", str(tmp_path / "runs"), "--no-progress",
                     *(["--folds", "0"] if "--folds" not in extra else []), *extra],
            tmp_path, *needles)


def test_a_run_folder_that_is_a_file_stops_the_sweep_before_it_writes(tiny_data, tmp_path,
                                                                      capsys):
    from data_fixtures import refused

    (tmp_path / "runs" / "smoke" / "ew").mkdir(parents=True)
    (tmp_path / "runs" / "smoke" / "ew" / "fold0").write_text("not a folder")
    refused(capsys, ["sweep", "--profile", "smoke", "--methods", "ew", "--folds", "0",
                     "--data-dir", str(tiny_data), "--runs-dir", str(tmp_path / "runs"),
                     "--no-progress"], tmp_path, "run folder(s) are files", "--runs-dir")


def test_evaluate_never_writes_among_the_data(finished_run, tiny_data, capsys):
    from data_fixtures import refused

    for out in (tiny_data, tiny_data / "eval"):
        refused(capsys, ["evaluate", "--run", str(finished_run), "--data-dir", str(tiny_data),
                         "--out", str(out)], tiny_data, "is the data folder")

"""The drift tests: the committed runs must still be what the code and the profiles produce.

* The settings check (no training, always runs): every committed run's recorded settings equal
  what its profile gives today.
* The training check (where the BUSI copy is available: ``BUSMTL_REFERENCE_BUSI``, set by
  ``.ci/run``, or the shared copy beside the repository): one run of every committed profile and
  of EW, DWA, ATDWA, GradNorm and DMF-var is re-trained for its first epochs in a fresh process
  at its recorded CPU instruction-set level, and its losses and weights are compared with the
  committed ``history.csv``. Skipped, with the reason, where the data are absent or this CPU
  cannot run the recorded level.
* Each check fails on purpose: a changed profile learning rate, weighter constant and
  augmentation magnitude (on a small reference made here, so these run everywhere).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from data_fixtures import shared_busi

from busmtl.orchestration import drift as reference
from busmtl.orchestration.drift import DRIFT_RUNS, check_drift, committed_runs, runs_root


# --------------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------------
def test_every_committed_run_has_the_settings_of_its_profile():
    runs = committed_runs()
    if not runs:
        pytest.skip("no committed runs in book/runs")
    drift = reference.settings_drift()
    assert not drift, reference.format_settings_drift(drift)


def test_a_profile_edit_names_the_runs_to_rerun(monkeypatch):
    from busmtl import config

    runs = [n for n in committed_runs() if n.startswith("busi-cpu/")]
    if not runs:
        pytest.skip("no committed busi-cpu runs")
    edited = config.Profile(**{**config.PROFILES["busi-cpu"].__dict__,
                               "settings": {**config.PROFILES["busi-cpu"].settings, "lr": 0.01}})
    monkeypatch.setitem(config.PROFILES, "busi-cpu", edited)
    drift = reference.settings_drift()
    assert sorted(n for n in drift if n.startswith("busi-cpu/")) == sorted(runs)
    assert all(drift[n]["lr"] == (0.001, 0.01) for n in runs)
    text = reference.format_settings_drift(drift)
    assert "lr: 0.001 -> 0.01" in text and "busmtl sweep --profile busi-cpu" in text


# --------------------------------------------------------------------------------------------
# training, on the committed runs
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def retrained(tmp_path_factory):
    """Every run of :data:`DRIFT_RUNS` re-trained, two processes at a time (one thread each)."""
    busi = shared_busi()
    if busi is None:
        pytest.skip("no BUSI copy (set BUSMTL_REFERENCE_BUSI): the training check needs the data")
    workdir = tmp_path_factory.mktemp("drift")
    jobs, reports = {}, {}
    for name, epochs in DRIFT_RUNS.items():
        run = runs_root() / name
        if not (run / "DONE").is_file():
            reports[name] = f"committed run {name} is not in this checkout"
            continue
        ok, why = reference.can_retrain(run)
        if not ok:
            reports[name] = why
            continue
        expected, why = reference.expected_history(name, run, epochs)
        if expected is None:
            reports[name] = why
            continue
        prepared = reference.prepare_like(run, busi, workdir)
        jobs[name] = (run, prepared, epochs, expected)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(check_drift, run, prepared, workdir, epochs, expected)
                   for name, (run, prepared, epochs, expected) in jobs.items()}
        reports.update({name: f.result() for name, f in futures.items()})
    return reports


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DRIFT_RUNS))
def test_committed_run_still_matches_the_code(name, retrained):
    report = retrained[name]
    if isinstance(report, str):
        pytest.skip(report)
    assert report.ok, report.message()


# --------------------------------------------------------------------------------------------
# each check fails on purpose
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_reference(tmp_path_factory, tiny_data):
    """A three-epoch DWA run with online augmentation on the tiny phantoms, in the layout of a
    committed run."""
    from busmtl.config import make_config
    from busmtl.training.trainer import train

    run = tmp_path_factory.mktemp("refs") / "smoke" / "dwa" / "fold0"
    cfg = make_config("smoke", method="dwa", epochs=3, augment="online", num_threads=1,
                      data_dir=str(tiny_data), progress=False)
    train(cfg, run)
    return run


def _retrain_here(run: Path, data: Path, out: Path):
    return reference.compare(run, reference.retrain(run, data, out, 3), 3)


def test_the_small_reference_reproduces_itself(small_reference, tiny_data, tmp_path):
    report = _retrain_here(small_reference, tiny_data, tmp_path / "again")
    assert report.ok and report.max_relative_difference == 0.0


def test_a_changed_weighter_constant_fails_the_training_check(small_reference, tiny_data,
                                                             tmp_path, monkeypatch):
    from busmtl.weighting.dwa import DWA

    monkeypatch.setattr(DWA.__init__, "__defaults__", (3.0,))  # temperature 2 -> 3
    report = _retrain_here(small_reference, tiny_data, tmp_path / "t3")
    assert not report.ok
    assert "no longer reproduces" in report.message()


def test_a_changed_augmentation_fails_the_training_check(small_reference, tiny_data,
                                                        tmp_path, monkeypatch):
    from busmtl.data import augment

    monkeypatch.setattr(augment, "ROTATION_LIMIT", 30)
    report = _retrain_here(small_reference, tiny_data, tmp_path / "rot30")
    assert not report.ok


def test_a_different_torch_is_named_as_the_likely_cause(small_reference, tiny_data,
                                                       tmp_path, monkeypatch):
    from busmtl.data import augment

    monkeypatch.setattr(augment, "ROTATION_LIMIT", 30)
    report = _retrain_here(small_reference, tiny_data, tmp_path / "v")
    report.recorded_torch, report.torch_now = "2.14.1", "2.99.0"
    assert "torch 2.14.1" in report.message() and "make install" in report.message()


def test_a_run_of_an_unreachable_level_is_skipped_with_the_reason(small_reference, monkeypatch):
    from busmtl.training import isa

    ok, why = reference.can_retrain(small_reference)
    assert not ok and "native" in why  # a native run is tied to its host
    monkeypatch.setattr(reference, "read_config", lambda run: {
        "config": {"cpu_isa": "avx512"}, "provenance": {"precision": "fp32"}})
    monkeypatch.setattr(isa, "host_supports", lambda level: False)
    ok, why = reference.can_retrain(small_reference)
    assert not ok and "avx512" in why and "cannot run" in why

"""The drift test: the committed reference runs must still be what the code produces.

Where the BUSI copy is available (``BUSMTL_REFERENCE_BUSI``, set by ``.ci/run``, or the shared
copy beside the repository), re-train the first epochs of reference runs and compare their
training losses and weights with the committed ``history.csv`` (relative 1e-6, same threads and
precision). Skipped, with the reason, where the data or the reference runs are absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from busmtl.reference import DRIFT_RUNS, check_drift, reference_root
from busmtl.settings import repo_root

pytestmark = pytest.mark.slow


def busi_for_reference() -> Path | None:
    candidates = [os.environ.get("BUSMTL_REFERENCE_BUSI"),
                  str(repo_root().parent / "shared" / "data" / "busi")]
    for c in candidates:
        if c and (Path(c) / "benign").is_dir() and (Path(c) / "malignant").is_dir():
            return Path(c)
    return None


@pytest.mark.parametrize("name", sorted(DRIFT_RUNS))
def test_reference_run_still_matches_the_code(name, tmp_path_factory):
    busi = busi_for_reference()
    if busi is None:
        pytest.skip("no BUSI copy (set BUSMTL_REFERENCE_BUSI): the drift check needs the real data")
    run = reference_root() / name
    if not (run / "DONE").is_file():
        pytest.skip(f"reference run {name} is not committed")
    from busmtl.artifacts import read_config
    from busmtl.step import bf16_native

    if read_config(run)["provenance"]["precision"] == "bf16" and not bf16_native():
        pytest.skip("the reference runs used bf16, which this CPU only emulates (20x slower)")
    workdir = tmp_path_factory.mktemp("drift")
    report = check_drift(run, busi, workdir, epochs=DRIFT_RUNS[name])
    assert report.ok, report.message()

"""The seed systems against the reference runs (busmtl.report.systems), on fake run folders.

The reference profile's EW run of fold f has Dice 0.70 + 0.01 f (``test_report.write_run``); the
companion profile's EW runs are written as test_report's ATDWA runs (always 0.05 better) under the
method name ``ew``, on folds 0-2 only, so every number below is known by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_report import write_run

from busmtl.report import systems
from busmtl.report.systems import Contrast


def _write_as(run_dir: Path, written_as: str, method: str, fold: int, rng) -> None:
    write_run(run_dir, written_as, fold, rng)
    path = run_dir / "config.json"
    config = json.loads(path.read_text())
    config["config"]["method"] = method
    path.write_text(json.dumps(config))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for fold in range(5):
        _write_as(tmp_path / "busi-cpu" / "ew" / f"fold{fold}", "ew", "ew", fold, rng)
    for fold in range(3):
        _write_as(tmp_path / "busi-cpu-interaction" / "ew" / f"fold{fold}", "atdwa", "ew", fold, rng)
    return tmp_path


CONTRAST = (Contrast("busi-cpu-interaction", "ew"),)


def test_names_say_the_network_and_the_auxiliary_loss():
    assert systems.system_name("busi-cpu-interaction:atdwa") == "ATDWA, interaction network"
    assert systems.system_name("busi-cpu:ew") == "EW, SSC-ResNet"
    assert systems.system_name("busi-cpu-cbdice:dmf_var").endswith("SSC-ResNet + CB-Dice")


def test_every_contrast_differs_from_the_reference_in_one_setting():
    from busmtl.config import PROFILES

    reference = PROFILES[systems.REFERENCE_PROFILE].settings
    for contrast in systems.CONTRASTS:
        settings = PROFILES[contrast.profile].settings
        changed = {k for k in set(settings) | set(reference) if settings.get(k) != reference.get(k)}
        assert len(changed) == 1, (contrast.profile, changed)
        assert contrast.method in PROFILES[contrast.profile].methods


def test_collect_plans_every_fold_and_counts_the_finished(root):
    runs, per_image = systems.collect(root, CONTRAST)
    assert systems.finished(runs, "busi-cpu-interaction") == (3, 5)
    assert systems.finished(runs, "busi-cpu") == (5, 5)
    assert set(runs["method"]) == {"busi-cpu-interaction:ew", "busi-cpu:ew"}
    assert set(runs["weighter"]) == {"ew"}
    assert set(per_image["method"]) == set(runs["method"])


def test_systems_table_by_hand(root):
    table = systems.systems_table(systems.collect(root, CONTRAST)[0])
    # companion: Dice 0.75, 0.76, 0.77 on folds 0-2 -> 0.760 ± 0.010, 3 of 5 folds
    assert table.loc["EW, interaction network", "Dice"] == "0.760 ± 0.010 (3/5)"
    assert table.loc["EW, interaction network", "folds"] == "3/5"
    # reference: 0.70 .. 0.74 -> mean 0.720, sd 0.0158
    assert table.loc["EW, SSC-ResNet", "Dice"] == "0.720 ± 0.016"


def test_contrast_pairs_the_common_folds_and_images(root):
    runs, per_image = systems.collect(root, CONTRAST)
    table = systems.contrast_table(runs, per_image, CONTRAST).set_index("metric")
    dice = table.loc["Dice"]
    assert dice["comparison"] == "EW, interaction network \u2212 EW, SSC-ResNet"
    assert dice["folds"] == 3 and dice["images"] == 10
    # the same +0.05 on every fold and image: a zero-width interval, clearly better
    assert dice["over folds"] == "+0.050 [+0.050, +0.050]"
    assert dice["verdict (folds)"] == "better" and dice["verdict (images)"] == "better"


def test_a_companion_without_runs_is_missing_not_an_error(tmp_path):
    runs, per_image = systems.collect(tmp_path, CONTRAST)
    assert systems.finished(runs, "busi-cpu-interaction") == (0, 5)
    table = systems.contrast_table(runs, per_image, CONTRAST)
    assert (table["verdict (folds)"] == "n/a").all()
    assert (systems.systems_table(runs)["Dice"] == "pending").all()


def test_verdict_text_names_where_a_difference_is_clear(root):
    runs, per_image = systems.collect(root, CONTRAST)
    text = systems.verdict_text(systems.contrast_table(runs, per_image, CONTRAST))
    assert text.startswith(
        "EW, interaction network \u2212 EW, SSC-ResNet (Dice) is better over folds")
    assert "No clear difference" in text and "(Cls Acc)" in text  # accuracy: identical runs


def test_differences_clear_over_images_only_share_one_caveat():
    import pandas as pd

    rows = [{"comparison": name, "metric": "Dice", "folds": 5, "verdict (folds)": "within noise",
             "verdict (images)": "better", "over folds": "+0.030 [\u22120.010, +0.070]",
             "over test images": "+0.030 [+0.010, +0.050]"} for name in ("A \u2212 B", "C \u2212 D")]
    text = systems.verdict_text(pd.DataFrame(rows))
    assert text.count("rather than to the training") == 1
    assert text.startswith("A \u2212 B (Dice) is better over test images (+0.030 [+0.010, +0.050]) "
                           "but not over folds (+0.030 [\u22120.010, +0.070]); C \u2212 D (Dice)")
    assert text.endswith("each of these may belong to these test images rather than to the "
                         "training.")


def test_verdict_text_without_runs(tmp_path):
    runs, per_image = systems.collect(tmp_path, CONTRAST)
    assert systems.verdict_text(systems.contrast_table(runs, per_image, CONTRAST)) == (
        "No run of the companion profiles has finished yet.")

"""The data chapter's values (busmtl.report.data_page): what a build without data or runs
says, and the duplicate record and leak measured from the committed files."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest

from busmtl.report.data_page import DataPage
from busmtl.settings import repo_root

RECORD = repo_root() / "book" / "data"


def test_a_build_without_data_or_runs_says_so(tmp_path):
    page = DataPage("quick", "", tmp_path, RECORD, tmp_path)
    values = page.dataset()
    assert "neither the dataset nor finished runs" in values["dataset_sentence"]
    assert values["split_sentence"] == "No finished run records the split of this build."
    constants = page.constants()
    assert constants["busi_n"] == 647 and constants["default_train_folds"] == 4
    assert "fig_examples" in page.examples() and "fig_augmentation" in page.augmentation()
    settings = page.settings()["tab_settings"].data
    assert "tbl-settings" in settings and "differs" in settings


def test_the_duplicate_record_and_the_leak(tmp_path):
    if not (RECORD / "busi-duplicates.csv").is_file():
        pytest.skip("no committed duplicate record in this checkout")
    values = DataPage("busi-cpu", "", tmp_path, RECORD, tmp_path).duplicates()
    assert values["dup_cross_pairs"] == 9 and values["grouped_leaked"] == 0
    assert values["leak_min"] <= values["leak_max"] <= values["leak_test"]
    assert "no paper-protocol runs" in values["leak_effect"]        # none under tmp_path

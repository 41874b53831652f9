"""The results chapter's content comes from :class:`busmtl.report.results_page.ResultsPage`: every
name the chapter pastes is produced by one of its sections, with runs and without any."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import pytest

from busmtl.report.results_page import ResultsPage
from busmtl.settings import repo_root

SECTIONS = ("overview", "headline", "benchmark", "completeness", "main_tables", "paired",
            "versus_paper", "cost", "curves", "qualitative", "versus_ew", "systems", "deviations")


def pasted_names() -> set[str]:
    """Every glue name that book/results.md pastes ({glue:...}`name` roles and glue directives)."""
    text = (repo_root() / "book" / "results.md").read_text(encoding="utf-8")
    roles = re.findall(r"\{glue(?::\w+)?\}`([^`]+)`", text)
    directives = re.findall(r"```\{glue(?::\w+)?\} (\S+)", text)
    return {name.split(":")[0] for name in roles + directives}


def all_values(page: ResultsPage) -> dict:
    values: dict = {}
    for section in SECTIONS:
        produced = getattr(page, section)()
        assert not set(produced) & set(values), f"{section} repeats a name"
        values.update(produced)
    return values


@pytest.mark.parametrize("profile", ["busi-cpu", "quick"])
def test_every_pasted_name_is_produced_without_any_run(tmp_path, profile):
    values = all_values(ResultsPage(profile, tmp_path))
    missing = pasted_names() - set(values)
    assert not missing, f"results.md pastes names no section produces: {sorted(missing)}"
    assert values["n_done"] == 0 and values["methods_done"] == "none"
    assert values["collapse_text"].startswith("No run has a collapsed classifier")
    assert isinstance(values["fig_weights"], plt.Figure)
    plt.close("all")


def test_the_page_reads_the_build_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BUSMTL_BOOK_PROFILE", "quick")
    monkeypatch.setenv("BUSMTL_BOOK_RUNS", str(tmp_path))
    page = ResultsPage.from_environment()
    assert page.profile == "quick" and page.runs_root == tmp_path
    assert page.overview()["data_name"] == "the phantoms"

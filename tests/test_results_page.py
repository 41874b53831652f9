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


@pytest.mark.parametrize("profile, other", [("busi-cpu", "busi-cpu-grouped"),
                                            ("busi-cpu-grouped", "busi-cpu")])
def test_the_deviations_name_the_rows_where_the_other_busi_protocol_differs(tmp_path, profile,
                                                                           other):
    values = ResultsPage(profile, tmp_path).deviations()
    table = values["tab_deviations_other"].data
    # the split and the seeds differ between the two protocols; every other row is the same
    rows = [line.split("|")[1].strip() for line in table.splitlines()
            if line.startswith("| ") and "---" not in line][1:]
    assert rows == ["split", "seeds"]
    assert f"| setting | paper | {profile} | {other} | status | why |" in table
    assert values["deviations_other"].endswith(f"differs from {profile} in the rows below")
    assert other in values["deviations_other"]


def test_gradnorm_batch_sentences_follow_the_recorded_batch_sizes(tmp_path):
    import pandas as pd

    page = ResultsPage("busi-cpu", tmp_path)
    page.done = pd.DataFrame({"method": ["ew", "gradnorm"], "batch_size": [16, 8]})
    assert page.gradnorm_batches() == (8, 16)
    assert "so it takes twice as many optimizer steps" in page.gradnorm_steps()
    page.done = pd.DataFrame({"method": ["ew", "gradnorm"], "batch_size": [8, 16]})
    assert "so it takes half as many optimizer steps" in page.gradnorm_steps()
    page.done = pd.DataFrame({"method": ["ew", "gradnorm"], "batch_size": [8, 32]})
    assert "so it takes 4.0 times fewer optimizer steps" in page.gradnorm_steps()
    page.done = pd.DataFrame({"method": ["ew", "gradnorm"], "batch_size": [16, 16]})
    assert page.gradnorm_batches() is None and page.gradnorm_steps() == ""


def test_the_benchmark_progress_names_the_methods_still_waiting(tmp_path):
    from busmtl.report import benchmark
    from busmtl.weighting import available

    progress = ResultsPage("busi-cpu", tmp_path).benchmark()["bench_progress"]
    planned = benchmark.count(benchmark.collect(tmp_path))[1]
    assert progress.startswith(f"{planned} of the {planned} benchmark runs are still pending; "
                               f"{len(available())} methods have no finished run yet")
    waiting = benchmark.pending(benchmark.collect(tmp_path))
    assert progress.endswith(f"never dropped: {', '.join(waiting)}.")
    plt.close("all")


def test_the_benchmark_progress_reads_when_one_or_no_method_waits():
    from busmtl.report.results_page import _methods_waiting, _pending_text

    assert _pending_text(0, 130, "benchmark runs") + _methods_waiting([]) + "." == (
        "All 130 benchmark runs have finished.")
    from busmtl.report.results_page import _methods_partway

    assert _methods_partway({}) == ""
    assert _methods_partway({"config": (2, 5)}) == (
        "; part of the runs have finished for ConFIG (2 of 5)")
    assert _methods_partway({"config": (2, 5), "mgda": (4, 5)}) == (
        "; part of the runs have finished for ConFIG (2 of 5) and MGDA (4 of 5)")
    assert _methods_waiting(["FairGrad"]) == (
        "; 1 method has no finished run yet and shows as pending, never dropped: FairGrad")

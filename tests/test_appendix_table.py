"""The appendix's table of runs: one row and one link per run, seeds told apart."""

from __future__ import annotations

from pathlib import Path

from busmtl.report.pages import RunRecord, runs_table
from busmtl.runs.state import Status


def _record(fold: int, seed: int) -> RunRecord:
    metrics = {"test": {"seg_dice": 0.5 + seed / 10, "cls_acc": 0.75}, "best_epoch": 3}
    return RunRecord("ew", fold, Status.DONE, Path(f"/runs/ew/fold{fold}-seed{seed}"), metrics,
                     seed)


def test_every_seed_of_a_fold_has_its_own_row_and_page():
    records = [_record(0, 0), _record(0, 1), _record(0, 2)]
    pages = {("ew", 0, 0): "/book/runs/p/ew/fold0", ("ew", 0, 1): "/book/runs/p/ew/fold0-seed1",
             ("ew", 0, 2): "/book/runs/p/ew/fold0-seed2"}
    table = runs_table(records, pages)
    assert list(table["seed"]) == [0, 1, 2]
    assert list(table["test Dice"]) == ["0.500", "0.600", "0.700"]
    assert table["run page"].iloc[1] == ("{doc}`EW (SSC-ResNet), fold 0, seed 1 "
                                         "</book/runs/p/ew/fold0-seed1>`")
    assert table["run page"].iloc[0] == "{doc}`EW (SSC-ResNet), fold 0 </book/runs/p/ew/fold0>`"


def test_a_profile_of_one_seed_shows_no_seed_column_and_a_run_without_notebook_no_link():
    table = runs_table([_record(0, 0), _record(1, 0)], {("ew", 0, 0): "/book/runs/p/ew/fold0"})
    assert "seed" not in table.columns
    assert table["run page"].iloc[1] == ""


def test_with_its_profile_a_run_is_named_by_the_system_it_trains():
    table = runs_table([_record(0, 0)], {("ew", 0, 0): "/p"}, "busi-cpu-interaction")
    assert table["method"].iloc[0] == "EW, interaction network"
    assert table["run page"].iloc[0] == "{doc}`EW, interaction network, fold 0 </p>`"


def test_the_runs_sentence_reads_as_written_by_hand():
    from busmtl.report.pages import runs_sentence

    assert runs_sentence("busi-cpu", 25, 25, 25) == (
        "This build (profile busi-cpu) holds 25 run folders, all finished, each with its "
        "executed notebook in the book.")
    assert runs_sentence("quick", 20, 3, 3) == (
        "This build (profile quick) holds 20 run folders, three of them finished, three with "
        "their executed notebook in the book.")
    assert runs_sentence("quick", 0, 0, 0) == "This build (profile quick) holds no run folder yet."
    assert runs_sentence("smoke", 1, 1, 1) == (
        "This build (profile smoke) holds one run folder, finished, with its executed notebook "
        "in the book.")

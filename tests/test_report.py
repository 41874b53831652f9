"""Report layer: aggregation of run folders, Tables I-III, paired statistics, figures.

The runs are fake run folders with known metrics (written like the trainer writes them), so every
table cell can be checked by hand: ew has Dice 0.70 + 0.01 * fold; atdwa is always 0.05 better
(fold 3 missing); dwa is worse on some folds and better on others (fold 4 failed in the sweep).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from busmtl.report import aggregate, figures, stats, summary, tables
from busmtl.report.paper_values import METRICS, TABLE2
from busmtl.report.simulate import simulate

PROFILE = "quick"
FOLDS = range(5)
DWA_OFFSETS = [-0.02, 0.01, -0.03, 0.02, 0.0]


def dice_of(method: str, fold: int) -> float:
    base = 0.70 + 0.01 * fold
    return base + {"ew": 0.0, "atdwa": 0.05, "dwa": DWA_OFFSETS[fold]}[method]


def write_run(run_dir: Path, method: str, fold: int, rng: np.random.Generator) -> None:
    run_dir.mkdir(parents=True)
    d = dice_of(method, fold)
    test = {m: 0.5 for m in METRICS} | {"seg_dice": d, "cls_acc": 0.80 + 0.01 * fold}
    eff = {"peak_memory_mb": 1000.0 * (2 if method == "dwa" else 1), "memory_kind": "cpu_peak_rss",
           "step_time_ms_max": 200.0, "step_time_ms_median": 100.0 * (1.5 if method == "dwa" else 1),
           "epoch_time_s_max": 3.0, "epoch_time_s_median": 2.0, "device": "cpu"}
    metrics = {"test": test, "val": dict(test), "efficiency": eff, "best_epoch": 3, "epochs_run": 4,
               "stopped_early": False}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    epochs = np.arange(1, 5)
    pd.DataFrame({
        "epoch": epochs, "train_loss_seg": 1 / epochs, "train_loss_cls": 0.7 / epochs,
        "val_loss_seg": 1.1 / epochs, "val_loss_cls": 0.8 / epochs, "val_loss_mean": 0.95 / epochs,
        "w_seg": [1, 1, 1.1, 1.2] if method != "ew" else 1.0,
        "w_cls": [1, 1, 0.9, 0.8] if method != "ew" else 1.0,
        "x_temperature": [2.0, 2.0, 2.3, 2.5] if method == "atdwa" else (2.0 if method == "dwa" else np.nan),
    }).to_csv(run_dir / "history.csv", index=False)
    n, size = 6, 16
    masks = np.zeros((n, size, size), np.uint8)
    for i in range(n):
        masks[i, 4:4 + 2 + i, 4:10] = 1
    np.savez_compressed(
        run_dir / "predictions.npz", ids=np.array([f"img{i}" for i in range(n)]),
        labels=np.array([0, 0, 0, 1, 1, 1]), image=rng.integers(0, 255, (n, size, size), dtype=np.uint8),
        mask_true=masks, mask_prob=(masks * 230).astype(np.uint8),
        cls_prob=np.full((n, 2), 0.5, np.float32))
    # per-image table: 10 test images; image i has Dice base + method offset + i/100; dwa's
    # classifier answers "benign" for every image (a collapsed classifier)
    labels = np.array([0] * 7 + [1] * 3)
    pred = np.zeros(10, int) if method == "dwa" else labels.copy()
    if method == "ew":
        pred[0] = 1  # one mistake
    pd.DataFrame({"id": [f"img{i}" for i in range(10)], "label": labels, "cls_pred": pred,
                  "cls_correct": (pred == labels).astype(int),
                  "seg_dice": [d + i / 100 for i in range(10)]}).to_csv(run_dir / "per_image.csv",
                                                                       index=False)
    (run_dir / "config.json").write_text(json.dumps({
        "config": {"method": method, "batch_size": 16, "batch_size_overrides": {"gradnorm": 8}},
        "provenance": {"num_threads": 1, "precision": "fp32", "git_commit": "abc", "cpu": "x"}}))
    (run_dir / "DONE").write_text("{}")


@pytest.fixture
def runs_root(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    summary = []
    for method in ("ew", "atdwa", "dwa"):
        for fold in FOLDS:
            run_dir = tmp_path / PROFILE / method / f"fold{fold}"
            status = "done"
            if method == "atdwa" and fold == 3:
                status = "pending"          # killed before DONE: a folder with no marker
                run_dir.mkdir(parents=True)
            elif method == "dwa" and fold == 4:
                status = "failed"
            else:
                write_run(run_dir, method, fold, rng)
            summary.append({"method": method, "fold": fold, "status": status})
    (tmp_path / PROFILE / "sweep_summary.json").write_text(json.dumps({"runs": summary}))
    return tmp_path


@pytest.fixture
def runs(runs_root: Path) -> pd.DataFrame:
    return aggregate.collect(runs_root, PROFILE)


def test_collect_lists_every_expected_run_with_its_status(runs):
    assert len(runs) == 15
    status = runs.set_index(["method", "fold"])["status"]
    assert status["atdwa", 3] == "pending"
    assert status["dwa", 4] == "failed"
    assert (status.drop([("atdwa", 3), ("dwa", 4)]) == "done").all()
    assert runs.loc[(runs["method"] == "ew") & (runs["fold"] == 2), "test_seg_dice"].item() == pytest.approx(0.72)


def test_completeness_names_the_missing_folds(runs):
    table = aggregate.completeness(runs).set_index("method")
    assert table.loc["ew", "done"] == 5 and table.loc["ew", "not finished"] == ""
    assert table.loc["atdwa", "done"] == 4 and table.loc["atdwa", "not finished"] == "fold 3 (pending)"
    assert table.loc["dwa", "not finished"] == "fold 4 (failed)"


def test_a_method_with_no_run_at_all_still_appears(runs_root):
    runs = aggregate.collect(runs_root, PROFILE, methods=["ew", "gradnorm"], folds=list(FOLDS))
    t2 = tables.table2(runs)
    assert (t2.loc["GradNorm"] == tables.PENDING).all()


def test_mean_std_by_hand(runs):
    ms = tables.mean_std(runs, "test_seg_dice")
    ew = [0.70, 0.71, 0.72, 0.73, 0.74]
    assert ms.loc["ew", "mean"] == pytest.approx(np.mean(ew))
    assert ms.loc["ew", "std"] == pytest.approx(np.std(ew, ddof=1))
    atdwa = [dice_of("atdwa", f) for f in (0, 1, 2, 4)]
    assert ms.loc["atdwa", "mean"] == pytest.approx(np.mean(atdwa))
    assert (ms.loc["atdwa", "n"], ms.loc["atdwa", "expected"]) == (4, 5)


def test_table2_cells_bold_best_and_partial_runs_marked(runs):
    t2 = tables.table2(runs)
    assert list(t2.index) == ["EW (SSC-ResNet)", "ATDWA", "DWA"]
    assert len(t2.columns) == 9 and "Cls Recall" not in t2.columns   # recall repeats accuracy
    ew_mean, ew_std = np.mean([0.70, 0.71, 0.72, 0.73, 0.74]), np.std([0.70, 0.71, 0.72, 0.73, 0.74], ddof=1)
    assert t2.loc["EW (SSC-ResNet)", "Dice"] == f"{ew_mean:.3f} ± {ew_std:.3f}"
    assert t2.loc["ATDWA", "Dice"].startswith("**") and t2.loc["ATDWA", "Dice"].endswith("(4/5)**")
    assert not t2.loc["DWA", "Dice"].startswith("**")
    # a column where all methods tie: nothing is bold (no "best" among ties)
    assert not any(cell.startswith("**") for cell in t2["IoU"])
    # dwa's classifier collapsed on its 4 finished folds: its classification cells say so
    assert t2.loc["DWA", "Cls Acc"].endswith(f"{tables.COLLAPSED_MARK}4")
    assert tables.COLLAPSED_MARK not in t2.loc["DWA", "Dice"]
    assert tables.COLLAPSED_MARK not in t2.loc["ATDWA", "Cls Acc"]
    html = tables.to_html(t2)
    assert "<b>" in html and "**" not in html


def test_table2_vs_paper_difference(runs):
    t = tables.table2_vs_paper(runs)
    ours = float(t.loc[("EW (SSC-ResNet)", "this companion"), "Dice"])
    assert ours == pytest.approx(0.72, abs=1e-3)
    diff = float(t.loc[("EW (SSC-ResNet)", "difference"), "Dice"].replace("\u2212", "-"))
    assert diff == pytest.approx(0.72 - TABLE2["ew"]["seg_dice"], abs=1e-3)
    assert (t.loc[("GradNorm", "this companion")] == tables.PENDING).all()
    assert float(t.loc[("GradNorm", "paper"), "Dice"]) == round(TABLE2["gradnorm"]["seg_dice"], 3)


def test_table1_has_cited_rows_and_our_atdwa(runs):
    t1 = tables.table1(runs)
    assert "ATDWA (this companion)" in t1.index and "ATDWA (paper)" in t1.index
    assert t1.loc["Byra et al.", "IoU"] == "NA"
    assert t1.loc["ATDWA (this companion)", "Dice"].endswith("(4/5)")


def test_table3_ratios_to_ew(runs):
    t3 = tables.table3(runs)
    assert t3.loc["EW (SSC-ResNet)", "Peak memory / EW"] == "1.00x ± 0.00"
    assert t3.loc["DWA", "Peak memory / EW"] == "2.00x ± 0.00"     # four folds beside EW's
    assert t3.loc["DWA", "Median step / EW"] == "1.50x ± 0.00"
    assert tables.ratio_cell(pd.Series([1.0, 1.2])) == "1.10x ± 0.14"
    assert tables.ratio_cell(pd.Series([1.3])) == "1.30x"
    paper = tables.table3_paper()
    assert paper.loc["GradNorm", "Memory / EW"] == "8.46x"
    assert paper.loc["GradNorm", "Peak memory (MiB)"] == "6966"     # 6.8029 GB x 1024


def test_paired_statistics(runs):
    table = stats.paired_vs_baseline(runs).set_index(["method", "metric"])
    atdwa = table.loc[("ATDWA", "Dice")]
    assert atdwa["folds"] == 4                      # fold 3 is missing: only paired folds count
    assert atdwa["mean difference"] == pytest.approx(0.05)
    assert atdwa["verdict"] == "better"             # a constant gain on every fold
    dwa = table.loc[("DWA", "Dice")]
    assert dwa["folds"] == 4
    assert dwa["mean difference"] == pytest.approx(np.mean(DWA_OFFSETS[:4]))
    from scipy.stats import ttest_rel
    a = [dice_of("dwa", f) for f in range(4)]
    b = [dice_of("ew", f) for f in range(4)]
    assert dwa["paired t p"] == pytest.approx(ttest_rel(a, b).pvalue)
    assert dwa["verdict"] == "within fold noise"
    assert table.loc[("DWA", "IoU"), "verdict"] == "n/a"   # identical values: nothing to test


def test_histories_and_figures(runs):
    hist = aggregate.histories(runs)
    assert set(hist["method"]) == {"ew", "atdwa", "dwa"} and len(hist) == 13 * 4
    weights = figures.weights_figure(hist)
    # one panel per method, each with a segmentation and a classification curve
    assert [ax.get_title() for ax in weights.axes[:3]] == ["EW (SSC-ResNet)", "ATDWA", "DWA"]
    assert all(len(ax.get_lines()) == 2 for ax in weights.axes[:3])
    temperature = figures.temperature_figure(hist)
    labels = [line.get_label() for line in temperature.axes[0].get_lines()]
    assert labels == ["ATDWA", "DWA"]  # the methods that have a temperature, ew has none
    atdwa_line = temperature.axes[0].get_lines()[0]
    assert list(atdwa_line.get_ydata()) == [2.0, 2.0, 2.3, 2.5]
    quali = figures.qualitative_figure(runs, fold=0, per_class=2)
    assert len(quali.axes) == 4 * 4  # 2 benign + 2 malignant images x (truth + 3 methods)
    for fig in (weights, temperature, quali, figures.loss_figure(hist)):
        matplotlib.pyplot.close(fig)


def test_fold_and_per_image_figures(runs):
    fig = figures.fold_comparison_figure(runs, ["ew", "dwa", "atdwa"])
    ax = fig.axes[0]
    # one grey line per fold with at least one of the methods, one black mean bar per method
    assert len(ax.get_lines()) == 5 and len(ax.collections) == 3 + 3
    assert [t.get_text() for t in ax.get_xticklabels()] == ["EW", "DWA", "ATDWA"]
    matplotlib.pyplot.close(fig)
    box = figures.per_image_figure(aggregate.per_image(runs), ["ew", "atdwa"])
    medians = [line.get_ydata()[0] for line in box.axes[0].lines[4::6]]  # boxplot median lines
    # each method averaged over its own finished folds: ew over 0-4, atdwa over 0, 1, 2, 4
    ew_mean = np.mean([0.70 + 0.01 * f for f in range(5)])
    atdwa_mean = np.mean([0.75 + 0.01 * f for f in (0, 1, 2, 4)])
    assert medians[1] - medians[0] == pytest.approx(atdwa_mean - ew_mean)
    matplotlib.pyplot.close(box)


def test_qualitative_examples_are_typical_not_extreme(runs):
    pred = aggregate.predictions(runs.iloc[0]["run_dir"])
    chosen = figures.choose_examples(pred, per_class=1)
    assert chosen == [1, 4]                         # the median-area image of each class
    # a frame filed under both classes is never the typical case: the next closest is taken
    second = figures.choose_examples(pred, per_class=1, exclude={str(pred["ids"][1])})
    assert second[1] == 4 and second[0] != 1 and pred["labels"][second[0]] == 0


@pytest.mark.parametrize("method", ["ew", "dwa", "atdwa", "gradnorm", "uw"])
def test_simulation_weights_are_finite_and_sum_to_k(method):
    frame = simulate(method, epochs=4, steps=3)
    w = frame[["w_seg", "w_cls"]].to_numpy()
    assert np.isfinite(w).all()
    if method in ("ew", "dwa", "atdwa", "gradnorm"):
        assert np.allclose(w.sum(1), 2.0, atol=1e-5)


def test_comparison_figure_shows_the_temperature_only_when_one_changes():
    """DWA's fixed T alone is no panel; beside ATDWA, whose T moves, both are drawn."""
    from busmtl.report.simulate import comparison_figure

    dwa, atdwa, ew = (simulate(m, epochs=5, steps=2) for m in ("dwa", "atdwa", "ew"))
    fixed = comparison_figure({"toy": {"dwa": dwa, "ew": ew}})
    moving = comparison_figure({"calm": {"dwa": dwa, "ew": ew}, "other": {"dwa": dwa, "atdwa": atdwa}})
    assert len(fixed.axes) == 2 and len(moving.axes) == 6
    assert [line.get_label() for line in moving.axes[5].get_lines()] == ["DWA", "ATDWA"]
    for fig in (fixed, moving):
        matplotlib.pyplot.close(fig)


def test_sphinx_roles_of_docstrings_become_inline_code():
    """The methods chapter's table of torchjd weighters quotes class docstrings: their roles
    show as code, with what Sphinx would show (``~``: the last component; a title)."""
    import re

    from busmtl.report.markup import roles_as_code
    from busmtl.report.pages import families_table

    assert roles_as_code("see :class:`torchjd.scalarization.Random`; ``x``") == (
        "see `torchjd.scalarization.Random`; ``x``")
    assert roles_as_code(":meth:`network_parameters` returns them") == (
        "`network_parameters` returns them")
    assert roles_as_code(":py:class:`~a.b.C`, :func:`the rule <a.rule>`") == "`C`, `the rule`"
    equations = families_table()["equation"]
    assert not any(re.search(r":[a-z]+:`", e) for e in equations)
    assert any("`torchjd.scalarization." in e for e in equations)


def test_paired_matrix_cells(runs):
    matrix = stats.paired_matrix(stats.paired_vs_baseline(runs))
    assert list(matrix.columns) == ["ATDWA", "DWA"] and len(matrix) == len(METRICS)
    assert matrix.loc["Dice", "ATDWA"].startswith("**+0.050") and matrix.loc["Dice", "ATDWA"].endswith("better**")
    assert matrix.loc["IoU", "DWA"] == "identical"
    assert not matrix.loc["Dice", "DWA"].startswith("**")


def test_collapsed_classifiers_are_flagged(runs):
    done = runs[runs["status"] == "done"].set_index(["method", "fold"])
    assert done.loc[("dwa", 0), "collapsed"] and done.loc[("dwa", 0), "predicted_share"] == 1.0
    assert not done.loc[("ew", 0), "collapsed"] and done.loc[("ew", 0), "predicted_share"] == 0.6
    assert done.loc[("ew", 0), "majority_share"] == pytest.approx(0.7)


def test_fold_difference_interval_by_hand(runs):
    d = stats.fold_difference(runs, "dwa", "ew", "seg_dice")
    diffs = np.array(DWA_OFFSETS[:4])
    assert d.n == 4 and d.mean == pytest.approx(diffs.mean())
    from scipy.stats import t
    half = t.ppf(0.975, 3) * diffs.std(ddof=1) / 2.0
    assert (d.low, d.high) == pytest.approx((diffs.mean() - half, diffs.mean() + half))
    assert d.verdict == "no clear difference"
    constant = stats.fold_difference(runs, "atdwa", "ew", "seg_dice")
    assert constant.n == 4 and constant.low == constant.high == pytest.approx(0.05)
    assert constant.verdict == "better"
    assert stats.fold_difference(runs, "ew", "atdwa", "seg_dice").verdict == "worse"


def test_image_bootstrap_by_hand(runs):
    per_image = aggregate.per_image(runs)
    d = stats.image_bootstrap(per_image, "atdwa", "ew", "seg_dice", resamples=2000)
    # atdwa - ew is 0.05 on every image of every common fold: no spread at all
    assert d.n == 10 and d.mean == pytest.approx(0.05)
    assert d.low == pytest.approx(0.05) and d.high == pytest.approx(0.05)
    acc = stats.image_bootstrap(per_image, "ew", "dwa", "cls_correct", resamples=2000, seed=1)
    # ew is right on the 3 malignant images dwa gets wrong and wrong on one benign image
    assert acc.mean == pytest.approx((3 - 1) / 10)
    assert acc.low < acc.mean < acc.high
    same = stats.image_bootstrap(per_image, "ew", "dwa", "cls_correct", resamples=2000, seed=1)
    assert (same.low, same.high) == (acc.low, acc.high)  # seeded


def test_answer_states_the_intervals_and_the_verdict(runs):
    per_image = aggregate.per_image(runs)
    verdict, text = summary.answer(runs, per_image)
    assert verdict.startswith("ATDWA is clearly better than DWA in test Dice")
    assert ("Against EW (SSC-ResNet), ATDWA differs in test Dice by +0.050 [+0.050, +0.050] over "
            "the 4 folds (+0.050 [+0.050, +0.050] over the 10 test images)") in text
    missing, _ = summary.answer(runs[runs["method"] != "atdwa"], per_image)
    assert missing.startswith("The comparison cannot be made") and "ATDWA" in missing


def test_deviations_table_labels_every_row():
    from busmtl.report.protocol import CHOICE, DEVIATION, SAME, deviations_table

    paper = deviations_table("paper")
    cpu = deviations_table("busi-cpu")
    assert paper.loc["image size", "status"] == SAME
    assert cpu.loc["image size", "status"] == DEVIATION and "96" in cpu.loc["image size", "busi-cpu"]
    assert cpu.loc["decoder widths", "status"] == CHOICE
    # online augmentation departs from the paper's offline expansion; the paper profile's does not
    assert cpu.loc["augmentation", "status"] == DEVIATION
    assert paper.loc["augmentation", "status"] != DEVIATION
    assert cpu.loc["GradNorm", "status"] == CHOICE and cpu.loc["GradNorm", "why"]
    assert (cpu.loc[cpu["status"] == DEVIATION, "why"] != "").all()
    # the window of ATDWA holds finished epochs only, and the head-only dropout: both deviate
    assert cpu.loc["ATDWA", "status"] == DEVIATION and "finished" in cpu.loc["ATDWA", "busi-cpu"]
    assert cpu.loc["dropout", "status"] == DEVIATION
    # the leak-free profile's grouped split deviates from the paper's split by image; the
    # reference profile's does not; the seeds are a choice (the paper does not state them)
    grouped = deviations_table("busi-cpu-grouped")
    assert cpu.loc["split", "status"] == SAME and grouped.loc["split", "status"] == DEVIATION
    assert grouped.loc["seeds", "status"] == CHOICE
    assert grouped.loc["seeds", "busi-cpu-grouped"].startswith("0, 1, 2 (3 runs")


def test_myst_table_is_a_numbered_table_directive():
    frame = pd.DataFrame({"a|b": ["**1**", "x"]}, index=pd.Index(["m1", "m2"], name="method"))
    md = tables.myst_table(frame, "A caption", "tab-a").data
    lines = md.splitlines()
    assert lines[0] == ":::{table} A caption" and lines[1] == ":name: tab-a"
    assert "| method | a\\|b |" in md and "| m1 | **1** |" in md and lines[-1] == ":::"
    plain = tables.myst_table(frame, "No index", "tab-b", index=False).data
    assert "| a\\|b |" in plain and "method" not in plain


def test_the_numbers_the_prose_quotes_about_folds_are_computed():
    from busmtl.report import stats as report_stats

    assert round(report_stats.t_quantile(5), 2) == 2.78  # 4 degrees of freedom, 95 %
    assert report_stats.fold_overlap_text(5) == "three quarters"  # 3 of the 4 training parts
    assert report_stats.fold_overlap_text(3) == "half"
    assert report_stats.fold_overlap_text(10) == "8/9"

"""The benchmark of every weighter: every registered method planned, pending ones shown."""

from __future__ import annotations

import json

from busmtl.config import PROFILES
from busmtl.report import benchmark
from busmtl.weighting import available


def test_every_registered_weighter_is_planned_once():
    planned = [*PROFILES["busi-cpu-grouped"].methods, *PROFILES["busi-cpu-benchmark"].methods]
    assert sorted(planned) == sorted(available())
    same = {k: v for k, v in PROFILES["busi-cpu-benchmark"].settings.items()}
    assert same == PROFILES["busi-cpu-grouped"].settings  # one protocol for all methods


def test_methods_without_runs_are_pending_and_costs_are_read(tmp_path):
    runs = benchmark.collect(tmp_path)  # no run folders at all
    table = benchmark.table(runs, {"ew": {"cpu_time_ratio": 1.0}, "mgda": {"cpu_time_ratio": 1.7}})
    assert len(table) == len(available())
    assert (table["Dice"] == "pending").all() and (table["accuracy \u2212 EW"] == "\u2013").all()
    by_method = table.set_index("method")
    assert by_method.loc["MGDA", "CPU time / EW"] == "1.70"
    assert by_method.loc["UPGrad", "CPU time / EW"] == "not measured"
    assert benchmark.count(runs) == (0, len(runs))
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"rows": [{"method": "ew", "cpu_time_ratio": 1.0,
                                          "time_ratio": 1.0}]}))
    assert benchmark.costs(path) == {"ew": {"cpu_time_ratio": 1.0, "time_ratio": 1.0}}
    assert benchmark.costs(tmp_path / "absent.json") == {}


def test_the_tradeoff_figure_is_drawn_without_any_finished_run(tmp_path):
    import matplotlib.pyplot as plt

    fig = benchmark.tradeoff_figure(benchmark.collect(tmp_path), {"ew": {"cpu_time_ratio": 1.0}})
    assert "pending" in fig.texts[0].get_text()
    plt.close(fig)


def test_the_tradeoff_figure_keeps_crowded_names_apart():
    import itertools

    import matplotlib.pyplot as plt
    import pandas as pd

    methods = ["ew", "dwa", "atdwa", "rlw", "gls", "imtl_l", "upgrad", "mgda"]
    # six methods within 0.02 of each other in cost and 0.005 in both metrics; two far away
    # stretch the axes, so that the six names written at their points would overlap
    runs = pd.DataFrame({"method": methods, "status": "done",
                         "test_seg_dice": [0.600 + 0.001 * i for i in range(6)] + [0.50, 0.70],
                         "test_cls_acc": [0.770 + 0.001 * (i % 3) for i in range(6)]
                         + [0.70, 0.85]})
    cost = {m: {"cpu_time_ratio": 1.0 + 0.003 * i} for i, m in enumerate(methods[:6])}
    cost |= {"upgrad": {"cpu_time_ratio": 1.5}, "mgda": {"cpu_time_ratio": 2.0}}
    fig = benchmark.tradeoff_figure(runs, cost)
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        boxes = [t.get_window_extent(renderer) for t in ax.texts]
        assert len(boxes) == len(methods)
        overlapping = [(a, b) for a, b in itertools.combinations(boxes, 2) if a.overlaps(b)]
        assert not overlapping
    plt.close(fig)


def test_cost_ratios_carry_their_spread_over_rounds():
    cost = {"ew": {"cpu_time_ratio": 1.0, "cpu_time_ratio_rounds": [1.0, 1.0]},
            "dwa": {"cpu_time_ratio": 1.086, "cpu_time_ratio_rounds": [1.018, 1.141],
                    "step_memory_ratio": 0.954},
            "atdwa": {"cpu_time_ratio": 0.93, "cpu_time_ratio_rounds": [0.96, 1.01]},
            "uw": {"cpu_time_ratio": 0.97}}
    assert benchmark.ratio_text(cost["dwa"]) == "1.09 (rounds 1.02, 1.14)"
    assert benchmark.ratio_text(cost["uw"]) == "0.97"
    assert benchmark.ratio_text(None) == "not measured"
    rows = benchmark.cost_table(["ew", "dwa", "atdwa", "uw", "gradnorm"], cost).set_index("method")
    assert rows.loc["DWA", "CPU time per step / EW, pooled"] == "1.09"
    assert rows.loc["DWA", "in each round"] == "1.02, 1.14"
    assert rows.loc["ATDWA", "in each round"] == "0.96, 1.01"   # pooled 0.93 lies outside
    assert rows.loc["DWA", "memory added by a step / EW"] == "0.95"
    assert rows.loc["UW", "in each round"] == "\u2013"
    assert rows.loc["GradNorm", "CPU time per step / EW, pooled"] == "not measured"


def test_a_gradient_method_measured_over_the_representation_keeps_both_costs(tmp_path):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"rows": [
        {"method": "ew", "jacobian": None, "cpu_time_ratio": 1.0},
        {"method": "mgda", "jacobian": "parameters", "cpu_time_ratio": 1.6},
        {"method": "mgda", "jacobian": "representation", "cpu_time_ratio": 1.1},
    ]}))
    cost = benchmark.costs(path)
    assert cost["mgda"]["cpu_time_ratio"] == 1.6
    assert cost["mgda"]["representation"] == {"cpu_time_ratio": 1.1}
    assert "representation" not in cost["ew"]


def test_the_command_behind_the_costs_is_rebuilt_from_the_json(tmp_path):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"settings": {"image_size": 96, "batch_size": 16,
                                             "encoder": "resnet18", "steps": 3, "warmup": 1,
                                             "repeats": 2, "threads": 1, "jacobian": "both",
                                             "seed": 0, "device": "auto"}, "rows": []}))
    assert benchmark.command(path) == (
        "busmtl bench weighting --methods all --image-size 96 --batch-size 16 --encoder resnet18 "
        "--steps 3 --warmup 1 --repeats 2 --threads 1 --jacobian both")
    assert benchmark.command(tmp_path / "absent.json") == "busmtl bench weighting --methods all"


def test_the_sentence_on_clear_differences_counts_them_against_chance():
    from busmtl.report.headline import Estimate

    null = Estimate(0.01, -0.02, 0.04, 5, 100)
    clear = Estimate(0.08, 0.02, 0.15, 5, 100)
    one_fold = Estimate(0.09, 0.03, 0.15, 1, 100)  # too narrow to judge by: not counted as clear
    estimates = {("mgda", "Dice"): null, ("mgda", "accuracy"): null,
                 ("aligned_mtl", "Dice"): clear, ("aligned_mtl", "accuracy"): null,
                 ("imtl_l", "Dice"): one_fold, ("imtl_l", "accuracy"): None}
    text = benchmark.clear_sentence(estimates)
    assert text.startswith("1 of the 5 differences to EW has an interval without zero: "
                           "Aligned-MTL's Dice (+0.080 [+0.020, +0.150], 5 folds)")
    assert text.endswith("not evidence that a method is better or worse than EW.")
    assert "about 0.2 would exclude zero by chance alone" in text and "IMTL-L" not in text
    none = benchmark.clear_sentence({("mgda", "Dice"): null})
    assert none.startswith("None of the 1 differences") and "best" not in none
    assert benchmark.clear_sentence({}) == "No difference to EW can be estimated yet."


def test_a_method_with_runs_pending_is_left_out_of_the_count_of_clear_differences():
    from busmtl.report.headline import Estimate

    null = Estimate(0.01, -0.02, 0.04, 5, 100)
    two_folds = Estimate(-0.06, -0.10, -0.02, 2, 100)  # clear, but on 2 of 5 folds
    estimates = {("mgda", "Dice"): null, ("config", "Dice"): two_folds,
                 ("config", "accuracy"): null}
    text = benchmark.clear_sentence(estimates, ["config"])
    assert text.startswith("None of the 1 differences to EW has an interval without zero.")
    assert text.endswith("ConFIG is left out of this count until all of its folds have finished.")
    assert "ConFIG" in benchmark.clear_sentence(estimates).split(":")[1]  # counted once finished
    # a method without any estimate yet is not named
    assert "FairGrad" not in benchmark.clear_sentence(estimates, ["config", "fairgrad"])


def test_the_seed_sentence_sizes_seed_noise_against_the_differences():
    import math

    from busmtl.report.headline import Estimate

    estimates = {("mgda", "Dice"): Estimate(0.01, -0.02, 0.04, 5, 100),
                 ("upgrad", "Dice"): Estimate(-0.03, -0.06, 0.0, 5, 100),
                 ("mgda", "accuracy"): Estimate(0.001, -0.02, 0.02, 5, 100)}
    # sd 0.0316 per run over seeds; a difference of two 5-fold means: 0.0316 * sqrt(2/5) = 0.020
    text = benchmark.seed_sentence(estimates, 0.0316)
    assert text.startswith("These intervals resample the folds and test images of one seed")
    assert "moves one run's test Dice by 0.032" in text
    assert "means over 5 folds moves by about 0.020 with the seed alone" in text
    assert text.endswith("; 1 of the 2 Dice differences to EW is smaller than that.")
    unknown = benchmark.seed_sentence(estimates, math.nan)
    assert unknown.endswith("How much a seed moves a result cannot be measured yet.")


def test_methods_part_way_are_counted_and_labelled_in_the_figure():
    import matplotlib.pyplot as plt
    import pandas as pd

    runs = pd.DataFrame({"method": ["ew"] * 2 + ["config"] * 5 + ["fairgrad"] * 5,
                         "status": ["done"] * 2 + ["done"] * 2 + ["pending"] * 3
                         + ["pending"] * 5,
                         "test_seg_dice": [0.6] * 4 + [float("nan")] * 8,
                         "test_cls_acc": [0.8] * 4 + [float("nan")] * 8})
    assert benchmark.partial(runs) == {"config": (2, 5)}
    fig = benchmark.tradeoff_figure(runs, {"ew": {"cpu_time_ratio": 1.0},
                                           "config": {"cpu_time_ratio": 2.2}})
    names = {t.get_text() for t in fig.axes[0].texts}
    assert names == {"EW", "ConFIG (2/5)"}
    assert [ax.get_ylabel() for ax in fig.axes] == ["test Dice", "test accuracy"]
    assert fig.texts[0].get_text() == "pending: FairGrad"
    plt.close(fig)


def test_the_machine_behind_the_costs_is_read_from_the_json(tmp_path):
    path = tmp_path / "bench.json"
    env = {"torch_version": "2.14.1+cu130", "cpu_count": 2, "cpu_capability": "AVX2",
           "cpu": "AMD EPYC", "cuda_device": None}
    path.write_text(json.dumps({"environment": env}))
    assert benchmark.machine(path) == "AMD EPYC, 2 cores, AVX2, torch 2.14.1"
    path.write_text(json.dumps({"environment": {**env, "cuda_device": "NVIDIA H200"}}))
    assert benchmark.machine(path).startswith("NVIDIA H200, 2 cores")
    del env["cpu"], env["cpu_capability"]
    path.write_text(json.dumps({"environment": env}))
    assert benchmark.machine(path) == ("a 2-core machine whose CPU model it did not record, "
                                       "with torch 2.14.1")
    assert "no benchmark" in benchmark.machine(tmp_path / "absent.json")


def test_finished_runs_give_values_and_a_collapsed_classifier_is_flagged():
    from busmtl.settings import repo_root

    runs = benchmark.collect(repo_root() / "book" / "runs")
    done = runs[(runs["method"] == "dwa") & (runs["status"] == "done")]
    if len(done) < 2:
        import pytest

        pytest.skip("needs two finished seed-0 DWA runs of busi-cpu-grouped in book/runs")
    runs.loc[done.index[0], "collapsed"] = True
    by_method = benchmark.table(runs, {}).set_index("method")
    assert by_method.loc["DWA", "accuracy"].endswith("\u2020" + "1")
    assert not by_method.loc["EW", "accuracy"].endswith("\u2020" + "1")
    assert by_method.loc["EW", "Dice \u2212 EW"] == "(baseline)"
    assert by_method.loc["DWA", "Dice \u2212 EW"].count("[") == 1  # value with its interval
    assert by_method.loc["MGDA", "runs"].endswith("/5")


def test_the_cost_sentence_gives_each_family_its_range_and_names_the_expensive_ones():
    cost = {"ew": {"cpu_time_ratio": 1.0}, "dwa": {"cpu_time_ratio": 1.02},
            "dbmtl": {"cpu_time_ratio": 1.49},
            "mgda": {"cpu_time_ratio": 1.6, "representation": {"cpu_time_ratio": 1.0}},
            "config": {"cpu_time_ratio": 2.6, "representation": {"cpu_time_ratio": 1.4}}}
    text = benchmark.cost_sentence(cost)
    assert "costs 1.60\u20132.60 times EW's CPU time with the Jacobian over the shared " \
           "parameters (above the target of 2: ConFIG)" in text
    assert "1.00\u20131.40 times with the Jacobian over the shared representation (above the target of 1.3: " \
           "ConFIG)" in text
    assert ("a method that weighs the losses only costs 1.02 times EW's (none above the target "
            "of 1.05)") in text
    # DB-MTL takes gradients of its own: judged against its own target, not the loss-only one
    assert "of the methods that take gradients of their own, DB-MTL 1.49 times (target 1.5)" in text
    assert ("The targets are the costs this project set out to stay within: 2 times EW for a "
            "gradient-balancing method with the Jacobian over the shared parameters, 1.3 over "
            "the representation and 1.05 for a method that weighs the losses only.") in text
    only = benchmark.cost_sentence({"ew": {"cpu_time_ratio": 1.0}, "dwa": {"cpu_time_ratio": 1.02}})
    assert "costs 1.02 times EW's (none above the target of 1.05)" in only and "gradient" not in only
    assert only.count("target") == 2 and "1.05 for a method that weighs the losses only" in only
    assert benchmark.cost_sentence({}) == "The cost of the methods has not been measured yet."
    # a round on each side of the target: neither above nor below it, named as such
    near = {"ew": {"cpu_time_ratio": 1.0},
            "graddrop": {"cpu_time_ratio": 2.01, "cpu_time_ratio_rounds": [2.00, 2.18]},
            "config": {"cpu_time_ratio": 2.19, "cpu_time_ratio_rounds": [2.10, 2.28]},
            "gradvac": {"cpu_time_ratio": 1.57, "cpu_time_ratio_rounds": [1.62, 2.17]},
            "uw": {"cpu_time_ratio": 1.04, "cpu_time_ratio_rounds": [0.93, 1.06]}}
    text = benchmark.cost_sentence(near)
    assert ("(above the target of 2: ConFIG; GradDrop and GradVac within the rounds' spread "
            "of it)") in text
    assert "(none above the target of 1.05; UW within the rounds' spread of it)" in text
    rounds = {"ew": {"cpu_time_ratio": 1.0, "cpu_time_ratio_rounds": [1.0, 1.0]},
              "dwa": {"cpu_time_ratio": 1.0, "cpu_time_ratio_rounds": [0.9, 1.1]},
              "mgda": {"cpu_time_ratio": 1.6, "cpu_time_ratio_rounds": [1.5, 1.6],
                       "representation": {"cpu_time_ratio": 1.0,
                                          "cpu_time_ratio_rounds": [1.0, 1.4]}}}
    # spreads 0, 0.2, 0.1, 0.4: the largest 0.40, the median 0.15
    assert "moved by up to 0.40 (median 0.15)" in benchmark.cost_sentence(rounds)
    assert "below 1" not in benchmark.cost_sentence(rounds)
    rounds["dwa"]["cpu_time_ratio"] = 0.93
    assert ("A ratio below 1 (the lowest is 0.93) is such noise"
            in benchmark.cost_sentence(rounds))


def test_a_difference_resting_on_one_fold_is_marked():
    import pytest

    from busmtl.report.tables import ONE_FOLD_MARK
    from busmtl.settings import repo_root

    runs = benchmark.collect(repo_root() / "book" / "runs")
    dwa = runs[(runs["method"] == "dwa") & (runs["status"] == "done")]
    if len(dwa) < 2:
        pytest.skip("needs two finished seed-0 DWA runs of busi-cpu-grouped in book/runs")
    full = benchmark.table(runs, {}).set_index("method").loc["DWA"]
    one = benchmark.table(runs.drop(index=dwa.index[1:]), {}).set_index("method").loc["DWA"]
    for column in ("Dice \u2212 EW", "accuracy \u2212 EW"):
        assert not full[column].endswith(ONE_FOLD_MARK)
        assert one[column].endswith(" " + ONE_FOLD_MARK) and one[column].count("[") == 1
    assert one["runs"] == "1/5"

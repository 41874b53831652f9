"""The aggregation benchmark on tiny settings (no timing asserted) and the sentence it feeds."""

from __future__ import annotations

import json
import statistics

import pytest

from busmtl.bench.aggregators import ew_setup, summarise, training_jacobians
from busmtl.report import benchmark

TINY = ["--image-size", "32", "--batch-size", "2", "--encoder", "resnet18", "--calls", "1",
        "--repeats", "1", "--threads", "1"]


def test_the_jacobians_are_each_tasks_gradient_at_consecutive_training_steps():
    import torch

    from busmtl.models import SSCResNet
    from busmtl.training.step import network_losses
    from busmtl.weighting.base import unique_parameters

    matrices = training_jacobians("resnet18", 32, 2, 2, ["parameters", "representation"])
    encoder = SSCResNet(encoder="resnet18").unet.encoder
    n_params = sum(p.numel() for p in encoder.parameters())
    # ResNet-18's five stages at strides 2-32 of a 32 px image: 64x16x16, 64x8x8, 128x4x4,
    # 256x2x2, 512x1x1 per image (the input itself carries no gradient), two images
    n_rep = 2 * (64 * 256 + 64 * 64 + 128 * 16 + 256 * 4 + 512)
    assert [tuple(m.shape) for m in matrices["parameters"]] == [(2, n_params)] * 2
    assert [tuple(m.shape) for m in matrices["representation"]] == [(2, n_rep)] * 2
    assert not torch.equal(matrices["parameters"][0], matrices["parameters"][1])  # it trained
    # the rows of the first Jacobian add up to the gradient of L_seg + L_cls (EW's, before any
    # update), taken here on the same seeded network and batch, up to float rounding (the
    # gradients of a random network reach thousands)
    model, _, _, batch = ew_setup("resnet18", 32, 2)
    sum(network_losses(model, batch, torch.device("cpu"), "fp32").terms).backward()
    ew = torch.cat([p.grad.reshape(-1) for p in unique_parameters(model.shared_parameters())])
    scale = float(ew.abs().max())
    torch.testing.assert_close(matrices["parameters"][0].sum(0), ew, rtol=0, atol=1e-5 * scale)


def test_every_aggregation_is_timed_beside_an_ew_step(tmp_path, capsys):
    from busmtl.cli import main

    out = tmp_path / "agg.json"
    code = main(["bench", "aggregators", *TINY, "--methods", "upgrad,config", "--jacobian",
                 "both", "--out", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert {(r["method"], r["jacobian"]) for r in report["rows"]} == {
        ("upgrad", "parameters"), ("config", "parameters"),
        ("upgrad", "representation"), ("config", "representation")}
    ew = report["ew_step_ms_median"]
    assert ew == statistics.median(report["ew_step_ms"]) > 0
    for r in report["rows"]:
        assert r["columns"] == report["sizes"][r["jacobian"]]
        assert r["in_ew_steps"] == pytest.approx(r["median_ms"] / ew)
    assert report["settings"]["jacobian"] == "both"
    printed = capsys.readouterr().out
    assert "ew step" in printed and "config" in printed and str(out) in printed


@pytest.mark.parametrize("bad", [["--methods", "ew"], ["--image-size", "30"], ["--calls", "0"]])
def test_bad_options_are_refused_before_anything_is_written(tmp_path, bad):
    from busmtl.bench.aggregators import main

    out = tmp_path / "agg.json"
    assert main([*TINY, *bad, "--out", str(out)]) == 2
    assert not out.exists()


def test_summarise_gives_each_median_in_ew_steps_sorted_by_jacobian_then_time():
    result = {"ew_step_ms": [10.0, 20.0, 30.0],
              "rows": [{"method": "a", "jacobian": "representation", "columns": 5, "ms": [1.0]},
                       {"method": "b", "jacobian": "parameters", "columns": 9, "ms": [4.0, 6.0]},
                       {"method": "c", "jacobian": "parameters", "columns": 9, "ms": [2.0]}]}
    rows = summarise(result)
    assert [r["method"] for r in rows] == ["c", "b", "a"]
    assert [r["median_ms"] for r in rows] == [2.0, 5.0, 1.0]
    assert [r["in_ew_steps"] for r in rows] == [0.1, 0.25, 0.05]


def _write(tmp_path, rows):
    path = tmp_path / "agg.json"
    path.write_text(json.dumps({"settings": {"methods": "all", "calls": 3}, "rows": rows}))
    return path


def test_the_sentence_says_whether_the_aggregation_accounts_for_a_missed_target(tmp_path):
    cost = {"config": {"cpu_time_ratio": 2.6, "representation": {"cpu_time_ratio": 1.2}},
            "nash_mtl": {"cpu_time_ratio": 1.7, "representation": {"cpu_time_ratio": 1.5}},
            "upgrad": {"cpu_time_ratio": 1.5, "representation": {"cpu_time_ratio": 1.1}}}
    path = _write(tmp_path, [
        {"method": "config", "jacobian": "parameters", "in_ew_steps": 1.1},
        {"method": "nash_mtl", "jacobian": "parameters", "in_ew_steps": 0.07},
        {"method": "upgrad", "jacobian": "parameters", "in_ew_steps": 0.03},
        {"method": "config", "jacobian": "representation", "in_ew_steps": 0.3},
        {"method": "nash_mtl", "jacobian": "representation", "in_ew_steps": 0.02},
        {"method": "upgrad", "jacobian": "representation", "in_ew_steps": 0.01}])
    text = benchmark.aggregation_sentence(cost, path)
    assert "`busmtl bench aggregators --methods all --calls 3`" in text
    # ConFIG: 2.6 - 2.0 = 0.6 excess <= 1.1 of aggregation; Nash-MTL: 1.5 - 1.3 = 0.2 > 0.02
    assert ("over the shared parameters, 1.10 for ConFIG (whose pooled step ratio is above the "
            "target of 2 times EW) and at most 0.07 for the others") in text
    assert ("over the representation, 0.02 for Nash-MTL (whose pooled step ratio is above the "
            "target of 1.3 times EW) and at most 0.30 for the others") in text
    assert ("For ConFIG (shared parameters) the aggregation alone costs at least the step's "
            "excess over the target: the aggregator puts it over") in text
    assert "For Nash-MTL (representation) it is not" in text


def test_without_a_missed_target_or_a_measurement_the_sentence_says_less(tmp_path):
    cost = {"upgrad": {"cpu_time_ratio": 1.5}}
    path = _write(tmp_path, [{"method": "upgrad", "jacobian": "parameters", "in_ew_steps": 0.03}])
    text = benchmark.aggregation_sentence(cost, path)
    assert "over the shared parameters, at most 0.03 for every method." in text
    assert "For " not in text
    assert benchmark.aggregation_sentence(cost, tmp_path / "absent.json") == ""

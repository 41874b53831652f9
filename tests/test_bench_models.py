"""The models benchmark runs on tiny settings and writes its report (no timing asserted)."""

from __future__ import annotations

import json


def test_bench_models_counts_every_variant_and_times_both_networks(tmp_path, capsys):
    from busmtl.cli import main
    from busmtl.models.interaction import ABLATION_VARIANTS

    out = tmp_path / "models.json"
    code = main(["bench", "models", "--image-size", "32", "--batch-size", "2", "--steps", "1",
                 "--warmup", "0", "--decoder-channels", "16,8,8,8,8", "--out", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    rows = {r["network"]: r for r in report["rows"]}
    assert set(rows) == {"ssc_resnet", "interaction",
                         *(f"interaction/{v}" for v in ABLATION_VARIANTS)}
    assert rows["ssc_resnet"]["time_ratio"] == 1.0 and rows["ssc_resnet"]["parameter_ratio"] == 1.0
    assert rows["interaction"]["step_ms_median"] > 0 and "step_ms" not in rows["interaction/tim"]
    assert rows["interaction"]["cpu_ms_median"] > 0 and rows["ssc_resnet"]["cpu_ratio"] == 1.0
    assert rows["interaction"]["parameters"] == rows["interaction/full"]["parameters"]
    base = rows["interaction/baseline"]
    for r in rows.values():  # counts are additive over the switched-on modules
        if r["network"].startswith("interaction/"):
            extra = sum(r["module_parameters"][m] for m in r["modules"] if m != "attention_gates")
            assert r["parameters"] == base["parameters"] + extra
    assert report["settings"]["threads"] == 1 and report["settings"]["channels_last"]
    printed = capsys.readouterr().out
    assert "interaction/tim_upa" in printed and "time x" in printed


def test_bench_models_times_each_precision_against_fp32_in_one_run(tmp_path, capsys):
    from busmtl.cli import main

    out = tmp_path / "models.json"
    assert main(["bench", "models", "--image-size", "32", "--batch-size", "2", "--steps", "1",
                 "--warmup", "0", "--decoder-channels", "16,8,8,8,8", "--precisions",
                 "fp32,bf16", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    rows = {r["network"]: r for r in report["rows"]}
    assert report["settings"]["precisions"] == ["fp32", "bf16"]
    assert rows["ssc_resnet"]["precision_ratio"] == 1.0
    bf16 = rows["ssc_resnet [bf16]"]
    assert bf16["precision"] == "bf16" and bf16["cpu_ms_median"] > 0
    assert bf16["precision_ratio"] == bf16["cpu_ms_median"] / rows["ssc_resnet"]["cpu_ms_median"]
    assert "interaction/tim" in rows and "interaction/tim [bf16]" not in rows  # untimed variant
    assert "vs fp32" in capsys.readouterr().out


def test_a_step_with_a_non_finite_loss_is_counted_and_not_timed():
    """A diverging step stops before its backward pass: the benchmark reports it instead of
    failing, and does not time it as if it were a full step."""
    import torch

    from busmtl.bench.models import step_times
    from busmtl.models import build

    model = build("ssc_resnet", encoder="resnet18", encoder_weights=None,
                  decoder_channels=(16, 8, 8, 8, 8))
    image = torch.randn(2, 3, 32, 32)
    image[0, 0, 0, 0] = float("nan")   # every forward pass gives NaN losses
    mask = torch.zeros(2, 1, 32, 32)
    wall, cpu, non_finite = step_times(model, image, mask, torch.tensor([0, 1]), steps=2,
                                       warmup=1)
    assert non_finite == 3 and wall == [] and cpu == []
    assert all(torch.isfinite(p).all() for p in model.parameters())

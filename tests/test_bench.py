"""The weighting benchmark runs on tiny settings and writes its table (no timing asserted)."""

from __future__ import annotations

import json

import pytest

from busmtl.bench.weighting import TARGETS, pool, ratios

TINY = ["--image-size", "32", "--batch-size", "2", "--encoder", "resnet18", "--steps", "2",
        "--warmup", "1", "--device", "cpu", "--threads", "1"]


def test_bench_runs_and_writes_ratios(tmp_path, capsys):
    from busmtl.cli import main

    out = tmp_path / "bench" / "weighting.json"
    code = main(["bench", "weighting", *TINY, "--methods", "dmf_mad", "--out", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    rows = report["rows"]
    assert [r["method"] for r in rows] == ["ew", "dmf_mad"]  # ew added as the reference
    assert rows[0]["time_ratio"] == 1.0 and rows[0]["memory_ratio"] == 1.0
    for r in rows:
        assert len(r["step_ms"]) == 2 and 0 < r["step_ms_median"] <= r["step_ms_max"]
        assert r["peak_memory_mb"] > r["step_memory_mb"] >= 0
        assert r["memory_kind"] == "cpu_peak_rss" and r["device"] == "cpu" and r["threads"] == 1
    assert rows[0]["target_ok"] is None and isinstance(rows[1]["target_ok"], bool)
    assert report["settings"]["encoder"] == "resnet18" and report["targets"] == TARGETS
    assert report["environment"]["torch_version"]
    printed = capsys.readouterr().out
    assert "dmf_mad" in printed and "time x" in printed and str(out) in printed
    assert not list(out.parent.glob(".*tmp*"))  # atomic write left nothing behind


def test_single_mode_prints_one_json_row(capsys):
    from busmtl.bench.weighting import main

    assert main([*TINY, "--single", "atdwa"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["method"] == "atdwa" and len(row["step_ms"]) == 2


def test_bad_options_are_one_line_errors(tmp_path):
    from busmtl.bench.weighting import main

    out = str(tmp_path / "x.json")
    assert main(["--methods", "ew,nope", "--out", out]) == 2
    assert main(["--image-size", "30", "--out", out]) == 2
    assert main(["--steps", "0", "--out", out]) == 2
    assert not (tmp_path / "x.json").exists()


def test_cuda_request_without_cuda_is_refused(monkeypatch):
    import torch

    from busmtl.bench.weighting import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")
    assert resolve_device("auto") == "cpu"


def test_ratio_arithmetic_targets_and_pooling():
    rows = [
        {"method": "ew", "step_ms_median": 100.0, "step_ms_max": 120.0, "peak_memory_mb": 1000.0,
         "step_memory_mb": 100.0},
        {"method": "gradnorm", "step_ms_median": 130.0, "step_ms_max": 240.0,
         "peak_memory_mb": 1300.0, "step_memory_mb": 150.0},
        {"method": "dwa", "step_ms_median": 104.0, "step_ms_max": 120.0, "peak_memory_mb": 1000.0},
    ]
    table = ratios(rows)
    assert table[1]["time_ratio"] == pytest.approx(1.3)
    assert table[1]["max_time_ratio"] == pytest.approx(2.0)
    assert table[1]["memory_ratio"] == pytest.approx(1.3)
    assert table[1]["step_memory_ratio"] == pytest.approx(1.5)
    assert table[1]["target"].startswith("MISSED") and table[1]["target_ok"] is False
    assert table[2]["target_ok"] is True and "step_memory_ratio" not in table[2]
    with pytest.raises(ValueError, match="ew"):
        ratios(rows[1:])
    merged = pool([
        {"method": "ew", "step_ms": [1.0, 5.0], "peak_memory_mb": 10.0, "step_memory_mb": 2.0,
         "memory_before_steps_mb": 8.0},
        {"method": "ew", "step_ms": [3.0], "peak_memory_mb": 12.0, "step_memory_mb": 1.0,
         "memory_before_steps_mb": 9.0},
    ])
    assert merged["step_ms_median"] == 3.0 and merged["step_ms_max"] == 5.0
    assert merged["peak_memory_mb"] == 12.0 and merged["rounds"] == 2


def test_a_benchmark_step_is_the_training_step(monkeypatch):
    """The bench times :func:`busmtl.training.step.train_step`, the trainer's step: warm-up and timed."""
    import busmtl.training.step
    from busmtl.bench.weighting import measure

    calls = []
    real = busmtl.training.step.train_step

    def counted(*args, **kwargs):
        calls.append(kwargs.get("where"))
        return real(*args, **kwargs)

    monkeypatch.setattr(busmtl.training.step, "train_step", counted)
    row = measure("dwa", image_size=32, batch_size=2, encoder="resnet18", steps=2, warmup=1,
                  device="cpu", threads=1)
    own = [c for c in calls if "paired" not in c]
    paired = [c for c in calls if "paired" in c]
    assert len(own) == 3 and len(row["step_ms"]) == 2
    assert len(paired) == 2 * (2 + 1)  # an untimed EW step, then EW and dwa in turn, twice


def test_every_family_gets_cpu_and_wall_ratios_with_their_spread(tmp_path, capsys):
    """Two interleaved rounds of a gradient method (over the representation) and a loss-only
    one: each row has CPU and wall ratios, one per round, and its family's target."""
    from busmtl.cli import main

    out = tmp_path / "w.json"
    code = main(["bench", "weighting", *TINY, "--methods", "mgda,gls", "--repeats", "2",
                 "--jacobian", "representation", "--out", str(out)])
    assert code == 0
    rows = {r["method"]: r for r in json.loads(out.read_text())["rows"]}
    assert list(rows) == ["ew", "mgda", "gls"]
    for r in rows.values():
        assert r["rounds"] == 2 and len(r["time_ratio_rounds"]) == 2
        assert len(r["cpu_time_ratio_rounds"]) == 2 and r["cpu_time_ratio"] > 0
    assert rows["mgda"]["jacobian"] == "representation" and "1.3x" in rows["mgda"]["target"]
    assert rows["gls"]["jacobian"] is None and "1.05x" in rows["gls"]["target"]
    assert "cpu x" in capsys.readouterr().out


def test_both_jacobians_measure_every_gradient_method_twice():
    from busmtl.bench.weighting import variants

    assert variants(["ew", "mgda", "gls"], "both") == [
        ("ew", "parameters"), ("mgda", "parameters"), ("mgda", "representation"),
        ("gls", "parameters")]
    assert variants(["mgda"], "representation") == [("mgda", "representation")]


def test_the_target_is_judged_on_cpu_time_not_on_a_busy_wall_clock():
    from busmtl.bench.weighting import ratios

    def row(method, wall, cpu, jacobian=None):
        return {"method": method, "jacobian": jacobian, "step_ms_median": wall,
                "step_ms_max": wall, "peak_memory_mb": 100.0, "cpu_ms_median": cpu}

    # another process held the core during mgda's steps: 3x the wall time, 1.5x the CPU time
    rows = {r["method"]: r for r in ratios([row("ew", 100.0, 100.0),
                                            row("mgda", 300.0, 150.0, "parameters"),
                                            row("gls", 100.0, 120.0)])}
    assert rows["mgda"]["target_ok"] is True and rows["mgda"]["time_ratio"] == 3.0
    assert rows["gls"]["target_ok"] is False and rows["gls"]["target"].startswith("MISSED")


def test_the_cpu_ratio_is_paired_with_ew_in_the_same_process():
    from busmtl.bench.weighting import measure, pool, ratios

    row = measure("dwa", image_size=32, batch_size=2, encoder="resnet18", steps=2, warmup=1,
                  device="cpu", threads=1)
    assert len(row["paired_cpu_ms"]) == len(row["paired_ew_cpu_ms"]) == 2
    assert "paired_cpu_ms" not in measure("ew", image_size=32, batch_size=2, encoder="resnet18",
                                          steps=1, warmup=0, device="cpu", threads=1)

    def fake(method, cpu, ew_cpu=None):
        r = {"method": method, "step_ms": [10.0], "cpu_ms": [cpu], "peak_memory_mb": 1.0,
             "step_memory_mb": 1.0, "memory_before_steps_mb": 1.0}
        return r | ({"paired_cpu_ms": [cpu], "paired_ew_cpu_ms": [ew_cpu]} if ew_cpu else {})

    # the load fell between the processes: unpaired, dwa looks cheaper than ew; paired, it is 1.1x
    rows = ratios([pool([fake("ew", 200.0), fake("ew", 200.0)]),
                   pool([fake("dwa", 110.0, 100.0), fake("dwa", 121.0, 110.0)])])
    dwa = rows[1]
    assert dwa["unpaired_cpu_time_ratio"] < 1 and abs(dwa["cpu_time_ratio"] - 1.1) < 1e-9
    assert dwa["cpu_time_ratio_rounds"] == pytest.approx([1.1, 1.1])

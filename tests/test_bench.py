"""The weighting benchmark runs on tiny settings and writes its table (no timing asserted)."""

from __future__ import annotations

import json

import pytest

from busmtl.bench.weighting import ratios


def test_bench_runs_and_writes_ratios(tmp_path, capsys):
    from busmtl.cli import main

    out = tmp_path / "bench.json"
    code = main(["bench", "weighting", "--image-size", "32", "--batch-size", "2", "--encoder",
                 "resnet18", "--steps", "2", "--warmup", "1", "--methods", "ew,atdwa",
                 "--device", "cpu", "--out", str(out)])
    assert code == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["method"] for r in rows] == ["ew", "atdwa"]
    assert rows[0]["time_ratio"] == 1.0 and rows[0]["memory_ratio"] == 1.0
    assert rows[1]["peak_memory_mb"] > 0 and rows[1]["memory_kind"] == "cpu_peak_rss"
    assert "atdwa" in capsys.readouterr().out


def test_ratio_arithmetic_and_targets():
    rows = [
        {"method": "ew", "step_ms_median": 100.0, "step_ms_max": 120.0, "peak_memory_mb": 1000.0},
        {"method": "gradnorm", "step_ms_median": 130.0, "step_ms_max": 240.0, "peak_memory_mb": 1300.0},
    ]
    table = ratios(rows)
    assert table[1]["time_ratio"] == pytest.approx(1.3) and table[1]["max_time_ratio"] == pytest.approx(2.0)
    assert table[1]["memory_ratio"] == pytest.approx(1.3) and table[1]["target"].startswith("MISSED")
    with pytest.raises(ValueError, match="ew"):
        ratios(rows[1:])

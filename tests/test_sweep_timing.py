"""The time a sweep's finished runs took, as ``busmtl sweep status`` prints it."""

from __future__ import annotations

import datetime as dt
import json

from busmtl.orchestration.status import RunState, format_status, run_span, timing_line


def _at(hour: int, minute: int) -> dt.datetime:
    return dt.datetime(2026, 12, 1, hour, minute, tzinfo=dt.timezone.utc)


def test_overlapping_runs_count_once_in_the_wall_time_and_gaps_not_at_all():
    states = [RunState("ew", 0, "done", started=_at(10, 0), finished=_at(10, 20)),
              RunState("dwa", 0, "done", started=_at(10, 10), finished=_at(10, 30)),
              RunState("ew", 1, "done", started=_at(12, 0), finished=_at(12, 10)),
              RunState("dwa", 1, "pending")]
    line = timing_line(states)
    # 20 + 20 + 10 = 50 min of runs; busy 10:00-10:30 and 12:00-12:10 = 40 min
    assert "the 3 timed finished runs:" in line
    assert "0.8 run-hours" in line and "16.7 min per run (10.0-20.0)" in line
    assert "training 0.7 h" in line and "2026-12-01 10:00" in line and "2026-12-01 12:10" in line
    assert timing_line([RunState("ew", 0, "pending")]) == ""


def test_finished_runs_without_a_recorded_start_are_counted_apart():
    states = [RunState("ew", 0, "done", started=_at(10, 0), finished=_at(10, 20)),
              RunState("ew", 1, "done")]
    assert "(1 finished runs record no start)" in timing_line(states)
    assert format_status("smoke", states, "note").splitlines()[-1] == timing_line(states)


def test_the_span_of_a_run_folder_comes_from_its_config_and_done_marker(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(
        {"provenance": {"started": "2026-12-01T10:00:00+00:00"}}))
    (tmp_path / "DONE").write_text(json.dumps({"finished": "2026-12-01T10:20:00+00:00"}))
    assert run_span(tmp_path) == (_at(10, 0), _at(10, 20))
    (tmp_path / "config.json").write_text("{}")   # an older run: no start recorded
    assert run_span(tmp_path) == (None, _at(10, 20))

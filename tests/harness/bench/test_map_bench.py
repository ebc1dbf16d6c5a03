"""The map benchmark's pure parts: a day of events at the cameras; the summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from harness.bench.map_city import JITTER_DEG, day_of_events
from harness.bench.map_probe import MapTimings, Redraw
from simulators.city import generate_city, spec_for

NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


def test_day_of_events_should_lie_at_cameras_within_the_last_day() -> None:
    city = generate_city(spec_for("demo"))
    rows = day_of_events(city, 50, now=NOW, seed=3)
    assert len(rows) == 50
    assert len({r["event_id"] for r in rows}) == 50
    cameras = {c["camera_id"]: c for c in city.cameras}
    for row in rows:
        camera = cameras[row["camera_id"]]
        assert abs(row["lat"] - camera["lat"]) <= JITTER_DEG
        assert abs(row["lon"] - camera["lon"]) <= JITTER_DEG
        assert NOW - timedelta(days=1) < row["received_at"] < NOW
    assert rows == day_of_events(city, 50, now=NOW, seed=3)  # deterministic


def test_day_of_events_given_no_events_should_be_empty() -> None:
    assert day_of_events(generate_city(spec_for("demo")), 0, now=NOW, seed=1) == []


def test_summary_should_give_worst_and_median_redraws_and_frame_percentiles() -> None:
    timings = MapTimings(view_first_draw_ms=812.4, first_level="street")
    timings.redraws = [
        Redraw("zoom in", "community", 12, 1800, 200, 20, 240),
        Redraw("zoom in", "grid", 14, 1900, 300, 50, 380),
        Redraw("zoom out", "street", 10, 176, 90, 10, 110),
    ]
    timings.pan_frames_ms = [16.7] * 19 + [100.0]
    figures = timings.summary()
    assert figures["view_first_draw_ms"] == 812
    assert (figures["redraws"], figures["redraw_ms_median"]) == (3, 240)
    assert (figures["redraw_ms_max"], figures["grid_redraw_ms_max"]) == (380, 380)
    assert figures["grid_features_max"] == 1900
    assert figures["pan_frame_ms_p50"] == pytest.approx(16.7)
    assert figures["pan_frame_ms_max"] == 100.0
    assert len(figures["steps"]) == 3


def test_summary_without_redraws_should_say_none() -> None:
    figures = MapTimings().summary()
    assert figures["redraw_ms_median"] is None
    assert figures["pan_frame_ms_p95"] is None

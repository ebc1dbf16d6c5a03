"""SVG timelines of the eval report."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from harness.accuracy.match import check_counts, match_events
from harness.accuracy.plots import timeline_svg
from harness.accuracy.replay import ReplayTiming, ScenarioRun
from harness.accuracy.results import ScenarioResult, failed
from tests.harness.accuracy.factories import count, expected, raised, sample

SVG = "{http://www.w3.org/2000/svg}"
GREEN, RED = "#2e7d32", "#c62828"


def result_with(events: list[str], counts: bool = True) -> ScenarioResult:
    truth = [expected("fall", 1.0, 3.0), expected("fall", 6.0, 8.0)]
    observed = [raised("fall", 2.0), raised("intrusion", 4.0)]
    samples = [sample(t, room={"person": n}) for t, n in [(0.5, 0), (2.0, 1), (9, 2)]]
    checks = check_counts(
        [count(2.0, 1, zone="room"), count(9.0, 3, zone="room")] if counts else [],
        samples,
        max_gap_s=1.0,
    )
    run = ScenarioRun(
        events=tuple(observed),
        occupancy=tuple(samples),
        messages=len(events),
        timing=ReplayTiming(seconds=11.0, clip_s=10.0, start_s=0.2),
        fps_analysed=5.0,
    )
    return ScenarioResult(
        name="people/<x>",
        path=Path("x.yaml"),
        run=run,
        matching=match_events(truth, observed),
        counts=tuple(checks),
    )


def test_timeline_should_draw_windows_events_and_counts_in_their_colours() -> None:
    svg = timeline_svg(result_with(["a"]))

    assert svg is not None
    root = ET.fromstring(svg)  # well-formed, names escaped
    assert "people/&lt;x&gt;" in svg
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"fall", "intrusion", "person in room"} <= set(texts)
    rects = [r for r in root.iter(f"{SVG}rect") if r.get("stroke") in {GREEN, RED}]
    assert sorted(r.get("stroke") or "" for r in rects) == [GREEN, RED]  # found, missed
    ticks = [line.get("stroke") for line in root.iter(f"{SVG}line")]
    assert ticks.count(GREEN) == 1 and ticks.count(RED) == 1  # matched, false alarm
    diamonds = [d.get("stroke") for d in root.iter(f"{SVG}path")]
    assert diamonds == [GREEN, RED]  # 1 of 1 right, 2 against 3 expected
    assert len(list(root.iter(f"{SVG}polyline"))) == 1


def test_timeline_given_error_or_nothing_to_draw_should_give_none() -> None:
    assert timeline_svg(failed("x", Path("x.yaml"), "broken")) is None
    empty = result_with([], counts=False)
    nothing = ScenarioResult(
        name=empty.name, path=empty.path, run=empty.run, matching=match_events([], [])
    )
    assert timeline_svg(nothing) is None

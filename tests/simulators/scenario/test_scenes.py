"""Tests for simulators/scenario/scenes.py: the scene catalogue and its pieces,
and that the committed scenario files are the catalogue's and load in the
eval harness."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import CameraConfig
from gridwatch.contract import EventType
from harness.accuracy.scenario import load_scenario
from simulators.scenario.assets import OBJECT_SOURCES, PERSON_SOURCES
from simulators.scenario.outdoor_scenes import OUTDOOR_SCENES
from simulators.scenario.scenes import (
    LITTER_SCENES,
    SCENES,
    Lighting,
    Walker,
    back_and_forth,
    scene_by_name,
)

REPO = Path(__file__).resolve().parents[3]
COMMITTED = REPO / "scenarios" / "composited"


@pytest.mark.parametrize(
    ("start", "end", "total", "expected"),
    [
        (0.0, 2.0, 0.0, []),
        (0.0, 2.0, 1.5, [(0.0, 1.5)]),
        (0.0, 2.0, 5.0, [(0.0, 2.0), (2.0, 0.0), (0.0, 1.0)]),
    ],
)
def test_back_and_forth_given_span_should_alternate_directions(
    start: float, end: float, total: float, expected: list[tuple[float, float]]
) -> None:
    assert back_and_forth(start, end, total_s=total) == expected


@pytest.mark.parametrize(
    ("t", "factor"),
    [(0.0, 1.0), (4.0, 1.0), (4.5, 0.8), (5.0, 0.6), (10.0, 0.6), (20.5, 0.8)],
)
def test_lighting_given_time_should_ramp_down_and_back(t: float, factor: float) -> None:
    light = Lighting(start_s=4.0, ramp_s=1.0, gain=0.6, end_s=20.0)
    assert light.at(t) == pytest.approx(factor)


def test_catalogue_should_hold_the_scenes_the_issue_asks_for() -> None:
    names = [s.name for s in SCENES]
    assert len(names) == len(set(names))
    assert len(LITTER_SCENES) >= 12
    expected = [d.expect for s in LITTER_SCENES for d in s.drops if d.expect]
    assert EventType.LITTERING in expected and EventType.ABANDONED_OBJECT in expected
    negatives = [s for s in LITTER_SCENES if s.kind == "negative"]
    assert any(d.pick_s is not None for s in negatives for d in s.drops)  # pick up
    assert any(s.placed for s in negatives)  # there from the start
    assert any(s.lighting for s in negatives)
    assert any(not s.drops and not s.placed and not s.lighting for s in negatives)
    crowds = [s for s in SCENES if s.kind == "crowd"]
    assert crowds and all(6 <= len(s.crowd) <= 12 for s in crowds)


@pytest.mark.parametrize("scene", SCENES, ids=lambda s: s.name)
def test_scene_should_use_known_assets_and_a_valid_camera(scene: object) -> None:
    spec = scene_by_name(getattr(scene, "name", ""))
    objects = {s.name for s in OBJECT_SOURCES}
    people = {s.name for s in PERSON_SOURCES}
    assert {d.asset for d in spec.drops} <= objects
    assert {p.asset for p in spec.placed} <= objects
    assert {m.person for m in spec.crowd} <= people
    assert {w.person for w in spec.walkers} <= people
    assert {m.asset for m in spec.movers} <= objects
    assert all(
        d.walker is None or 0 <= d.walker < len(spec.walkers) for d in spec.drops
    )
    positives = [d for d in spec.drops if d.expect is not None]
    assert (spec.kind == "positive") == bool(positives)
    CameraConfig.model_validate(
        {"id": "c", "url": "x", "location": {"lat": 0, "lon": 0}, **spec.camera()}
    )


def test_outdoor_catalogue_should_hold_the_scenes_issue_14_asks_for() -> None:
    assert len(OUTDOOR_SCENES) >= 20
    negatives = [s for s in OUTDOOR_SCENES if s.kind == "negative"]
    assert len(negatives) * 2 >= len(OUTDOOR_SCENES)
    clips = {s.background.clip for s in OUTDOOR_SCENES}
    assert {"car-detection.mp4", "worker-zone-detection.gif"} <= clips
    assert any(s.movers for s in negatives)  # a car parking
    assert any(w.crouch for s in negatives for w in s.walkers)  # sitting down
    assert any(p.until_s is not None for s in negatives for p in s.placed)  # ghost
    assert any(d.drop_s is None for s in negatives for d in s.drops)  # carried
    assert any(d.pick_s is not None for s in negatives for d in s.drops)
    # Every positive is put down at a chosen place (against a structure).
    positives = [s for s in OUTDOOR_SCENES if s.kind == "positive"]
    assert all(d.at is not None for s in positives for d in s.drops)


@pytest.mark.parametrize(
    ("t", "feet"),
    [(0.5, None), (1.0, (0.0, 0.5)), (2.0, (0.5, 0.5)), (4.0, (0.5, 1.0)), (5.1, None)],
)
def test_walker_feet_given_time_should_follow_keyframes(
    t: float, feet: tuple[float, float] | None
) -> None:
    path = ((1.0, 0.0, 0.5), (2.0, 0.5, 0.5), (3.0, 0.5, 0.5), (5.0, 0.5, 1.5))
    walker = Walker("visitor1", path, (20, 100))
    got = walker.feet_at(t)
    assert got == (pytest.approx(feet) if feet is not None else None)
    assert walker.height_at(0.5) == pytest.approx(60.0)


def test_walker_given_path_out_of_order_should_raise() -> None:
    with pytest.raises(ValueError, match="time order"):
        Walker("visitor1", ((2.0, 0.0, 0.0), (1.0, 0.0, 0.0)), (50, 50))


def test_scene_by_name_given_unknown_name_should_raise() -> None:
    with pytest.raises(KeyError, match="nope"):
        scene_by_name("nope")


def test_committed_scenarios_should_be_the_catalogue_and_load_in_the_harness() -> None:
    files = sorted(COMMITTED.glob("*.yaml"))
    assert sorted(p.stem for p in files) == sorted(s.name for s in SCENES)
    for path in files:
        loaded = load_scenario(path, name=path.stem, media_dir=None)
        spec = scene_by_name(path.stem)
        assert loaded.scenario.clip == f"composited/{spec.name}.mp4"
        wanted = sorted(d.expect.value for d in spec.drops if d.expect is not None)
        got = sorted(
            str(e.type) for e in loaded.scenario.expected.events if e.type != "crowding"
        )
        assert got == wanted
        assert loaded.scenario.composited

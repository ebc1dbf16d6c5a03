"""Tests for edge/rules/littering.py, through the engine, on synthetic frames.

The frames are synthesised (see `synthetic_scene`): a textured floor, people as
dark boxes that the fake detector reports with a track id, objects as bright
patches it reports only when given a label.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from edge.config import CameraConfig
from edge.rules.base import RuleScope, RuleSignal, ZoneObservation
from edge.rules.engine import CameraRules
from edge.rules.littering import (
    AbandonedObjectRule,
    AbandonedObjectRuleConfig,
    LitteringRule,
    LitteringRuleConfig,
)
from edge.rules.registry import build_rule
from edge.types import Detections
from gridwatch.contract import EventPhase, EventType
from tests.edge.rules.factories import T0
from tests.edge.rules.synthetic_scene import (
    BACKPACK,
    BOTTLE,
    HEIGHT,
    LABELS,
    PERSON_WH,
    WIDTH,
    Scene,
    Thing,
    walk,
)

AWAY_S = 5.0
AWAY_FRAC = 0.15
LITTERING = {
    "type": "littering",
    "static_s": 2.0,
    "owner_away_s": AWAY_S,
    "owner_away_frac": AWAY_FRAC,
}
ABANDONED = {**LITTERING, "type": "abandoned_object"}
OBJECT_XY = (115, 186)  # right of the feet of a person standing at x=100
# Walks in from the left, stands at x=100 from 5 to 8 s, walks out right.
LEAVER = walk([(3, 0, 200), (5, 100, 200), (8, 100, 200), (12, 330, 200)])


def _rules(*rules: dict[str, Any]) -> CameraRules:
    camera = CameraConfig.model_validate(
        {
            "id": "cam-1",
            "url": "rtsp://example/1",
            "location": {"lat": 23.1, "lon": 113.3},
            "zones": [{"id": "floor", "rules": list(rules)}],
        }
    )
    return CameraRules.from_config(camera)


def _run(scene: Scene, duration_s: float, *rules: dict[str, Any]) -> list[RuleSignal]:
    engine = _rules(*rules)
    signals: list[RuleSignal] = []
    for frame, detections in scene.frames(duration_s):
        signals.extend(engine.update(frame, detections, LABELS).signals)
    return signals


def _starts(signals: list[RuleSignal]) -> list[tuple[float, str]]:
    return [
        (round(s.timestamp - T0, 2), s.event_type)
        for s in signals
        if s.phase is EventPhase.START
    ]


def _away_at() -> float:
    """When LEAVER's box gets farther than AWAY_FRAC from the object."""
    limit = AWAY_FRAC * math.hypot(WIDTH, HEIGHT)
    object_right = OBJECT_XY[0] + 10
    # LEAVER walks right at (330 - 100) / 4 px/s from t=8, box 22 px wide.
    speed = (330 - 100) / 4
    left_edge_at_8 = 100 - PERSON_WH[0] / 2
    return 8 + (object_right + limit - left_edge_at_8) / speed


def test_littering_given_object_left_by_owner_should_fire_after_owner_away_s() -> None:
    scene = Scene(people=[LEAVER], things=[Thing(xy=OBJECT_XY, start=6)])
    signals = _run(scene, 30, LITTERING)
    starts = _starts(signals)
    assert len(starts) == 1
    t, kind = starts[0]
    assert kind is EventType.LITTERING
    due = _away_at() + AWAY_S
    assert due <= t <= due + 1.0
    start = next(s for s in signals if s.phase is EventPhase.START)
    assert start.attributes["owner_track_id"] == "1"
    assert start.attributes["object_label"] == "unknown"
    assert start.attributes["kind"] == "littering"
    static_s = start.attributes["static_s"]
    assert isinstance(static_s, float)
    assert static_s >= 2.0
    assert start.attributes["owner_distance_frac"] == -1.0  # out of view by then
    box = start.box_norm
    assert box is not None
    x1, y1, x2, y2 = box
    assert x1 <= (OBJECT_XY[0] + 5) / WIDTH <= x2
    assert y1 <= (OBJECT_XY[1] + 7) / HEIGHT <= y2


def test_littering_given_bag_put_down_and_picked_up_again_should_not_fire() -> None:
    person = walk([(3, 0, 200), (5, 100, 200), (20, 100, 200), (24, 330, 200)])
    scene = Scene(people=[person], things=[Thing(xy=OBJECT_XY, start=6, end=19)])
    assert _starts(_run(scene, 32, LITTERING)) == []


def test_littering_given_owner_back_before_owner_away_s_should_not_fire() -> None:
    # Walks 100 px away (out of reach) for 3 s, comes back, picks it up.
    person = walk(
        [(3, 0, 200), (5, 100, 200), (8, 100, 200), (9, 220, 200), (12, 220, 200),
         (13, 100, 200), (16, 100, 200), (19, 330, 200)]
    )  # fmt: skip
    scene = Scene(people=[person], things=[Thing(xy=OBJECT_XY, start=6, end=15)])
    assert _starts(_run(scene, 30, LITTERING)) == []


def test_littering_given_owner_staying_beside_object_should_not_fire() -> None:
    person = walk([(3, 0, 200), (5, 100, 200), (40, 100, 200)])
    scene = Scene(people=[person], things=[Thing(xy=OBJECT_XY, start=6)])
    assert _starts(_run(scene, 40, LITTERING)) == []


def test_littering_given_object_there_from_the_start_should_not_fire() -> None:
    person = walk([(3, 0, 200), (5, 180, 160), (20, 180, 160), (24, 330, 160)])
    scene = Scene(people=[person], things=[Thing(xy=(200, 150), start=0)])
    assert _starts(_run(scene, 30, LITTERING, ABANDONED)) == []


@pytest.mark.parametrize(
    "gain",
    [
        pytest.param(lambda t: 1.0 if t < 10 else 0.65, id="lights-dimmed-at-once"),
        pytest.param(lambda t: min(1.0, max(0.6, 1 - 0.2 * (t - 10))), id="ramp"),
        pytest.param(lambda t: 1.0 + 0.3 * (t >= 12) - 0.3 * (t >= 20), id="on-off"),
    ],
)
def test_littering_given_lighting_change_should_not_fire(gain: Any) -> None:
    person = walk([(3, 0, 200), (5, 100, 200), (25, 100, 200), (28, 330, 200)])
    scene = Scene(people=[person], gain=gain)
    assert _starts(_run(scene, 35, LITTERING, ABANDONED)) == []


def test_littering_given_standing_person_missed_by_detector_should_not_fire() -> None:
    person = walk([(3, 0, 200), (5, 100, 200), (25, 100, 200), (28, 330, 200)])
    # The detector loses them for 6 s while they stand: their body stays put.
    scene = Scene(people=[person], missed=lambda t, i: 10 < t < 16)
    assert _starts(_run(scene, 35, LITTERING, ABANDONED)) == []


def test_littering_given_person_there_at_start_who_leaves_should_not_fire() -> None:
    person = walk([(0, 100, 200), (20, 100, 200), (24, 330, 200)])
    assert _starts(_run(Scene(people=[person]), 35, LITTERING, ABANDONED)) == []


def test_rules_given_labelled_backpack_should_raise_abandoned_not_littering() -> None:
    thing = Thing(xy=OBJECT_XY, start=6, size_wh=(12, 16), label=BACKPACK)
    scene = Scene(people=[LEAVER], things=[thing])
    starts = _starts(_run(scene, 30, LITTERING, ABANDONED))
    assert [kind for _, kind in starts] == [EventType.ABANDONED_OBJECT]


def test_rules_given_labelled_bottle_should_raise_littering_with_its_label() -> None:
    thing = Thing(xy=OBJECT_XY, start=6, label=BOTTLE)
    signals = _run(Scene(people=[LEAVER], things=[thing]), 30, LITTERING, ABANDONED)
    starts = [s for s in signals if s.phase is EventPhase.START]
    assert [s.event_type for s in starts] == [EventType.LITTERING]
    assert starts[0].attributes["object_label"] == "bottle"
    assert starts[0].confidence == pytest.approx(0.9)


@pytest.mark.parametrize(("require_owner", "fires"), [(True, False), (False, True)])
def test_littering_given_object_with_nobody_near_should_fire_only_without_owner_rule(
    require_owner: bool, fires: bool
) -> None:
    passer = walk([(3, 0, 40), (8, 330, 40)])  # far from where it appears
    scene = Scene(people=[passer], things=[Thing(xy=(250, 190), start=6)])
    rule = {**LITTERING, "require_owner": require_owner}
    starts = _starts(_run(scene, 20, rule))
    assert (len(starts) == 1) is fires


def test_littering_given_object_taken_after_event_should_end_it() -> None:
    scene = Scene(people=[LEAVER], things=[Thing(xy=OBJECT_XY, start=6, end=22)])
    signals = _run(scene, 30, LITTERING)
    phases = [s.phase for s in signals]
    assert phases == [EventPhase.START, EventPhase.END]
    assert signals[0].event_id == signals[1].event_id
    assert 22 <= signals[1].timestamp - T0 <= 22 + 2.0 + 1.0  # clear_s + slack


def test_littering_close_should_end_open_events() -> None:
    scene = Scene(people=[LEAVER], things=[Thing(xy=OBJECT_XY, start=6)])
    engine = _rules(LITTERING)
    for frame, detections in scene.frames(20):
        engine.update(frame, detections, LABELS)
    ended = engine.close(T0 + 21)
    assert [s.phase for s in ended] == [EventPhase.END]
    assert engine.close(T0 + 22) == []


def test_littering_given_observation_without_pixels_should_do_nothing() -> None:
    rule = build_rule(LitteringRuleConfig(), scope=RuleScope("cam-1", "floor", 0))
    obs = ZoneObservation(
        camera_id="cam-1",
        zone_id="floor",
        timestamp=T0,
        resolution_wh=(WIDTH, HEIGHT),
        detections=Detections.empty(),
        labels=LABELS,
    )
    assert isinstance(rule, LitteringRule)
    assert rule.update(obs) == []
    assert rule.update(obs) == []  # warns once, stays quiet


def test_build_rule_given_static_object_configs_should_build_their_rules() -> None:
    scope = RuleScope("cam-1", "floor", 0)
    assert isinstance(build_rule(LitteringRuleConfig(), scope=scope), LitteringRule)
    abandoned = build_rule(AbandonedObjectRuleConfig(), scope=scope)
    assert isinstance(abandoned, AbandonedObjectRule)
    with pytest.raises(TypeError):
        LitteringRule.from_config(AbandonedObjectRuleConfig(), scope=scope)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({}, None),
        ({"owner_away_s": 0}, None),
        ({"owner_away_s": -1}, "owner_away_s"),
        ({"owner_away_frac": 0}, "owner_away_frac"),
        ({"owner_away_frac": 1.5}, "owner_away_frac"),
        ({"min_area_frac": 0.05, "max_area_frac": 0.01}, "min_area_frac"),
        ({"labels": ["person"]}, "person_labels"),
        ({"labels": ["backpack"]}, "exclude_labels"),
        ({"labels": ["backpack"], "exclude_labels": []}, None),
        ({"labels": []}, "labels"),
        ({"owner_away": 5}, "owner_away"),
    ],
)
def test_littering_config_given_change_should_validate(
    change: dict[str, Any], error: str | None
) -> None:
    if error is None:
        config = LitteringRuleConfig.model_validate({"type": "littering", **change})
        assert config.unknown_objects is True
        assert config.labels
        return
    with pytest.raises(ValidationError, match=error):
        LitteringRuleConfig.model_validate({"type": "littering", **change})


def test_abandoned_config_defaults_should_take_luggage_and_ignore_unknown() -> None:
    config = AbandonedObjectRuleConfig()
    assert set(config.labels) == {"backpack", "handbag", "suitcase"}
    assert config.unknown_objects is False
    assert config.owner_away_s > LitteringRuleConfig().owner_away_s


def test_static_object_configs_should_exclude_vehicles_by_default() -> None:
    # A parked bicycle or car is a static object, and neither litter nor luggage.
    for config in (
        LitteringRuleConfig.model_validate({}),
        AbandonedObjectRuleConfig.model_validate({}),
    ):
        assert {"bicycle", "car", "motorcycle"} <= set(config.exclude_labels)

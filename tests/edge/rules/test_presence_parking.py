"""Tests for edge/rules/presence.py and edge/rules/parking.py."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edge.config import ZoneConfig
from edge.rules.base import RuleScope, RuleSignal, ZoneObservation
from edge.rules.parking import IllegalParkingRule, IllegalParkingRuleConfig
from edge.rules.presence import PresenceRule, PresenceRuleConfig
from edge.rules.registry import build_rule
from edge.types import Detections
from gridwatch.contract import EventPhase, EventType
from tests.edge.rules.factories import LABELS, RESOLUTION_WH, T0, observe

SCOPE = RuleScope("cam-1", "kerb", 0)
CAR = LABELS.index("car")


def car_at(t: float, x: float, *, track: int = 4) -> ZoneObservation:
    """One tracked car with its box's left edge at `x` px, at T0 + t."""
    return ZoneObservation(
        camera_id="cam-1",
        zone_id="kerb",
        timestamp=T0 + t,
        resolution_wh=RESOLUTION_WH,
        detections=Detections.from_lists(
            [[x, 200.0, x + 120.0, 280.0]],
            confidence=[0.9],
            class_id=[CAR],
            tracker_id=[track],
        ),
        labels=LABELS,
    )


def run(rule: IllegalParkingRule, steps: list[ZoneObservation]) -> list[RuleSignal]:
    return [signal for obs in steps for signal in rule.update(obs)]


PARKING = IllegalParkingRuleConfig(min_s=10, clear_s=2, max_move_frac=0.02)


def test_parked_car_fires_once_after_min_s_as_illegal_parking() -> None:
    rule = IllegalParkingRule(PARKING, scope=SCOPE)
    # Jitter of a few px (detector noise) does not restart the clock.
    signals = run(rule, [car_at(t, 100 + (t % 2) * 3) for t in range(0, 16)])
    assert [(s.phase, s.timestamp - T0) for s in signals] == [(EventPhase.START, 10)]
    assert signals[0].event_type is EventType.ILLEGAL_PARKING
    assert signals[0].attributes["track_ids"] == ["4"]


def test_car_driving_through_or_creeping_in_a_queue_never_fires() -> None:
    rule = IllegalParkingRule(PARKING, scope=SCOPE)
    driving = [car_at(t, 20.0 * t) for t in range(0, 25)]
    assert run(rule, driving) == []
    creeping = IllegalParkingRule(PARKING, scope=SCOPE)
    # 30 px every 5 s: longer than min_s in the zone, never stopped for 10 s.
    steps = [car_at(t, 100.0 + 30 * (t // 5)) for t in range(0, 40)]
    assert run(creeping, steps) == []


def test_car_that_stops_after_driving_is_timed_from_where_it_stopped() -> None:
    rule = IllegalParkingRule(PARKING, scope=SCOPE)
    steps = [car_at(t, 40.0 * t) for t in range(0, 5)]
    steps += [car_at(t, 160.0) for t in range(5, 20)]
    signals = run(rule, steps)
    assert [s.timestamp - T0 for s in signals] == [14]


def test_parking_ends_when_the_car_leaves() -> None:
    rule = IllegalParkingRule(PARKING, scope=SCOPE)
    steps = [car_at(t, 100.0) for t in range(0, 12)]
    steps += [observe(t) for t in (12.0, 13.0, 14.5)]
    signals = run(rule, steps)
    assert [(s.phase, s.timestamp - T0) for s in signals] == [
        (EventPhase.START, 10),
        (EventPhase.END, 13.0),
    ]


def test_presence_is_raised_for_its_label_as_presence() -> None:
    config = PresenceRuleConfig(labels=["bicycle"], min_s=2, clear_s=1)
    rule = PresenceRule(config, scope=SCOPE)
    bicycle = LABELS.index("bicycle")
    signals = [
        signal
        for t in (0, 1, 2, 3)
        for signal in rule.update(
            observe(t, class_ids=[bicycle, 0], tracker_ids=[9, 1])
        )
    ]
    assert [(s.phase, s.timestamp - T0) for s in signals] == [(EventPhase.START, 2)]
    assert signals[0].event_type is EventType.PRESENCE
    assert signals[0].attributes["labels"] == ["bicycle"]
    assert signals[0].attributes["track_ids"] == ["9"]  # not the person


def test_rules_are_built_from_zone_config_by_type() -> None:
    zone = ZoneConfig.model_validate(
        {
            "id": "kerb",
            "rules": [
                {"type": "illegal_parking", "min_s": 30},
                {"type": "presence", "labels": ["fire", "smoke"]},
            ],
        }
    )
    built = [build_rule(r, scope=SCOPE) for r in zone.rules]
    assert [type(r) for r in built] == [IllegalParkingRule, PresenceRule]


def test_presence_without_labels_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="labels"):
        ZoneConfig.model_validate({"id": "z", "rules": [{"type": "presence"}]})

"""Tests for edge/rules/engine.py and edge/rules/registry.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pytest

from edge.config import CameraConfig
from edge.rules.base import Rule, RuleScope, RuleSignal, ZoneObservation
from edge.rules.engine import CameraRules, ZoneRules
from edge.rules.occupancy import OccupancyRuleConfig
from edge.rules.registry import build_rule, rule_types
from edge.rules.rule_config import RuleConfigBase
from edge.types import Detections, Frame
from edge.zones import Zone
from gridwatch.contract import EventPhase
from tests.edge.rules.factories import LABELS, T0

LEFT = [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]
RIGHT = [(0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)]


def _camera() -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "cam-1",
            "url": "rtsp://example/1",
            "location": {"lat": 23.1, "lon": 113.3},
            "zones": [
                {
                    "id": "left",
                    "polygon_norm": LEFT,
                    "rules": [
                        {"type": "occupancy", "labels": ["person", "car"]},
                        {"type": "crowding", "threshold": 2, "dwell_s": 1.0},
                    ],
                },
                {
                    "id": "right",
                    "polygon_norm": RIGHT,
                    "rules": [{"type": "intrusion", "min_s": 0.0}],
                },
                {"id": "unused"},
            ],
        }
    )


def _frame(t: float, camera_id: str = "cam-1") -> Frame:
    image = np.zeros((100, 200, 3), dtype=np.uint8)
    return Frame(
        camera_id=camera_id, index=int(t * 10), captured_at=T0 + t, image=image
    )


# left half: x < 100 px; feet at y=90
LEFT_PERSONS = [[10.0, 40.0, 30.0, 90.0], [40.0, 40.0, 60.0, 90.0]]
RIGHT_PERSON = [[150.0, 40.0, 170.0, 90.0]]


def _dets(boxes: list[list[float]], tracker_ids: list[int]) -> Detections:
    return Detections.from_lists(
        boxes, [0.9] * len(boxes), [0] * len(boxes), tracker_ids
    )


def test_camera_rules_given_empty_detections_should_report_zero_occupancy() -> None:
    rules = CameraRules.from_config(_camera())
    result = rules.update(_frame(0), Detections.empty(), LABELS)
    assert result.signals == ()
    assert result.occupancy_zones() == {"left": {"person": 0, "car": 0}}
    assert rules.zone_ids == ("left", "right")


def test_camera_rules_given_objects_should_evaluate_each_zone_separately() -> None:
    rules = CameraRules.from_config(_camera())
    dets = _dets(LEFT_PERSONS + RIGHT_PERSON, [1, -1, 3])
    first = rules.update(_frame(0), dets, LABELS)
    second = rules.update(_frame(1), dets, list(LABELS))
    assert first.occupancy_zones() == {"left": {"person": 2, "car": 0}}
    assert [(s.zone_id, s.rule_type, s.phase) for s in first.signals] == [
        ("right", "intrusion", EventPhase.START)
    ]
    assert [(s.zone_id, s.rule_type, s.phase) for s in second.signals] == [
        ("left", "crowding", EventPhase.START)
    ]
    assert second.timestamp == T0 + 1


def test_camera_rules_given_close_should_end_open_episodes() -> None:
    rules = CameraRules.from_config(_camera())
    dets = _dets(LEFT_PERSONS + RIGHT_PERSON, [1, 2, 3])
    rules.update(_frame(0), dets, LABELS)
    rules.update(_frame(1), dets, LABELS)
    closed = rules.close(T0 + 2)
    assert sorted(s.rule_type for s in closed) == ["crowding", "intrusion"]
    assert all(s.phase is EventPhase.END for s in closed)


def test_camera_rules_given_frame_of_other_camera_should_raise() -> None:
    rules = CameraRules.from_config(_camera())
    with pytest.raises(ValueError, match="'cam-2'"):
        rules.update(_frame(0, camera_id="cam-2"), Detections.empty(), LABELS)


class _BrokenRule(Rule):
    def update(self, obs: ZoneObservation) -> list[RuleSignal]:
        raise RuntimeError("bug in a plug-in")

    @classmethod
    def from_config(cls, config: RuleConfigBase, *, scope: RuleScope) -> _BrokenRule:
        return cls(scope)


def test_camera_rules_given_failing_rule_should_log_and_run_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scope = RuleScope("cam-1", "all", 1)
    occupancy = build_rule(OccupancyRuleConfig(), scope=RuleScope("cam-1", "all", 0))
    zone = Zone.from_points("all", [(0, 0), (1, 0), (1, 1), (0, 1)])
    rules = CameraRules("cam-1", [ZoneRules(zone, (_BrokenRule(scope), occupancy))])
    result = rules.update(_frame(0), _dets(LEFT_PERSONS, [1, 2]), LABELS)
    assert result.occupancy_zones() == {"all": {"person": 2}}
    assert "cam-1" in caplog.text
    assert "bug in a plug-in" in caplog.text


class _PresenceConfig(RuleConfigBase):
    type: Literal["test_presence"] = "test_presence"


class _PresenceRule(Rule):
    type_key = "test_presence"
    config_class = _PresenceConfig

    @classmethod
    def from_config(cls, config: RuleConfigBase, *, scope: RuleScope) -> _PresenceRule:
        return cls(scope)

    def update(self, obs: ZoneObservation) -> list[RuleSignal]:
        return []

    def occupancy(self) -> Mapping[str, int]:
        return {"seen": 1}


def test_build_rule_given_plugin_subclass_should_find_it_by_type() -> None:
    rule = build_rule(_PresenceConfig(), scope=RuleScope("cam-1", "z", 0))
    assert isinstance(rule, _PresenceRule)
    assert {"occupancy", "crowding", "intrusion", "test_presence"} <= set(rule_types())


class _UnknownConfig(RuleConfigBase):
    type: str = "teleportation"


def test_build_rule_given_unknown_type_should_raise_naming_it() -> None:
    with pytest.raises(ValueError, match="teleportation"):
        build_rule(_UnknownConfig(), scope=RuleScope("cam-1", "z", 0))

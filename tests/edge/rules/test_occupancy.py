"""Tests for edge/rules/occupancy.py."""

from __future__ import annotations

import pytest

from edge.rules.base import RuleScope
from edge.rules.occupancy import OccupancyRule, OccupancyRuleConfig, count_by_label
from tests.edge.rules.factories import observe


@pytest.mark.parametrize(
    ("class_ids", "tracker_ids", "labels", "expected"),
    [
        ([], [], ("person",), {"person": 0}),
        ([0, 0, 2], [1, 2, 3], ("person", "car"), {"person": 2, "car": 1}),
        ([0, 0], [-1, -1], ("person",), {"person": 2}),  # untracked still count
        ([1, 2], [1, 2], ("person",), {"person": 0}),
        ([0, 9], [1, 2], ("person", "dog"), {"person": 1, "dog": 0}),  # unknown id
    ],
)
def test_count_by_label_given_detections_should_count_per_label(
    class_ids: list[int],
    tracker_ids: list[int],
    labels: tuple[str, ...],
    expected: dict[str, int],
) -> None:
    obs = observe(0.0, class_ids=class_ids, tracker_ids=tracker_ids)
    assert count_by_label(obs, labels) == expected


def test_occupancy_rule_given_updates_should_report_latest_counts_and_no_signals() -> (
    None
):
    rule = OccupancyRule(
        OccupancyRuleConfig(labels=["person", "car"]), scope=RuleScope("cam-1", "z1", 0)
    )
    assert rule.occupancy() == {"person": 0, "car": 0}
    assert rule.update(observe(0.0, class_ids=[0, 0, 2])) == []
    assert rule.occupancy() == {"person": 2, "car": 1}
    assert rule.update(observe(1.0)) == []
    assert rule.occupancy() == {"person": 0, "car": 0}

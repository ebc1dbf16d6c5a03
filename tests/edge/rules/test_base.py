"""Tests for edge/rules/base.py."""

from __future__ import annotations

import numpy as np
import pytest

from edge.rules.base import (
    Episode,
    Involved,
    RuleScope,
    expect_config,
    union_box_norm,
)
from edge.rules.crowding import CrowdingRuleConfig
from edge.rules.occupancy import OccupancyRuleConfig
from gridwatch.contract import EventPhase, EventType
from tests.edge.rules.factories import observe


@pytest.mark.parametrize(
    ("boxes", "expected"),
    [
        ([], None),
        ([[10, 20, 30, 40]], (0.1, 0.2, 0.3, 0.4)),
        ([[10, 20, 30, 40], [50, 5, 60, 90]], (0.1, 0.05, 0.6, 0.9)),
        ([[-10, -5, 30, 140]], (0.0, 0.0, 0.3, 1.0)),  # clipped to the frame
    ],
)
def test_union_box_norm_given_boxes_should_return_clipped_union(
    boxes: list[list[float]], expected: tuple[float, ...] | None
) -> None:
    xyxy = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    result = union_box_norm(xyxy, (100, 100))
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


@pytest.mark.parametrize(
    ("class_ids", "tracker_ids", "mask", "texts", "track_ids"),
    [
        ([], [], [], (), []),
        ([0, 2], [5, -1], [True, True], ("person #5", "car"), ["5"]),
        ([0, 9], [12, 3], [False, True], ("class_9 #3",), ["3"]),
    ],
)
def test_involved_given_mask_should_describe_selected_boxes(
    class_ids: list[int],
    tracker_ids: list[int],
    mask: list[bool],
    texts: tuple[str, ...],
    track_ids: list[str],
) -> None:
    obs = observe(0.0, class_ids=class_ids, tracker_ids=tracker_ids)
    involved = Involved.from_observation(obs, np.asarray(mask, dtype=np.bool_))
    assert involved.box_labels == texts
    assert involved.track_ids() == track_ids
    assert (involved.box_norm is None) == (not texts)


def test_episode_given_lifecycle_should_keep_id_and_respect_cooldown() -> None:
    episode = Episode(
        scope=RuleScope("cam-1", "z1", 0),
        event_type=EventType.CROWDING,
        rule_type="crowding",
        cooldown_s=10.0,
    )
    involved = Involved.from_observation(
        observe(0, class_ids=[0]), np.array([True], dtype=np.bool_)
    )
    start = episode.start(100.0, involved, {"count": 1})
    with pytest.raises(RuntimeError, match="already open"):
        episode.start(101.0, involved, {})
    update = episode.update(105.0, Involved.none(), {"count": 1})
    end = episode.end(106.0, {"count": 0})
    assert [start.phase, update.phase, end.phase] == [
        EventPhase.START,
        EventPhase.UPDATE,
        EventPhase.END,
    ]
    assert start.event_id == update.event_id == end.event_id
    assert len(start.event_id) == 32
    assert update.involved is involved  # no boxes now: last known ones
    assert not episode.can_start(115.0)
    assert episode.can_start(116.0)


def test_expect_config_given_other_class_should_raise_type_error() -> None:
    config = OccupancyRuleConfig()
    assert expect_config(config, OccupancyRuleConfig) is config
    with pytest.raises(TypeError, match="CrowdingRuleConfig"):
        expect_config(config, CrowdingRuleConfig)

"""Tests for edge/rules/crowding.py."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from edge.rules.base import FramePixels, RuleScope, RuleSignal, ZoneObservation
from edge.rules.crowding import CrowdingRule, CrowdingRuleConfig
from edge.types import Detections
from gridwatch.contract import EventPhase, EventType
from tests.edge.rules.factories import LABELS, T0, observe, persons

CONFIG = CrowdingRuleConfig(
    threshold=3, dwell_s=2.0, clear_s=1.0, cooldown_s=5.0, update_interval_s=2.0
)


def _rule(config: CrowdingRuleConfig = CONFIG) -> CrowdingRule:
    return CrowdingRule(config, scope=RuleScope("cam-1", "z1", 0))


def _run(rule: CrowdingRule, steps: list[tuple[float, int]]) -> list[RuleSignal]:
    return [s for t, count in steps for s in rule.update(persons(t, count))]


def _summary(signals: list[RuleSignal]) -> list[tuple[float, str, object]]:
    return [
        (round(s.timestamp - T0, 3), s.phase.value, s.attributes["count"])
        for s in signals
    ]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([], []),
        ([(0, 0), (1, 0), (2, 0)], []),
        ([(0, 2), (1, 2), (5, 2)], []),
        ([(0, 3), (1, 4), (1.5, 3)], []),
        ([(0, 3), (1, 3), (2, 4)], [(2, "start", 4)]),
        ([(0, 3), (1, 2), (2, 3), (3, 3), (4, 3)], [(4, "start", 3)]),
        (
            [(0, 3), (2, 3), (3, 5), (4, 6), (5, 4), (6, 3)],
            [(2, "start", 3), (4, "update", 6), (6, "update", 3)],
        ),
        (
            [(0, 3), (2, 3), (2.5, 1), (3, 0), (3.5, 0)],
            [(2, "start", 3), (3.5, "end", 0)],
        ),
        (
            [(0, 3), (2, 3), (2.5, 1), (3, 4), (3.5, 1), (4, 4)],
            [(2, "start", 3), (4, "update", 4)],
        ),
        (
            [(0, 3), (2, 3), (2.5, 0), (3.5, 0), (4, 3), (6, 3), (8, 3), (8.5, 3)],
            [(2, "start", 3), (3.5, "end", 0), (8.5, "start", 3)],
        ),
    ],
    ids=[
        "empty",
        "nobody",
        "below-threshold",
        "shorter-than-dwell",
        "sustained-dwell",
        "dip-restarts-dwell",
        "updates-every-interval",
        "ends-after-clear",
        "short-dip-does-not-end",
        "cooldown-delays-next-start",
    ],
)
def test_crowding_rule_given_counts_over_time_should_signal(
    steps: list[tuple[float, int]], expected: list[tuple[float, str, int]]
) -> None:
    assert _summary(_run(_rule(), steps)) == expected


def test_crowding_rule_given_zero_dwell_and_clear_should_start_and_end_at_once() -> (
    None
):
    rule = _rule(CrowdingRuleConfig(threshold=1, dwell_s=0.0, clear_s=0.0))
    signals = _run(rule, [(0, 1), (1, 0)])
    assert _summary(signals) == [(0, "start", 1), (1, "end", 0)]


def test_crowding_rule_given_other_labels_should_not_count_them() -> None:
    rule = _rule()
    signals = [
        s for t in (0, 1, 2, 3) for s in rule.update(observe(t, class_ids=[2, 2, 2, 1]))
    ]
    assert signals == []


def test_crowding_rule_given_episode_should_share_event_id_and_describe_crowd() -> None:
    rule = _rule()
    signals = _run(rule, [(0, 3), (2, 4), (4, 3), (4.5, 0), (5.5, 0)])
    assert [s.phase for s in signals] == [
        EventPhase.START,
        EventPhase.UPDATE,
        EventPhase.END,
    ]
    assert len({s.event_id for s in signals}) == 1
    start, _, end = signals
    assert start.event_type is EventType.CROWDING
    assert start.rule_type == "crowding"
    assert start.zone_id == "z1"
    assert start.started_at == end.started_at == T0 + 2
    assert start.confidence == pytest.approx(0.8)
    assert start.box_norm is not None
    assert len(start.involved.detections) == 4
    assert start.attributes["threshold"] == 3
    assert start.attributes["dwell_s"] == 2.0
    assert start.attributes["track_ids"] == ["0", "1", "2", "3"]
    assert end.attributes["peak_count"] == 4
    assert end.box_norm is not None  # last known boxes carried onto the end


def test_crowding_rule_given_second_episode_should_mint_new_event_id() -> None:
    rule = _rule(CrowdingRuleConfig(threshold=1, dwell_s=0, clear_s=0, cooldown_s=0))
    signals = _run(rule, [(0, 1), (1, 0), (2, 1)])
    assert [s.phase.value for s in signals] == ["start", "end", "start"]
    assert signals[0].event_id == signals[1].event_id != signals[2].event_id


def test_crowding_rule_given_close_should_end_open_episode_once() -> None:
    rule = _rule()
    _run(rule, [(0, 3), (2, 3)])
    closed = rule.close(T0 + 3)
    assert [s.phase for s in closed] == [EventPhase.END]
    assert rule.close(T0 + 4) == []


# A statue (a person-shaped pattern the detector calls a person) in a textured
# room, and a visitor whose pixels change from frame to frame.
_W, _H = 320, 240
_STATUE = [100.0, 60.0, 140.0, 180.0]
_VISITOR = [200.0, 60.0, 240.0, 180.0]


def _room() -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(7)
    image = np.full((_H, _W, 3), 90, dtype=np.uint8)
    image[60:180, 100:140] = rng.integers(0, 255, size=(120, 40, 3), dtype=np.uint8)
    return image


def _with_pixels(t: float, visitor: bool) -> ZoneObservation:
    image = _room()
    boxes, ids = [_STATUE], [1]
    if visitor:
        boxes.append(_VISITOR)
        ids.append(2)
        image[60:180, 200:240] = int(40 + 37 * t) % 200  # never still
    detections = Detections.from_lists(boxes, class_id=[0] * len(boxes), tracker_id=ids)
    return ZoneObservation(
        camera_id="cam-1",
        zone_id="z1",
        timestamp=T0 + t,
        resolution_wh=(_W, _H),
        detections=detections,
        labels=LABELS,
        pixels=FramePixels(
            bgr=image,
            scale=1.0,
            zone_mask=np.ones((_H, _W), dtype=np.bool_),
            detections=detections,
        ),
    )


@pytest.mark.parametrize(
    ("inert_after_s", "expected"),
    [
        (0.0, [(2.0, "start", 1)]),
        (10.0, [(2.0, "start", 1), (11.0, "end", 0), (17.0, "start", 1)]),
    ],
    ids=["filter_off_statue_holds_it", "statue_left_out_after_inert_s"],
)
def test_crowding_given_a_statue_should_stop_counting_it_once_inert(
    inert_after_s: float, expected: list[tuple[float, str, object]]
) -> None:
    config = CONFIG.model_copy(
        update={"threshold": 1, "inert_after_s": inert_after_s, "cooldown_s": 0.0}
    )
    rule = _rule(config)
    signals = [
        s
        for i in range(41)  # 0 .. 20 s; a visitor from 15 s
        for s in rule.update(_with_pixels(i * 0.5, visitor=i * 0.5 >= 15.0))
        if s.phase is not EventPhase.UPDATE
    ]

    assert _summary(signals) == expected


def test_crowding_given_no_pixels_should_count_every_detection() -> None:
    config = CONFIG.model_copy(update={"inert_after_s": 1.0})
    steps = [(float(t), 3) for t in range(10)]

    assert _summary(_run(_rule(config), steps))[0] == (2.0, "start", 3)

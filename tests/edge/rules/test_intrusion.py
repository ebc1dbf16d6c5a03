"""Tests for edge/rules/intrusion.py."""

from __future__ import annotations

import pytest

from edge.rules.base import RuleScope, RuleSignal
from edge.rules.intrusion import IntrusionRule, IntrusionRuleConfig
from gridwatch.contract import EventPhase, EventType
from tests.edge.rules.factories import T0, observe

CONFIG = IntrusionRuleConfig(labels=["person"], min_s=1.0, clear_s=1.0, cooldown_s=5.0)
PERSON, CAR = 0, 2

Step = tuple[float, list[tuple[int, int]]]  # (t, [(class_id, tracker_id), ...])


def _rule(config: IntrusionRuleConfig = CONFIG) -> IntrusionRule:
    return IntrusionRule(config, scope=RuleScope("cam-1", "z1", 1))


def _run(rule: IntrusionRule, steps: list[Step]) -> list[RuleSignal]:
    signals = []
    for t, objects in steps:
        obs = observe(
            t, class_ids=[c for c, _ in objects], tracker_ids=[k for _, k in objects]
        )
        signals.extend(rule.update(obs))
    return signals


def _summary(signals: list[RuleSignal]) -> list[tuple[float, str, object]]:
    return [
        (round(s.timestamp - T0, 3), s.phase.value, s.attributes["track_ids"])
        for s in signals
    ]


P7 = [(PERSON, 7)]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([], []),
        ([(0, []), (3, [])], []),
        ([(t, [(PERSON, -1)]) for t in (0, 1, 2, 3)], []),
        ([(0, P7), (0.5, P7)], []),
        ([(0, P7), (0.5, P7), (1.0, P7)], [(1.0, "start", ["7"])]),
        ([(t, [(CAR, 3)]) for t in (0, 1, 2, 3)], []),
        (
            [(0, P7), (1.0, P7), (1.5, []), (2.5, [])],
            [(1.0, "start", ["7"]), (2.5, "end", ["7"])],
        ),
        (
            [
                (0, P7),
                (1.0, P7),
                (1.5, [(PERSON, -1)]),
                (2.5, [(PERSON, -1)]),
                (3.6, []),
            ],
            [(1.0, "start", ["7"]), (3.6, "end", ["7"])],
        ),
        (
            [(0, P7), (0.5, P7), (2.0, P7), (2.5, P7), (3.0, P7)],
            [(3.0, "start", ["7"])],
        ),
        ([(0, [(PERSON, 7)]), (0.5, [(PERSON, 8)]), (1.0, [(PERSON, 9)])], []),
        (
            [(0, P7), (1, P7), (2, []), (3, []), *((t, P7) for t in (4, 5, 6, 7, 8))],
            [(1, "start", ["7"]), (2, "end", ["7"]), (7, "start", ["7"])],
        ),
        (
            [(0, P7), (1, [(PERSON, 7), (PERSON, 8)]), (2, [(PERSON, 8)]), (3, [])],
            [(1, "start", ["7"]), (3, "end", ["7", "8"])],
        ),
    ],
    ids=[
        "empty",
        "nobody",
        "untracked-only",
        "shorter-than-min",
        "stays-min-s",
        "other-label",
        "ends-after-clear",
        "untracked-presence-keeps-it-open",
        "absence-restarts-dwell",
        "track-id-flicker",
        "cooldown-delays-next-start",
        "later-intruders-listed-at-end",
    ],
)
def test_intrusion_rule_given_tracks_over_time_should_signal(
    steps: list[Step], expected: list[tuple[float, str, list[str]]]
) -> None:
    assert _summary(_run(_rule(), steps)) == expected


def test_intrusion_rule_given_zero_min_s_should_start_on_first_tracked_frame() -> None:
    rule = _rule(IntrusionRuleConfig(labels=["person", "car"], min_s=0.0))
    signals = _run(rule, [(0, [(CAR, -1)]), (0.2, [(CAR, 4)])])
    assert _summary(signals) == [(0.2, "start", ["4"])]


def test_intrusion_rule_given_episode_should_share_event_id_and_describe_it() -> None:
    rule = _rule()
    signals = _run(rule, [(0, P7), (0.5, P7), (1.5, P7), (2.0, []), (3.0, [])])
    start, end = signals
    assert start.event_id == end.event_id
    assert start.event_type is EventType.INTRUSION
    assert start.rule_key == "cam-1/z1/1"
    assert start.attributes["dwell_s"] == 1.5
    assert start.attributes["labels"] == ["person"]
    assert end.phase is EventPhase.END
    assert end.attributes["duration_s"] == 1.5  # ended at 3.0
    assert end.box_norm == start.box_norm


def test_intrusion_rule_given_close_should_end_open_episode_once() -> None:
    rule = _rule()
    _run(rule, [(0, P7), (1, P7)])
    assert [s.phase for s in rule.close(T0 + 1.2)] == [EventPhase.END]
    assert rule.close(T0 + 2) == []

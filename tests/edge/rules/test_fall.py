"""Tests for edge/rules/fall.py on synthetic people (box + keypoints per posture)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from pydantic import ValidationError

from edge.pose.types import PersonPoses, empty_keypoints
from edge.rules.base import RuleScope, RuleSignal, ZoneObservation
from edge.rules.crowding import CrowdingRuleConfig
from edge.rules.fall import FallRule, FallRuleConfig
from edge.rules.registry import build_rule, rule_types
from edge.types import Detections
from gridwatch.contract import EventPhase, EventType
from tests.edge.pose.skeletons import Person, person
from tests.edge.rules.factories import LABELS, T0

CONFIG = FallRuleConfig(
    down_s=1.0, transition_s=2.0, drop_ratio=0.2, clear_s=1.0, cooldown_s=5.0
)
RESOLUTION_WH = (1280, 720)
PERSON, CAR = 0, 2
FPS = 10

Someone = tuple[int, str, int]  # one person on one frame: track id, posture, class
Step = tuple[float, list[Someone]]


def _timeline(*segments: tuple[float, str | None], track_id: int = 7) -> list[Step]:
    """10 fps frames of one person: (seconds, posture) segments in order; a
    None posture is a stretch with nobody there."""
    steps: list[Step] = []
    t = 0.0
    for duration_s, posture in segments:
        for _ in range(round(duration_s * FPS)):
            steps.append((t, [] if posture is None else [(track_id, posture, PERSON)]))
            t = round(t + 1.0 / FPS, 6)
    return steps


def _observe(
    t: float, people: Sequence[Someone], *, with_pose: bool = True, held: bool = False
) -> ZoneObservation:
    """An observation at T0 + t; person i stands at x = 200 + 500 i."""
    bodies = [person(p[1], x=200.0 + 500.0 * i) for i, p in enumerate(people)]
    return _observation(
        t,
        [(p[0], p[2], body) for p, body in zip(people, bodies, strict=True)],
        with_pose=with_pose,
        held=held,
    )


def _observation(
    t: float,
    bodies: Sequence[tuple[int, int, Person]],
    *,
    with_pose: bool = True,
    held: bool = False,
) -> ZoneObservation:
    """An observation at T0 + t of (track id, class id, body) triples."""
    n = len(bodies)
    persons = Detections.from_lists(
        [b.xyxy.tolist() for _, _, b in bodies],
        confidence=[0.8] * n,
        class_id=[c for _, c, _ in bodies],
        tracker_id=[i for i, _, _ in bodies],
    )
    poses = PersonPoses(
        persons=persons,
        keypoints=np.stack([b.keypoints for _, _, b in bodies])
        if n
        else empty_keypoints(0),
        has_pose=np.ones(n, dtype=np.bool_),
        is_held=np.full(n, held, dtype=np.bool_),
    )
    return ZoneObservation(
        camera_id="cam-1",
        zone_id="z1",
        timestamp=T0 + t,
        resolution_wh=RESOLUTION_WH,
        detections=persons,
        labels=LABELS,
        poses=poses if with_pose else None,
    )


def _rule(config: FallRuleConfig = CONFIG) -> FallRule:
    return FallRule(config, scope=RuleScope("cam-1", "z1", 0))


def _run(rule: FallRule, steps: list[Step], **kwargs: bool) -> list[RuleSignal]:
    signals: list[RuleSignal] = []
    for t, people in steps:
        signals.extend(rule.update(_observe(t, people, **kwargs)))
    return signals


def _summary(signals: list[RuleSignal]) -> list[tuple[float, str]]:
    return [(round(s.timestamp - T0, 2), s.phase.value) for s in signals]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([], []),
        (_timeline((3.0, None)), []),
        (_timeline((2.0, "standing"), (3.0, "lying")), [(3.0, "start")]),
        (
            _timeline((2.0, "standing"), (0.3, "bending"), (3.0, "lying")),
            [(3.3, "start")],
        ),
        (_timeline((2.0, "standing"), (0.5, "lying"), (2.0, "standing")), []),
        (_timeline((2.0, "standing"), (5.0, "sitting_chair")), []),
        (_timeline((2.0, "standing"), (5.0, "sitting_floor")), []),
        (_timeline((2.0, "standing"), (2.0, "bending"), (2.0, "standing")), []),
        (_timeline((6.0, "lying")), []),
        (
            _timeline((2.0, "standing"), (3.0, "sitting_floor"), (3.0, "lying")),
            [],
        ),
        (_timeline((2.0, "sitting_chair"), (3.0, "lying")), [(3.0, "start")]),
        (
            _timeline((2.0, "standing"), (2.0, "lying"), (2.0, "standing")),
            [(3.0, "start"), (5.0, "end")],
        ),
        (
            _timeline((2.0, "standing"), (2.0, "lying"), (2.0, None)),
            [(3.0, "start"), (4.9, "end")],
        ),
    ],
    ids=[
        "empty",
        "nobody",
        "upright_then_lying_fires_after_down_s",
        "through_a_stoop_fires_after_down_s",
        "brief_dip",
        "sitting_on_a_chair",
        "sitting_on_the_floor",
        "bending",
        "lying_from_the_start",
        "lying_down_slowly",
        "off_a_chair",
        "gets_up",
        "leaves",
    ],
)
def test_fall_given_timeline_should_signal(
    steps: list[Step], expected: list[tuple[float, str]]
) -> None:
    assert _summary(_run(_rule(), steps)) == expected


def _five_fps(*segments: tuple[float, str, float]) -> list[tuple[float, Person]]:
    """5 fps frames of one person: (seconds, posture, feet y in px) segments."""
    frames: list[tuple[float, Person]] = []
    for duration_s, posture, ground in segments:
        for _ in range(round(duration_s * 5)):
            t = round(len(frames) / 5, 6)
            frames.append((t, person(posture, ground=ground)))
    return frames


def _observe_body(t: float, body: Person) -> ZoneObservation:
    """An observation at T0 + t of track 7 as `body`, with its pose."""
    return _observation(t, [(7, PERSON, body)])


# Standing 300 px tall on y = 420 (hips at 264); the one frame read as lying on
# the way down has the hips only 45 px (0.15 of the height) lower, the rest of
# the way down (hips 0.3 lower) reads as neither upright nor lying.
_EARLY_LYING = (0.2, "lying", 336.0)
_ON_THE_WAY_DOWN = (0.8, "bending", 510.0)


@pytest.mark.parametrize(
    ("segments", "expected"),
    [
        (
            [(2.0, "standing", 420.0), _EARLY_LYING, _ON_THE_WAY_DOWN],
            [],
        ),
        (
            [
                (2.0, "standing", 420.0),
                _EARLY_LYING,
                _ON_THE_WAY_DOWN,
                (2.0, "lying", 420.0),
            ],
            [(3.0, "start")],
        ),
        (
            [
                (2.0, "standing", 420.0),
                _EARLY_LYING,
                _ON_THE_WAY_DOWN,
                (2.0, "standing", 420.0),
            ],
            [],
        ),
    ],
    ids=["never_lying_after", "down_from_the_first_lying_frame", "gets_up"],
)
def test_fall_given_drop_after_the_only_early_lying_frame_should_count_it(
    segments: list[tuple[float, str, float]], expected: list[tuple[float, str]]
) -> None:
    # At 5 fps a fall's way down may get one frame read as lying before the
    # hips have dropped `drop_ratio`; the rest of the drop, on frames read as
    # neither, still belongs to that lying spell, and the person is down from
    # its first frame (not from the next lying frame, a second later).
    rule = _rule(CONFIG.model_copy(update={"down_s": 0.9}))
    signals: list[RuleSignal] = []
    for t, body in _five_fps(*segments):
        signals.extend(rule.update(_observe_body(t, body)))
    assert _summary(signals) == expected


def test_fall_given_falls_within_cooldown_should_start_only_outside_it() -> None:
    one_fall = ((2.0, "standing"), (2.0, "lying"), (1.5, "standing"))
    steps = _timeline(*one_fall, *one_fall, *one_fall)
    assert _summary(_run(_rule(), steps)) == [
        (3.0, "start"),
        (5.0, "end"),
        (14.0, "start"),
        (16.0, "end"),
    ]


def test_fall_given_boxes_only_should_fire_on_box_geometry() -> None:
    steps = _timeline((2.0, "standing"), (3.0, "lying"))
    assert _summary(_run(_rule(), steps, with_pose=False)) == [(3.0, "start")]


def test_fall_given_start_should_describe_the_person() -> None:
    steps = _timeline((2.0, "standing"), (1.5, "lying"))
    (signal,) = _run(_rule(), steps, held=True)
    assert signal.event_type is EventType.FALL
    assert signal.phase is EventPhase.START
    assert signal.rule_type == "fall"
    assert signal.involved.box_labels == ("person #7",)
    assert signal.box_norm == pytest.approx(
        (191 / 1280, 360 / 720, 500 / 1280, 420 / 720), abs=1e-4
    )
    attributes = dict(signal.attributes)
    assert attributes["track_id"] == "7"
    assert attributes["down_s"] == pytest.approx(1.0)
    assert attributes["is_held"] is True
    drop, angle = attributes["drop_ratio"], attributes["torso_angle_deg"]
    assert isinstance(drop, float) and drop > 0.3
    assert isinstance(angle, float) and 80.0 <= angle <= 100.0


def test_fall_given_new_track_where_fallen_one_vanished_should_continue_it() -> None:
    steps = _timeline((2.0, "standing"), (0.5, "lying"))
    steps += _timeline((2.0, "lying"), track_id=8)
    steps = [(round(i / FPS, 6), people) for i, (_, people) in enumerate(steps)]
    signals = _run(_rule(), steps)
    assert _summary(signals) == [(3.0, "start")]
    assert signals[0].attributes["track_id"] == "8"


def test_fall_given_two_people_should_signal_only_the_one_who_fell() -> None:
    fall = _timeline((2.0, "standing"), (2.0, "lying"), track_id=2)
    steps = [(t, [(1, "standing", PERSON), *people]) for t, people in fall]
    signals = _run(_rule(), steps)
    assert _summary(signals) == [(3.0, "start")]
    assert signals[0].attributes["track_id"] == "2"
    box = signals[0].box_norm
    assert box is not None and box[0] > 0.5  # the second person, at x = 700 px


@pytest.mark.parametrize(
    ("track_id", "class_id", "labels"),
    [(7, CAR, ["person"]), (-1, PERSON, ["person"]), (7, PERSON, ["car"])],
    ids=["other_label", "untracked", "person_not_in_labels"],
)
def test_fall_given_objects_it_does_not_watch_should_ignore_them(
    track_id: int, class_id: int, labels: list[str]
) -> None:
    steps = [
        (t, [(track_id, posture, class_id) for _, posture, _ in people])
        for t, people in _timeline((2.0, "standing"), (3.0, "lying"))
    ]
    config = CONFIG.model_copy(update={"labels": labels})
    assert _run(_rule(config), steps) == []


def test_close_given_open_event_should_end_it_and_then_nothing() -> None:
    rule = _rule()
    assert _summary(_run(rule, _timeline((2.0, "standing"), (1.5, "lying")))) == [
        (3.0, "start")
    ]
    (end,) = rule.close(T0 + 10.0)
    assert end.phase is EventPhase.END
    assert end.attributes["down_s"] == pytest.approx(8.0)
    assert rule.close(T0 + 11.0) == []


def test_close_given_no_event_should_return_nothing() -> None:
    assert _rule().close(T0) == []


def test_registry_given_fall_config_should_build_fall_rule() -> None:
    assert rule_types()["fall"] is FallRule
    rule = build_rule(FallRuleConfig(), scope=RuleScope("cam-1", "z1", 0))
    assert isinstance(rule, FallRule)


def test_from_config_given_other_config_should_raise() -> None:
    with pytest.raises(TypeError, match="FallRuleConfig"):
        FallRule.from_config(CrowdingRuleConfig(), scope=RuleScope("c", "z", 0))


VALID = {"type": "fall", "down_s": 1.0}


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({}, None),
        ({"down_s": 30}, None),
        ({"down_s": 0}, "down_s"),
        ({"transition_s": -1}, "transition_s"),
        ({"drop_ratio": 1.5}, "drop_ratio"),
        ({"min_keypoint_score": 2}, "min_keypoint_score"),
        ({"labels": []}, "labels"),
        ({"lying_min_deg": 30, "upright_max_deg": 40}, "lying_min_deg"),
        ({"pose_model": ""}, "pose_model"),
        ({"down": 1}, "down"),
    ],
)
def test_config_given_change_should_validate(
    change: dict[str, object], error: str | None
) -> None:
    if error is None:
        config = FallRuleConfig.model_validate({**VALID, **change})
        assert config.pose_model == "movenet_lightning"
        return
    with pytest.raises(ValidationError, match=error):
        FallRuleConfig.model_validate({**VALID, **change})


def _frames_5fps(postures: list[str], start_s: float = 0.0) -> list[Step]:
    """One person at 5 fps, one posture per frame."""
    return [
        (round(start_s + i * 0.2, 6), [(7, p, PERSON)]) for i, p in enumerate(postures)
    ]


STOOD = ["standing"] * 10  # 0.0 .. 1.8 s


def test_fall_given_lying_readings_alternating_with_misreads_should_start() -> None:
    # Seen at 5 fps on subject_1_fall_13 from one start frame of six: lying
    # and other readings alternate, and the frame at down_s reads "other".
    lying = ["lying", "bending", "lying", "bending", "lying", "bending", "bending"]
    steps = _frames_5fps(STOOD + lying + ["bending"] * 5)

    assert _summary([s for s in _run(_rule(), steps) if s.phase.value == "start"]) == [
        (3.0, "start")
    ]


def test_fall_given_one_upright_misread_in_a_wide_box_should_keep_the_fall() -> None:
    # Seen at 5 fps on subject_4_fall_02: one pose reading at 20 degrees of a
    # person on the floor, in a box 1.8 times wider than tall.
    lying = ["lying"] * 5 + ["sitting_floor"] + ["lying"] * 5
    steps = _frames_5fps(STOOD + lying)

    starts = [s for s in _run(_rule(), steps) if s.phase.value == "start"]

    assert _summary(starts) == [(3.2, "start")]


def test_fall_given_sitting_up_after_a_short_drop_should_not_start() -> None:
    steps = _frames_5fps(STOOD + ["lying"] * 3 + ["sitting_floor"] * 15)

    assert _run(_rule(), steps) == []


@pytest.mark.parametrize("offset", range(6))
def test_fall_given_any_sampling_phase_should_start_once(offset: int) -> None:
    # A 30 fps fall seen at 5 fps: every sixth frame, from each start offset.
    frames = ["standing"] * 60 + ["bending"] * 6 + ["lying"] * 90
    rule = _rule()
    signals: list[RuleSignal] = []
    for i in range(offset, len(frames), 6):
        signals += rule.update(_observe(i / 30.0, [(7, frames[i], PERSON)]))

    assert [s.phase.value for s in signals if s.phase.value == "start"] == ["start"]


def test_fall_given_clip_ending_a_hair_before_down_s_should_start_on_last_frame() -> (
    None
):
    # subject_4_fall_02 at 5 fps: its last frame comes 0.99 s after the fall
    # (variable frame timing); the frame nearest the 1 s mark decides.
    steps = _frames_5fps(STOOD) + [
        (t, [(7, "lying", PERSON)]) for t in (2.0, 2.2, 2.4, 2.6, 2.79, 2.99)
    ]

    starts = [s for s in _run(_rule(), steps) if s.phase.value == "start"]

    assert _summary(starts) == [(2.99, "start")]


# Irregular sampling (a congested uplink: frames 0.1-0.45 s apart) with boxes
# only (no keypoint seen), 300 px tall on y = 420: standing reads upright; the
# resting box, 1.15 times as wide as tall, reads neither upright nor lying
# (just under the lying shape); the lying box, 1.22 times, reads lying.
_STANDING_BOX = (161.0, 120.0, 239.0, 420.0)
_RESTING_BOX = (170.0, 300.0, 308.0, 420.0)
_LYING_BOX = (170.0, 300.0, 316.0, 420.0)
_CROUCH_BOX = (170.0, 300.0, 284.0, 420.0)  # 0.95 as wide as tall
_STOOD_AT = (0.0, 0.3, 0.55, 0.9, 1.2, 1.5)


def _box_only(xyxy: tuple[float, float, float, float]) -> Person:
    return Person(
        xyxy=np.array(xyxy, dtype=np.float32),
        keypoints=np.zeros((17, 3), dtype=np.float32),
    )


def _run_boxes(
    frames: Sequence[tuple[float, tuple[float, float, float, float]]],
) -> list[tuple[float, str]]:
    rule = _rule()
    signals: list[RuleSignal] = []
    for t, xyxy in frames:
        signals.extend(rule.update(_observe_body(t, _box_only(xyxy))))
    return _summary([s for s in signals if s.phase is EventPhase.START])


def _at(
    times: Sequence[float], xyxy: tuple[float, float, float, float]
) -> list[tuple[float, tuple[float, float, float, float]]]:
    return [(t, xyxy) for t in times]


def test_fall_given_rest_read_lying_only_two_seconds_later_should_start() -> None:
    # subject_1_fall_13 at ~3.6 fps: down at 1.6 s, still in the same box,
    # read lying first at 3.7 s; the drop was measured back from 3.7 s and
    # fell outside transition_s.
    frames = (
        _at(_STOOD_AT, _STANDING_BOX)
        + _at((1.8, 2.2, 2.5, 2.9, 3.3, 3.6), _RESTING_BOX)
        + _at((3.8, 4.1, 4.5, 4.8, 5.2), _LYING_BOX)
    )

    assert _run_boxes(frames) == [(4.1, "start")]


def test_fall_given_slow_lowering_at_uneven_rate_should_not_start() -> None:
    # Going down over 4 s (kneeling, then lying down): the box sinks a little
    # on every frame, so no rest ends a quick drop.
    times = [round(1.8 + 0.3 * i + (0.1 if i % 3 == 0 else 0.0), 3) for i in range(14)]
    sinking = [
        (t, (170.0, 120.0 + 180.0 * (i + 1) / 14, 308.0, 420.0))
        for i, t in enumerate(times)
    ]
    frames = (
        _at(_STOOD_AT, _STANDING_BOX)
        + sinking
        + _at((6.2, 6.5, 6.9, 7.2, 7.6, 8.0, 8.3), _LYING_BOX)
    )

    assert _run_boxes(frames) == []


def test_fall_given_rest_longer_than_the_bound_before_lying_should_not_start() -> None:
    # Down quickly, then 3.6 s still (sitting, read as neither) before the
    # first lying reading: lying down, not a fall read late.
    rest = [round(1.8 + 0.3 * i, 3) for i in range(13)]
    frames = (
        _at(_STOOD_AT, _STANDING_BOX)
        + _at(rest, _RESTING_BOX)
        + _at((5.7, 6.0, 6.4, 6.7, 7.1, 7.4), _LYING_BOX)
    )

    assert _run_boxes(frames) == []


def test_fall_given_still_crouch_then_lying_reading_should_not_start() -> None:
    # A crouch box (taller than wide) is not a lying person read late.
    frames = (
        _at(_STOOD_AT, _STANDING_BOX)
        + _at((1.8, 2.2, 2.5, 2.9, 3.3, 3.6), _CROUCH_BOX)
        + _at((3.8, 4.1, 4.5, 4.8, 5.2), _LYING_BOX)
    )

    assert _run_boxes(frames) == []


@pytest.mark.parametrize(
    ("first_lying_s", "expected"),
    [(3.4, [(4.3, "start")]), (4.6, [])],
    ids=["gap_2.4s_tolerated", "gap_3.6s_too_long"],
)
def test_fall_given_frames_lost_on_the_way_down_should_tolerate_a_bounded_gap(
    first_lying_s: float, expected: list[tuple[float, str]]
) -> None:
    # No frame between standing at 1.0 s and lying: up to 1 s of the blind
    # stretch is not counted in transition_s (2 s).
    stood = _at((0.0, 0.3, 0.6, 1.0), _STANDING_BOX)
    lying = [round(first_lying_s + 0.3 * i, 3) for i in range(8)]

    assert _run_boxes(stood + _at(lying, _LYING_BOX)) == expected


def test_fall_given_read_lying_once_then_resting_in_that_box_should_start() -> None:
    # subject_1_fall_13 at ~3.6 fps with the input fitted to the frame: read
    # lying at 1.9 s, then "other" for seconds in the same lying-shaped box.
    frames = (
        _at(_STOOD_AT, _STANDING_BOX)
        + _at((1.8,), _LYING_BOX)
        + _at((2.2, 2.5, 2.9, 3.3, 3.6, 4.0), _RESTING_BOX)
    )

    assert _run_boxes(frames) == [(2.9, "start")]


def test_fall_given_read_lying_once_then_crouching_should_not_start() -> None:
    # A crouch box (taller than wide) after one lying reading is not a rest.
    frames = (
        _at(_STOOD_AT, _STANDING_BOX)
        + _at((1.8,), _LYING_BOX)
        + _at((2.2, 2.5, 2.9, 3.3, 3.6, 4.0), _CROUCH_BOX)
    )

    assert _run_boxes(frames) == []


def test_fall_given_read_lying_while_sliding_down_then_resting_should_start() -> None:
    # subject_3_fall_19 at ~3.6 fps: read lying once on the way down, then at
    # rest a little lower (a box overlapping the lying one by IoU 0.4) and
    # read as neither until the clip ends.
    sliding = (160.0, 250.0, 330.0, 380.0)
    frames = (
        _at(_STOOD_AT, _STANDING_BOX)
        + _at((1.8,), sliding)
        + _at((2.2, 2.5, 2.9, 3.3, 3.6, 4.0), _RESTING_BOX)
    )

    assert _run_boxes(frames) == [(2.9, "start")]


def test_fall_given_read_lying_then_coming_to_rest_much_later_should_not_start() -> (
    None
):
    # After the lying reading the person moves about (crouched) for over a
    # second before lying still: that rest is not the fall's.
    frames = (
        _at(_STOOD_AT, _STANDING_BOX)
        + _at((1.8,), _LYING_BOX)
        + _at((2.2, 2.5, 2.9), _CROUCH_BOX)
        + _at((3.3, 3.6, 4.0, 4.3, 4.7), _RESTING_BOX)
    )

    assert _run_boxes(frames) == []

"""The composited scenes: what is pasted where and when, and the rules that watch.

The indoor scenes are here; the outdoor and top-down ones (issue 14) are in
`outdoor_scenes`; the pieces they are made of in `spec`, re-exported here.
"""

from __future__ import annotations

from typing import Any

from gridwatch.contract import EventType
from simulators.scenario.outdoor_scenes import OUTDOOR_SCENES
from simulators.scenario.spec import (
    OWNER_AWAY_FRAC,
    OWNER_AWAY_S,
    STATIC_S,
    Background,
    BoxNorm,
    CrowdMember,
    Drop,
    Keyframe,
    Lighting,
    Mover,
    Placed,
    PointNorm,
    SceneKind,
    SceneSpec,
    Segment,
    Walker,
    abandoned_rule,
    back_and_forth,
    littering_rule,
)

__all__ = [
    "CROWD_SCENES",
    "LITTER_SCENES",
    "OUTDOOR_SCENES",
    "OWNER_AWAY_FRAC",
    "OWNER_AWAY_S",
    "SCENES",
    "STATIC_S",
    "Background",
    "BoxNorm",
    "CrowdMember",
    "Drop",
    "Keyframe",
    "Lighting",
    "Mover",
    "Placed",
    "PointNorm",
    "SceneKind",
    "SceneSpec",
    "Segment",
    "Walker",
    "abandoned_rule",
    "back_and_forth",
    "littering_rule",
    "scene_by_name",
]

ONE_BY_ONE = "one-by-one-person-detection.mp4"
WORKER_ZONE = "worker-zone-detection.gif"

# Where objects can lie: the floor of each background (normalised polygon).
ROOM_FLOOR: tuple[PointNorm, ...] = ((0.0, 0.58), (1.0, 0.58), (1.0, 1.0), (0.0, 1.0))
WAREHOUSE_FLOOR: tuple[PointNorm, ...] = (
    (0.0, 0.25),
    (1.0, 0.25),
    (1.0, 1.0),
    (0.0, 1.0),
)


def room(start: float, end: float, *, empty: Segment, total_s: float) -> Background:
    """The room of `one-by-one-person-detection.mp4` from `start` to `end`,
    then its empty stretch `empty` back and forth until `total_s`."""
    segments: list[Segment] = [(start, end)]
    rest = total_s - (end - start)
    if rest > 0:
        # Carry on from the end of the footage: forwards from the stretch's
        # start, or backwards when the footage ended at the stretch's end.
        forwards = end - empty[0] < empty[1] - end
        segments += back_and_forth(*empty, total_s=rest, forwards=forwards)
    return Background(
        clip=ONE_BY_ONE, segments=tuple(segments), plate=(0.0, 5.5), floor=ROOM_FLOOR
    )


# The room's empty stretches (clip seconds): nobody in view.
_EMPTY_AFTER = {
    1: (20.8, 22.7),
    2: (45.8, 50.2),
    3: (70.8, 74.2),
    4: (87.8, 92.2),
    5: (121.0, 123.2),
    6: (137.0, 139.3),
}

_BOTH = (littering_rule(), abandoned_rule())
# A zone where anything left is luggage (a station hall): the detector does not
# know the small black bag of the footage, so it has no label to go by.
_LUGGAGE = (abandoned_rule(unknown_objects=True),)

LITTER_SCENES: tuple[SceneSpec, ...] = (
    SceneSpec(
        name="litter_bottle_visit1",
        kind="positive",
        description="A woman walks in with a bottle, puts it down beside her "
        "feet at the table, stands on, then walks out to the right.",
        background=room(0.0, 21.0, empty=_EMPTY_AFTER[1], total_s=34.0),
        rules=_BOTH,
        drops=(
            Drop("bottle_blue", (10.0, 0.58, 0.91), 10.0, expect=EventType.LITTERING),
        ),
    ),
    SceneSpec(
        name="litter_plastic_bag_visit2",
        kind="positive",
        description="A man puts a full plastic bag down by the table and "
        "leaves without it.",
        background=room(20.9, 46.0, empty=_EMPTY_AFTER[2], total_s=38.0),
        rules=_BOTH,
        drops=(Drop("plastic_bag", (8.0, 0.6, 0.89), 8.0, expect=EventType.LITTERING),),
    ),
    SceneSpec(
        name="litter_pink_bottle_visit3",
        kind="positive",
        description="A woman sets a pink bottle down left of her feet and leaves it.",
        background=room(46.0, 71.0, empty=_EMPTY_AFTER[3], total_s=36.0),
        rules=_BOTH,
        drops=(
            Drop(
                "bottle_pink",
                (12.0, 0.62, 0.9),
                12.0,
                side=-1,
                expect=EventType.LITTERING,
            ),
        ),
    ),
    SceneSpec(
        name="litter_clear_bottle_visit5",
        kind="positive",
        description="A man puts a water bottle down, stands beside it for "
        "20 s, then leaves it.",
        background=room(88.0, 121.0, empty=_EMPTY_AFTER[5], total_s=44.0),
        rules=_BOTH,
        drops=(
            Drop("bottle_clear", (9.0, 0.59, 0.88), 9.0, expect=EventType.LITTERING),
        ),
    ),
    SceneSpec(
        name="litter_bottle_worker",
        kind="positive",
        description="A worker crossing a warehouse floor drops a bottle and "
        "walks on into the distance; 3 s of the empty floor come first.",
        background=Background(
            clip=WORKER_ZONE,
            segments=(
                (0.0, 4.7),
                *back_and_forth(3.4, 4.7, total_s=17.0),
            ),
            plate=None,
            floor=WAREHOUSE_FLOOR,
            lead_in_s=3.0,
        ),
        # People are small in this wide view: "away" is a shorter distance.
        rules=(
            littering_rule(owner_away_frac=0.08),
            abandoned_rule(owner_away_frac=0.08),
        ),
        drops=(Drop("bottle_blue", (3.5, 0.6, 1.0), 3.8, expect=EventType.LITTERING),),
        fps=15.0,
    ),
    SceneSpec(
        name="abandoned_black_bag_visit4",
        kind="positive",
        description="A woman puts a black bag down by the table and leaves without it.",
        background=room(71.0, 88.0, empty=_EMPTY_AFTER[4], total_s=34.0),
        rules=_LUGGAGE,
        drops=(
            Drop(
                "black_bag",
                (7.5, 0.56, 0.88),
                7.5,
                expect=EventType.ABANDONED_OBJECT,
            ),
        ),
    ),
    SceneSpec(
        name="abandoned_black_bag_visit6",
        kind="positive",
        description="A man puts a black bag down left of his feet and leaves "
        "without it.",
        background=room(121.0, 137.0, empty=_EMPTY_AFTER[6], total_s=32.0),
        rules=_LUGGAGE,
        drops=(
            Drop(
                "black_bag",
                (6.5, 0.57, 0.91),
                6.5,
                side=-1,
                expect=EventType.ABANDONED_OBJECT,
            ),
        ),
    ),
    SceneSpec(
        name="abandoned_black_bag_visit2",
        kind="positive",
        description="A man puts a black bag down right of his feet, stands by "
        "it for 14 s and leaves without it.",
        background=room(20.9, 46.0, empty=_EMPTY_AFTER[2], total_s=38.0),
        rules=_LUGGAGE,
        drops=(
            Drop(
                "black_bag",
                (10.0, 0.6, 0.89),
                10.0,
                expect=EventType.ABANDONED_OBJECT,
            ),
        ),
    ),
    SceneSpec(
        name="litter_bottle_next_visitor",
        kind="positive",
        description="A woman leaves a bottle by the table; the next visitor "
        "stands right beside it for 18 s and leaves: one event, for the first.",
        background=room(0.0, 46.0, empty=_EMPTY_AFTER[2], total_s=52.0),
        rules=_BOTH,
        drops=(
            Drop("bottle_blue", (10.0, 0.58, 0.91), 10.0, expect=EventType.LITTERING),
        ),
    ),
    SceneSpec(
        name="neg_pickup_black_bag_visit2",
        kind="negative",
        description="A man puts a black bag down, picks it up again 12 s "
        "later and leaves with it.",
        background=room(20.9, 46.0, empty=_EMPTY_AFTER[2], total_s=38.0),
        rules=_LUGGAGE,
        drops=(Drop("black_bag", (7.0, 0.6, 0.89), 7.0, pick_s=19.0),),
    ),
    SceneSpec(
        name="neg_pickup_plastic_bag_visit5",
        kind="negative",
        description="A man puts a plastic bag down, picks it up again after "
        "18 s and leaves with it.",
        background=room(88.0, 121.0, empty=_EMPTY_AFTER[5], total_s=44.0),
        rules=_BOTH,
        drops=(Drop("plastic_bag", (9.0, 0.59, 0.88), 9.0, pick_s=27.0),),
    ),
    SceneSpec(
        name="neg_from_start_visit1",
        kind="negative",
        description="A bottle and a black bag lie on the floor from the first "
        "frame; a woman walks past them to the table and out.",
        background=room(0.0, 21.0, empty=_EMPTY_AFTER[1], total_s=34.0),
        rules=(littering_rule(), abandoned_rule(unknown_objects=True)),
        placed=(
            Placed("bottle_blue", (0.82, 0.8), 48),
            Placed("black_bag", (0.28, 0.95), 70),
        ),
    ),
    SceneSpec(
        name="neg_standing_visit5",
        kind="negative",
        description="The real footage only: a man stands still at the table "
        "for 22 s and leaves.",
        background=room(88.0, 121.0, empty=_EMPTY_AFTER[5], total_s=40.0),
        rules=(littering_rule(), abandoned_rule(unknown_objects=True)),
    ),
    SceneSpec(
        name="neg_lighting_visit4",
        kind="negative",
        description="The lights dim to 60 % over 1 s and come back; a lamp "
        "brightens the left of the floor for 14 s; a woman visits the table.",
        background=room(71.0, 88.0, empty=_EMPTY_AFTER[4], total_s=34.0),
        rules=(littering_rule(), abandoned_rule(unknown_objects=True)),
        lighting=(
            Lighting(start_s=4.0, ramp_s=1.0, gain=0.6, end_s=20.0),
            Lighting(
                start_s=12.0,
                ramp_s=0.6,
                gain=1.35,
                end_s=26.0,
                region=(0.0, 0.45, 0.5, 1.0),
            ),
        ),
    ),
    SceneSpec(
        name="neg_owner_stays_visit2",
        kind="negative",
        description="A man puts a black bag down and stays beside it until "
        "the clip ends.",
        background=room(20.9, 42.5, empty=_EMPTY_AFTER[2], total_s=21.6),
        rules=_LUGGAGE,
        drops=(Drop("black_bag", (6.0, 0.6, 0.89), 6.0),),
    ),
    SceneSpec(
        name="neg_carried_visit3",
        kind="negative",
        description="A woman carries a black bag in, stands at the table with "
        "it and carries it out.",
        background=room(46.0, 71.0, empty=_EMPTY_AFTER[3], total_s=32.0),
        rules=_LUGGAGE,
        drops=(Drop("black_bag", (10.0, 0.62, 0.9), None),),
    ),
)


def _crowd_rules(threshold: int) -> tuple[dict[str, Any], ...]:
    return (
        {"type": "occupancy", "labels": ["person"]},
        {
            "type": "crowding",
            "label": "person",
            "threshold": threshold,
            "dwell_s": 2.0,
            "clear_s": 3.0,
            "cooldown_s": 60.0,
            "update_interval_s": 30.0,
        },
    )


def _crowd(
    places: list[tuple[int, float, float, int, bool]],
) -> tuple[CrowdMember, ...]:
    """Members from (visitor number, feet x, feet y, height px, mirrored)."""
    return tuple(
        CrowdMember(
            person=f"visitor{number}",
            feet=(x, y),
            height_px=height,
            flip=flip,
            phase_s=0.7 * i,
        )
        for i, (number, x, y, height, flip) in enumerate(places)
    )


# Visitors 1, 4 and 5 are seen whole; 2, 3 and 6 reach past the top of the
# footage, so they stand in front, tall enough that the cut is above the frame.
# Heights follow the room's perspective: about 400 px with the feet at the
# table (y 0.91), about 215 px at the wall (y 0.66).
CROWD_SCENES: tuple[SceneSpec, ...] = (
    SceneSpec(
        name="crowd_room_6",
        kind="crowd",
        description="The room's six visitors, cut from the footage, stand "
        "together in the empty room: three at the wall, three in front.",
        background=room(0.5, 5.5, empty=(0.5, 5.5), total_s=14.0),
        rules=_crowd_rules(threshold=5),
        crowd=_crowd(
            [
                (1, 0.20, 0.66, 215, False),
                (4, 0.50, 0.67, 220, False),
                (5, 0.80, 0.66, 215, False),
                (2, 0.06, 0.97, 425, False),
                (3, 0.35, 0.98, 430, False),
                (6, 0.66, 0.97, 425, False),
            ]
        ),
    ),
    SceneSpec(
        name="crowd_room_9",
        kind="crowd",
        description="Nine people crowd the room in three rows: the six "
        "visitors and three of them again, mirrored.",
        background=room(0.5, 5.5, empty=(0.5, 5.5), total_s=14.0),
        rules=_crowd_rules(threshold=7),
        crowd=_crowd(
            [
                (1, 0.16, 0.66, 215, False),
                (4, 0.36, 0.65, 210, False),
                (5, 0.58, 0.66, 215, False),
                (1, 0.80, 0.65, 210, True),
                (4, 0.25, 0.80, 310, True),
                (5, 0.69, 0.80, 310, True),
                (2, 0.04, 0.97, 425, False),
                (3, 0.46, 0.98, 430, False),
                (6, 0.96, 0.97, 425, False),
            ]
        ),
    ),
    SceneSpec(
        name="crowd_warehouse_10",
        kind="crowd",
        description="Nine people cut from the room's footage (visitors 1, 4 "
        "and 5, some mirrored) stand on the warehouse floor while the real "
        "worker walks through.",
        background=Background(
            clip=WORKER_ZONE,
            segments=tuple(back_and_forth(0.0, 4.7, total_s=14.0)),
            plate=None,
            floor=WAREHOUSE_FLOOR,
        ),
        rules=_crowd_rules(threshold=8),
        crowd=_crowd(
            [
                (1, 0.62, 0.45, 70, False),
                (4, 0.74, 0.47, 72, False),
                (5, 0.86, 0.44, 68, False),
                (5, 0.56, 0.62, 92, True),
                (1, 0.70, 0.64, 95, True),
                (4, 0.84, 0.61, 90, True),
                (4, 0.50, 0.86, 120, False),
                (5, 0.68, 0.88, 124, False),
                (1, 0.88, 0.85, 118, True),
            ]
        ),
        fps=15.0,
    ),
)


SCENES: tuple[SceneSpec, ...] = LITTER_SCENES + CROWD_SCENES + OUTDOOR_SCENES


def scene_by_name(name: str) -> SceneSpec:
    """The scene called `name`.

    Raises:
        KeyError: No such scene.
    """
    for scene in SCENES:
        if scene.name == name:
            return scene
    raise KeyError(f"unknown scene {name!r}")

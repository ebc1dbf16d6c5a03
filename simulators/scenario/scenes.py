"""The composited scenes: what is pasted where and when, and the rules that watch.

Scene times are seconds of the written clip. A background is a list of
segments of a real clip, played one after the other (a segment whose end is
before its start plays backwards): the real footage followed, where a scene
needs more time after its people left, by an empty stretch of the same clip
played back and forth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from gridwatch.contract import EventType

Segment = tuple[float, float]
PointNorm = tuple[float, float]
Keyframe = tuple[float, float, float]  # (scene s, x, y), normalised
BoxNorm = tuple[float, float, float, float]
SceneKind = Literal["positive", "negative", "crowd"]

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

# Rule timing used by every littering / abandoned-object scene; the expected
# windows are derived from it.
STATIC_S = 3.0
OWNER_AWAY_S = 5.0
OWNER_AWAY_FRAC = 0.15


@dataclass(frozen=True, slots=True)
class Background:
    """The real footage behind a scene.

    Attributes:
        clip: Clip path relative to the media folder.
        segments: Clip-second ranges played in order.
        plate: Clip-second range with nobody in view (the empty plate), None
            to take the plate from all frames of the segments.
        floor: Zone polygon of the floor, normalised.
        lead_in_s: Seconds of the empty plate (with sensor noise) before the
            segments, for footage whose first frame already shows its person.
    """

    clip: str
    segments: tuple[Segment, ...]
    plate: Segment | None
    floor: tuple[PointNorm, ...]
    lead_in_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Drop:
    """An object a person of the footage carries, puts down, maybe picks up.

    Attributes:
        asset: Object asset name (see `assets.OBJECT_SOURCES`).
        owner_near: (scene s, x, y): the owner is the person of the footage
            whose feet are nearest this normalised point at that time; None
            when `walker` names the owner.
        drop_s: Scene time it is put on the ground; None: carried throughout.
        pick_s: Scene time it is picked up again, None if never.
        side: +1 puts it right of the owner's feet, -1 left.
        expect: Event type it should raise, None when it must raise none.
        walker: Index into `SceneSpec.walkers` of a pasted owner, None for a
            person of the footage.
        at: Normalised bottom centre of the object on the ground (against a
            kerb, a pillar, a marking), None for beside the owner's feet.
        height_px: Its height in pixels, None for its `height_frac` of the
            owner's height.
    """

    asset: str
    owner_near: tuple[float, float, float] | None
    drop_s: float | None
    pick_s: float | None = None
    side: int = 1
    expect: EventType | None = None
    walker: int | None = None
    at: PointNorm | None = None
    height_px: int | None = None


@dataclass(frozen=True, slots=True)
class Placed:
    """An object on the ground from the first frame to the last.

    Attributes:
        asset: Object asset name.
        feet: Normalised point of its bottom centre.
        height_px: Its height in pixels.
        until_s: Scene time it is taken away (what is left is a ghost), None
            if it stays.
    """

    asset: str
    feet: PointNorm
    height_px: int
    until_s: float | None = None


@dataclass(frozen=True, slots=True)
class Lighting:
    """A change of light: global, or in a soft region.

    Attributes:
        start_s: When it starts to change.
        ramp_s: How long the change takes.
        gain: Brightness factor once changed.
        end_s: When it starts to change back, None if it stays.
        region: Normalised box of a lamp's pool of light, None for the whole
            picture.
    """

    start_s: float
    ramp_s: float
    gain: float
    end_s: float | None = None
    region: BoxNorm | None = None

    def at(self, t: float) -> float:
        """Brightness factor at scene time `t`."""
        on = _ramp(t, self.start_s, self.ramp_s)
        if self.end_s is not None:
            on *= 1.0 - _ramp(t, self.end_s, self.ramp_s)
        return 1.0 + (self.gain - 1.0) * on


@dataclass(frozen=True, slots=True)
class CrowdMember:
    """One real person, cut from the footage, standing in a crowd scene.

    Attributes:
        person: Person asset name (see `assets.PERSON_SOURCES`).
        feet: Normalised point of their feet.
        height_px: Their height in pixels.
        flip: Mirror them.
        phase_s: Where in their standing loop they start.
    """

    person: str
    feet: PointNorm
    height_px: int
    flip: bool = False
    phase_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Walker:
    """A real person, cut from the footage, pasted in and moved along a path.

    Their standing loop is kept (no stride): they slide between keyframes, which
    the detector does not mind and the pixel model sees as motion.

    Attributes:
        person: Person asset name (see `assets.PERSON_SOURCES`).
        path: Feet keyframes (scene s, x, y), linear between; out of view
            before the first and after the last.
        height_px: Their height with the feet at the top (y 0) and at the
            bottom (y 1) of the picture; equal for a view from above.
        flip: Mirror them.
        crouch: Scene seconds during which they crouch (the sprite at 60 % of
            its height: a stand-in for sitting on a kerb), None if never.
    """

    person: str
    path: tuple[Keyframe, ...]
    height_px: tuple[int, int]
    flip: bool = False
    crouch: Segment | None = None

    def __post_init__(self) -> None:
        times = [k[0] for k in self.path]
        if not self.path or times != sorted(times):
            raise ValueError(f"walker {self.person}: path must be in time order")

    def feet_at(self, t: float) -> PointNorm | None:
        """Normalised feet at scene time `t`, None out of view."""
        times = [k[0] for k in self.path]
        if t < times[0] or t > times[-1]:
            return None
        x = float(np.interp(t, times, [k[1] for k in self.path]))
        y = float(np.interp(t, times, [k[2] for k in self.path]))
        return (x, y)

    def height_at(self, y: float) -> float:
        top, bottom = self.height_px
        return top + (bottom - top) * y


@dataclass(frozen=True, slots=True)
class Mover:
    """An object cut-out moved along a path on its own (a car parking).

    Attributes:
        asset: Object asset name.
        path: Bottom-centre keyframes (scene s, x, y), linear between; out of
            view outside them.
        height_px: Its height in pixels.
    """

    asset: str
    path: tuple[Keyframe, ...]
    height_px: int

    def feet_at(self, t: float) -> PointNorm | None:
        times = [k[0] for k in self.path]
        if t < times[0] or t > times[-1]:
            return None
        x = float(np.interp(t, times, [k[1] for k in self.path]))
        y = float(np.interp(t, times, [k[2] for k in self.path]))
        return (x, y)


@dataclass(frozen=True, slots=True)
class SceneSpec:
    """One composited scene.

    Attributes:
        name: File stem of the clip and the scenario.
        kind: positive (an event is due), negative (none is) or crowd.
        description: What happens, for the scenario file.
        background: The footage behind it.
        rules: The floor zone's rules (the scenario's camera section).
        drops: Objects carried and put down.
        placed: Objects there from the start.
        lighting: Changes of light.
        crowd: People pasted in (crowd scenes).
        fps: Frame rate of the written clip.
        walkers: People pasted in and moved along paths (owners, passers-by).
        movers: Objects moving on their own (vehicles).
    """

    name: str
    kind: SceneKind
    description: str
    background: Background
    rules: tuple[dict[str, Any], ...]
    drops: tuple[Drop, ...] = ()
    placed: tuple[Placed, ...] = ()
    lighting: tuple[Lighting, ...] = ()
    crowd: tuple[CrowdMember, ...] = ()
    fps: float = 10.0
    walkers: tuple[Walker, ...] = ()
    movers: tuple[Mover, ...] = ()

    @property
    def duration_s(self) -> float:
        segments = self.background.segments
        return self.background.lead_in_s + sum(abs(b - a) for a, b in segments)

    def camera(self) -> dict[str, Any]:
        """The scenario's camera section (the node's, without id and url)."""
        zone: dict[str, Any] = {
            "id": "floor",
            "polygon_norm": [list(p) for p in self.background.floor],
            "rules": [dict(rule) for rule in self.rules],
        }
        return {"analysis_fps": 5, "zones": [zone]}


def _ramp(t: float, start: float, length: float) -> float:
    if t <= start:
        return 0.0
    if length <= 0 or t >= start + length:
        return 1.0
    return (t - start) / length


def back_and_forth(
    start: float, end: float, *, total_s: float, forwards: bool = True
) -> list[Segment]:
    """Segments playing [start, end] forwards, backwards, ... for `total_s`
    (backwards first when not `forwards`)."""
    segments: list[Segment] = []
    left = total_s
    span = end - start
    while left > 1e-6:
        take = min(span, left)
        segments.append((start, start + take) if forwards else (end, end - take))
        left -= take
        forwards = not forwards
    return segments


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


def littering_rule(**extra: Any) -> dict[str, Any]:
    return {
        "type": "littering",
        "static_s": STATIC_S,
        "owner_away_s": OWNER_AWAY_S,
        "owner_away_frac": OWNER_AWAY_FRAC,
        **extra,
    }


def abandoned_rule(**extra: Any) -> dict[str, Any]:
    return {
        "type": "abandoned_object",
        "static_s": STATIC_S,
        "owner_away_s": OWNER_AWAY_S,
        "owner_away_frac": OWNER_AWAY_FRAC,
        **extra,
    }


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


def _outdoor() -> tuple[SceneSpec, ...]:
    # Imported here: the outdoor scenes build on the helpers above.
    from simulators.scenario.outdoor_scenes import OUTDOOR_SCENES

    return OUTDOOR_SCENES


SCENES: tuple[SceneSpec, ...] = LITTER_SCENES + CROWD_SCENES + _outdoor()


def scene_by_name(name: str) -> SceneSpec:
    """The scene called `name`.

    Raises:
        KeyError: No such scene.
    """
    for scene in SCENES:
        if scene.name == name:
            return scene
    raise KeyError(f"unknown scene {name!r}")

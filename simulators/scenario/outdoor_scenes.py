"""Outdoor and top-down scenes: objects put down against kerbs, pillars and markings.

The owners here are pasted people (`Walker`: the room's visitors cut out of
their footage, moved along timed paths); the backgrounds are the empty plates
of the warehouse floor (worker-zone-detection.gif) and of the aerial car park
(person-bicycle-car-detection.gif), each the median of its frames without its
people, with sensor noise, and the real top-down car-park footage of
car-detection.mp4 (cars drive through it, its exposure follows them).

What these scenes are for (issue 14): an object put down against an edge the
background already has, while its owner stands over it, so that the pixel model
first sees only a fragment of it; people passing in front of it later; shadows
and light drifting; and the negatives that look alike: an object picked up
again, carried through, taken away (a ghost), a person crouching for a minute,
a car parking, the owner staying.
"""

from __future__ import annotations

from typing import Any

from gridwatch.contract import EventType
from simulators.scenario.spec import (
    OWNER_AWAY_S,
    STATIC_S,
    Background,
    Drop,
    Keyframe,
    Lighting,
    Mover,
    Placed,
    SceneSpec,
    Walker,
    back_and_forth,
)

AERIAL = "person-bicycle-car-detection.gif"
CAR_PARK = "car-detection.mp4"
WAREHOUSE = "worker-zone-detection.gif"
WHOLE: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),
    (1.0, 0.0),
    (1.0, 1.0),
    (0.0, 1.0),
)
FLOOR: tuple[tuple[float, float], ...] = (
    (0.0, 0.25),
    (1.0, 0.25),
    (1.0, 1.0),
    (0.0, 1.0),
)

# Heights of a pasted person with the feet at the top and the bottom of the
# picture: the warehouse is seen at an angle (perspective), the car parks from
# above (one height).
_WAREHOUSE_H = (21, 150)
_AERIAL_H = (52, 52)
_CAR_PARK_H = (100, 100)
# Seen from above, a person is foreshortened and what lies on the ground is
# not: an object there is larger beside them than its share of their height.
_AERIAL_OBJECT_PX = 16


def _plate(clip: str, plate: tuple[float, float], duration_s: float) -> Background:
    """The empty plate of `clip` (median of `plate` without its people), held
    for `duration_s` with sensor noise."""
    floor = FLOOR if clip == WAREHOUSE else WHOLE
    return Background(
        clip=clip, segments=(), plate=plate, floor=floor, lead_in_s=duration_s
    )


def warehouse(duration_s: float) -> Background:
    return _plate(WAREHOUSE, (0.0, 4.2), duration_s)


def aerial(duration_s: float) -> Background:
    return _plate(AERIAL, (0.0, 3.2), duration_s)


def car_park(duration_s: float) -> Background:
    """The real footage from 9 s (an empty lot; a car drives through at 14-19 s),
    then its empty stretch 19.6-25 s back and forth."""
    first = (9.0, 25.0)
    rest = duration_s - (first[1] - first[0])
    segments = [first, *back_and_forth(19.6, 25.0, total_s=rest, forwards=False)]
    return Background(
        clip=CAR_PARK, segments=tuple(segments), plate=(19.6, 25.0), floor=WHOLE
    )


def _rules(away_frac: float, *, luggage: bool = False) -> tuple[dict[str, Any], ...]:
    common: dict[str, Any] = {
        "static_s": STATIC_S,
        "owner_away_s": OWNER_AWAY_S,
        "owner_away_frac": away_frac,
    }
    if luggage:
        return ({"type": "abandoned_object", "unknown_objects": True, **common},)
    return ({"type": "littering", **common}, {"type": "abandoned_object", **common})


def _visit(
    spot: tuple[float, float],
    *,
    enter: tuple[float, float],
    leave: tuple[float, float],
    arrive_s: float,
    stay_s: float,
    walk_s: float = 5.0,
) -> tuple[Keyframe, ...]:
    """Walk in from `enter`, stand with the feet at `spot` for `stay_s`, walk
    out to `leave` (points off the picture leave it)."""
    start = arrive_s - walk_s
    go = arrive_s + stay_s
    return (
        (max(0.0, start), *enter),
        (arrive_s, *spot),
        (go, *spot),
        (go + walk_s, *leave),
    )


def _over(at: tuple[float, float], dy: float = 0.02) -> tuple[float, float]:
    """Feet just below an object's bottom centre: standing over it."""
    return (at[0] - 0.01, at[1] + dy)


# Where objects go: against the structures of each background.
PILLAR = (0.525, 0.475)  # foot of the big pillar, warehouse
TAPE = (0.42, 0.63)  # on the yellow-black hazard tape, warehouse
RED_LINE = (0.73, 0.66)  # on the red floor line, warehouse
BIN = (0.93, 0.86)  # against the white bin at the right edge, warehouse
BACK_PILLAR = (0.285, 0.31)  # foot of the far pillar, warehouse
BAY_END = (0.42, 0.42)  # at the end of a bay line, aerial car park
BAY_CORNER = (0.285, 0.30)  # in the corner of the bay bracket, aerial
BAY_LINE = (0.56, 0.23)  # on a bay line, aerial
MARKING = (0.77, 0.14)  # below the top-right marking, car park
MARKING_LEFT = (0.05, 0.12)  # below the top-left marking, car park


def _positive(
    name: str,
    description: str,
    background: Background,
    *,
    asset: str,
    at: tuple[float, float],
    walker: Walker,
    drop_s: float,
    expect: EventType = EventType.LITTERING,
    rules: tuple[dict[str, Any], ...],
    extra: tuple[Walker, ...] = (),
    lighting: tuple[Lighting, ...] = (),
    fps: float = 10.0,
    object_px: int | None = None,
) -> SceneSpec:
    drop = Drop(
        asset, None, drop_s, expect=expect, walker=0, at=at, height_px=object_px
    )
    return SceneSpec(
        name=name,
        kind="positive",
        description=description,
        background=background,
        rules=rules,
        drops=(drop,),
        walkers=(walker, *extra),
        lighting=lighting,
        fps=fps,
    )


def _positives() -> tuple[SceneSpec, ...]:
    w_rules = _rules(0.08)
    a_rules = _rules(0.1)
    c_rules = _rules(0.12)
    return (
        _positive(
            "out_bag_pillar_owner_over",
            "Someone walks to the foot of a warehouse pillar, puts a plastic bag "
            "down against it while standing over it for 8 s, and walks off.",
            warehouse(40.0),
            asset="plastic_bag",
            at=PILLAR,
            walker=Walker(
                "visitor1",
                _visit(
                    _over(PILLAR),
                    enter=(0.2, 1.2),
                    leave=(1.2, 0.7),
                    arrive_s=5.0,
                    stay_s=9.0,
                ),
                _WAREHOUSE_H,
            ),
            drop_s=6.0,
            rules=w_rules,
        ),
        _positive(
            "out_black_bag_pillar_luggage",
            "Someone leaves a black bag at the foot of a pillar, standing over "
            "it for 10 s first (a zone where anything left is luggage).",
            warehouse(42.0),
            asset="black_bag",
            at=PILLAR,
            walker=Walker(
                "visitor4",
                _visit(
                    _over(PILLAR),
                    enter=(0.9, 1.2),
                    leave=(-0.2, 0.6),
                    arrive_s=5.0,
                    stay_s=11.0,
                ),
                _WAREHOUSE_H,
            ),
            drop_s=6.0,
            expect=EventType.ABANDONED_OBJECT,
            rules=_rules(0.08, luggage=True),
        ),
        _positive(
            "out_bag_hazard_tape",
            "Someone drops a plastic bag on the hazard tape while standing on it, "
            "leaves; later two people walk across in front of it.",
            warehouse(40.0),
            asset="plastic_bag",
            at=TAPE,
            walker=Walker(
                "visitor5",
                _visit(
                    _over(TAPE),
                    enter=(-0.2, 0.9),
                    leave=(0.6, -0.1),
                    arrive_s=5.0,
                    stay_s=6.0,
                ),
                _WAREHOUSE_H,
            ),
            drop_s=6.0,
            rules=w_rules,
            extra=(
                Walker(
                    "visitor1", ((17.0, -0.2, 0.72), (23.0, 1.2, 0.72)), _WAREHOUSE_H
                ),
                Walker(
                    "visitor4",
                    ((26.0, 1.2, 0.75), (32.0, -0.2, 0.75)),
                    _WAREHOUSE_H,
                    flip=True,
                ),
            ),
        ),
        _positive(
            "out_bottle_red_line_drift",
            "Someone puts a bottle down on a red floor line and leaves; the "
            "light drifts down to 75 % over 20 s.",
            warehouse(40.0),
            asset="bottle_clear",
            at=RED_LINE,
            walker=Walker(
                "visitor4",
                _visit(
                    _over(RED_LINE),
                    enter=(1.2, 0.9),
                    leave=(1.2, 0.4),
                    arrive_s=5.0,
                    stay_s=5.0,
                ),
                _WAREHOUSE_H,
            ),
            drop_s=6.0,
            rules=w_rules,
            lighting=(Lighting(start_s=8.0, ramp_s=20.0, gain=0.75),),
        ),
        _positive(
            "out_bag_against_bin",
            "Someone puts a black bag against a bin at the edge of the floor, "
            "stands over it 7 s, leaves (the bin, and the bag, run out of view).",
            warehouse(40.0),
            asset="black_bag",
            at=BIN,
            walker=Walker(
                "visitor5",
                _visit(
                    _over(BIN, 0.03),
                    enter=(0.5, 1.3),
                    leave=(0.4, 0.3),
                    arrive_s=5.0,
                    stay_s=8.0,
                ),
                _WAREHOUSE_H,
            ),
            drop_s=6.0,
            expect=EventType.ABANDONED_OBJECT,
            rules=_rules(0.08, luggage=True),
        ),
        _positive(
            "out_bag_back_pillar_small",
            "Far from the camera, someone leaves a plastic bag at the foot of the "
            "back pillar (the bag is a few pixels tall).",
            warehouse(40.0),
            asset="plastic_bag",
            at=BACK_PILLAR,
            walker=Walker(
                "visitor1",
                _visit(
                    _over(BACK_PILLAR, 0.01),
                    enter=(-0.1, 0.3),
                    leave=(0.7, 0.27),
                    arrive_s=5.0,
                    stay_s=6.0,
                ),
                _WAREHOUSE_H,
            ),
            drop_s=6.0,
            rules=w_rules,
        ),
        _positive(
            "out_aerial_bag_bay_end",
            "Seen from a drone: someone puts a plastic bag at the end of a bay "
            "line while standing over it, and walks off the car park.",
            aerial(40.0),
            asset="plastic_bag",
            at=BAY_END,
            walker=Walker(
                "visitor5",
                _visit(
                    _over(BAY_END),
                    enter=(0.2, 1.2),
                    leave=(1.2, 0.8),
                    arrive_s=5.0,
                    stay_s=8.0,
                ),
                _AERIAL_H,
            ),
            drop_s=6.0,
            object_px=_AERIAL_OBJECT_PX,
            rules=a_rules,
        ),
        _positive(
            "out_aerial_black_bag_corner",
            "Someone leaves a black bag in the corner of a bay bracket, standing "
            "over it for 10 s first; someone walks past it later.",
            aerial(40.0),
            asset="black_bag",
            at=BAY_CORNER,
            walker=Walker(
                "visitor4",
                _visit(
                    _over(BAY_CORNER),
                    enter=(-0.1, 0.6),
                    leave=(0.8, 1.2),
                    arrive_s=5.0,
                    stay_s=10.0,
                ),
                _AERIAL_H,
            ),
            drop_s=6.0,
            object_px=_AERIAL_OBJECT_PX,
            expect=EventType.ABANDONED_OBJECT,
            rules=_rules(0.1, luggage=True),
            extra=(
                Walker("visitor1", ((24.0, -0.1, 0.36), (30.0, 1.1, 0.36)), _AERIAL_H),
            ),
        ),
        _positive(
            "out_aerial_bottle_shadow",
            "Someone puts a bottle on a bay line and leaves; 12 s later a shadow "
            "(a cloud, a lorry) falls over that part of the car park and stays.",
            aerial(40.0),
            asset="bottle_blue",
            at=BAY_LINE,
            walker=Walker(
                "visitor1",
                _visit(
                    _over(BAY_LINE),
                    enter=(0.5, -0.1),
                    leave=(1.1, 0.5),
                    arrive_s=5.0,
                    stay_s=6.0,
                ),
                _AERIAL_H,
            ),
            drop_s=6.0,
            object_px=_AERIAL_OBJECT_PX,
            rules=a_rules,
            lighting=(
                Lighting(
                    start_s=20.0, ramp_s=1.5, gain=0.6, region=(0.4, 0.0, 0.9, 0.5)
                ),
            ),
        ),
        _positive(
            "out_car_park_bag_marking",
            "Real car-park footage from above: someone puts a plastic bag below a "
            "bay marking while standing over it, leaves; a car drives through.",
            car_park(36.0),
            asset="plastic_bag",
            at=MARKING,
            walker=Walker(
                "visitor5",
                _visit(
                    _over(MARKING),
                    enter=(1.1, 0.5),
                    leave=(0.4, -0.2),
                    arrive_s=4.0,
                    stay_s=7.0,
                ),
                _CAR_PARK_H,
            ),
            drop_s=5.0,
            rules=c_rules,
            fps=12.5,
        ),
        _positive(
            "out_car_park_black_bag_long_stand",
            "Car park from above: someone puts a black bag down below a marking "
            "and stands over it for 16 s before leaving it.",
            car_park(44.0),
            asset="black_bag",
            at=MARKING_LEFT,
            walker=Walker(
                "visitor4",
                _visit(
                    _over(MARKING_LEFT),
                    enter=(-0.1, 0.6),
                    leave=(0.5, -0.3),
                    arrive_s=4.0,
                    stay_s=17.0,
                ),
                _CAR_PARK_H,
            ),
            drop_s=5.0,
            expect=EventType.ABANDONED_OBJECT,
            rules=_rules(0.12, luggage=True),
            fps=12.5,
        ),
        _positive(
            "out_car_park_bottle_passers",
            "Car park from above: someone leaves a bottle below a marking; two "
            "people then walk past right in front of it.",
            car_park(40.0),
            asset="bottle_blue",
            at=MARKING,
            walker=Walker(
                "visitor1",
                _visit(
                    _over(MARKING),
                    enter=(0.5, -0.2),
                    leave=(1.2, 0.6),
                    arrive_s=4.0,
                    stay_s=5.0,
                ),
                _CAR_PARK_H,
            ),
            drop_s=5.0,
            rules=c_rules,
            extra=(
                Walker("visitor4", ((15.0, 1.1, 0.2), (21.0, 0.4, 0.2)), _CAR_PARK_H),
                Walker(
                    "visitor5",
                    ((24.0, 0.5, 0.21), (29.0, 1.1, 0.21)),
                    _CAR_PARK_H,
                    flip=True,
                ),
            ),
            fps=12.5,
        ),
    )


def _negative(
    name: str,
    description: str,
    background: Background,
    *,
    rules: tuple[dict[str, Any], ...],
    walkers: tuple[Walker, ...] = (),
    drops: tuple[Drop, ...] = (),
    placed: tuple[Placed, ...] = (),
    movers: tuple[Mover, ...] = (),
    lighting: tuple[Lighting, ...] = (),
    fps: float = 10.0,
) -> SceneSpec:
    return SceneSpec(
        name=name,
        kind="negative",
        description=description,
        background=background,
        rules=rules,
        drops=drops,
        placed=placed,
        walkers=walkers,
        movers=movers,
        lighting=lighting,
        fps=fps,
    )


def _negatives() -> tuple[SceneSpec, ...]:
    w_rules = _rules(0.08)
    w_luggage = _rules(0.08, luggage=True)
    a_luggage = _rules(0.1, luggage=True)
    return (
        _negative(
            "out_neg_pickup_pillar",
            "Someone puts a black bag down against a pillar, stands over it, picks "
            "it up again after 12 s and walks off with it.",
            warehouse(36.0),
            rules=w_luggage,
            walkers=(
                Walker(
                    "visitor1",
                    _visit(
                        _over(PILLAR),
                        enter=(0.2, 1.2),
                        leave=(1.2, 0.7),
                        arrive_s=5.0,
                        stay_s=14.0,
                    ),
                    _WAREHOUSE_H,
                ),
            ),
            drops=(Drop("black_bag", None, 6.0, pick_s=18.0, walker=0, at=PILLAR),),
        ),
        _negative(
            "out_neg_pickup_after_leaving",
            "Someone leaves a plastic bag on the hazard tape, walks 4 s away, "
            "comes back for it and takes it along.",
            warehouse(36.0),
            rules=w_rules,
            walkers=(
                Walker(
                    "visitor4",
                    (
                        (0.0, -0.2, 0.9),
                        (5.0, *_over(TAPE)),
                        (8.0, *_over(TAPE)),
                        (10.0, 0.8, 0.62),
                        (14.0, 0.8, 0.62),
                        (16.0, *_over(TAPE)),
                        (18.0, *_over(TAPE)),
                        (23.0, 1.2, 0.8),
                    ),
                    _WAREHOUSE_H,
                ),
            ),
            drops=(Drop("plastic_bag", None, 6.0, pick_s=17.0, walker=0, at=TAPE),),
        ),
        _negative(
            "out_neg_carried_through",
            "Someone carries a black bag across the warehouse floor without stopping.",
            warehouse(26.0),
            rules=w_luggage,
            walkers=(
                Walker(
                    "visitor5",
                    ((2.0, -0.15, 0.8), (18.0, 1.15, 0.55)),
                    _WAREHOUSE_H,
                ),
            ),
            drops=(Drop("black_bag", None, None, walker=0),),
        ),
        _negative(
            "out_neg_ghost_pillar",
            "A black bag lies at the foot of a pillar from the first frame; a "
            "woman comes, stands over it and takes it away (what is left is a "
            "ghost: the floor where the bag was).",
            warehouse(36.0),
            rules=w_luggage,
            walkers=(
                Walker(
                    "visitor4",
                    _visit(
                        _over(PILLAR),
                        enter=(0.9, 1.2),
                        leave=(-0.2, 0.6),
                        arrive_s=8.0,
                        stay_s=4.0,
                    ),
                    _WAREHOUSE_H,
                ),
            ),
            placed=(Placed("black_bag", PILLAR, 17, until_s=10.0),),
        ),
        _negative(
            "out_neg_crouch_pillar",
            "Someone walks to the pillar, crouches there for a minute (a "
            "stand-in for sitting down), stands up and leaves.",
            warehouse(80.0),
            rules=w_luggage,
            walkers=(
                Walker(
                    "visitor1",
                    _visit(
                        (0.56, 0.5),
                        enter=(0.2, 1.2),
                        leave=(1.2, 0.7),
                        arrive_s=5.0,
                        stay_s=64.0,
                    ),
                    _WAREHOUSE_H,
                    crouch=(7.0, 67.0),
                ),
            ),
        ),
        _negative(
            "out_neg_owner_stays_bin",
            "Someone puts a black bag against the bin and stays beside it to the end.",
            warehouse(36.0),
            rules=w_luggage,
            walkers=(
                Walker(
                    "visitor5",
                    _visit(
                        (0.87, 0.88),
                        enter=(0.5, 1.3),
                        leave=(0.86, 0.88),
                        arrive_s=5.0,
                        stay_s=26.0,
                    ),
                    _WAREHOUSE_H,
                ),
            ),
            drops=(Drop("black_bag", None, 6.0, walker=0, at=BIN),),
        ),
        _negative(
            "out_neg_shadow_warehouse",
            "Someone stands by the tape for 6 s; as they leave, a shadow falls "
            "across that part of the floor and stays; the light then drifts.",
            warehouse(36.0),
            rules=w_luggage,
            walkers=(
                Walker(
                    "visitor4",
                    _visit(
                        (0.45, 0.66),
                        enter=(-0.2, 0.9),
                        leave=(1.2, 0.7),
                        arrive_s=5.0,
                        stay_s=6.0,
                    ),
                    _WAREHOUSE_H,
                ),
            ),
            lighting=(
                Lighting(
                    start_s=10.0, ramp_s=1.0, gain=0.55, region=(0.3, 0.5, 0.6, 0.8)
                ),
                Lighting(start_s=18.0, ramp_s=12.0, gain=1.2),
            ),
        ),
        _negative(
            "out_neg_aerial_pickup",
            "From a drone: someone puts a plastic bag at the end of a bay line, "
            "stands over it, picks it up 14 s later and walks off.",
            aerial(36.0),
            rules=_rules(0.1),
            walkers=(
                Walker(
                    "visitor5",
                    _visit(
                        _over(BAY_END),
                        enter=(0.2, 1.2),
                        leave=(1.2, 0.8),
                        arrive_s=5.0,
                        stay_s=16.0,
                    ),
                    _AERIAL_H,
                ),
            ),
            drops=(
                Drop(
                    "plastic_bag",
                    None,
                    6.0,
                    pick_s=20.0,
                    walker=0,
                    at=BAY_END,
                    height_px=_AERIAL_OBJECT_PX,
                ),
            ),
        ),
        _negative(
            "out_neg_aerial_car_parks",
            "From a drone: a car drives in and parks in a bay; its driver "
            "walks away from it (a car is no abandoned object).",
            aerial(36.0),
            rules=a_luggage,
            movers=(
                Mover(
                    "car_top",
                    ((2.0, 0.5, 1.35), (8.0, 0.5, 0.72), (36.0, 0.5, 0.72)),
                    82,
                ),
            ),
            walkers=(
                Walker(
                    "visitor1",
                    ((10.0, 0.58, 0.62), (11.0, 0.6, 0.62), (17.0, 1.15, 0.62)),
                    _AERIAL_H,
                ),
            ),
        ),
        _negative(
            "out_neg_aerial_crouch",
            "From a drone: someone crouches in the corner of a bay bracket for "
            "45 s, gets up and walks off.",
            aerial(60.0),
            rules=a_luggage,
            walkers=(
                Walker(
                    "visitor4",
                    _visit(
                        (0.3, 0.33),
                        enter=(-0.1, 0.6),
                        leave=(0.8, 1.2),
                        arrive_s=5.0,
                        stay_s=48.0,
                    ),
                    _AERIAL_H,
                    crouch=(6.0, 51.0),
                ),
            ),
        ),
        _negative(
            "out_neg_car_park_carried",
            "Car park from above: someone carries a plastic bag across the lot, "
            "past the markings, without putting it down.",
            car_park(26.0),
            rules=_rules(0.12),
            walkers=(
                Walker("visitor5", ((2.0, -0.1, 0.2), (16.0, 1.1, 0.25)), _CAR_PARK_H),
            ),
            drops=(Drop("plastic_bag", None, None, walker=0),),
            fps=12.5,
        ),
        _negative(
            "out_neg_car_park_light_drift",
            "Car park from above: the light drifts down to 65 % and back while a "
            "woman stands 8 s below a marking and walks on; a car drives through.",
            car_park(40.0),
            rules=_rules(0.12, luggage=True),
            walkers=(
                Walker(
                    "visitor4",
                    _visit(
                        _over(MARKING),
                        enter=(1.1, 0.5),
                        leave=(0.4, -0.2),
                        arrive_s=5.0,
                        stay_s=8.0,
                    ),
                    _CAR_PARK_H,
                ),
            ),
            lighting=(Lighting(start_s=6.0, ramp_s=14.0, gain=0.65, end_s=24.0),),
            fps=12.5,
        ),
    )


OUTDOOR_SCENES: tuple[SceneSpec, ...] = _positives() + _negatives()

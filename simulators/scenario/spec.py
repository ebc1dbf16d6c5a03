"""The pieces a composited scene is made of: backgrounds, objects, people, light.

Scene times are seconds of the written clip. A background is a list of
segments of a real clip, played one after the other (a segment whose end is
before its start plays backwards); or, with no segments, its empty plate held
still with sensor noise.
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

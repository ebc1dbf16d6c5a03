"""Synthetic frames and detections for the pixel-model rules: a textured floor,
people (dark boxes the "detector" reports) and objects (bright patches it may not)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from edge.types import Detections, Frame
from tests.edge.rules.factories import T0

WIDTH, HEIGHT = 320, 240
FPS = 5.0
LABELS = ("person", "bottle", "backpack", "chair")
PERSON, BOTTLE, BACKPACK = 0, 1, 2
PERSON_WH = (22, 64)

Point = tuple[float, float]
Track = Callable[[float], Point | None]  # t -> feet (x, y) in px, None: absent


def floor(seed: int = 7) -> npt.NDArray[np.float32]:
    """A floor with wood-like low-frequency texture, grey 90-150."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 1.0, (HEIGHT // 8, WIDTH // 8)).astype(np.float32)
    texture = cv2.resize(noise, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    ramp = np.linspace(100.0, 130.0, HEIGHT, dtype=np.float32)[:, None]
    return np.asarray(ramp + 12.0 * texture, dtype=np.float32)


def walk(points: Sequence[tuple[float, float, float]]) -> Track:
    """Feet position from (t, x, y) keyframes, linear between, absent outside."""
    times = [p[0] for p in points]

    def at(t: float) -> Point | None:
        if t < times[0] or t > times[-1]:
            return None
        x = float(np.interp(t, times, [p[1] for p in points]))
        y = float(np.interp(t, times, [p[2] for p in points]))
        return (x, y)

    return at


@dataclass
class Thing:
    """A patch on the floor from `start` to `end` (seconds), at `xy` (top-left)."""

    xy: tuple[int, int]
    start: float
    end: float = float("inf")
    size_wh: tuple[int, int] = (10, 14)
    level: float = 225.0
    label: int | None = None  # a class id the detector reports for it


@dataclass
class Scene:
    """People, things and global lighting over time; renders frames + detections."""

    people: list[Track] = field(default_factory=list)
    things: list[Thing] = field(default_factory=list)
    gain: Callable[[float], float] = lambda t: 1.0
    missed: Callable[[float, int], bool] = lambda t, i: False  # detector misses
    seed: int = 7
    fps: float = FPS

    def frames(self, duration_s: float) -> list[tuple[Frame, Detections]]:
        base = floor(self.seed)
        rng = np.random.default_rng(self.seed + 1)
        out = []
        for index in range(int(duration_s * self.fps) + 1):
            t = index / self.fps
            image = base.copy()
            for thing in self.things:
                if thing.start <= t < thing.end:
                    x, y = thing.xy
                    w, h = thing.size_wh
                    image[y : y + h, x : x + w] = thing.level
                    image[y + h // 2 : y + h // 2 + 2, x : x + w] = thing.level - 90
            boxes, classes, tracks = self._draw_people(image, t)
            for j, thing in enumerate(self.things):
                if thing.start <= t < thing.end and thing.label is not None:
                    x, y = thing.xy
                    w, h = thing.size_wh
                    boxes.append([x, y, x + w, y + h])
                    classes.append(thing.label)
                    tracks.append(100 + j)
            lit = image * self.gain(t) + rng.normal(0.0, 1.5, image.shape)
            grey = np.clip(lit, 0, 255).astype(np.uint8)
            frame = Frame(
                camera_id="cam-1",
                index=index,
                captured_at=T0 + t,
                image=np.repeat(grey[:, :, None], 3, axis=2),
            )
            out.append((frame, _detections(boxes, classes, tracks)))
        return out

    def _draw_people(
        self, image: npt.NDArray[np.float32], t: float
    ) -> tuple[list[list[float]], list[int], list[int]]:
        boxes: list[list[float]] = []
        classes: list[int] = []
        tracks: list[int] = []
        w, h = PERSON_WH
        for i, track in enumerate(self.people):
            feet = track(t)
            if feet is None:
                continue
            x1, y1 = int(feet[0] - w / 2), int(feet[1] - h)
            image[max(0, y1) : max(0, y1 + h), max(0, x1) : max(0, x1 + w)] = 45.0
            head = (max(0, y1), max(0, x1 + 6))
            image[head[0] : head[0] + 12, head[1] : head[1] + 10] = 70.0
            if not self.missed(t, i):
                boxes.append([x1, y1, x1 + w, y1 + h])
                classes.append(PERSON)
                tracks.append(1 + i)
        return boxes, classes, tracks


def _detections(
    boxes: list[list[float]], classes: list[int], tracks: list[int]
) -> Detections:
    return Detections.from_lists(
        [[float(v) for v in b] for b in boxes],
        confidence=[0.9] * len(boxes),
        class_id=classes,
        tracker_id=tracks,
    )

"""Builders of rule inputs from plain lists for the rule tests."""

from __future__ import annotations

from edge.rules.base import ZoneObservation
from edge.types import Detections

LABELS = ("person", "bicycle", "car")
RESOLUTION_WH = (640, 480)
T0 = 1_700_000_000.0


def person_box(i: int) -> list[float]:
    """A distinct 20x50 px box for the i-th object."""
    x = 10.0 + 25.0 * (i % 24)
    y = 10.0 + 60.0 * (i // 24)
    return [x, y, x + 20.0, y + 50.0]


def observe(
    t: float,
    *,
    class_ids: list[int] | None = None,
    tracker_ids: list[int] | None = None,
    confidence: list[float] | None = None,
    zone_id: str = "z1",
) -> ZoneObservation:
    """An observation at T0 + t of objects with the given classes and tracks."""
    class_ids = class_ids if class_ids is not None else []
    n = len(class_ids)
    return ZoneObservation(
        camera_id="cam-1",
        zone_id=zone_id,
        timestamp=T0 + t,
        resolution_wh=RESOLUTION_WH,
        detections=Detections.from_lists(
            [person_box(i) for i in range(n)],
            confidence=confidence if confidence is not None else [0.8] * n,
            class_id=class_ids,
            tracker_id=tracker_ids if tracker_ids is not None else list(range(n)),
        ),
        labels=LABELS,
    )


def persons(t: float, count: int, *, tracked: bool = True) -> ZoneObservation:
    """`count` persons at T0 + t (track ids 0.., or -1 when not tracked)."""
    ids = list(range(count)) if tracked else [-1] * count
    return observe(t, class_ids=[0] * count, tracker_ids=ids)

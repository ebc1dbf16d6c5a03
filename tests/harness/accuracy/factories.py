"""Builders of scenario truth and raised events from plain values."""

from __future__ import annotations

from typing import Any

from harness.accuracy.match import ObservedEvent, OccupancySample
from harness.accuracy.scenario import BoxNorm, ExpectedCount, ExpectedEvent


def expected(
    kind: str, start: float, end: float, region: BoxNorm | None = None
) -> ExpectedEvent:
    return ExpectedEvent.model_validate(
        {"type": kind, "window": [start, end], "region": region}
    )


def raised(
    kind: str, t_s: float, box: BoxNorm | None = None, event_id: str | None = None
) -> ObservedEvent:
    return ObservedEvent(
        event_id=event_id or f"{kind}-{t_s:g}", type=kind, t_s=t_s, image_box=box
    )


def count(t: float, value: int, **extra: Any) -> ExpectedCount:
    return ExpectedCount.model_validate({"t": t, "count": value, **extra})


def sample(t_s: float, **zones: dict[str, int]) -> OccupancySample:
    return OccupancySample(t_s=t_s, zones=zones)

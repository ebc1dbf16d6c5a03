"""Builders of valid contract messages for the publish tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gridwatch.contract import (
    EventMessage,
    EventPhase,
    EventType,
    Location,
    LocationSource,
    ModelInfo,
)

T0 = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)


def build_event(
    node_id: str, n: int, phase: EventPhase = EventPhase.START
) -> EventMessage:
    """Event number `n` of a node: id `ev-<n>`, detected `n` seconds after T0."""
    return EventMessage(
        event_id=f"ev-{n:08d}",
        type=EventType.CROWDING,
        phase=phase,
        node_id=node_id,
        camera_id="cam-1",
        started_at=T0,
        detected_at=T0 + timedelta(seconds=n),
        confidence=0.9,
        location=Location(lat=23.13, lon=113.26, source=LocationSource.GROUND),
        attributes={"count": 12, "threshold": 10},
        model=ModelInfo(name="yolox_nano", version="1"),
    )

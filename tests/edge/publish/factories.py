"""Builders of valid contract messages for the publish tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from edge.publish.base import PublisherStats
from gridwatch.contract import (
    EventMessage,
    EventPhase,
    EventType,
    Location,
    LocationSource,
    ModelInfo,
)

T0 = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)


def event_message(
    event_id: str,
    phase: EventPhase = EventPhase.START,
    *,
    node_id: str = "n",
    camera_id: str = "c",
    at: datetime | None = None,
    **fields: Any,
) -> EventMessage:
    """A valid crowding event started and detected `at` (default: now); any
    other field can be given in `fields`."""
    when = at or datetime.now(UTC)
    values: dict[str, Any] = {
        "type": EventType.CROWDING,
        "started_at": when,
        "detected_at": when,
        "confidence": 0.9,
        "location": Location(lat=1, lon=2, source=LocationSource.CAMERA),
        "model": ModelInfo(name="m", version="1"),
        **fields,
    }
    return EventMessage(
        event_id=event_id, phase=phase, node_id=node_id, camera_id=camera_id, **values
    )


def build_event(
    node_id: str, n: int, phase: EventPhase = EventPhase.START
) -> EventMessage:
    """Event number `n` of a node: id `ev-<n>`, detected `n` seconds after T0."""
    return event_message(
        f"ev-{n:08d}",
        phase,
        node_id=node_id,
        camera_id="cam-1",
        started_at=T0,
        detected_at=T0 + timedelta(seconds=n),
        location=Location(lat=23.13, lon=113.26, source=LocationSource.GROUND),
        attributes={"count": 12, "threshold": 10},
        model=ModelInfo(name="yolox_nano", version="1"),
    )


class NullPublisher:
    """A publisher that takes everything and sends nothing; fakes override
    `publish_event` (or `stats`) to record or fail."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def publish_event(self, event: EventMessage) -> bool:
        return True

    def publish_state(
        self, topic: str, payload: bytes | str, *, retain: bool = True, qos: int = 1
    ) -> None: ...

    def publish_transient(
        self, topic: str, payload: bytes | str, *, qos: int = 0
    ) -> bool:
        return True

    def stats(self) -> PublisherStats:
        return PublisherStats()

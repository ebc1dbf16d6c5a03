"""The interface every outbound channel (MQTT, test fakes) implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gridwatch.contract import EventMessage


@dataclass(frozen=True, slots=True)
class PublisherStats:
    """Counters since start, for Prometheus (all counts are monotonic but the gauges).

    Attributes:
        published: Messages the broker took: events on their PUBACK, states and
            transients when handed to a connected client.
        failed: Publishes that failed (send error or a failure PUBACK); failed
            events stay in the outbox and are retried on the next connection.
        dropped: Transient messages dropped because the broker was unreachable.
        refused: Events refused because the outbox was full (`OutboxFullError`).
        last_refused_at: Unix time of the last refusal, None when none.
        reconnects: Successful connections after the first one.
        outbox_depth: Gauge: events on disk waiting for a PUBACK.
        outbox_bytes: Gauge: their bytes.
        in_flight: Gauge: events sent and waiting for their PUBACK.
        is_connected: Gauge: connected to the broker now.
    """

    published: int = 0
    failed: int = 0
    dropped: int = 0
    refused: int = 0
    last_refused_at: float | None = None
    reconnects: int = 0
    outbox_depth: int = 0
    outbox_bytes: int = 0
    in_flight: int = 0
    is_connected: bool = False


class Publisher(Protocol):
    """An outbound channel for one edge node.

    Three delivery classes: events are durable (outbox, QoS 1, at least once),
    states are latest-only and retained, transients are best effort.
    """

    def start(self) -> None:
        """Connect (in the background) and start delivering."""

    def stop(self) -> None:
        """Publish nothing more, announce the node offline and disconnect."""

    def publish_event(self, event: EventMessage) -> bool:
        """Store an event durably for delivery; see `EventMessage.dedupe_key`.

        Returns:
            True when stored, False when this event phase was already stored.

        Raises:
            OutboxFullError: the outbox is full; the event was not stored.
        """

    def publish_state(
        self, topic: str, payload: bytes | str, *, retain: bool = True, qos: int = 1
    ) -> None:
        """Publish the latest state of something; only the latest per topic counts."""

    def publish_transient(
        self, topic: str, payload: bytes | str, *, qos: int = 0
    ) -> bool:
        """Publish if connected, else drop (counted).

        Returns:
            True when handed to the broker connection, False when dropped.
        """

    def stats(self) -> PublisherStats:
        """A snapshot of the counters."""

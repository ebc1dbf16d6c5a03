"""Event stage: builds event messages (snapshot, face blur) and hands them to MQTT.

Building an event's snapshot runs a face detector over the frame (tens of ms on a
CPU), so it happens here, off the analysis thread that every camera shares.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Protocol

from edge.metrics import NodeMetrics
from edge.publish.base import Publisher
from edge.publish.outbox import OutboxFullError
from gridwatch.contract import EventMessage

logger = logging.getLogger(__name__)

EventThunk = Callable[[], EventMessage]
# Each pending event holds its frame until the snapshot is made: keep this small.
EVENT_QUEUE_SIZE = 64
SUBMIT_TIMEOUT_S = 30.0


class EventMediaHook(Protocol):
    """Media work tied to events (clips): sees each built event before it is stored."""

    def on_event(self, event: EventMessage) -> EventMessage:
        """Start what the event needs (a clip on `start`; must not block) and
        return the event to store, possibly with more media."""
        ...


class EventStage:
    """One thread: build each pending event in order, then store it for delivery.

    `submit` blocks while the queue is full (back-pressure on analysis); only if
    the stage stays stuck for `SUBMIT_TIMEOUT_S` is the event dropped, logged and
    counted (`failed`).
    """

    def __init__(
        self,
        *,
        publisher: Publisher,
        node_id: str,
        metrics: NodeMetrics,
        media: EventMediaHook | None = None,
    ) -> None:
        self._publisher = publisher
        self._media = media
        self._node_id = node_id
        self._metrics = metrics
        self._queue: queue.Queue[EventThunk | None] = queue.Queue(EVENT_QUEUE_SIZE)
        self._thread: threading.Thread | None = None
        self.failed = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="events", daemon=True)
        self._thread.start()

    def submit(self, build: EventThunk) -> None:
        try:
            self._queue.put(build, timeout=SUBMIT_TIMEOUT_S)
        except queue.Full:
            self.failed += 1
            logger.error(
                "node %s: event stage stuck; an event was dropped", self._node_id
            )

    @property
    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Finish every submitted event, then end the thread."""
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            logger.error("node %s: event stage stuck at stop", self._node_id)
            return
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while (build := self._queue.get()) is not None:
            # One bad snapshot or a storage error must not stop the stage.
            try:
                self._publish(self._with_media(build()))
            except Exception:
                self.failed += 1
                logger.exception("node %s: an event could not be stored", self._node_id)

    def _with_media(self, event: EventMessage) -> EventMessage:
        if self._media is None:
            return event
        try:
            return self._media.on_event(event)
        except Exception:  # a clip problem must not cost the event
            logger.exception(
                "node %s: camera %s: media of event %s failed",
                self._node_id,
                event.camera_id,
                event.event_id,
            )
            return event

    def _publish(self, event: EventMessage) -> None:
        """Store one built event for delivery (logs and counts it)."""
        self._metrics.events.labels(event.camera_id, event.type, event.phase).inc()
        logger.info(
            "node %s: camera %s: %s %s event %s (zone %s)",
            self._node_id,
            event.camera_id,
            event.type,
            event.phase,
            event.event_id,
            event.zone_id,
        )
        try:
            self._publisher.publish_event(event)
        except OutboxFullError:
            logger.error(
                "node %s: camera %s: outbox full, event %s %s not stored",
                self._node_id,
                event.camera_id,
                event.event_id,
                event.phase,
            )

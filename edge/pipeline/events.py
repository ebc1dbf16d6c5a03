"""Event stage: builds event messages (snapshot, face blur) and hands them to MQTT.

Building an event's snapshot runs a face detector over the frame (tens of ms on a
CPU), so it happens here, off the analysis thread that every camera shares.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from edge.metrics import NodeMetrics
from edge.publish.base import Publisher
from edge.publish.outbox import OutboxFullError
from gridwatch.contract import EventMessage

logger = logging.getLogger(__name__)

EventThunk = Callable[[], EventMessage]
EVENT_QUEUE_SIZE = 1024


class EventStage:
    """One thread: build each pending event in order, then store it for delivery.

    `submit` blocks when the queue is full (back-pressure on analysis) instead of
    dropping an event.
    """

    def __init__(
        self, *, publisher: Publisher, node_id: str, metrics: NodeMetrics
    ) -> None:
        self._publisher = publisher
        self._node_id = node_id
        self._metrics = metrics
        self._queue: queue.Queue[EventThunk | None] = queue.Queue(EVENT_QUEUE_SIZE)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="events", daemon=True)
        self._thread.start()

    def submit(self, build: EventThunk) -> None:
        self._queue.put(build)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Finish every submitted event, then end the thread."""
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout_s)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while (build := self._queue.get()) is not None:
            try:
                event = build()
            except Exception:  # one bad frame or snapshot must not stop events
                logger.exception("node %s: building an event failed", self._node_id)
                continue
            self._publish(event)

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

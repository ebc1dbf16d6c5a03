"""EventStage: events are stored in order and a failing store does not stop it."""

from __future__ import annotations

import sqlite3
import threading
from functools import partial

from edge.metrics import NodeMetrics
from edge.pipeline.event_stage import EventStage
from gridwatch.contract import (
    EventMessage,
)
from tests.edge.publish.factories import NullPublisher, event_message


class FlakyPublisher(NullPublisher):
    """Raises a storage error for event ids starting with 'bad'."""

    def __init__(self) -> None:
        self.stored: list[str] = []
        self.lock = threading.Lock()

    def publish_event(self, event: EventMessage) -> bool:
        if event.event_id.startswith("bad"):
            raise sqlite3.OperationalError("database or disk is full")
        with self.lock:
            self.stored.append(event.event_id)
        return True


def _failing_build() -> EventMessage:
    raise ValueError("snapshot failed")


def test_event_stage_given_store_error_should_keep_storing_later_events_in_order() -> (
    None
):
    publisher = FlakyPublisher()
    stage = EventStage(publisher=publisher, node_id="n", metrics=NodeMetrics())
    stage.start()
    for event_id in ["good-0001", "bad-00001", "good-0002", "good-0003"]:
        stage.submit(partial(event_message, event_id))
    stage.submit(_failing_build)
    stage.submit(lambda: event_message("good-0004"))
    stage.stop()
    assert publisher.stored == ["good-0001", "good-0002", "good-0003", "good-0004"]
    assert stage.failed == 2
    assert not stage.is_alive

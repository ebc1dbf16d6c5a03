"""Pushing ticket notices to worker terminals and refused messages to dead-letter."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Protocol

import paho.mqtt.client as mqtt

from gridwatch.contract import DeadLetterMessage, TicketNotice, Topics

log = logging.getLogger(__name__)


class Notifier(Protocol):
    def ticket_changed(self, notice: TicketNotice, recipients: Sequence[str]) -> None:
        """Tell `recipients` (worker ids) and operator consoles about a change."""

    def deadletter(self, message: DeadLetterMessage) -> None:
        """Publish a refused message with its reason."""


class RecordingNotifier:
    """Keeps notices in memory (unit tests, and central without a broker)."""

    def __init__(self) -> None:
        self.notices: list[tuple[TicketNotice, tuple[str, ...]]] = []
        self.deadletters: list[DeadLetterMessage] = []
        self._lock = threading.Lock()

    def ticket_changed(self, notice: TicketNotice, recipients: Sequence[str]) -> None:
        with self._lock:
            self.notices.append((notice, tuple(recipients)))

    def deadletter(self, message: DeadLetterMessage) -> None:
        with self._lock:
            self.deadletters.append(message)


class MqttNotifier:
    """Publishes on a connected paho client whose network loop runs elsewhere.

    Worker notices are QoS 1 on `{prefix}/workers/{id}/tickets`; terminals keep a
    persistent session so a notice sent while a phone is offline arrives later.

    With `local` (this process's SSE stream), notices are also handed to it
    directly, so the client's own connection need not hear them back from the
    broker (see `CentralMqtt`, which subscribes to notices with "no local").
    """

    def __init__(
        self, client: mqtt.Client, topics: Topics, local: Notifier | None = None
    ) -> None:
        self.client = client
        self.topics = topics
        self.local = local

    def ticket_changed(self, notice: TicketNotice, recipients: Sequence[str]) -> None:
        body = notice.to_json()
        for worker_id in dict.fromkeys(recipients):
            self._publish(self.topics.worker_tickets(worker_id), body, qos=1)
        self._publish(self.topics.ticket_updates(), body, qos=0)
        if self.local is not None:
            self.local.ticket_changed(notice, recipients)

    def deadletter(self, message: DeadLetterMessage) -> None:
        self._publish(self.topics.deadletter(), message.to_json(), qos=1)

    def _publish(self, topic: str, body: str, qos: int) -> None:
        info = self.client.publish(topic, body, qos=qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            # paho queues QoS>0 messages while disconnected; other errors are logged.
            log.warning("publish to %s returned %s", topic, mqtt.error_string(info.rc))

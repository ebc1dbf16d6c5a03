"""Outbound channel of an edge node: durable outbox and MQTT publisher."""

from __future__ import annotations

from edge.publish.base import Publisher, PublisherStats
from edge.publish.drain import OutboxDrain, SendError
from edge.publish.mqtt import MqttPublisher
from edge.publish.options import MqttPublisherOptions, client_id_for, read_password
from edge.publish.outbox import Outbox, OutboxClosedError, OutboxFullError, OutboxRow

__all__ = [
    "MqttPublisher",
    "MqttPublisherOptions",
    "Outbox",
    "OutboxClosedError",
    "OutboxDrain",
    "OutboxFullError",
    "OutboxRow",
    "Publisher",
    "PublisherStats",
    "SendError",
    "client_id_for",
    "read_password",
]

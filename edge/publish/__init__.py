"""Outbound channel of an edge node: durable outbox, MQTT publisher, upload queue."""

from __future__ import annotations

from edge.publish.base import Publisher, PublisherStats
from edge.publish.drain import OutboxDrain, SendError
from edge.publish.mqtt import MqttPublisher
from edge.publish.options import MqttPublisherOptions, client_id_for, read_password
from edge.publish.outbox import Outbox, OutboxClosedError, OutboxFullError, OutboxRow
from edge.publish.uploads import PendingUpload, UploadQueue, UploadQueueFullError

__all__ = [
    "MqttPublisher",
    "MqttPublisherOptions",
    "Outbox",
    "OutboxClosedError",
    "OutboxDrain",
    "OutboxFullError",
    "OutboxRow",
    "PendingUpload",
    "Publisher",
    "PublisherStats",
    "SendError",
    "UploadQueue",
    "UploadQueueFullError",
    "client_id_for",
    "read_password",
]

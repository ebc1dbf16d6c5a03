"""Collects event messages at the broker and measures capture → arrival latency."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gridwatch.contract import Topics
from harness.services.mosquitto import BrokerCredentials


class EventLatencyCollector:
    """Subscribes to every node's events; latency = arrival − `detected_at`.

    `detected_at` is the capture time of the frame the rule decided on, so the
    latency covers queueing, inference, tracking, rules, snapshot, outbox and broker.
    """

    def __init__(
        self,
        port: int,
        prefix: str,
        credentials: BrokerCredentials,
        host: str = "127.0.0.1",
    ) -> None:
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self._client.username_pw_set(credentials.username, credentials.password)
        self._client.on_message = self._on_message
        self._host, self._port = host, port
        self._topic = Topics(prefix).all_events()
        self._lock = threading.Lock()
        self.latencies_ms: list[float] = []

    @property
    def count(self) -> int:
        return len(self.latencies_ms)

    def _on_message(
        self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage
    ) -> None:
        arrived = time.time()
        body = json.loads(message.payload)
        detected = datetime.fromisoformat(body["detected_at"]).timestamp()
        with self._lock:
            self.latencies_ms.append((arrived - detected) * 1000.0)

    def collected_ms(self) -> list[float]:
        """A copy of the latencies so far, in ms (the listener thread appends)."""
        with self._lock:
            return list(self.latencies_ms)

    def __enter__(self) -> EventLatencyCollector:
        self._client.connect(self._host, self._port)
        self._client.subscribe(self._topic, qos=1)
        self._client.loop_start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._client.loop_stop()
        self._client.disconnect()

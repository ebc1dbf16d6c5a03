"""MQTT subscriber keeping what each edge node published: events, occupancy, status."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

from gridwatch.contract import (
    CameraStatusMessage,
    EventMessage,
    OccupancyMessage,
    Topics,
)
from gridwatch.tls import MqttTls, apply_mqtt_tls
from harness.services.mosquitto import BrokerCredentials

_CONNECT_TIMEOUT_S = 10.0


@dataclass(slots=True)
class NodeMessages:
    """What one node published, in arrival order.

    Attributes:
        events: Event messages (every phase).
        occupancy: Occupancy messages.
        camera_status: Camera status messages.
        invalid: Topic and reason of each message that failed validation.
        last_at: Monotonic time of the last message.
    """

    events: list[EventMessage] = field(default_factory=list)
    occupancy: list[OccupancyMessage] = field(default_factory=list)
    camera_status: list[CameraStatusMessage] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)
    last_at: float = 0.0


class EvalCollector:
    """Subscribes to every node's events, occupancy and camera status.

    Args:
        port: Broker port on 127.0.0.1.
        topics: Topic names (the node's prefix).
        credentials: The broker login (an observer's: read everything).
        tls: The broker's TLS listener is on `port` (`MosquittoBroker.endpoint`).

    Raises:
        TlsError: a TLS file cannot be used.
    """

    def __init__(
        self,
        port: int,
        topics: Topics,
        credentials: BrokerCredentials,
        *,
        tls: MqttTls | None = None,
    ) -> None:
        self._topics = topics
        self._lock = threading.Lock()
        self._nodes: dict[str, NodeMessages] = {}
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"gw-eval-{time.monotonic_ns()}"
        )
        self._client.username_pw_set(credentials.username, credentials.password)
        apply_mqtt_tls(self._client, tls)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._port = port

    def start(self) -> EvalCollector:
        """Connect and wait until the subscriptions are in place.

        Raises:
            RuntimeError: not subscribed within 10 s.
        """
        self._client.connect("127.0.0.1", self._port)
        self._client.loop_start()
        if not self._subscribed.wait(_CONNECT_TIMEOUT_S):
            self.stop()
            raise RuntimeError(
                f"eval collector: no subscription on port {self._port} in time"
            )
        return self

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def messages(self, node_id: str) -> NodeMessages:
        """A copy of what `node_id` published so far."""
        with self._lock:
            held = self._nodes.get(node_id, NodeMessages())
            return NodeMessages(
                events=list(held.events),
                occupancy=list(held.occupancy),
                camera_status=list(held.camera_status),
                invalid=list(held.invalid),
                last_at=held.last_at,
            )

    def quiet_for_s(self, node_id: str) -> float:
        """Seconds since `node_id`'s last message (large when none came)."""
        with self._lock:
            held = self._nodes.get(node_id)
            last = held.last_at if held is not None else 0.0
        return time.monotonic() - last

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: object,
        _reason: object,
        _properties: object = None,
    ) -> None:
        prefix = self._topics.prefix
        client.subscribe(
            [
                (self._topics.all_events(), 1),
                (f"{prefix}/edge/+/cameras/+/occupancy", 0),
                (f"{prefix}/edge/+/cameras/+/status", 1),
            ]
        )

    def _on_subscribe(self, *_args: object) -> None:
        self._subscribed.set()

    def _on_message(
        self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        parts = message.topic.split("/")
        try:
            node_id = parts[parts.index("edge") + 1]
        except (ValueError, IndexError):
            return
        with self._lock:
            held = self._nodes.setdefault(node_id, NodeMessages())
            held.last_at = time.monotonic()
            try:
                self._keep(held, message)
            except ValidationError as error:
                held.invalid.append((message.topic, str(error).splitlines()[0]))

    @staticmethod
    def _keep(held: NodeMessages, message: mqtt.MQTTMessage) -> None:
        topic = message.topic
        if topic.endswith("/events"):
            held.events.append(EventMessage.model_validate_json(message.payload))
        elif topic.endswith("/occupancy"):
            held.occupancy.append(OccupancyMessage.model_validate_json(message.payload))
        elif topic.endswith("/status") and "/cameras/" in topic:
            held.camera_status.append(
                CameraStatusMessage.model_validate_json(message.payload)
            )

"""Test helpers: a real Mosquitto broker (per test or per run) and a collector.

Use the fixtures with `pytest_plugins = ["tests.utils.broker"]` in conftest.py.
`MosquittoBroker` itself lives in `harness.services.mosquitto` (the demo and the
benchmarks start it too) and is re-exported here.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from gridwatch.tls import MqttTls, apply_mqtt_tls
from harness.services.mosquitto import (
    BrokerCredentials,
    BrokerEndpoint,
    MosquittoBroker,
)

__all__ = [
    "MosquittoBroker",
    "MqttCollector",
    "ProbeClient",
    "ReceivedMessage",
    "mosquitto",
    "mosquitto_session",
    "mosquitto_tls",
]


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker of its own for one test (may be stopped/restarted by the test)."""
    broker = MosquittoBroker(tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def mosquitto_tls(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker of its own for one test with a TLS listener (`tls_port`, a CA
    made for it, a certificate naming 127.0.0.1 and localhost) beside the
    loopback plaintext one; `endpoint` and the config helpers use TLS."""
    broker = MosquittoBroker(tmp_path / "mosquitto-tls", tls=True)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def mosquitto_session(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[MosquittoBroker]:
    """One broker shared by the whole run; tests must not stop it."""
    broker = MosquittoBroker(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One message as a subscriber saw it (`dup`: the broker re-sent it)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool = False


_collector_ids = itertools.count()


class MqttCollector:
    """A subscriber that records every message on `topic_filter`, thread-safely.

    MQTT 5 with a persistent session (clean_start False, session expiry
    `session_expiry_s`) and QoS 1, so messages published while it is cut off
    (broker restart) are queued by the broker and delivered after. The client id
    is unique by default, so there is never a stale session to resume.

    Args:
        host: Broker host.
        port: Broker port.
        topic_filter: What to subscribe to.
        client_id: Client id; a unique one when None.
        session_expiry_s: How long the broker keeps the session when cut off.
        credentials: The login (the broker refuses anonymous clients).
        tls: Connect over TLS (the broker's TLS listener is on `port`).
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        topic_filter: str,
        client_id: str | None = None,
        session_expiry_s: int = 300,
        credentials: BrokerCredentials | None = None,
        tls: MqttTls | None = None,
    ) -> None:
        self.topic_filter = topic_filter
        self._host, self._port = host, port
        self._session_expiry_s = session_expiry_s
        self._messages: list[ReceivedMessage] = []
        self._condition = threading.Condition()
        self._subscribed = threading.Event()
        suffix = f"{os.getpid()}-{next(_collector_ids)}-{uuid.uuid4().hex[:6]}"
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-collector-{suffix}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        if credentials is not None:
            self._client.username_pw_set(credentials.username, credentials.password)
        apply_mqtt_tls(self._client, tls)
        self._client.reconnect_delay_set(1, 1)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    @classmethod
    def for_broker(cls, broker: MosquittoBroker, topic_filter: str) -> MqttCollector:
        """A collector on `broker` (not started), logged in as its observer, on
        its TLS listener when it has one."""
        endpoint = broker.endpoint
        return cls(
            host=endpoint.host,
            port=endpoint.port,
            topic_filter=topic_filter,
            credentials=broker.observer(),
            tls=endpoint.tls,
        )

    def start(self, timeout_s: float = 5.0) -> MqttCollector:
        """Connect, subscribe and wait for the SUBACK.

        Raises:
            TimeoutError: not subscribed in time.
        """
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self._session_expiry_s
        self._client.connect_async(
            self._host,
            self._port,
            keepalive=10,
            # Not MQTT_CLEAN_START_FIRST_ONLY: Mosquitto 2.0 does not restore a
            # session begun with clean_start=1 after a restart, even with expiry.
            clean_start=False,
            properties=properties,
        )
        self._client.loop_start()
        if not self._subscribed.wait(timeout_s):
            self.stop()
            raise TimeoutError(f"collector not subscribed to {self.topic_filter!r}")
        return self

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> MqttCollector:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def messages(self) -> list[ReceivedMessage]:
        """A copy of everything received so far, in arrival order."""
        with self._condition:
            return list(self._messages)

    def wait_for(
        self,
        predicate: Callable[[list[ReceivedMessage]], bool],
        timeout_s: float = 10.0,
    ) -> list[ReceivedMessage]:
        """Wait until `predicate(messages)` holds and return the messages.

        Raises:
            TimeoutError: the predicate did not hold in time (the message
                names how many messages arrived).
        """
        with self._condition:
            is_met = self._condition.wait_for(
                lambda: predicate(self._messages), timeout=timeout_s
            )
            if not is_met:
                raise TimeoutError(
                    f"after {timeout_s}s, {len(self._messages)} messages on "
                    f"{self.topic_filter!r} did not satisfy the condition"
                )
            return list(self._messages)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            return
        # With the session kept by the broker the subscription is still there;
        # subscribing again would re-deliver retained messages.
        if flags.session_present:
            self._subscribed.set()
            return
        client.subscribe(self.topic_filter, options=SubscribeOptions(qos=1))

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if not any(code.is_failure for code in reason_codes):
            self._subscribed.set()

    def _on_message(
        self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        received = ReceivedMessage(
            topic=message.topic,
            payload=bytes(message.payload),
            qos=message.qos,
            retain=bool(message.retain),
            dup=bool(message.dup),
        )
        with self._condition:
            self._messages.append(received)
            self._condition.notify_all()


class ProbeClient:
    """A connected paho client that records its CONNACK and PUBACK reason codes
    (to see what the broker allows an identity).

    Connects to `endpoint`, by default the broker's (its TLS listener when it
    has one); a refused TLS handshake raises from the constructor
    (`ssl.SSLError`, an `OSError`).
    """

    def __init__(
        self,
        broker: MosquittoBroker,
        login: BrokerCredentials | None,
        *,
        endpoint: BrokerEndpoint | None = None,
    ) -> None:
        endpoint = endpoint or broker.endpoint
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        if login is not None:
            self.client.username_pw_set(login.username, login.password)
        apply_mqtt_tls(self.client, endpoint.tls)
        self.connack: ReasonCode | None = None
        self.pubacks: dict[int, ReasonCode] = {}
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.connect(endpoint.host, endpoint.port)
        self.client.loop_start()
        assert self._connected.wait(5), "no CONNACK"

    def _on_connect(
        self,
        c: mqtt.Client,
        u: object,
        f: object,
        reason: ReasonCode,
        p: Properties | None,
    ) -> None:
        self.connack = reason
        self._connected.set()

    def _on_publish(
        self,
        c: mqtt.Client,
        u: object,
        mid: int,
        reason: ReasonCode,
        p: Properties | None,
    ) -> None:
        with self._lock:
            self.pubacks[mid] = reason

    def publish(self, topic: str, payload: bytes) -> ReasonCode:
        info = self.client.publish(topic, payload, qos=1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with self._lock:
                if info.mid in self.pubacks:
                    return self.pubacks[info.mid]
            time.sleep(0.01)
        raise TimeoutError(f"no PUBACK for {topic}")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()

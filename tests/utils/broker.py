"""Test helpers: a real Mosquitto broker (per test or per run) and a collector.

Use the fixtures with `pytest_plugins = ["tests.utils.broker"]` in conftest.py.
"""

from __future__ import annotations

import getpass
import itertools
import os
import shutil
import signal
import socket
import subprocess
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

_MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def find_mosquitto() -> Path:
    """The mosquitto binary: $GRIDWATCH_MOSQUITTO, then PATH, then /usr/sbin.

    Raises:
        RuntimeError: no mosquitto binary was found.
    """
    configured = os.environ.get("GRIDWATCH_MOSQUITTO")
    found = configured or shutil.which("mosquitto")
    if found is None:
        found = next((c for c in _MOSQUITTO_CANDIDATES if Path(c).is_file()), None)
    if found is None or not Path(found).is_file():
        raise RuntimeError(
            "mosquitto not found: install it (apt-get install mosquitto) or set "
            "GRIDWATCH_MOSQUITTO to the binary"
        )
    return Path(found)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class MosquittoBroker:
    """A real Mosquitto on 127.0.0.1 with on-disk persistence in `workdir`.

    The port and the persistence folder stay the same across `restart`, so a
    restarted broker keeps persistent sessions, subscriptions, queued QoS 1
    messages and retained messages (Mosquitto saves them on SIGTERM).

    Args:
        workdir: Folder for the config, persistence database and log.
        port: TCP port; a free one when None.
    """

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.log_path = workdir / "mosquitto.log"
        self._binary = find_mosquitto()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def is_running(self) -> bool:
        """The broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def write_config(self) -> Path:
        """Write mosquitto.conf into `workdir` and return its path."""
        persistence = self.persistence_path.parent
        persistence.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "mosquitto.conf"
        config.write_text(
            "\n".join(
                [
                    # As root, mosquitto would switch to user "mosquitto", which
                    # cannot write the test's persistence folder.
                    f"user {getpass.getuser()}",
                    f"listener {self.port} {self.host}",
                    "allow_anonymous true",
                    "persistence true",
                    f"persistence_location {persistence}/",
                    f"persistence_file {self.persistence_path.name}",
                    "autosave_interval 1",
                    f"log_dest file {self.log_path}",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    "log_type information",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        return config

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the broker and wait until it accepts connections.

        Raises:
            RuntimeError: already running, exited early, or not listening in time.
        """
        if self.is_running:
            raise RuntimeError(f"mosquitto on port {self.port} is already running")
        config = self.write_config()
        self._process = subprocess.Popen(
            [str(self._binary), "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited early: {self._read_failure()}")
            if _is_listening(self.host, self.port):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on port {self.port} in time")

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM (Mosquitto saves its persistence) and wait; SIGKILL if stuck."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()

    def kill(self) -> None:
        """SIGKILL: a crash; nothing is saved beyond the last autosave."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    @property
    def persistence_path(self) -> Path:
        """The broker's persistence database."""
        return self.workdir / "persistence" / "mosquitto.db"

    def wait_for_autosave(self, timeout_s: float = 5.0) -> None:
        """Wait for the next periodic save (every 1-2 s), e.g. before `kill`.

        Raises:
            TimeoutError: no save in time.
        """
        since = time.time()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            path = self.persistence_path
            if path.exists() and path.stat().st_mtime > since:
                return
            time.sleep(0.05)
        raise TimeoutError(f"mosquitto on port {self.port} did not autosave in time")

    def pause(self) -> None:
        """SIGSTOP: the broker still takes TCP bytes but reads and answers nothing."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Stop (saving persistence) and start again on the same port."""
        self.stop()
        self.start()

    def _read_failure(self) -> str:
        assert self._process is not None and self._process.stderr is not None
        stderr = self._process.stderr.read().decode(errors="replace").strip()
        log = (
            self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        )
        return stderr or log or f"exit code {self._process.returncode}"

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _is_listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker of its own for one test (may be stopped/restarted by the test)."""
    broker = MosquittoBroker(tmp_path / "mosquitto")
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
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        topic_filter: str,
        client_id: str | None = None,
        session_expiry_s: int = 300,
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
        self._client.reconnect_delay_set(1, 1)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    @classmethod
    def for_broker(cls, broker: MosquittoBroker, topic_filter: str) -> MqttCollector:
        """A collector on `broker` (not started)."""
        return cls(host=broker.host, port=broker.port, topic_filter=topic_filter)

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

"""The bench's eyes on the real edge node of `gridwatch bench chaos`: what the
broker received from it (a persistent QoS 1 observer), what its outbox committed
(read from its SQLite file), and what central stored of it (PostgreSQL)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg

from gridwatch.contract import EventMessage, Topics
from harness.bench.chaos_stack import connect_persistent_observer
from harness.services import MosquittoBroker

HealthSample = tuple[float, str]  # (monotonic s, camera health)


@dataclass(frozen=True, slots=True)
class StatusSample:
    """One camera status message the broker passed on."""

    at: float  # monotonic s, when the observer got it
    health: str
    reconnects: int


class NodeObserver:
    """Every event message and camera status the broker received from the node:
    observer login, persistent session (session expiry 1 h), QoS 1, so nothing
    the broker took is missed while this client reconnects."""

    def __init__(self, broker: MosquittoBroker, node_id: str, camera_id: str) -> None:
        topics = Topics()
        self.events_topic = topics.events(node_id)
        self.status_topic = topics.camera_status(node_id, camera_id)
        self.first_seen: dict[str, float] = {}
        self.receipts: Counter[str] = Counter()
        self.statuses: list[StatusSample] = []
        self._lock = threading.Lock()
        self.client = connect_persistent_observer(
            broker,
            "chaos-node-observer",
            [(self.events_topic, 1), (self.status_topic, 1)],
            self._on_message,
            "node observer",
        )

    def _on_message(
        self, client: Any, userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        now = time.monotonic()
        if message.topic == self.status_topic:
            self._on_status(now, message.payload)
            return
        try:
            key = EventMessage.model_validate_json(message.payload).dedupe_key
        except ValueError:
            return  # not an event message: the node never sends one
        with self._lock:
            self.first_seen.setdefault(key, now)
            self.receipts[key] += 1

    def _on_status(self, now: float, payload: bytes | bytearray) -> None:
        if not payload:
            return
        body = json.loads(payload)
        sample = StatusSample(now, str(body["health"]), int(body.get("reconnects", 0)))
        with self._lock:
            self.statuses.append(sample)

    def seen(self) -> dict[str, float]:
        """dedupe key -> when the broker first passed it on (monotonic s)."""
        with self._lock:
            return dict(self.first_seen)

    def repeats(self, keys: set[str]) -> int:
        """Receipts of `keys` beyond the first (the node sent them again)."""
        with self._lock:
            return sum(max(0, self.receipts[k] - 1) for k in keys)

    def status_samples(self) -> list[StatusSample]:
        with self._lock:
            return list(self.statuses)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@dataclass(frozen=True, slots=True)
class OutboxKeys:
    """The node outbox's event rows: waiting (dedupe key -> when committed) and
    delivered (dedupe key -> when the broker acknowledged it), UNIX seconds."""

    pending: dict[str, float] = field(default_factory=dict)
    delivered: dict[str, float] = field(default_factory=dict)


def read_outbox(path: Path) -> OutboxKeys:
    """The event rows of the node's outbox, read-only (the node may be writing;
    SQLite's WAL lets a reader see the last commit). Empty before the file is."""
    if not path.exists():
        return OutboxKeys()
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        pending = connection.execute(
            "SELECT dedupe_key, enqueued_at FROM outbox "
            "WHERE dedupe_key IS NOT NULL AND topic LIKE '%/events'"
        ).fetchall()
        delivered = connection.execute(
            "SELECT dedupe_key, acked_at FROM delivered"
        ).fetchall()
    finally:
        connection.close()
    return OutboxKeys(
        pending={str(k): float(at) for k, at in pending},
        delivered={str(k): float(at) for k, at in delivered},
    )


class CentralNodeWatcher:
    """Polls PostgreSQL for the node's event messages that central stored under
    a ticket, and for the camera's health in central's camera registry; pauses
    while `held` is set (a frozen PostgreSQL would hang the query)."""

    def __init__(
        self,
        dsn: str,
        node_id: str,
        camera_id: str,
        held: threading.Event,
        poll_s: float = 0.25,
    ) -> None:
        self.dsn = dsn
        self.node_id = node_id
        self.camera_id = camera_id
        self.held = held
        self.poll_s = poll_s
        self.stored_at: dict[str, float] = {}
        self.health: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stored(self) -> dict[str, float]:
        """dedupe key -> when central was first seen holding it (monotonic s)."""
        with self._lock:
            return dict(self.stored_at)

    def health_changes(self) -> list[tuple[float, str]]:
        """(monotonic s, health) each time central's record of the camera changed."""
        with self._lock:
            return list(self.health)

    def _poll(self, connection: psycopg.Connection[Any]) -> None:
        keys = connection.execute(
            "SELECT m.dedupe_key FROM event_messages AS m "
            "JOIN events AS e ON e.event_id = m.event_id "
            "WHERE e.node_id = %s AND e.ticket_id IS NOT NULL",
            (self.node_id,),
        ).fetchall()
        row = connection.execute(
            "SELECT health FROM cameras WHERE node_id = %s AND camera_id = %s",
            (self.node_id, self.camera_id),
        ).fetchone()
        now = time.monotonic()
        with self._lock:
            for (key,) in keys:
                self.stored_at.setdefault(key, now)
            health = None if row is None else row[0]
            if health is not None and (not self.health or self.health[-1][1] != health):
                self.health.append((now, str(health)))

    def _run(self) -> None:
        connection: psycopg.Connection[Any] | None = None
        while not self._stop.wait(self.poll_s):
            if self.held.is_set():
                continue
            try:
                if connection is None or connection.closed:
                    connection = psycopg.connect(
                        self.dsn, connect_timeout=2, autocommit=True
                    )
                self._poll(connection)
            except psycopg.Error:
                connection = None
        if connection is not None:
            connection.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

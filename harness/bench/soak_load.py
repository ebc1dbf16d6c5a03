"""The steady load of a soak (`gridwatch bench soak`): operators with the console
open (a live ticket stream held, the pages' API calls, media fetched through
signed links) and extra events published at a steady rate.

Each operator does what a console tab does: logs in, asks for a stream ticket and
holds `GET /api/v1/tickets/stream` open (reopening it every `reopen_s`, as a page
change does), and every `poll_s` reads the ticket list, the newest ticket, the
ingest card and recent events, and fetches that ticket's snapshot and clip
through signed links (`POST /api/v1/media/{sha256}/link`).
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from gridwatch.contract import (
    EventMessage,
    EventPhase,
    EventType,
    Location,
    LocationSource,
    ModelInfo,
    Topics,
)
from gridwatch.tls import apply_mqtt_tls
from harness.services.mosquitto import BrokerCredentials, BrokerEndpoint

log = logging.getLogger(__name__)
STAFF_USERS = ("operator", "supervisor", "admin")
EVENT_TYPES = (EventType.CROWDING, EventType.INTRUSION, EventType.ILLEGAL_PARKING)
JITTER_DEG = 0.002  # about 200 m: most events open tickets of their own


class LoadCounters:
    """What the load did, counted across its threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))


@dataclass(frozen=True, slots=True)
class OperatorPlan:
    """How an operator's console behaves."""

    base_url: str
    password: str
    poll_s: float = 5.0
    reopen_s: float = 60.0


class Operator:
    """One console tab: a held ticket stream and periodic page reads."""

    def __init__(
        self,
        username: str,
        plan: OperatorPlan,
        counters: LoadCounters,
        stop: threading.Event,
    ) -> None:
        self.username = username
        self.plan = plan
        self.counters = counters
        self.stop_event = stop
        self.client = httpx.Client(base_url=plan.base_url, timeout=30.0)
        self.headers: dict[str, str] = {}
        self.threads = [
            threading.Thread(target=self._stream_loop, name=f"soak-sse-{username}"),
            threading.Thread(target=self._page_loop, name=f"soak-pages-{username}"),
        ]

    def start(self) -> None:
        response = self.client.post(
            "/api/v1/auth/token",
            data={"username": self.username, "password": self.plan.password},
        )
        response.raise_for_status()
        self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        for thread in self.threads:
            thread.daemon = True  # a stream blocked in a read must not hold exit
            thread.start()

    def join(self, timeout_s: float) -> None:
        for thread in self.threads:
            thread.join(timeout_s)
        self.client.close()

    def _stream_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self._hold_stream()
            except (httpx.HTTPError, ValueError, OSError) as exc:
                if self.stop_event.is_set():
                    return  # join() closed the connection under the read
                self.counters.add("stream_errors")
                log.warning("soak: %s stream: %s", self.username, exc)
                self.stop_event.wait(2.0)

    def _hold_stream(self) -> None:
        ticket = self.client.post("/api/v1/stream-tickets", headers=self.headers)
        ticket.raise_for_status()
        opened = time.monotonic()
        with self.client.stream("GET", ticket.json()["url"]) as response:
            response.raise_for_status()
            self.counters.add("streams_opened")
            for line in response.iter_lines():
                if line.startswith("event: ticket"):
                    self.counters.add("stream_notices")
                if self.stop_event.is_set():
                    return
                if time.monotonic() - opened > self.plan.reopen_s:
                    return  # the next page opens a stream of its own

    def _page_loop(self) -> None:
        while not self.stop_event.wait(self.plan.poll_s):
            try:
                self._read_pages()
            except (httpx.HTTPError, ValueError, KeyError, OSError) as exc:
                if self.stop_event.is_set():
                    return
                self.counters.add("page_errors")
                log.warning("soak: %s pages: %s", self.username, exc)

    def _get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, headers=self.headers, params=params)
        response.raise_for_status()
        self.counters.add("page_requests")
        return response.json()

    def _read_pages(self) -> None:
        """The ticket list and its newest ticket, the ingest card, recent events,
        and the newest event with media: its ticket and its files."""
        tickets = self._get("/api/v1/tickets", limit=50)
        if tickets["items"]:
            self._get(f"/api/v1/tickets/{tickets['items'][0]['id']}")
        self._get("/api/v1/system/ingest")
        events = self._get("/api/v1/events", limit=100)
        with_media = next(
            (e for e in events if e.get("snapshot_url") or e.get("clip_url")), None
        )
        if with_media is None:
            return
        if with_media.get("ticket_id") is not None:
            self._get(f"/api/v1/tickets/{with_media['ticket_id']}")
        for key in ("snapshot_url", "clip_url"):
            if with_media.get(key):
                self._fetch_media(str(with_media[key]))

    def _fetch_media(self, path: str) -> None:
        link = self.client.post(f"{path}/link", headers=self.headers)
        if link.status_code == 404:
            # The event names its snapshot or clip before the node's upload has
            # arrived (a clip waits for its post-roll); the page shows a
            # placeholder then.
            self.counters.add("media_not_there_yet")
            return
        link.raise_for_status()
        media = self.client.get(link.json()["url"])  # no bearer: the signed link
        media.raise_for_status()
        self.counters.add("media_fetched")
        self.counters.add("media_bytes", len(media.content))


class EventPublisher:
    """Publishes valid `gw.event/1` events at `rate_per_s` for the city's
    cameras, near their places, as another node would (simulator login)."""

    def __init__(
        self,
        broker: BrokerEndpoint,
        credentials: BrokerCredentials,
        cameras: list[tuple[str, str, float, float]],
        *,
        rate_per_s: float,
        counters: LoadCounters,
        stop: threading.Event,
    ) -> None:
        if not cameras:
            raise ValueError("the event publisher needs at least one camera")
        self.cameras = cameras
        self.rate_per_s = rate_per_s
        self.counters = counters
        self.stop_event = stop
        self.topics = Topics()
        self.rng = random.Random(17)
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"soak-events-{secrets.token_hex(3)}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.username_pw_set(credentials.username, credentials.password)
        apply_mqtt_tls(self.client, broker.tls)
        self.client.connect(broker.host, broker.port)
        self.thread = threading.Thread(target=self._run, name="soak-events")

    def start(self) -> None:
        self.client.loop_start()
        if self.rate_per_s > 0:
            self.thread.start()

    def join(self, timeout_s: float) -> None:
        if self.thread.is_alive():
            self.thread.join(timeout_s)
        self.client.loop_stop()
        self.client.disconnect()

    def _run(self) -> None:
        interval = 1.0 / self.rate_per_s
        next_at = time.monotonic()
        while not self.stop_event.wait(max(0.0, next_at - time.monotonic())):
            next_at += interval
            event = self._event()
            self.client.publish(self.topics.events(event.node_id), event.to_json(), 1)
            self.counters.add("events_published")

    def _event(self) -> EventMessage:
        node, camera, lat, lon = self.rng.choice(self.cameras)
        now = datetime.now(UTC)
        return EventMessage(
            event_id=secrets.token_hex(8),
            type=self.rng.choice(EVENT_TYPES),
            phase=EventPhase.START,
            node_id=node,
            camera_id=camera,
            started_at=now,
            detected_at=now,
            confidence=0.9,
            location=Location(
                lat=lat + self.rng.uniform(-JITTER_DEG, JITTER_DEG),
                lon=lon + self.rng.uniform(-JITTER_DEG, JITTER_DEG),
                source=LocationSource.GROUND,
            ),
            attributes={"count": 4},
            model=ModelInfo(name="soak", version="1"),
        )

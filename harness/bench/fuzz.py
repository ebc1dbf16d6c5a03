"""`gridwatch bench fuzz`: fuzzed messages through a real broker into a running central.

Starts a throw-away Mosquitto (secured, as in production) and, in this process, a
central built as `gridwatch central run` builds it (`CentralService`: MQTT ingest
and pushes, HTTP API; no deadline watcher) on SQLite with the demo city. Publishes
N messages from `harness.bench.poison` (valid events mixed with malformed ones,
QoS 1, from one simulator login) and waits until every message was stored or
dead-lettered. Prints (JSON with --json):

- sent, valid, bad (and `bad_kinds`, per malformation)
- received: messages central took from the broker; stored: valid messages in the
  database; missing: valid messages not there; events, tickets: rows made
- dead_lettered: messages an observer saw on `gw/v1/central/deadletter`
  (`dead_letter_reasons` groups them); unstorable: those the database refused
  (0 when the contract caught every bad one); duplicates: redeliveries found stored
- seconds: first publish → last message stored or dead-lettered;
  messages_per_s: sent ÷ seconds; generate_s: making the messages
- lag_s, queued, healthz, ingest_status: central afterwards; central_alive: its
  ingest thread still runs
- ok: nothing missing, every bad message dead-lettered, /healthz 200, ingest alive

Exit status 1 unless ok.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from sqlalchemy import func, select

from central.config import CentralSettings, HttpSettings, MediaSettings, MqttSettings
from central.db.models import Area, AreaLevel, Event, EventMessageRow, Ticket
from central.grids.geojson import load_grid_file
from central.importer import import_city, import_grids, load_city_file
from central.server import CentralService
from harness.bench.poison import FuzzMessage, fuzz_messages
from harness.bench.report import write_figures
from harness.services import MosquittoBroker, PostgresServer
from simulators.city import generate_city, spec_for, write_city

log = logging.getLogger(__name__)
INGEST_THREAD = "central-ingest"
REASONS = (
    "invalid gw.event/1 message",
    "does not match the topic's node",
    "no matter list entry",
    "not storable",
    "byte limit",
    "was raised by node",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--messages", type=int, default=10_000, help="messages to publish"
    )
    parser.add_argument(
        "--bad-share", type=float, default=0.3, help="share of malformed messages"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the generator")
    parser.add_argument("--timeout-s", type=float, default=120.0, help="give up after")
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgres", "postgresql"],
        default="sqlite",
        help="central's database: SQLite (default) or a throw-away PostgreSQL",
    )
    parser.add_argument("--json", action="store_true", help="print JSON only")


def run_cli(args: argparse.Namespace) -> int:
    database = "sqlite" if args.database == "sqlite" else "postgresql"
    with (
        tempfile.TemporaryDirectory(prefix="gw-bench-fuzz-") as tmp,
        FuzzStack(Path(tmp), database=database) as stack,
    ):
        started = time.perf_counter()
        messages = fuzz_messages(
            args.messages, points=stack.points, seed=args.seed, bad_share=args.bad_share
        )
        generate_s = time.perf_counter() - started
        figures = stack.run(messages, timeout_s=args.timeout_s)
    figures["generate_s"] = round(generate_s, 2)
    figures["seed"] = args.seed
    write_figures(figures, as_json=args.json)
    return 0 if figures["ok"] else 1


def _reason_class(reason: str) -> str:
    return next((r for r in REASONS if r in reason), "other")


class DeadLetterCounter:
    """Counts the messages on the dead-letter topic (observer login, QoS 1)."""

    def __init__(self, broker: MosquittoBroker, topic: str) -> None:
        self.reasons: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        credentials = broker.observer()
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"fuzz-deadletters-{secrets.token_hex(3)}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self._client.username_pw_set(credentials.username, credentials.password)
        self._client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect(broker.host, broker.port)
        self._client.loop_start()
        if not self._subscribed.wait(10):
            self.stop()
            raise RuntimeError("dead-letter counter not subscribed after 10 s")

    def _on_message(
        self, client: Any, userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        try:
            reason = str(json.loads(message.payload)["reason"])
        except (ValueError, KeyError, TypeError):
            reason = "unreadable dead letter"
        with self._lock:
            self.reasons[_reason_class(reason)] += 1

    @property
    def count(self) -> int:
        with self._lock:
            return sum(self.reasons.values())

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


class _QuietDeadLetters(logging.Filter):
    """Keeps central's one warning per dead letter out of the output."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("dead letter from")


class FuzzStack:
    """Mosquitto and a running central (ingest, pushes, HTTP API) on SQLite or a
    throw-away PostgreSQL (`database` "sqlite" or "postgresql") with the demo
    city, in `workdir`; `points` are the city's grid centres. One `run` per stack
    (its figures count from the start)."""

    def __init__(self, workdir: Path, *, database: str = "sqlite") -> None:
        if database not in ("sqlite", "postgresql"):
            raise ValueError(f"database must be sqlite or postgresql, got {database!r}")
        self.workdir = workdir
        self.database = database
        self.points: list[tuple[float, float]] = []
        self._exit = ExitStack()
        self._quiet = _QuietDeadLetters()

    def __enter__(self) -> FuzzStack:
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    def _start(self) -> None:
        work = self.workdir
        grids, city_file = write_city(generate_city(spec_for("demo")), work / "city")
        self.broker = self._exit.enter_context(MosquittoBroker(work / "broker"))
        settings = CentralSettings(
            database_url=self._database_url(),
            media=MediaSettings(dir=work / "media"),
            mqtt=MqttSettings.model_validate(
                {**self.broker.central_config(), "client_id": "central-fuzz"}
            ),
            http=HttpSettings(host="127.0.0.1", port=0),
        )
        self.central = CentralService(settings, scheduler=False)
        context = self.central.context
        self._exit.callback(context.engine.dispose)
        with context.sessions.begin() as session:
            import_grids(session, load_grid_file(grids))
            import_city(session, load_city_file(city_file), now=context.clock.now())
            self.points = [
                (float(lat), float(lon))
                for lat, lon in session.execute(
                    select(Area.centroid_lat, Area.centroid_lon).where(
                        Area.level == AreaLevel.GRID.value
                    )
                )
                if lat is not None and lon is not None
            ]
        context.reload_reference_data()
        consumer_log = logging.getLogger("central.ingest.consumer")
        consumer_log.addFilter(self._quiet)
        self._exit.callback(consumer_log.removeFilter, self._quiet)
        self._exit.callback(self.central.stop)  # also after a failed start
        self.central.start()
        self.letters = DeadLetterCounter(self.broker, context.topics.deadletter())
        self._exit.callback(self.letters.stop)

    def _database_url(self) -> str:
        if self.database == "sqlite":
            return f"sqlite:///{self.workdir / 'central.db'}"
        server = self._exit.enter_context(PostgresServer(self.workdir / "pg"))
        return server.create_database("central")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.central.http_port}"

    @staticmethod
    def ingest_alive() -> bool:
        return any(
            t.name == INGEST_THREAD and t.is_alive() for t in threading.enumerate()
        )

    def run(
        self, messages: Sequence[FuzzMessage], timeout_s: float = 120.0
    ) -> dict[str, Any]:
        stats = self.central.context.ingest_stats
        bad = sum(not m.valid for m in messages)
        credentials = self.broker.simulator("fuzz-edge")
        publisher = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="fuzz-edge",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        publisher.max_inflight_messages_set(1000)
        publisher.username_pw_set(credentials.username, credentials.password)
        connected = threading.Event()
        publisher.on_connect = lambda *_: connected.set()
        publisher.connect(self.broker.host, self.broker.port)
        publisher.loop_start()
        try:
            if not connected.wait(10):
                raise RuntimeError("fuzz publisher not connected after 10 s")
            started = time.perf_counter()
            deadline = time.monotonic() + timeout_s
            infos = [publisher.publish(m.topic, m.payload, qos=1) for m in messages]
            for info in infos:
                info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            publish_s = time.perf_counter() - started
            while time.monotonic() < deadline and self.ingest_alive():
                settled = stats.accepted + stats.duplicates + stats.deadlettered
                if settled >= len(messages) and self.letters.count >= bad:
                    break
                time.sleep(0.01)
            seconds = time.perf_counter() - started
        finally:
            publisher.loop_stop()
            publisher.disconnect()
        time.sleep(0.2)  # a late dead letter or redelivery would arrive now
        kinds = Counter(m.kind for m in messages if not m.valid)
        figures: dict[str, Any] = {
            "sent": len(messages),
            "valid": len(messages) - bad,
            "bad": bad,
            **self._stored(messages),
            "received": stats.received,
            "dead_lettered": self.letters.count,
            "deadlettered_counted": stats.deadlettered,
            "unstorable": stats.unstorable,
            "duplicates": stats.duplicates,
            "failed_batches": stats.failed_batches,
            "seconds": round(seconds, 2),
            "publish_s": round(publish_s, 2),
            "messages_per_s": round(len(messages) / max(seconds, 1e-9), 1),
            **self._health(),
            "bad_kinds": dict(sorted(kinds.items())),
            "dead_letter_reasons": dict(self.letters.reasons),
            "database": self.database,
            "cpu_count": os.cpu_count(),
        }
        figures["ok"] = (
            figures["missing"] == 0
            and figures["unexpected"] == 0
            and figures["dead_lettered"] == bad
            and figures["healthz"] == 200
            and figures["central_alive"]
        )
        return figures

    def _stored(self, messages: Sequence[FuzzMessage]) -> dict[str, int]:
        wanted = {m.key for m in messages if m.key is not None}
        with self.central.context.sessions() as session:
            keys = set(session.scalars(select(EventMessageRow.dedupe_key)))
            events = session.scalar(select(func.count()).select_from(Event)) or 0
            tickets = session.scalar(select(func.count()).select_from(Ticket)) or 0
        return {
            "stored": len(keys & wanted),
            "missing": len(wanted - keys),
            "unexpected": len(keys - wanted),
            "events": int(events),
            "tickets": int(tickets),
        }

    def _health(self) -> dict[str, Any]:
        stats = self.central.context.ingest_stats
        response = httpx.get(f"{self.base_url}/healthz", timeout=10)
        ingest = response.json().get("ingest", {})
        return {
            "lag_s": round(stats.lag_s(), 3),
            "queued": stats.queued(),
            "healthz": response.status_code,
            "ingest_status": ingest.get("status"),
            "central_alive": self.ingest_alive(),
        }

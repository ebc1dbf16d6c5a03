"""`gridwatch bench central`: N events through a real broker into central.

Starts a throw-away PostgreSQL and Mosquitto, loads a Guangzhou-scale city
(20,031 grids, 22,367 workers; everyone on duty so every ticket is dispatched),
runs `gridwatch central run --no-api` as a separate process (`--replicas N`: N
of them on the one PostgreSQL, sharing the MQTT 5 shared subscription under
distinct client ids `central-bench-1..N`), publishes N events
at a target rate from random points of the city (QoS 1, as edge nodes do), some
of them twice (as a broker redelivers), and listens on the workers' ticket
topics. Prints figures (JSON with --json):

- events_per_s: events stored and pushed per second (first publish → last push)
- dispatch_ms_p50/p99: event published → ticket notice received by the worker
  (percentiles interpolate linearly between the closest ranks)
- lost: events with no ticket notice; duplicates: events with more than one
- central_cpu_percent / bench_cpu_percent: CPU of central (all replicas) / of
  this process (publisher and listener), in % of one core, while publishing and
  draining; replica_cpu_percent: per replica; database_cpu_percent: PostgreSQL's
  postmaster and backends; broker_cpu_percent: Mosquitto; machine_cpu_percent:
  the whole machine (cpu_count × 100 is every core busy)
- central_cpu_ms_per_event, database_cpu_ms_per_event, broker_cpu_ms_per_event:
  CPU milliseconds each part spent per event published (all replicas together;
  steadier than the percentages on a busy machine)
- grid_lookups_per_s: GridIndex.lookup_many over the city's grids
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from sqlalchemy import func, select

from central.config import CentralSettings
from central.context import build_context
from central.db.models import Area, AreaLevel, Camera, Event, Ticket
from central.grids.geojson import load_grid_file
from central.grids.index import GridIndex
from central.importer import import_city, import_grids, load_city_file
from gridwatch.contract import (
    EventMessage,
    EventType,
    Location,
    LocationSource,
    ModelInfo,
    Topics,
)
from gridwatch.stats import percentile
from harness.bench.report import rounded, write_figures
from harness.services import MosquittoBroker, PostgresServer, stop_process
from harness.services.mosquitto import BrokerCredentials
from simulators.city import generate_city, spec_for, write_city

log = logging.getLogger(__name__)
AUTO_TYPES = [EventType.CROWDING, EventType.INTRUSION, EventType.ILLEGAL_PARKING]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=20_000, help="events to publish")
    parser.add_argument(
        "--rate", type=float, default=2500.0, help="target publish rate (events/s)"
    )
    parser.add_argument(
        "--scale", choices=["guangzhou", "demo"], default="guangzhou", help="city size"
    )
    parser.add_argument(
        "--redeliver", type=float, default=0.02, help="share of events sent twice"
    )
    parser.add_argument(
        "--database", choices=["postgresql", "sqlite"], default="postgresql"
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="central processes sharing the subscription (PostgreSQL only)",
    )
    parser.add_argument("--timeout-s", type=float, default=120.0, help="give up after")
    parser.add_argument("--json", action="store_true", help="print JSON only")


def run_cli(args: argparse.Namespace) -> int:
    if args.replicas < 1 or (args.replicas > 1 and args.database != "postgresql"):
        sys.stderr.write("bench central: --replicas is 1, or more on postgresql\n")
        return 2
    with tempfile.TemporaryDirectory(prefix="gw-bench-central-") as tmp:
        result = run_bench(args, Path(tmp))
    write_figures(result, as_json=args.json)
    return 0 if result["lost"] == 0 and result["duplicates"] == 0 else 1


def _prepare_city(work: Path, scale: str) -> tuple[Path, Path, float]:
    started = time.perf_counter()
    city = generate_city(spec_for(scale))
    for worker in city.workers:
        worker["duty"] = []  # on duty around the clock: every ticket is dispatched
    grids, city_file = write_city(city, work / "city")
    return grids, city_file, time.perf_counter() - started


def _measure_lookups(index: GridIndex, n: int = 200_000) -> tuple[float, float]:
    west, south, east, north = index.bounds_lonlat()
    rng = np.random.default_rng(7)
    lats = rng.uniform(south, north, n)
    lons = rng.uniform(west, east, n)
    index.lookup_many(lats[:1000], lons[:1000])  # warm up
    started = time.perf_counter()
    index.lookup_many(lats, lons)
    batched = n / (time.perf_counter() - started)
    started = time.perf_counter()
    for lat, lon in zip(lats[:5000], lons[:5000], strict=True):
        index.lookup(float(lat), float(lon))
    single = 5000 / (time.perf_counter() - started)
    return batched, single


class NoticeLog:
    """When each of the bench's events was named in a notice; notices naming
    other events (on a loaded database central also tells workers about older
    tickets: deadlines, escalations) are only counted."""

    def __init__(self) -> None:
        self.received: dict[str, list[float]] = {}
        self.expected: set[str] = set()
        self.foreign = 0
        self.lock = threading.Lock()

    def expect(self, event_id: str) -> None:
        """Record notices naming `event_id` (call before publishing it)."""
        with self.lock:
            self.expected.add(event_id)

    def record(self, event_ids: list[str], at: float) -> None:
        with self.lock:
            for event_id in event_ids:
                if event_id in self.expected:
                    self.received.setdefault(event_id, []).append(at)
                else:
                    self.foreign += 1

    def count(self) -> int:
        """The bench's events named so far."""
        with self.lock:
            return len(self.received)


class _Listener(NoticeLog):
    """Receives ticket notices on every worker topic (persistent session)."""

    def __init__(
        self, port: int, topics: Topics, credentials: BrokerCredentials
    ) -> None:
        super().__init__()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="bench-terminals",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.username_pw_set(credentials.username, credentials.password)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topics.worker_tickets("+"), qos=1)
        self.client.loop_start()

    def _on_message(
        self, client: Any, userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        # Only the event ids matter here; central built the notice with
        # TicketNotice, and json.loads is a fraction of validating it again.
        self.record(json.loads(message.payload)["event_ids"], time.time())

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def run_bench(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    grids_path, city_path, city_s = _prepare_city(work, args.scale)
    pg: PostgresServer | None = None
    if args.database == "postgresql":
        pg = PostgresServer(work / "pg")
        pg.start()
        url = pg.create_database("central")
    else:
        url = f"sqlite:///{work}/central.db"
    broker = MosquittoBroker(work / "mosquitto")
    broker.start()
    centrals: list[subprocess.Popen[bytes]] = []
    try:
        started = time.perf_counter()
        context = build_context(CentralSettings(database_url=url))
        with context.sessions.begin() as session:
            import_grids(session, load_grid_file(grids_path))
            import_city(session, load_city_file(city_path), now=datetime.now(UTC))
        context.reload_reference_data()
        import_s = time.perf_counter() - started
        assert context.grid_index is not None
        batched, single = _measure_lookups(context.grid_index)
        with context.sessions() as session:
            centres: list[Any] = list(
                session.execute(
                    select(Area.centroid_lat, Area.centroid_lon).where(
                        Area.level == AreaLevel.GRID.value
                    )
                )
            )
            # Events name the city's own cameras, so each batch also moves
            # their last_event_at, as real traffic does.
            cameras = [
                (node, camera)
                for node, camera in session.execute(
                    select(Camera.node_id, Camera.camera_id)
                )
            ]
        context.engine.dispose()

        topics = Topics()
        listener = _Listener(broker.port, topics, broker.observer())
        # One after another, as a rolling start would: replicas started at the
        # same moment on a fresh database race to record the configuration's
        # audit digest (`meta`), and the loser exits (a central bug, reported).
        for replica in range(1, args.replicas + 1):
            centrals.append(_start_central(url, broker, work, replica))
            _wait_until_running(centrals[-1], timeout_s=60.0)
        time.sleep(0.5)  # its subscriptions (sent before that line) take effect
        usage = _Usage(centrals, broker, pg)
        figures = _publish_and_wait(
            args,
            broker.port,
            topics,
            centres,
            cameras,
            listener,
            usage,
            broker.simulator("bench-edge"),
        )
        listener.stop()
        figures.update(_database_counts(url))
        figures.update(
            {
                "grid_lookups_per_s": round(batched),
                "grid_lookups_single_per_s": round(single),
                "grids": len(context.grid_index),
                "city_generate_s": round(city_s, 1),
                "city_import_s": round(import_s, 1),
                "database": args.database,
                "replicas": args.replicas,
                "cpu_count": os.cpu_count(),
            }
        )
        return figures
    finally:
        for central in centrals:
            stop_process(central, timeout_s=15)
        broker.stop()
        if pg is not None:
            pg.stop()


def _start_central(
    url: str, broker: MosquittoBroker, work: Path, replica: int
) -> subprocess.Popen[bytes]:
    """`gridwatch central run --no-api` as replica `replica` (1-based): its own
    stable client id, the default shared-subscription group."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness",
            "--log-level",
            "WARNING",
            "central",
            "run",
            "--no-api",
            "--database-url",
            url,
            "--mqtt-port",
            str(broker.port),
            "--client-id",
            f"central-bench-{replica}",
            "--mqtt-username",
            "central",
            "--mqtt-password-file",
            str(broker.secret_file(broker.central())),
            "--media-dir",
            str(work / "media"),
        ],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
    )


def _tree_cpu_s(root: psutil.Process) -> dict[int, float]:
    """CPU seconds (user + system) of `root` and its children, per pid."""
    found: dict[int, float] = {}
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:  # a backend that just exited
            continue
        found[proc.pid] = times.user + times.system
    return found


def _own_cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


class _Usage:
    """CPU used between `start` and `stop` by central's replicas, PostgreSQL (the
    postmaster and every backend), the broker, this process and the machine."""

    def __init__(
        self,
        centrals: list[subprocess.Popen[bytes]],
        broker: MosquittoBroker,
        pg: PostgresServer | None,
    ) -> None:
        self.centrals = centrals
        self.roots: dict[str, psutil.Process] = {
            f"replica-{n}": psutil.Process(c.pid) for n, c in enumerate(centrals, 1)
        }
        if broker.pid is not None:
            self.roots["broker"] = psutil.Process(broker.pid)
        if pg is not None and pg.data_dir is not None:
            pid_file = pg.data_dir / "postmaster.pid"
            self.roots["database"] = psutil.Process(
                int(pid_file.read_text().split()[0])
            )
        self._own = psutil.Process()  # the publisher and the listener
        self._before: dict[str, dict[int, float]] = {}
        self._own_before = 0.0
        self._started = 0.0
        self.seconds: dict[str, float] = {}  # CPU seconds per part, after stop()

    def start(self) -> None:
        psutil.cpu_percent()
        self._before = {name: _tree_cpu_s(p) for name, p in self.roots.items()}
        self._own_before = _own_cpu_s(self._own)
        self._started = time.perf_counter()

    def check_alive(self) -> None:
        for central in self.centrals:
            if central.poll() is not None:
                raise RuntimeError(f"central exited with {central.returncode}")

    def stop(self) -> dict[str, Any]:
        wall = max(time.perf_counter() - self._started, 1e-9)
        machine = psutil.cpu_percent() * (os.cpu_count() or 1)
        used: dict[str, float] = {}
        for name, root in self.roots.items():
            before = self._before.get(name, {})
            after = _tree_cpu_s(root)
            seconds = sum(t - before.get(pid, 0.0) for pid, t in after.items())
            used[name] = round(100 * seconds / wall, 1)
        # This process alone: its children are the parts measured above.
        used["bench"] = round(
            100 * (_own_cpu_s(self._own) - self._own_before) / wall, 1
        )
        replicas = [used[f"replica-{n}"] for n in range(1, len(self.centrals) + 1)]
        self.seconds = {name: pct * wall / 100 for name, pct in used.items()}
        self.seconds["central"] = sum(replicas) * wall / 100
        return {
            "central_cpu_percent": round(sum(replicas), 1),
            "replica_cpu_percent": replicas,
            "database_cpu_percent": used.get("database"),
            "broker_cpu_percent": used.get("broker"),
            "bench_cpu_percent": used["bench"],
            "machine_cpu_percent": round(machine, 1),
        }


def _wait_until_running(central: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Wait for central's "central: ..." line (printed once it is connected and
    has subscribed); its output goes on to stderr, keeping stdout for figures."""
    assert central.stdout is not None
    stdout = central.stdout
    ready = threading.Event()

    def forward() -> None:
        for line in stdout:
            if line.startswith(b"central: "):
                ready.set()
            sys.stderr.buffer.write(line)
            sys.stderr.flush()

    threading.Thread(target=forward, name="central-stdout", daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while not ready.wait(0.1):
        if central.poll() is not None:
            raise RuntimeError(f"central exited with {central.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"central not running after {timeout_s:.0f} s")


class _EventBodies:
    """gw.event/1 JSON bodies as `EventMessage.to_json` writes them for `_event`,
    formatted from a template: building and serialising a pydantic model per
    publish would cost the bench more CPU than it leaves central."""

    def __init__(self) -> None:
        sample = _event(0.0, 0.0, AUTO_TYPES[0], random.Random(0))
        stamp = sample.to_json().split('"started_at":"')[1].split('"')[0]
        text = sample.to_json().replace("{", "{{").replace("}", "}}")
        for value, slot in (
            (f'"event_id":"{sample.event_id}"', '"event_id":"{event_id}"'),
            ('"type":"crowding"', '"type":"{type}"'),
            (f'"node_id":"{sample.node_id}"', '"node_id":"{node}"'),
            (f'"camera_id":"{sample.camera_id}"', '"camera_id":"{camera}"'),
            ('"lat":0.0,"lon":0.0', '"lat":{lat},"lon":{lon}'),
        ):
            assert text.count(value) == 1, (value, text)
            text = text.replace(value, slot)
        self.template = text.replace(stamp, "{at}")

    def body(
        self,
        event_id: str,
        event_type: EventType,
        node: str,
        camera: str,
        lat: float,
        lon: float,
    ) -> str:
        at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        return self.template.format(
            event_id=event_id,
            type=event_type.value,
            node=node,
            camera=camera,
            lat=repr(float(lat)),
            lon=repr(float(lon)),
            at=at,
        )


def _event(
    lat: float, lon: float, event_type: EventType, rng: random.Random
) -> EventMessage:
    now = datetime.now(UTC)
    node = f"node-{rng.randrange(20):02d}"
    return EventMessage(
        event_id=secrets.token_hex(8),
        type=event_type,
        node_id=node,
        camera_id=f"cam-{rng.randrange(200):03d}",
        started_at=now,
        detected_at=now,
        confidence=0.9,
        location=Location(lat=lat, lon=lon, source=LocationSource.GROUND),
        attributes={"count": 4},
        model=ModelInfo(name="bench", version="1"),
    )


def _publish_and_wait(
    args: argparse.Namespace,
    port: int,
    topics: Topics,
    centres: list[Any],
    cameras: list[tuple[str, str]],
    listener: _Listener,
    usage: _Usage,
    credentials: BrokerCredentials,
) -> dict[str, Any]:
    rng = random.Random(11)
    publisher = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="bench-edge",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    publisher.max_inflight_messages_set(1000)
    publisher.username_pw_set(credentials.username, credentials.password)
    publisher.connect("127.0.0.1", port)
    # No network thread: publish() writes from this thread and loop() reads the
    # PUBACKs while pacing, which spares the bench a thread hand-off per event.
    publisher.loop(timeout=1.0)  # CONNACK
    # The city built above stays alive: keep full collections from walking it
    # (pauses that would show up as latency on the listener's clock).
    gc.collect()
    gc.freeze()
    usage.start()
    bodies = _EventBodies()
    sent_at: dict[str, float] = {}
    interval = 1.0 / args.rate
    first = time.time()
    # Each grid gets one event per type at most (up to 3 × grids events), so
    # nothing merges and every event must become a ticket of its own.
    order = list(centres)
    rng.shuffle(order)
    for i in range(args.events):
        lat, lon = order[i % len(order)]
        kind = AUTO_TYPES[(i // len(order)) % len(AUTO_TYPES)]
        event_id = secrets.token_hex(8)
        node, camera = rng.choice(cameras)
        body = bodies.body(event_id, kind, node, camera, lat, lon)
        topic = topics.events(node)
        listener.expect(event_id)
        sent_at[event_id] = time.time()
        publisher.publish(topic, body, qos=1)
        if rng.random() < args.redeliver:
            publisher.publish(topic, body, qos=1)  # a redelivery
        pause = first + (i + 1) * interval - time.time()
        if pause > 0:
            while pause > 0:
                publisher.loop(timeout=pause)
                pause = first + (i + 1) * interval - time.time()
        elif i % 64 == 0:
            publisher.loop(timeout=0)  # behind schedule: still read PUBACKs
    publish_s = time.time() - first
    deadline = time.time() + args.timeout_s
    while listener.count() < args.events and time.time() < deadline:
        usage.check_alive()
        publisher.loop(timeout=0.05)
    cpu = usage.stop()
    publisher.disconnect()
    time.sleep(0.5)  # late duplicates, if any, would arrive now
    with listener.lock:
        received = {k: list(v) for k, v in listener.received.items()}
        foreign = listener.foreign
    latencies = sorted(
        (times[0] - sent_at[eid]) * 1000
        for eid, times in received.items()
        if eid in sent_at
    )
    last = max((times[0] for times in received.values()), default=first)
    counts = Counter(len(v) for v in received.values())
    per_event = {
        f"{name}_cpu_ms_per_event": round(1000 * usage.seconds[name] / args.events, 3)
        for name in ("central", "database", "broker")
        if name in usage.seconds
    }
    return {
        "events": args.events,
        "target_rate": args.rate,
        "publish_rate": round(args.events / publish_s, 1),
        "events_per_s": round(len(received) / max(last - first, 1e-9), 1),
        "dispatch_ms_p50": rounded(percentile(latencies, 0.5)),
        "dispatch_ms_p99": rounded(percentile(latencies, 0.99)),
        "dispatch_ms_max": round(latencies[-1], 1) if latencies else None,
        "lost": args.events - len(received),
        "duplicates": sum(n - 1 for n, c in counts.items() for _ in range(c) if n > 1),
        "foreign_notices": foreign,
        **cpu,
        **per_event,
    }


def _database_counts(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.connect() as conn:
        events = conn.scalar(select(func.count()).select_from(Event)) or 0
        tickets = conn.scalar(select(func.count()).select_from(Ticket)) or 0
        cameras = (
            conn.scalar(
                select(func.count())
                .select_from(Camera)
                .where(Camera.last_event_at.is_not(None))
            )
            or 0
        )
    engine.dispose()
    return {
        "events_stored": int(events),
        "tickets_stored": int(tickets),
        "cameras_with_events": int(cameras),
    }

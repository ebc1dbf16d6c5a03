"""The processes `gridwatch bench chaos` hurts: PostgreSQL, Mosquitto, two central
replicas and an edge publisher, each a real process of its own, plus the bench's
eyes on them (tickets in the database, ticket notices, dead letters)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import paho.mqtt.client as mqtt
import psutil
import psycopg
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from central.config import CentralSettings
from central.context import build_context
from central.grids.geojson import load_grid_file
from central.importer import import_city, import_grids, load_city_file
from gridwatch.contract import Topics
from harness.bench.chaos_count import PhaseLog
from harness.bench.chaos_edge import EdgeLoadConfig
from harness.services import MosquittoBroker, PostgresServer, stop_process
from simulators.city import generate_city, spec_for, write_city

log = logging.getLogger(__name__)
EDGE_NODE = "chaos-node"
Point = tuple[float, float]  # lat, lon
REPLICAS = ("central-chaos-a", "central-chaos-b")  # stable ids: a restart resumes
DISK_BYTES = 16 << 20  # the edge's outbox disk (a tmpfs) when one can be mounted


def start_services(work: Path) -> tuple[PostgresServer, MosquittoBroker, str]:
    """PostgreSQL (fsync on) with an empty `central` database, and Mosquitto."""
    pg = PostgresServer(work / "pg")
    pg.start()
    try:
        url = pg.create_database("central")
        broker = MosquittoBroker(work / "mosquitto")
        broker.start()
    except BaseException:
        pg.stop()
        raise
    return pg, broker, url


def write_city_files(work: Path, grids: int) -> tuple[Path, Path, list[Point]]:
    """A Guangzhou-shaped city of `grids` grids (every worker on duty, so every
    ticket is dispatched and pushed) written to files; returns them and the
    grids' centres as the importer computes them (sorted)."""
    city = generate_city(spec_for("guangzhou", grids=grids))
    for worker in city.workers:
        worker["duty"] = []
    grids_path, city_path = write_city(city, work / "city")
    centres = (f.geometry.representative_point() for f in load_grid_file(grids_path))
    return grids_path, city_path, sorted((float(c.y), float(c.x)) for c in centres)


def import_city_files(url: str, grids_path: Path, city_path: Path) -> None:
    """Migrate the database at `url` and import the city files into it."""
    context = build_context(CentralSettings(database_url=url))
    try:
        with context.sessions.begin() as session:
            import_grids(session, load_grid_file(grids_path))
            import_city(session, load_city_file(city_path), now=datetime.now(UTC))
    finally:
        context.engine.dispose()


class Replica:
    """One `gridwatch central run --no-api` process with a stable client id."""

    def __init__(self, client_id: str, *, url: str, broker: MosquittoBroker) -> None:
        self.client_id = client_id
        self.url = url
        self.broker = broker
        self.log_path = broker.workdir.parent / f"{client_id}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process (returns at once; `wait_ready` waits for it)."""
        credentials = self.broker.central()
        command = [
            sys.executable, "-m", "harness", "--log-level", "WARNING",
            "central", "run", "--no-api",
            "--database-url", self.url,
            "--mqtt-port", str(self.broker.port),
            "--client-id", self.client_id,
            "--mqtt-username", credentials.username,
            "--mqtt-password-file", str(self.broker.secret_file(credentials)),
            "--media-dir", str(self.broker.workdir.parent / "media"),
        ]  # fmt: skip
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self._lines_before = self._ready_lines()

    def _ready_lines(self) -> int:
        text = self.log_path.read_text(errors="replace")
        return sum(1 for line in text.splitlines() if line.startswith("central: "))

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        """Wait for central's "central: ..." line (connected and subscribed).

        Raises:
            RuntimeError: the process exited or was not ready in time.
        """
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while self._ready_lines() <= self._lines_before:
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"central {self.client_id} did not start:\n{tail}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no commit finishes, no PUBACK is sent."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout_s=15)


class EdgeChild:
    """The edge publisher (`harness.bench.chaos_edge`) as a child process; each
    event line it prints is filed into the current `PhaseLog`."""

    def __init__(self, config: EdgeLoadConfig, work: Path) -> None:
        self.config = config
        self.config_path = work / "edge.json"
        self.log_path = work / "edge.log"
        self.phase = PhaseLog("setup")
        self.next_index = config.start_index
        self.published_total = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._ready = threading.Event()

    def start(self, timeout_s: float = 30.0, *, snapshot_bytes: int = 0) -> None:
        """Start (again) where the last run left off, on the same outbox."""
        config = replace(
            self.config, start_index=self.next_index, snapshot_bytes=snapshot_bytes
        )
        self.config_path.write_text(json.dumps(asdict(config)), encoding="utf-8")
        self._ready.clear()
        with self.log_path.open("ab") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "harness.bench.chaos_edge",
                 "--config", str(self.config_path)],
                stdout=subprocess.PIPE,
                stderr=err,
            )  # fmt: skip
        assert self.process.stdout is not None
        threading.Thread(
            target=self._read, args=(self.process.stdout,), daemon=True
        ).start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError(f"chaos edge not ready:\n{self._tail()}")

    def _tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:]

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            parts = raw.decode(errors="replace").split(maxsplit=2)
            if not parts:
                continue
            with self._lock, contextlib.suppress(ValueError, IndexError):
                self._file(parts)  # a stray line is not an event

    def _file(self, parts: list[str]) -> None:
        kind = parts[0]
        if kind == "ready":
            self._ready.set()
            return
        if kind == "unrouted":
            self.phase.unrouted += 1
            return
        if kind not in ("ok", "refused", "error"):
            return
        index = int(parts[1])
        # A line lost to kill -9 must not have its index reused: skip ahead.
        self.next_index = max(self.next_index, index + 10)
        if kind == "ok":
            self.phase.published[parts[2].strip()] = time.monotonic()
            self.published_total += 1
        elif kind == "refused":
            self.phase.refused += 1
        else:
            self.phase.not_stored += 1

    def begin(self, phase: PhaseLog) -> None:
        with self._lock:
            self.phase = phase

    def published(self) -> dict[str, float]:
        """A copy of the current phase's published events (the reader thread
        adds to them meanwhile)."""
        with self._lock:
            return dict(self.phase.published)

    def pause(self) -> None:
        self._signal(signal.SIGUSR1)

    def resume(self) -> None:
        self._signal(signal.SIGUSR2)

    def _signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout_s=15)


class TicketWatcher:
    """Polls the database for events that have a ticket; remembers when each was
    first seen (monotonic s). `hold` stops polling (while PostgreSQL is frozen a
    query would hang)."""

    def __init__(self, dsn: str, poll_s: float = 0.25) -> None:
        self.dsn = dsn
        self.poll_s = poll_s
        self.ticketed_at: dict[str, float] = {}
        self.held = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self.ticketed_at)

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
                rows = connection.execute(
                    "SELECT event_id FROM events WHERE ticket_id IS NOT NULL"
                ).fetchall()
            except psycopg.Error:
                connection = None
                continue
            now = time.monotonic()
            with self._lock:
                for (event_id,) in rows:
                    self.ticketed_at.setdefault(event_id, now)
        if connection is not None:
            connection.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def connect_persistent_observer(
    broker: MosquittoBroker,
    client_id: str,
    subscriptions: list[tuple[str, int]],
    on_message: Callable[[Any, Any, mqtt.MQTTMessage], None],
    what: str,
) -> mqtt.Client:
    """An observer-login client with a persistent session (1 h) that subscribes
    on every connect, started, once its first subscription is acknowledged.

    Raises:
        RuntimeError: not subscribed within 10 s (the client is stopped).
    """
    subscribed = threading.Event()
    credentials = broker.observer()
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.username_pw_set(credentials.username, credentials.password)
    client.on_connect = lambda c, *_: c.subscribe(subscriptions)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = on_message
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 3600
    client.reconnect_delay_set(1, 2)
    client.connect(
        broker.host,
        broker.port,
        clean_start=mqtt.MQTT_CLEAN_START_FIRST_ONLY,
        properties=properties,
    )
    client.loop_start()
    if not subscribed.wait(10):
        client.loop_stop()
        client.disconnect()
        raise RuntimeError(f"{what} not subscribed after 10 s")
    return client


class NoticeListener:
    """Counts distinct ticket notices per event id on every worker's topic
    (observer login, persistent session, resubscribing on every connect).

    A notice that arrives again byte for byte (the same `sent_at`) is the same
    notice delivered twice, MQTT's at-least-once across a broker crash (paho
    resending a PUBLISH the dead broker never acknowledged, or the broker's
    autosave): counted in `redelivered`, not as a second notice. Central sends a
    notice only for an event message it had not stored, so a duplicate ticket
    or a second dispatch would be a distinct notice."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.counts: Counter[str] = Counter()
        self.redelivered = 0
        self._seen: set[bytes] = set()
        self._lock = threading.Lock()
        self.client = connect_persistent_observer(
            broker,
            "chaos-terminals",
            [(Topics().worker_tickets("+"), 1)],
            self._on_message,
            "notice listener",
        )

    def _on_message(
        self, client: Any, userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        payload = bytes(message.payload)
        event_ids = json.loads(payload).get("event_ids", [])
        digest = hashlib.sha256(payload).digest()
        with self._lock:
            if digest in self._seen:
                self.redelivered += 1
                return
            self._seen.add(digest)
            self.counts.update(event_ids)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class EdgeDisk:
    """The folder holding the edge's outbox: a small tmpfs of its own when this
    process may mount one (root), so that `fill` makes writes fail with ENOSPC
    as a full disk does; `available` says whether it is one."""

    def __init__(self, path: Path, size_bytes: int = DISK_BYTES) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.ballast = path / "ballast"
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        self.available = result.returncode == 0
        self.why_not = (result.stderr or result.stdout).strip()
        self.size_bytes = size_bytes

    def fill(self) -> int:
        """Write ballast until the disk refuses even one byte; returns the bytes
        written. Unbuffered, so no write is left over to fail at close."""
        written = 0
        with self.ballast.open("wb", buffering=0) as out:
            for size in (1 << 20, 64 << 10, 4096, 512, 1):
                block = b"\0" * size
                while True:
                    try:
                        count = out.write(block)
                    except OSError as error:
                        if error.errno != errno.ENOSPC:
                            raise
                        break
                    if not count:
                        break
                    written += count
        return written

    def free(self) -> None:
        self.ballast.unlink(missing_ok=True)

    def release(self) -> None:
        if self.available:
            subprocess.run(["umount", "-l", str(self.path)], check=False)


def freeze_tree(pid: int, signum: signal.Signals) -> int:
    """Send `signum` (SIGSTOP or SIGCONT) to `pid` and all its descendants."""
    root = psutil.Process(pid)
    processes = [root, *root.children(recursive=True)]
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signum)
    return len(processes)


def postmaster_pid(pg: PostgresServer) -> int:
    """The running postmaster's pid (first line of postmaster.pid)."""
    assert pg.data_dir is not None
    return int((pg.data_dir / "postmaster.pid").read_text().split()[0])


def wait_for(
    predicate: Callable[[], bool], timeout_s: float, poll_s: float = 0.2
) -> bool:
    """Poll `predicate` until true (True) or `timeout_s` passed (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll_s)
    return predicate()

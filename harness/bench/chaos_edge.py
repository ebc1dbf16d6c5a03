"""The edge side of `gridwatch bench chaos`: a child process publishing steady events.

Runs the edge node's own delivery path (`edge.publish`: the fsynced SQLite
outbox, the drain and the MQTT publisher, logging in as the node) with events
made up here instead of detected, so the chaos bench can `kill -9` it and fill
its disk. Event `i` goes to the i-th grid point of `--points` with the
(i // points)-th auto-dispatched type, so no two events share a grid and a type
and none merges into another's ticket.

Each line on stdout reports one event, written only after the outbox committed
(or refused) it, so a line that reached the parent is an event the edge owns:
`ok <index> <event_id>`, `refused <index>` (outbox full: refused and counted,
as the node does), `error <index> <reason>` (the disk refused the write), and
`unrouted <mid>` for each PUBACK with reason "no matching subscribers".
SIGUSR1 pauses the load, SIGUSR2 resumes it, SIGTERM stops cleanly.

Run as `python -m harness.bench.chaos_edge --config FILE` (JSON, `EdgeLoadConfig`).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import math
import secrets
import signal
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import cv2
import numpy as np
import paho.mqtt.client as mqtt

from edge.config import BrokerConfig
from edge.publish import MqttPublisher, Outbox, OutboxFullError
from gridwatch.contract import (
    EventMessage,
    EventType,
    Location,
    LocationSource,
    Media,
    ModelInfo,
    SnapshotRef,
)

log = logging.getLogger(__name__)
# Types the default matter list dispatches without review: each makes a ticket.
AUTO_TYPES = (EventType.CROWDING, EventType.INTRUSION, EventType.ILLEGAL_PARKING)
OUTBOX_MAX_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class EdgeLoadConfig:
    """What the edge child needs (written as JSON by the bench)."""

    node_id: str
    host: str
    port: int
    password_file: str
    outbox: str
    points: list[tuple[float, float]]
    rate: float
    start_index: int
    outbox_max_bytes: int = 64 << 20
    snapshot_bytes: int = 0  # about this big an inline JPEG on every event (0: none)

    @classmethod
    def from_file(cls, path: Path) -> EdgeLoadConfig:
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw["points"] = [(float(lat), float(lon)) for lat, lon in raw["points"]]
        return cls(**raw)

    def media(self) -> Media:
        """A noise JPEG of about `snapshot_bytes`, inline, as nodes send snapshots."""
        if self.snapshot_bytes <= 0:
            return Media()
        side = max(8, int(math.sqrt(self.snapshot_bytes / 0.92)))
        noise = np.random.default_rng(7).integers(0, 256, (side, side, 3), np.uint8)
        ok, encoded = cv2.imencode(".jpg", noise, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise RuntimeError("could not encode the snapshot")
        data = encoded.tobytes()
        return Media(
            snapshot=SnapshotRef(
                sha256=hashlib.sha256(data).hexdigest(),
                bytes_b64=base64.b64encode(data).decode("ascii"),
            )
        )

    def event(self, index: int, media: Media | None = None) -> EventMessage:
        """Event number `index` (see the module docstring)."""
        lat, lon = self.points[index % len(self.points)]
        kind = AUTO_TYPES[(index // len(self.points)) % len(AUTO_TYPES)]
        now = datetime.now(UTC)
        return EventMessage(
            event_id=f"chaos-{index:07d}-{secrets.token_hex(4)}",
            type=kind,
            node_id=self.node_id,
            camera_id="chaos-cam",
            started_at=now,
            detected_at=now,
            confidence=0.9,
            location=Location(lat=lat, lon=lon, source=LocationSource.GROUND),
            attributes={"count": 4},
            model=ModelInfo(name="chaos", version="1"),
            media=media or Media(),
        )


_say_lock = threading.Lock()
NO_MATCHING_SUBSCRIBERS = 16  # MQTT 5 PUBACK reason code 0x10


def _say(line: str) -> None:
    with _say_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _count_unrouted(publisher: MqttPublisher) -> None:
    """Report each PUBACK saying "no matching subscribers": the broker took the
    event (the outbox deletes it) and handed it to nobody. Bench-only: peeks at
    the publisher's client to see a reason code the publisher does not act on."""
    client: mqtt.Client = publisher._client
    inner = client.on_publish

    def on_publish(*args: Any) -> None:
        mid, reason = args[2], args[3]
        if getattr(reason, "value", 0) == NO_MATCHING_SUBSCRIBERS:
            _say(f"unrouted {mid}")
        if inner is not None:
            inner(*args)

    client.on_publish = on_publish


def run(config: EdgeLoadConfig, stop: threading.Event, paused: threading.Event) -> None:
    """Publish `config.rate` events a second until `stop` is set."""
    outbox = Outbox(
        Path(config.outbox),
        OUTBOX_MAX_ROWS,
        max_bytes=config.outbox_max_bytes,
        reserve_fraction=0.05,
        node_id=config.node_id,
    )
    broker = BrokerConfig(
        host=config.host,
        port=config.port,
        username=config.node_id,
        password_file=Path(config.password_file),
    )
    publisher = MqttPublisher(node_id=config.node_id, broker=broker, outbox=outbox)
    _count_unrouted(publisher)
    publisher.start()
    media = config.media()
    _say(f"ready {outbox.depth()}")
    index = config.start_index
    interval = 1.0 / config.rate
    next_at = time.monotonic()
    try:
        while not stop.is_set():
            if paused.is_set():
                stop.wait(0.05)
                next_at = time.monotonic()
                continue
            _publish_one(publisher, config.event(index, media), index)
            index += 1
            next_at += interval
            stop.wait(max(0.0, next_at - time.monotonic()))
    finally:
        publisher.stop()
        outbox.close()


def _publish_one(publisher: MqttPublisher, event: EventMessage, index: int) -> None:
    try:
        publisher.publish_event(event)
    except OutboxFullError as refusal:
        cause = refusal.__cause__
        if isinstance(cause, (sqlite3.Error, OSError)):
            # The disk refused the write: the publisher counted it as a refusal
            # (the node turns degraded); the bench counts it as never stored.
            _say(f"error {index} {str(cause).replace(chr(10), ' ')}")
        else:
            _say(f"refused {index}")
        return
    _say(f"ok {index} {event.event_id}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chaos-edge")
    parser.add_argument("--config", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="chaos-edge %(levelname)s %(name)s: %(message)s"
    )
    config = EdgeLoadConfig.from_file(args.config)
    stop = threading.Event()
    paused = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGUSR1:
            paused.set()
        elif signum == signal.SIGUSR2:
            paused.clear()
        else:
            stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, on_signal)
    run(config, stop, paused)
    return 0


if __name__ == "__main__":
    sys.exit(main())

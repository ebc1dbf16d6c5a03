"""The demo's second eye and closing loop: its city's sensors replayed by the
sensor simulator, and, for `--check`, one camera ticket resolved by its worker
so that the camera looks again (docs/iot.md, docs/verification.md)."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from sqlalchemy import func, select

from central.context import CentralContext
from central.db.models import CameraCheck, Event, HotspotWarning, Ticket, UserRole
from central.iot.ingest import RULES_MODEL
from central.tickets.service import Actor
from central.tickets.states import TicketState
from harness.services import MosquittoBroker
from simulators.sensors import (
    Broker,
    SensorPlan,
    connect,
    load_devices,
    publish_all,
    replay,
)

log = logging.getLogger(__name__)

# The replay: the last two hours as fast as the broker takes them (a rain event
# and a fire alarm among them), then the sensors go on in real time.
PAST_HOURS = 2.0
LIVE_HOURS = 24.0


class DemoSensors:
    """The sensor simulator publishing the demo city's devices on a thread."""

    def __init__(self, broker: MosquittoBroker, city_path: Path, prefix: str) -> None:
        self.devices = load_devices(city_path)
        self._broker = broker
        self._prefix = prefix
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self.counts: dict[str, int] = {}

    def start(self) -> None:
        if not self.devices:
            return
        login = self._broker.simulator()
        endpoint = self._broker.endpoint
        self._client = connect(
            Broker(
                endpoint.host,
                endpoint.port,
                login.username,
                login.password,
                endpoint.tls,
                self._prefix,
            ),
            "gw-demo-sensors",
        )
        plan = SensorPlan(
            start=datetime.now(UTC) - timedelta(hours=PAST_HOURS),
            hours=PAST_HOURS + LIVE_HOURS,
            rain_at_h=PAST_HOURS / 2,
            fire_at_h=PAST_HOURS * 0.75,
            # No faults or bad data: their dead letters would flood the demo's
            # terminal (`gridwatch sim sensors` shows them).
            fault_rate=0.0,
            bad_rate=0.0,
        )
        self._thread = threading.Thread(
            target=self._run, args=(plan,), name="demo-sensors", daemon=True
        )
        self._thread.start()

    def _run(self, plan: SensorPlan) -> None:
        assert self._client is not None
        try:
            self.counts = publish_all(
                self._client,
                replay(self.devices, plan),
                prefix=self._prefix,
                speed=0,
                stop=self._stop,
            )
        except Exception:  # the demo goes on without its sensors
            log.exception("demo sensors stopped")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._client is not None:
            self._client.loop_stop()
            self._client.disconnect()


def resolve_one_camera_ticket(context: CentralContext, wait_s: float) -> int | None:
    """Resolve, as its worker, the oldest dispatched camera ticket whose matter
    asks the camera to look again, then wait for the camera's verdict.

    Returns:
        The ticket id, None when there was none to resolve.
    """
    checked = {m.key for m in context.matters.matters if m.camera_check is not None}
    with context.sessions() as session:
        ticket = session.scalars(
            select(Ticket)
            .where(
                Ticket.matter_key.in_(checked),
                Ticket.state == TicketState.DISPATCHED.value,
                Ticket.assignee_id.is_not(None),
                Ticket.camera_id.is_not(None),
            )
            .order_by(Ticket.id)
        ).first()
        if ticket is None or ticket.assignee_id is None:
            return None
        ticket_id, worker_id = ticket.id, ticket.assignee_id
    worker = Actor(worker_id, UserRole.WORKER, worker_id=worker_id)
    context.tickets.accept(worker, ticket_id)
    context.tickets.resolve(worker, ticket_id, "demo: handled on site", None)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        with context.sessions() as session:
            outcome = session.scalars(
                select(CameraCheck.outcome).where(CameraCheck.ticket_id == ticket_id)
            ).first()
        if outcome is not None:
            break
        time.sleep(0.5)
    return ticket_id


def extras_summary(context: CentralContext) -> dict[str, Any]:
    """`sensor_events`, `warnings` and `camera_verified` of the demo summary."""
    with context.sessions() as session:
        sensor_events = session.scalar(
            select(func.count()).where(Event.model_name == RULES_MODEL.name)
        )
        warnings = session.scalar(select(func.count()).select_from(HotspotWarning))
        rows = session.execute(select(CameraCheck.state, CameraCheck.outcome)).all()
    states = Counter(state for state, _ in rows)
    return {
        "sensor_events": int(sensor_events or 0),
        "warnings": int(warnings or 0),
        "camera_verified": {
            "requested": len(rows),
            "gone": states["gone"],
            "present": states["present"],
            "cannot_verify": states["cannot_verify"],
            "pending": states["pending"],
            "closed_by_camera": sum(1 for _, outcome in rows if outcome == "closed"),
        },
    }

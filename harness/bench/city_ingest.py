"""Ingest on the loaded city-year (`bench city --ingest-events N`).

Reuses `gridwatch bench central`'s parts unchanged: a Mosquitto broker,
`gridwatch central run --no-api` as a separate process on the loaded
database, QoS 1 events at a target rate from the city's grid centres and
cameras, worker-topic listener, CPU accounting. Its figures keep their names
under `ingest` (events_per_s, dispatch_ms_p50/p99, lost, duplicates, ...).
"""

from __future__ import annotations

import argparse
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.db.models import Area, AreaLevel, Camera, Ticket
from central.tickets.states import OPEN_STATES
from gridwatch.contract import Topics
from harness.bench.central import (
    AUTO_TYPES,
    _Listener,
    _publish_and_wait,
    _start_central,
    _Usage,
    _wait_until_running,
)
from harness.services import MosquittoBroker, PostgresServer, stop_process

__all__ = ["ingest_at_size"]


def ingest_at_size(
    session: Session,
    *,
    url: str,
    pg: PostgresServer,
    work: Path,
    events: int,
    rate: float,
    merge_window_min: float,
    replicas: int = 1,
    timeout_s: float = 120.0,
) -> dict[str, Any]:
    """`bench central`'s publish-and-measure on the database at `url`, with
    `replicas` central processes sharing the events; `merge_window_min` is the
    longest merge window of the events' matters (central's matter list)."""
    since = datetime.now(UTC) - timedelta(minutes=merge_window_min)
    quiet, busy = _grid_centres(session, since=since)
    needed = -(-events // len(AUTO_TYPES))  # one event of each type per grid
    centres = quiet + busy[: max(0, needed - len(quiet))]
    into_busy = len(centres) - len(quiet)
    cameras = [
        (node, camera)
        for node, camera in session.execute(select(Camera.node_id, Camera.camera_id))
    ]
    settings = argparse.Namespace(
        events=events, rate=rate, redeliver=0.02, timeout_s=timeout_s
    )
    run_dir = work / f"ingest-{replicas}-{time.monotonic_ns()}"
    broker = MosquittoBroker(run_dir / "mosquitto")
    broker.start()
    centrals: list[subprocess.Popen[bytes]] = []
    try:
        topics = Topics()
        listener = _Listener(broker.port, topics, broker.observer())
        for replica in range(1, replicas + 1):
            centrals.append(_start_central(url, broker, run_dir, replica))
        for central in centrals:
            _wait_until_running(central, timeout_s=60.0)
        time.sleep(0.5)  # their subscriptions take effect
        usage = _Usage(centrals, broker, pg)
        figures = _publish_and_wait(
            settings,
            broker.port,
            topics,
            centres,
            cameras,
            listener,
            usage,
            broker.simulator("bench-edge"),
        )
        listener.stop()
        # Events sent into grids with an open ticket observed within the merge
        # window may join it: central is right to merge them, and the notice
        # still names them, so the counts hold, but those tickets are not new.
        return {"replicas": replicas, "grids_that_may_merge": into_busy, **figures}
    finally:
        for central in centrals:
            stop_process(central, timeout_s=15)
        broker.stop()


def _grid_centres(session: Session, *, since: datetime) -> tuple[list[Any], list[Any]]:
    """Centres of the grids with no open ticket observed `since`, and of the
    others, from one query.

    `bench central` counts one ticket per event, which holds only where nothing
    merges: an event joins an open ticket of its kind in its grid last observed
    within the merge window. The loaded year ends now, so its last minutes hold
    such tickets; the events go to the quiet grids first (each grid then gets
    at most one event of each type).
    """
    recent_open = (
        select(Ticket.grid_code)
        .where(
            Ticket.grid_code == Area.code,
            Ticket.state.in_(sorted(s.value for s in OPEN_STATES)),
            Ticket.last_observed_at >= since,
        )
        .exists()
    )
    quiet: list[Any] = []
    busy: list[Any] = []
    for lat, lon, is_busy in session.execute(
        select(Area.centroid_lat, Area.centroid_lon, recent_open).where(
            Area.level == AreaLevel.GRID.value
        )
    ):
        (busy if is_busy else quiet).append((lat, lon))
    return quiet, busy

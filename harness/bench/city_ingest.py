"""Ingest on the loaded city-year (`bench city --ingest-events N`).

Reuses `gridwatch bench central`'s parts unchanged: a Mosquitto broker,
`gridwatch central run --no-api` as a separate process on the loaded
database, QoS 1 events at a target rate from the city's grid centres and
cameras, worker-topic listener, CPU accounting. Its figures keep their names
under `ingest` (events_per_s, dispatch_ms_p50/p99, lost, duplicates, ...).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.db.models import Area, AreaLevel, Camera, Ticket
from central.tickets.states import OPEN_STATES
from gridwatch.contract import Topics
from harness.bench.central import (
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
    timeout_s: float = 120.0,
) -> dict[str, Any]:
    """`bench central`'s publish-and-measure on the database at `url`."""
    centres = _centres_of_quiet_grids(session)
    if not centres:
        raise RuntimeError(
            "bench city: every grid has an open ticket, so each ingest event "
            "could merge into one; load fewer tickets or a larger city"
        )
    cameras = [
        (node, camera)
        for node, camera in session.execute(select(Camera.node_id, Camera.camera_id))
    ]
    settings = argparse.Namespace(
        events=events, rate=rate, redeliver=0.02, timeout_s=timeout_s
    )
    broker = MosquittoBroker(work / "mosquitto")
    broker.start()
    central = None
    try:
        topics = Topics()
        listener = _Listener(broker.port, topics, broker.observer())
        central = _start_central(url, broker, work, 1)
        _wait_until_running(central, timeout_s=60.0)
        time.sleep(0.5)  # its subscriptions take effect
        usage = _Usage([central], broker, pg)
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
        return figures
    finally:
        if central is not None:
            stop_process(central, timeout_s=15)
        broker.stop()


def _centres_of_quiet_grids(session: Session) -> list[Any]:
    """Centres of the grids with no open ticket of the loaded year.

    `bench central` counts one ticket per event, which holds only where nothing
    merges: an event joins an open ticket of its kind in its grid. On the
    loaded year a few thousand tickets are still open, so the events go to the
    other grids (each grid then gets at most one event of each type).
    """
    busy = (
        select(Ticket.grid_code)
        .where(
            Ticket.grid_code == Area.code,
            Ticket.state.in_(sorted(s.value for s in OPEN_STATES)),
        )
        .exists()
    )
    return list(
        session.execute(
            select(Area.centroid_lat, Area.centroid_lon).where(
                Area.level == AreaLevel.GRID.value, ~busy
            )
        )
    )

"""Everything a central process shares: settings, database, clock, services."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from shapely.geometry import shape
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from central.clock import Clock, SystemClock
from central.config import CentralSettings
from central.db.migrate import upgrade
from central.db.models import Area, AreaLevel, Department, MetaValue
from central.db.session import make_engine, make_session_factory
from central.grids.index import GridIndex
from central.grids.map_store import MapLayerCache
from central.ingest.replicas import ReplicaRoster
from central.ingest.stats import IngestStats
from central.live import LiveState
from central.matter_store import matter_list_in_force
from central.matters import MatterList
from central.notify import Notifier, RecordingNotifier
from central.stream import TicketStream
from central.tickets.dispatch import WorkerDirectory
from central.tickets.service import TicketService
from gridwatch.contract import Topics

log = logging.getLogger(__name__)


@dataclass
class CentralContext:
    settings: CentralSettings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    matters: MatterList
    directory: WorkerDirectory
    tickets: TicketService
    notifier: Notifier
    stream: TicketStream
    topics: Topics
    grid_index: GridIndex | None = None
    departments: dict[str, str] = field(default_factory=dict)
    live: LiveState = field(default_factory=LiveState)
    # Written by this process's ingest (if it runs one), read by /healthz, /metrics.
    ingest_stats: IngestStats = field(default_factory=IngestStats)
    runs_ingest: bool = False
    # Replica slots heard of on the broker (set by the MQTT side when it runs).
    replicas: ReplicaRoster | None = None
    # The grid hierarchy simplified per zoom for the console's map, built on demand.
    map_layers: MapLayerCache = field(default_factory=MapLayerCache)

    def lookup_grid(self, lat: float, lon: float) -> str | None:
        if self.grid_index is None:
            return None
        match = self.grid_index.lookup(lat, lon)
        return match.code if match else None

    def set_matters(self, matters: MatterList) -> None:
        """Run with another matter list from now on. A MatterList is immutable,
        so swapping the references is safe while other threads read them."""
        self.matters = matters
        self.tickets.matters = matters

    def set_notifier(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.tickets.notifier = notifier

    def reload_reference_data(self) -> None:
        """Re-read grids, workers and departments (after an import)."""
        with self.sessions() as session:
            self.grid_index = load_grid_index(
                session, self.settings.ingest.nearest_grid_m
            )
            zone = self.settings.timezone or stored_timezone(session) or "UTC"
            self.directory.zone = ZoneInfo(zone)
            self.directory.load(session)
            self.departments.clear()
            self.departments.update(load_departments(session))


def load_grid_index(session: Session, nearest_m: float) -> GridIndex | None:
    """The stored grids as a lookup index, or None when there are none."""
    rows = session.execute(
        select(Area.code, Area.geometry).where(
            Area.level == AreaLevel.GRID.value, Area.geometry.is_not(None)
        )
    ).all()
    if not rows:
        return None
    return GridIndex([(code, shape(geom)) for code, geom in rows], nearest_m=nearest_m)


def load_departments(session: Session) -> dict[str, str]:
    """Department kind → code (the first code of each kind)."""
    result: dict[str, str] = {}
    for dept in session.scalars(select(Department).order_by(Department.code)):
        result.setdefault(dept.kind, dept.code)
    return result


def stored_timezone(session: Session) -> str | None:
    row = session.get(MetaValue, "timezone")
    return row.value if row else None


def build_context(
    settings: CentralSettings,
    *,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    migrate: bool = True,
) -> CentralContext:
    """Open the database (migrating it), load the reference data, wire services."""
    engine = make_engine(
        settings.database_url,
        connect_timeout_s=settings.database.connect_timeout_s,
        statement_timeout_s=settings.database.statement_timeout_s,
    )
    if settings.database_url.startswith("sqlite:///"):
        db_path = settings.database_url.removeprefix("sqlite:///")
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    if migrate:
        upgrade(engine)
    sessions = make_session_factory(engine)
    clock = clock or SystemClock()
    matters = matter_list_in_force(sessions, settings.matter_list, now=clock.now())
    directory = WorkerDirectory()  # its timezone comes with the reference data
    chosen_notifier = notifier or RecordingNotifier()
    departments: dict[str, str] = {}  # shared, refilled by reload_reference_data
    tickets = TicketService(
        sessions, clock, matters, directory, chosen_notifier, departments=departments
    )
    context = CentralContext(
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=clock,
        matters=matters,
        directory=directory,
        tickets=tickets,
        notifier=chosen_notifier,
        stream=TicketStream(),
        topics=Topics(settings.mqtt.topic_prefix),
        departments=departments,
    )
    tickets.grid_lookup = context.lookup_grid  # follows reloads of the grid index
    context.reload_reference_data()
    log.info(
        "central ready: %s, matter list %s, %d grids, timezone %s",
        engine.url.render_as_string(hide_password=True),
        matters.version,
        len(context.grid_index) if context.grid_index else 0,
        directory.zone.key,
    )
    return context

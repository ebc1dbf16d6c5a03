"""Central fixtures: a demo city in SQLite or PostgreSQL, a controllable clock."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from central.clock import ManualClock
from central.config import (
    CentralSettings,
    MediaSettings,
    MqttSettings,
    SchedulerSettings,
)
from central.context import CentralContext, build_context
from central.grids.geojson import load_grid_file
from central.importer import import_city, import_grids, load_city_file
from central.notify import RecordingNotifier
from gridwatch.contract import (
    EventMessage,
    EventPhase,
    EventType,
    Location,
    LocationSource,
    ModelInfo,
)
from simulators.city import generate_city, spec_for, write_city

# Wednesday 10:00 in Guangzhou: full-time workers are on duty.
WEDNESDAY_10_LOCAL = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
GRID_1 = "440106001001001"
GRID_1_WORKER = "w00006"


@pytest.fixture(scope="session")
def demo_city(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    city = generate_city(spec_for("demo"), clips=["one-by-one-person-detection.mp4"])
    return write_city(city, tmp_path_factory.mktemp("city"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/central.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(WEDNESDAY_10_LOCAL)


def make_context(
    url: str,
    city_files: tuple[Path, Path],
    clock: ManualClock,
    media_dir: Path,
    mqtt: MqttSettings | None = None,
    matter_list: Path | None = None,
) -> tuple[CentralContext, RecordingNotifier]:
    notifier = RecordingNotifier()
    context = build_context(
        CentralSettings(
            database_url=url,
            matter_list=matter_list,
            media=MediaSettings(dir=media_dir),
            mqtt=mqtt or MqttSettings(),
            scheduler=SchedulerSettings(interval_s=0.2),
        ),
        clock=clock,
        notifier=notifier,
    )
    grids, city = city_files
    with context.sessions.begin() as session:
        import_grids(session, load_grid_file(grids))
        import_city(session, load_city_file(city), now=clock.now())
    context.reload_reference_data()
    return context, notifier


@pytest.fixture
def central(
    database_url: str, demo_city: tuple[Path, Path], clock: ManualClock, tmp_path: Path
) -> Iterator[tuple[CentralContext, RecordingNotifier]]:
    context, notifier = make_context(database_url, demo_city, clock, tmp_path / "media")
    try:
        yield context, notifier
    finally:
        context.engine.dispose()


def grid_centre(context: CentralContext, code: str) -> tuple[float, float]:
    from central.db.models import Area

    with context.sessions() as session:
        area = session.get(Area, code)
        assert area is not None and area.centroid_lat is not None
        assert area.centroid_lon is not None
        return area.centroid_lat, area.centroid_lon


def make_event(
    lat: float,
    lon: float,
    *,
    type_: EventType = EventType.CROWDING,
    node: str = "node-01",
    camera: str = "cam-001",
    confidence: float = 0.9,
    phase: EventPhase = EventPhase.START,
    event_id: str | None = None,
    at: datetime = WEDNESDAY_10_LOCAL,
) -> EventMessage:
    return EventMessage(
        event_id=event_id or secrets.token_hex(8),
        type=type_,
        phase=phase,
        node_id=node,
        camera_id=camera,
        started_at=at,
        detected_at=at,
        confidence=confidence,
        location=Location(lat=lat, lon=lon, source=LocationSource.CAMERA),
        attributes={"count": 3},
        model=ModelInfo(name="yolox_nano", version="test"),
    )

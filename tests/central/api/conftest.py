"""API fixtures: a tiny city (one community, two grids) in SQLite and a TestClient."""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from central.api.app import create_app
from central.auth.links import MEDIA_TTL_ENV, SECRET_ENV, STREAM_TTL_ENV
from central.auth.passwords import hash_password
from central.auth.users import issue_token
from central.clock import ManualClock
from central.config import CentralSettings, HttpSettings, MediaSettings
from central.context import CentralContext, build_context
from central.db.models import (
    Area,
    AreaLevel,
    Department,
    Event,
    Ticket,
    TicketSource,
    User,
    UserRole,
    Worker,
    WorkerArea,
    WorkerRole,
)
from central.notify import RecordingNotifier

START = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
PASSWORD = "correct-horse-battery"
DISTRICT = "440106"
STREET = "440106001"
COMMUNITY = "440106001001"
GRID_1 = "440106001001001"
GRID_2 = "440106001001002"
# grid 1 spans lon 113.320-113.325, grid 2 lon 113.325-113.330; both lat 23.120-23.125
GRID_1_POINT = (23.1225, 113.3225)  # lat, lon
GRID_2_POINT = (23.1225, 113.3275)
OUTSIDE_POINT = (23.5, 113.9)
MAX_SNAPSHOT = 100_000
MAX_CLIP = 200_000
MAX_PHOTO = 100_000

# login name → (role, worker_id, node_id)
USERS: dict[str, tuple[UserRole, str | None, str | None]] = {
    "admin": (UserRole.ADMIN, None, None),
    "operator": (UserRole.OPERATOR, None, None),
    "worker1": (UserRole.WORKER, "w1", None),
    "worker2": (UserRole.WORKER, "w2", None),
    "leader": (UserRole.WORKER, "lead", None),
    "node01": (UserRole.EDGE_NODE, None, "node-01"),
    "node02": (UserRole.EDGE_NODE, None, "node-02"),
}


def square(lon0: float, lat0: float, size: float = 0.005) -> dict[str, Any]:
    ring = [
        [lon0, lat0],
        [lon0 + size, lat0],
        [lon0 + size, lat0 + size],
        [lon0, lat0 + size],
        [lon0, lat0],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def tiny_jpeg(value: int = 128) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((8, 8, 3), value, np.uint8))
    assert ok
    return bytes(buf.tobytes())


@functools.cache
def tiny_mp4() -> bytes:
    """A real H.264 MP4 of four grey frames (central decodes clips to check
    them for faces, so a header alone is refused)."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=4)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for value in (60, 90, 120, 150):
            frame = av.VideoFrame.from_ndarray(
                np.full((64, 64, 3), value, np.uint8), format="bgr24"
            )
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


@dataclass
class Api:
    client: TestClient
    context: CentralContext
    clock: ManualClock
    notifier: RecordingNotifier
    tokens: dict[str, str]

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def get(self, user: str, url: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.client.get(
            url, headers=self.auth(user), **kwargs
        )
        return response

    def post(self, user: str, url: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.client.post(
            url, headers=self.auth(user), **kwargs
        )
        return response

    def put(self, user: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.auth(user), **kwargs.pop("headers", {})}
        response: httpx.Response = self.client.put(url, headers=headers, **kwargs)
        return response

    def create_ticket(
        self, point: tuple[float, float] = GRID_1_POINT, **extra: Any
    ) -> dict[str, Any]:
        request = {
            "matter_key": "littering",
            "title": "rubbish bags by the bus stop",
            "source": "citizen",
            "lat": point[0],
            "lon": point[1],
            "reporter": "resident 13800000000",
            **extra,
        }
        response = self.post("operator", "/api/v1/tickets", json=request)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def act(
        self, user: str, ticket_id: int, action: str, **kwargs: Any
    ) -> httpx.Response:
        return self.post(user, f"/api/v1/tickets/{ticket_id}/{action}", **kwargs)


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One Argon2 hash for every fixture user (hashing is deliberately slow)."""
    return hash_password(PASSWORD)


def seed(context: CentralContext, password_hash: str, now: datetime) -> None:
    with context.sessions.begin() as session:
        session.add_all(
            [
                Area(code=DISTRICT, level=AreaLevel.DISTRICT.value, name="Tianhe"),
                Area(
                    code=STREET,
                    level=AreaLevel.STREET.value,
                    name="Shipai",
                    parent_code=DISTRICT,
                ),
                Area(
                    code=COMMUNITY,
                    level=AreaLevel.COMMUNITY.value,
                    name="Gangding",
                    parent_code=STREET,
                ),
            ]
        )
        session.flush()
        for code, lon0, name in (
            (GRID_1, 113.320, "Grid 1"),
            (GRID_2, 113.325, "Grid 2"),
        ):
            session.add(
                Area(
                    code=code,
                    level=AreaLevel.GRID.value,
                    name=name,
                    parent_code=COMMUNITY,
                    geometry=square(lon0, 23.120),
                    centroid_lat=23.1225,
                    centroid_lon=lon0 + 0.0025,
                )
            )
        session.add(
            Department(code="TH-SAN", name="Tianhe sanitation", kind="sanitation")
        )
        session.flush()
        for worker_id, name, worker_role, area in (
            ("w1", "Li Wei", WorkerRole.FULL_TIME, GRID_1),
            ("w2", "Wang Fang", WorkerRole.FULL_TIME, GRID_2),
            ("lead", "Chen Jing", WorkerRole.GRID_LEADER, COMMUNITY),
        ):
            session.add(
                Worker(id=worker_id, name=name, role=worker_role.value, duty=[])
            )
            session.flush()
            session.add(WorkerArea(worker_id=worker_id, area_code=area))
        session.flush()
        for username, (role, user_worker_id, node_id) in USERS.items():
            session.add(
                User(
                    username=username,
                    password_hash=password_hash,
                    role=role.value,
                    worker_id=user_worker_id,
                    node_id=node_id,
                    display_name=username.title(),
                    created_at=now,
                )
            )


@contextmanager
def open_api(
    tmp_path: Path,
    password_hash: str,
    *,
    http: HttpSettings | None = None,
    database_url: str | None = None,
) -> Iterator[Api]:
    """The tiny city behind a TestClient; `http` overrides the HTTP settings,
    `database_url` the database (SQLite in `tmp_path` by default)."""
    clock = ManualClock(START)
    notifier = RecordingNotifier()
    settings = CentralSettings(
        database_url=database_url or f"sqlite:///{tmp_path}/c.db",
        media=MediaSettings(
            dir=tmp_path / "media",
            max_snapshot_bytes=MAX_SNAPSHOT,
            max_clip_bytes=MAX_CLIP,
            max_photo_bytes=MAX_PHOTO,
        ),
        http=http or HttpSettings(),
    )
    context = build_context(settings, clock=clock, notifier=notifier)
    seed(context, password_hash, clock.now())
    context.reload_reference_data()
    tokens: dict[str, str] = {}
    with context.sessions.begin() as session:
        for user in session.query(User):
            tokens[user.username] = issue_token(
                session, user, now=clock.now(), ttl=timedelta(hours=12)
            )
    client = TestClient(create_app(context))
    try:
        yield Api(client, context, clock, notifier, tokens)
    finally:
        client.close()
        context.engine.dispose()


@pytest.fixture
def api(tmp_path: Path, password_hash: str) -> Iterator[Api]:
    with open_api(tmp_path, password_hash) as opened:
        yield opened


def add_event(
    context: CentralContext,
    event_id: str,
    *,
    node_id: str = "node-01",
    ticket_id: int | None = None,
    snapshot_sha256: str | None = None,
) -> None:
    now = context.clock.now()
    with context.sessions.begin() as session:
        session.add(
            Event(
                event_id=event_id,
                type="littering",
                node_id=node_id,
                camera_id="cam-001",
                phase="start",
                started_at=now,
                detected_at=now,
                received_at=now,
                confidence=0.42,
                lat=GRID_1_POINT[0],
                lon=GRID_1_POINT[1],
                location_source="ground",
                grid_code=GRID_1,
                model_name="yolox_nano",
                model_version="test",
                snapshot_sha256=snapshot_sha256,
                ticket_id=ticket_id,
            )
        )


def add_ai_ticket(
    context: CentralContext,
    *,
    state: str = "pending_review",
    assignee_id: str | None = None,
    priority: str = "normal",
    title: str = "littering on Tianhe Road",
    event_id: str | None = "evt-0000000001",
    snapshot_sha256: str | None = None,
    due_in: timedelta | None = None,
) -> int:
    """An AI ticket as ingest would open it (with its event)."""
    now = context.clock.now()
    with context.sessions.begin() as session:
        ticket = Ticket(
            source=TicketSource.AI.value,
            event_type="littering",
            matter_key="littering",
            matter_version=context.matters.version,
            category_code="0102",
            category_name="市容环境/暴露垃圾",
            priority=priority,
            state=state,
            review_reason="low_confidence" if state == "pending_review" else None,
            title=title,
            grid_code=GRID_1,
            lat=GRID_1_POINT[0],
            lon=GRID_1_POINT[1],
            confidence=0.42,
            node_id="node-01",
            camera_id="cam-001",
            snapshot_sha256=snapshot_sha256,
            assignee_id=assignee_id,
            time_limit_min=120,
            found_at=now,
            created_at=now,
            dispatched_at=now if assignee_id else None,
            due_at=now + due_in if due_in is not None else None,
            last_observed_at=now,
        )
        session.add(ticket)
        session.flush()
        ticket_id = ticket.id
    if event_id is not None:
        add_event(
            context, event_id, ticket_id=ticket_id, snapshot_sha256=snapshot_sha256
        )
    return ticket_id


@pytest.fixture(autouse=True)
def _no_link_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shell's link secret and lifetimes must not decide these tests."""
    for name in (SECRET_ENV, MEDIA_TTL_ENV, STREAM_TTL_ENV):
        monkeypatch.delenv(name, raising=False)

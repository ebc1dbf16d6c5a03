"""Loading reference data: grids (GeoJSON) and the city file (departments, workers,
cameras, IoT devices). Both are idempotent: importing the same file twice changes
nothing."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError
from shapely.geometry import mapping
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from central.auth.passwords import hash_password
from central.context import load_grid_index
from central.db.models import (
    Area,
    AreaLevel,
    Camera,
    Department,
    Device,
    MetaValue,
    User,
    UserRole,
    Worker,
    WorkerArea,
    WorkerRole,
)
from central.grids.codes import parse_grid_code
from central.grids.geojson import GridFeature
from central.tickets.duty import parse_duty
from gridwatch.contract import Identifier
from gridwatch.readings import DeviceType
from gridwatch.validation import StrictModel, describe_validation_error

log = logging.getLogger(__name__)
CHUNK = 2000


class CityFileError(ValueError):
    """The city file is unreadable or inconsistent; the message names the entry."""


@dataclass
class ImportReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, created: int, updated: int) -> None:
        self.created[kind] = self.created.get(kind, 0) + created
        self.updated[kind] = self.updated.get(kind, 0) + updated

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {"created": dict(self.created), "updated": dict(self.updated)}


def _upsert(
    session: Session,
    model: type[Any],
    key: str,
    rows: Sequence[dict[str, Any]],
) -> tuple[int, int]:
    """Insert new rows and update existing ones (by the single-column key)."""
    column = getattr(model, key)
    existing: set[Any] = set()
    keys = [r[key] for r in rows]
    for start in range(0, len(keys), CHUNK):
        existing.update(
            session.scalars(
                select(column).where(column.in_(keys[start : start + CHUNK]))
            )
        )
    new = [r for r in rows if r[key] not in existing]
    old = [r for r in rows if r[key] in existing]
    for start in range(0, len(new), CHUNK):
        session.execute(insert(model), new[start : start + CHUNK])
    if old:
        session.execute(update(model), old)  # bulk UPDATE by primary key
    return len(new), len(old)


def parent_area_rows(features: Sequence[GridFeature]) -> list[dict[str, Any]]:
    """The `areas` rows above the grids (city → community) that `import_grids`
    writes, parents first."""
    areas: dict[str, dict[str, Any]] = {}
    for f in features:
        code = parse_grid_code(f.code)
        city, district, street = code.city, code.district, code.street
        community = code.community
        levels = [
            (city, AreaLevel.CITY, f.city_name or city, None),
            (district, AreaLevel.DISTRICT, f.district_name or district, city),
            (street, AreaLevel.STREET, f.street_name or street, district),
            (community, AreaLevel.COMMUNITY, f.community_name or community, street),
        ]
        for area_code, level, name, parent in levels:
            if area_code == parent:  # a district whose code is the city's (xx00)
                continue
            areas.setdefault(
                area_code,
                {
                    "code": area_code,
                    "level": level.value,
                    "name": name,
                    "parent_code": parent,
                    "geometry": None,
                    "centroid_lat": None,
                    "centroid_lon": None,
                },
            )
    order = [AreaLevel.CITY, AreaLevel.DISTRICT, AreaLevel.STREET, AreaLevel.COMMUNITY]
    return sorted(
        areas.values(), key=lambda r: (order.index(AreaLevel(r["level"])), r["code"])
    )


def grid_area_rows(features: Sequence[GridFeature]) -> list[dict[str, Any]]:
    """The `areas` rows of the grids themselves that `import_grids` writes."""
    rows = []
    for f in features:
        centroid = f.geometry.representative_point()
        rows.append(
            {
                "code": f.code,
                "level": AreaLevel.GRID.value,
                "name": f.name,
                "parent_code": f.code[:12],
                "geometry": mapping(f.geometry),
                "centroid_lat": centroid.y,
                "centroid_lon": centroid.x,
            }
        )
    return rows


def import_grids(session: Session, features: Sequence[GridFeature]) -> ImportReport:
    """Create the hierarchy above the grids and the grids with their polygons."""
    report = ImportReport()
    parents = parent_area_rows(features)
    for level in (
        AreaLevel.CITY,
        AreaLevel.DISTRICT,
        AreaLevel.STREET,
        AreaLevel.COMMUNITY,
    ):
        rows = [r for r in parents if r["level"] == level.value]
        report.add(level.value, *_upsert(session, Area, "code", rows))
    grid_rows = grid_area_rows(features)
    report.add(AreaLevel.GRID.value, *_upsert(session, Area, "code", grid_rows))
    return report


# -- the city file ---------------------------------------------------------------


class DepartmentEntry(StrictModel):
    code: str = Field(min_length=1)
    name: str
    kind: str


class DutyEntry(StrictModel):
    days: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7])
    start: str
    end: str


class WorkerEntry(StrictModel):
    id: str = Field(min_length=1, max_length=64)
    name: str
    role: WorkerRole
    areas: list[str] = Field(default_factory=list)
    department: str | None = None
    duty: list[DutyEntry] = Field(default_factory=list)
    phone: str | None = None


class CameraEntry(StrictModel):
    node_id: str = Field(min_length=1)
    camera_id: str = Field(min_length=1)
    name: str = ""
    kind: Literal["camera", "checkpoint"] = "camera"
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    clip: str | None = None


class DeviceEntry(StrictModel):
    """An IoT sensor (docs/iot.md): its id, type, gateway and place."""

    id: Identifier
    type: DeviceType
    gateway_id: Identifier
    name: str = Field(default="", max_length=200)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class CityFile(StrictModel):
    schema_: Literal["gw.city/1"] = Field(alias="schema")
    name: str
    city_code: str
    timezone: str = "UTC"
    scale: str | None = None
    seed: int | None = None
    departments: list[DepartmentEntry] = Field(default_factory=list)
    workers: list[WorkerEntry] = Field(default_factory=list)
    cameras: list[CameraEntry] = Field(default_factory=list)
    devices: list[DeviceEntry] = Field(default_factory=list)


def load_city_file(path: Path) -> CityFile:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CityFileError(f"cannot read city file {path}: {exc}") from exc
    try:
        return CityFile.model_validate(raw)
    except ValidationError as exc:
        problems = describe_validation_error(exc)
        raise CityFileError(f"{path}: {problems}") from exc


def import_city(
    session: Session,
    city: CityFile,
    *,
    now: datetime,
    worker_password: str | None = None,
    nearest_grid_m: float = 50.0,
) -> ImportReport:
    """Departments, workers (with their areas and duty hours) and cameras.

    Grids must be imported first: every worker area must exist. With
    `worker_password`, each worker gets a login named after their id (demo use:
    one hash is computed and shared, hashing 22,000 passwords would take minutes).
    """
    report = ImportReport()
    known_areas = set(session.scalars(select(Area.code)))
    dept_codes = {d.code for d in city.departments} | set(
        session.scalars(select(Department.code))
    )
    problems: list[str] = []
    for w in city.workers:
        missing = [a for a in w.areas if a not in known_areas]
        if missing:
            problems.append(f"worker {w.id}: unknown area(s) {', '.join(missing[:3])}")
        if w.department and w.department not in dept_codes:
            problems.append(f"worker {w.id}: unknown department {w.department}")
        try:
            parse_duty([d.model_dump() for d in w.duty])
        except (ValueError, KeyError) as exc:
            problems.append(f"worker {w.id}: bad duty hours: {exc}")
    if problems:
        more = f" ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise CityFileError("; ".join(problems[:20]) + more)

    session.merge(MetaValue(key="timezone", value=city.timezone))
    session.merge(MetaValue(key="city_name", value=city.name))
    report.add(
        "departments",
        *_upsert(
            session, Department, "code", [d.model_dump() for d in city.departments]
        ),
    )
    worker_rows = [
        {
            "id": w.id,
            "name": w.name,
            "role": w.role.value,
            "department_code": w.department,
            "phone": w.phone,
            "duty": [d.model_dump() for d in w.duty],
            "active": True,
        }
        for w in city.workers
    ]
    report.add("workers", *_upsert(session, Worker, "id", worker_rows))
    ids = [w.id for w in city.workers]
    for start in range(0, len(ids), CHUNK):
        session.execute(
            delete(WorkerArea).where(
                WorkerArea.worker_id.in_(ids[start : start + CHUNK])
            )
        )
    area_rows = [
        {"worker_id": w.id, "area_code": a}
        for w in city.workers
        for a in dict.fromkeys(w.areas)
    ]
    for start in range(0, len(area_rows), CHUNK):
        session.execute(insert(WorkerArea), area_rows[start : start + CHUNK])

    report.add("cameras", *_import_cameras(session, city.cameras, nearest_grid_m))
    report.add("devices", *_import_devices(session, city.devices, nearest_grid_m))
    if worker_password is not None:
        report.add(
            "users", _worker_users(session, city.workers, worker_password, now), 0
        )
    return report


def _import_cameras(
    session: Session, cameras: Sequence[CameraEntry], nearest_grid_m: float
) -> tuple[int, int]:
    index = load_grid_index(session, nearest_grid_m)
    matches = (
        index.lookup_many([c.lat for c in cameras], [c.lon for c in cameras])
        if index and cameras
        else [None] * len(cameras)
    )
    existing = {
        (n, c): i
        for i, n, c in session.execute(
            select(Camera.id, Camera.node_id, Camera.camera_id)
        )
    }
    new_rows, old_rows = [], []
    for cam, match in zip(cameras, matches, strict=True):
        row = {
            "node_id": cam.node_id,
            "camera_id": cam.camera_id,
            "name": cam.name,
            "kind": cam.kind,
            "lat": cam.lat,
            "lon": cam.lon,
            "clip": cam.clip,
            "grid_code": match.code if match else None,
        }
        key = (cam.node_id, cam.camera_id)
        if key in existing:
            old_rows.append({"id": existing[key], **row})
        else:
            new_rows.append(row)
    for start in range(0, len(new_rows), CHUNK):
        session.execute(insert(Camera), new_rows[start : start + CHUNK])
    if old_rows:
        session.execute(update(Camera), old_rows)
    return len(new_rows), len(old_rows)


def _import_devices(
    session: Session, devices: Sequence[DeviceEntry], nearest_grid_m: float
) -> tuple[int, int]:
    """Devices by id: new ones start `unknown`; a re-import moves and renames a
    device but keeps what central learnt of it (status, readings, rule state)."""
    if not devices:
        return 0, 0
    index = load_grid_index(session, nearest_grid_m)
    matches = (
        index.lookup_many([d.lat for d in devices], [d.lon for d in devices])
        if index
        else [None] * len(devices)
    )
    rows = [
        {
            "id": d.id,
            "device_type": d.type.value,
            "gateway_id": d.gateway_id,
            "name": d.name,
            "lat": d.lat,
            "lon": d.lon,
            "grid_code": match.code if match else None,
        }
        for d, match in zip(devices, matches, strict=True)
    ]
    unique = list({r["id"]: r for r in rows}.values())
    existing: set[str] = set()
    ids = [r["id"] for r in unique]
    for start in range(0, len(ids), CHUNK):
        existing.update(
            session.scalars(
                select(Device.id).where(Device.id.in_(ids[start : start + CHUNK]))
            )
        )
    new: list[dict[str, Any]] = [
        {**r, "status": "unknown", "last_values": {}, "rule_state": {}, "recent": []}
        for r in unique
        if r["id"] not in existing
    ]
    old = [r for r in unique if r["id"] in existing]
    for start in range(0, len(new), CHUNK):
        session.execute(insert(Device), new[start : start + CHUNK])
    if old:
        session.execute(update(Device), old)
    return len(new), len(old)


def _worker_users(
    session: Session, workers: Sequence[WorkerEntry], password: str, now: datetime
) -> int:
    existing = set(session.scalars(select(User.username)))
    shared_hash = hash_password(password)
    rows = [
        {
            "username": w.id,
            "password_hash": shared_hash,
            "role": UserRole.WORKER.value,
            "worker_id": w.id,
            "display_name": w.name,
            "active": True,
            "created_at": now,
        }
        for w in workers
        if w.id not in existing
    ]
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(User), rows[start : start + CHUNK])
    return len(rows)

"""IoT devices: the city's sensors with their status and recent values (staff)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from central.api.deps import ContextDep, StaffDep
from central.db.models import Device
from central.iot.ingest import DeviceStatus
from gridwatch.readings import DeviceType

router = APIRouter(prefix="/api/v1", tags=["devices"])

CODE_PREFIX = r"^\d{1,15}$"


class RecentValue(BaseModel):
    ts: datetime
    value: float


class DevicePublic(BaseModel):
    id: str
    device_type: DeviceType
    gateway_id: str
    name: str = ""
    lat: float
    lon: float
    grid_code: str | None = None
    status: DeviceStatus = Field(
        description="unknown (never heard), ok, alarm (an episode open), fault "
        "(its value stuck) or offline (silent past its heartbeat)."
    )
    last_seen_at: datetime | None = Field(
        default=None, description="When central last received a reading of it."
    )
    last_reading: dict[str, Any] = Field(
        default_factory=dict,
        description="The last reading: ts, seq, each quantity as {value, unit}.",
    )
    recent: list[RecentValue] = Field(
        default_factory=list,
        description="Recent values of the quantity its rules watch, oldest first.",
    )


class DevicesPublic(BaseModel):
    data: list[DevicePublic]
    count: int = Field(description="Devices matching the filters (all pages).")


@router.get(
    "/devices",
    response_model=DevicesPublic,
    summary="IoT devices with status, last reading and recent values (staff)",
)
def devices(
    context: ContextDep,
    _actor: StaffDep,
    grid: Annotated[
        str | None,
        Query(pattern=CODE_PREFIX, description="Grid or area code prefix."),
    ] = None,
    device_type: Annotated[
        DeviceType | None, Query(alias="type", description="Only this type.")
    ] = None,
    status: Annotated[DeviceStatus | None, Query(description="Only this status.")] = (
        None
    ),
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DevicesPublic:
    query = select(Device)
    if grid is not None:
        query = query.where(Device.grid_code.startswith(grid, autoescape=True))
    if device_type is not None:
        query = query.where(Device.device_type == device_type.value)
    if status is not None:
        query = query.where(Device.status == status.value)
    with context.sessions() as session:
        count = session.scalar(select(func.count()).select_from(query.subquery()))
        rows = session.scalars(query.order_by(Device.id).limit(limit).offset(offset))
        data = [_public(d) for d in rows]
    return DevicesPublic(data=data, count=int(count or 0))


def _public(device: Device) -> DevicePublic:
    recent = [
        RecentValue(ts=datetime.fromisoformat(ts), value=float(value))
        for ts, value in device.recent or []
    ]
    return DevicePublic(
        id=device.id,
        device_type=DeviceType(device.device_type),
        gateway_id=device.gateway_id,
        name=device.name,
        lat=device.lat,
        lon=device.lon,
        grid_code=device.grid_code,
        status=DeviceStatus(device.status),
        last_seen_at=device.last_seen_at,
        last_reading=dict(device.last_values or {}),
        recent=recent,
    )

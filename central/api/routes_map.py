"""The console's map at city scale: the grid hierarchy by level, zoom and view."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from central.api.deps import ContextDep, MemberDep, StaffDep
from central.db.models import Event
from central.grids.codes import Level
from central.grids.map_layers import CODE_DIGITS, MAX_ZOOM, MIN_ZOOM, clamp_zoom

router = APIRouter(prefix="/api/v1/map", tags=["map"])

# A busy city-day: Guangzhou-scale cameras send thousands of events a day.
MAX_EVENT_MARKERS = 50_000

MapLevel = Literal["district", "street", "community", "grid"]
NUMBER = r"-?\d{1,3}(\.\d{1,12})?"
BBOX_PATTERN = rf"^{NUMBER},{NUMBER},{NUMBER},{NUMBER}$"
CODE_PREFIX = r"^(\d{1,15})?$"


class AreaShapeProperties(BaseModel):
    code: str = Field(description="Area code (6, 9, 12 or 15 digits).")
    name: str
    level: MapLevel
    grids: int = Field(description="Grids in the area (1 for a grid).")


class AreaShape(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon.")
    properties: AreaShapeProperties


class MapAreas(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    level: MapLevel
    zoom: int = Field(description="The zoom the shapes were simplified for.")
    grid_count: int = Field(description="Grids in the whole city.")
    bounds: list[float] | None = Field(
        description="The whole city: west, south, east, north; null without grids."
    )
    features: list[AreaShape] = Field(description="The areas that meet `bbox`.")


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``west,south,east,north`` degrees, or None.

    Raises:
        HTTPException: 422 when out of range or empty (west ≥ east, south ≥ north).
    """
    if text is None:
        return None
    west, south, east, north = (float(v) for v in text.split(","))
    problems = [
        f"{name} {value} is not a longitude in [-180, 180]"
        for name, value in (("west", west), ("east", east))
        if not -180.0 <= value <= 180.0
    ] + [
        f"{name} {value} is not a latitude in [-90, 90]"
        for name, value in (("south", south), ("north", north))
        if not -90.0 <= value <= 90.0
    ]
    if west >= east:
        problems.append(f"west ({west}) must be less than east ({east})")
    if south >= north:
        problems.append(f"south ({south}) must be less than north ({north})")
    if problems:
        raise HTTPException(422, f"bad bbox: {'; '.join(problems)}")
    return west, south, east, north


@router.get(
    "/areas",
    response_model=MapAreas,
    summary="One level of the grid hierarchy, simplified for a zoom, in a view",
    description="Districts, streets and communities are dissolved from their "
    "grids; every level is simplified to half a pixel at `zoom` (clamped to "
    f"{MIN_ZOOM}..{MAX_ZOOM}), computed once and cached until the grids are "
    "re-imported. The map asks for coarse levels zoomed out and for the grids in "
    "view zoomed in.",
)
def map_areas(
    context: ContextDep,
    _actor: MemberDep,
    level: Annotated[MapLevel, Query(description="Which level.")],
    zoom: Annotated[int, Query(ge=0, le=22, description="Web Mercator zoom.")],
    bbox: Annotated[
        str | None,
        Query(
            pattern=BBOX_PATTERN,
            description="Only areas meeting west,south,east,north (degrees).",
        ),
    ] = None,
    prefix: Annotated[
        str,
        Query(
            pattern=CODE_PREFIX,
            description="Only areas whose code starts with this (or that it "
            "starts with: `prefix=440106001` with `level=district` is 440106).",
        ),
    ] = "",
) -> Response:
    view = parse_bbox(bbox)
    layers = context.map_layers.get(context.grid_index, context.sessions)
    layer = layers.layer(Level(level), zoom)
    digits = CODE_DIGITS[Level(level)]
    head = {
        "type": "FeatureCollection",
        "level": level,
        "zoom": clamp_zoom(zoom),
        "grid_count": layers.grid_count,
        "bounds": list(layers.bounds) if layers.bounds else None,
    }
    # The features are stored as JSON text: joining them is the whole cost.
    body = json.dumps(head, separators=(",", ":"))[:-1]
    body += ',"features":[' + ",".join(layer.features_in(view, prefix[:digits])) + "]}"
    return Response(content=body.encode("utf-8"), media_type="application/json")


class EventMarker(BaseModel):
    """What the map draws and says for one event; details come from its ticket."""

    event_id: str
    type: str
    lat: float
    lon: float
    confidence: float
    camera_id: str
    detected_at: datetime
    received_at: datetime
    ticket_id: int | None = None


class EventMarkers(BaseModel):
    since: datetime = Field(description="Events received after this are listed.")
    truncated: bool = Field(
        description=f"More than {MAX_EVENT_MARKERS:,} events: only the newest listed."
    )
    events: list[EventMarker] = Field(description="Newest first.")


@router.get(
    "/events",
    response_model=EventMarkers,
    summary="A day of AI events as map markers (staff)",
    description="The events received in the last `hours`, newest first, with only "
    f"what a marker needs; at most {MAX_EVENT_MARKERS:,}.",
)
def map_events(
    context: ContextDep,
    _actor: StaffDep,
    hours: Annotated[
        float, Query(gt=0, le=168, description="How far back, in hours.")
    ] = 24,
) -> Response:
    since = context.clock.now() - timedelta(hours=hours)
    query = (
        select(
            Event.event_id,
            Event.type,
            Event.lat,
            Event.lon,
            Event.confidence,
            Event.camera_id,
            Event.detected_at,
            Event.received_at,
            Event.ticket_id,
        )
        .where(Event.received_at > since)
        .order_by(Event.received_at.desc())
        .limit(MAX_EVENT_MARKERS + 1)
    )
    with context.sessions() as session:
        rows = session.execute(query).all()
    # Written directly: tens of thousands of rows through pydantic cost seconds.
    body = {
        "since": since.isoformat(),
        "truncated": len(rows) > MAX_EVENT_MARKERS,
        "events": [_marker(row._asdict()) for row in rows[:MAX_EVENT_MARKERS]],
    }
    return Response(
        content=json.dumps(body, separators=(",", ":")), media_type="application/json"
    )


def _marker(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("detected_at", "received_at"):
        row[key] = row[key].isoformat()
    return row

"""Recent events, grid hotspots, ticket durations and edge nodes: what the console's
map, camera page and charts show live."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select

from central.activity import (
    DurationHistograms,
    Hotspot,
    duration_histograms,
    grid_hotspots,
)
from central.api.deps import ContextDep, StaffDep
from central.api.routes_stats import city_zone, time_range
from central.api.routes_tickets import EventOut, event_out
from central.db.models import Event

router = APIRouter(prefix="/api/v1", tags=["activity"])

DURATION_DEFAULT_DAYS = 30


class RecentEvent(EventOut):
    ticket_id: int | None = Field(default=None, description="Its ticket, if any.")


class NodeOut(BaseModel):
    node_id: str
    state: str = Field(description="online or offline (the node's last will).")
    version: str = ""
    model: str = ""
    cameras: list[str] = Field(default_factory=list)
    at: datetime = Field(description="When the node said so.")


@router.get(
    "/events",
    response_model=list[RecentEvent],
    summary="Recent AI events, newest first (staff)",
)
def recent_events(
    context: ContextDep,
    _actor: StaffDep,
    since: Annotated[
        AwareDatetime | None,
        Query(
            description="Only events received after this (ISO 8601 with a time "
            "zone, e.g. 2024-03-01T08:00:00+08:00)."
        ),
    ] = None,
    type_: Annotated[str | None, Query(alias="type", description="Event type.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[RecentEvent]:
    query = select(Event).order_by(Event.received_at.desc()).limit(limit)
    if since is not None:
        query = query.where(Event.received_at > since)
    if type_:
        query = query.where(Event.type == type_)
    with context.sessions() as session:
        return [
            RecentEvent(**event_out(e).model_dump(), ticket_id=e.ticket_id)
            for e in session.scalars(query)
        ]


@router.get(
    "/stats/hotspots",
    response_model=list[Hotspot],
    tags=["statistics"],
    summary="Events and open tickets per grid, busiest first (staff)",
)
def hotspots(
    context: ContextDep,
    _actor: StaffDep,
    days: Annotated[float, Query(gt=0, le=366, description="Event window.")] = 7,
) -> list[Hotspot]:
    since = context.clock.now() - timedelta(days=days)
    with context.sessions() as session:
        return grid_hotspots(session, since=since)


@router.get(
    "/stats/durations",
    response_model=DurationHistograms,
    tags=["statistics"],
    summary="How long tickets took to dispatch, accept and close (histograms)",
)
def durations(
    context: ContextDep,
    _actor: StaffDep,
    start: Annotated[
        str | None,
        Query(description="Local date or ISO time; default 30 days ago."),
    ] = None,
    end: Annotated[
        str | None, Query(description="Local date or ISO time; default now.")
    ] = None,
) -> DurationHistograms:
    now = context.clock.now()
    begin, finish = time_range(
        start,
        end,
        city_zone(context),
        (now - timedelta(days=DURATION_DEFAULT_DAYS), now + timedelta(seconds=1)),
    )
    with context.sessions() as session:
        return duration_histograms(session, start=begin, end=finish)


@router.get(
    "/nodes",
    response_model=list[NodeOut],
    summary="Edge nodes and their last reported state (staff)",
)
def nodes(context: ContextDep, _actor: StaffDep) -> list[NodeOut]:
    return [
        NodeOut.model_validate(n, from_attributes=True) for n in context.live.nodes()
    ]

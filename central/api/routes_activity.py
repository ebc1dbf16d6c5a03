"""Recent events, grid hotspots, ticket durations, edge nodes and central's ingest:
what the console's map, camera page and charts show live."""

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
from central.ingest.replicas import slot_warnings
from central.ingest.stats import judge

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


class ReplicaSlotOut(BaseModel):
    client_id: str
    state: str = Field(description="online or offline.")
    since: datetime
    away_s: float = Field(description="Seconds offline (0 when online).")


class IngestHealth(BaseModel):
    """What `/healthz` says of this process's ingest, for the console."""

    runs_ingest: bool = Field(
        description="Whether this process runs ingest; false in a process that "
        "only serves the API (its ingest runs in another replica)."
    )
    status: str | None = Field(
        default=None, description="ok or degraded; null without ingest here."
    )
    reasons: list[str] = Field(
        default_factory=list, description="Why degraded (stuck, lagging)."
    )
    lag_s: float | None = Field(
        default=None, description="Age of the oldest event not yet stored."
    )
    queued: int | None = Field(default=None, description="Events waiting for a batch.")
    received: int | None = Field(default=None, description="Taken from the broker.")
    stored: int | None = Field(default=None, description="New event messages stored.")
    deadlettered: int | None = Field(
        default=None, description="Messages refused to the dead-letter topic."
    )
    failed_batches: int | None = None
    storage_retries: int | None = None
    replica_slots: list[ReplicaSlotOut] = Field(
        default_factory=list,
        description="Central replicas' slots heard of on the broker (any process).",
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="Slots offline past ingest.slot_offline_alert_s: their share "
        "of the events waits in the broker.",
    )


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
    grid: Annotated[
        str | None,
        Query(
            pattern=r"^\d{1,15}$",
            description="Only grids under this code prefix: a district (6 "
            "digits), street (9), community (12) or one grid (15).",
        ),
    ] = None,
) -> list[Hotspot]:
    since = context.clock.now() - timedelta(days=days)
    with context.sessions() as session:
        return grid_hotspots(session, since=since, area=grid)


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


@router.get(
    "/system/ingest",
    response_model=IngestHealth,
    tags=["health"],
    summary="This process's ingest: ok or degraded, lag, queue, dead letters (staff)",
)
def ingest_health(context: ContextDep, _actor: StaffDep) -> IngestHealth:
    """The verdict and counters of `/healthz`, always with 200 (a report, not a
    probe); counts since this process started."""
    slots = [
        ReplicaSlotOut.model_validate(slot, from_attributes=True)
        for slot in (context.replicas.slots() if context.replicas else [])
    ]
    warnings = slot_warnings(
        context.replicas, context.settings.ingest.slot_offline_alert_s
    )
    if not context.runs_ingest:
        return IngestHealth(runs_ingest=False, replica_slots=slots, warnings=warnings)
    limits = context.settings.ingest
    verdict = judge(
        context.ingest_stats,
        stuck_after_s=limits.stuck_after_s,
        lag_after_s=limits.lag_degraded_s,
    )
    return IngestHealth(
        runs_ingest=True,
        status=verdict.status,
        reasons=list(verdict.reasons),
        replica_slots=slots,
        warnings=warnings,
        **verdict.details,
    )

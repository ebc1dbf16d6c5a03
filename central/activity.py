"""Activity figures for the console's map and charts: recent events, per-grid
hotspots and how long tickets took, as histograms."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from central.db.models import Area, Event, Ticket
from central.tickets.states import OPEN_STATES

# Upper bin edges, seconds: 10 s … 1 day, then everything longer.
DURATION_EDGES_S: tuple[float, ...] = (
    10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400, math.inf,
)  # fmt: skip


class Hotspot(BaseModel):
    grid_code: str
    name: str = ""
    events: int = Field(description="AI events received in the window.")
    open_tickets: int = Field(description="Tickets open now.")


class DurationBin(BaseModel):
    le_s: float | None = Field(description="Upper edge in seconds; null: longer.")
    count: int


class DurationHistograms(BaseModel):
    start: datetime = Field(description="Tickets created from (inclusive).")
    end: datetime = Field(description="Tickets created before (exclusive).")
    dispatch: list[DurationBin] = Field(description="created → dispatched.")
    accept: list[DurationBin] = Field(description="dispatched → accepted.")
    close: list[DurationBin] = Field(description="created → closed.")


def grid_hotspots(
    session: Session, *, since: datetime, area: str | None = None
) -> list[Hotspot]:
    """Per grid: AI events received since `since` and tickets open now; busiest
    first; grids with neither are left out. `area`: only grids whose code
    starts with it (a district's 6 digits, a street's 9, a community's 12)."""
    event_filter: list[ColumnElement[bool]] = [
        Event.received_at >= since,
        Event.grid_code.is_not(None),
    ]
    ticket_filter: list[ColumnElement[bool]] = [
        Ticket.state.in_([s.value for s in OPEN_STATES]),
        Ticket.grid_code.is_not(None),
    ]
    if area:
        event_filter.append(Event.grid_code.startswith(area, autoescape=True))
        ticket_filter.append(Ticket.grid_code.startswith(area, autoescape=True))
    events: dict[str, int] = {
        str(code): count
        for code, count in session.execute(
            select(Event.grid_code, func.count())
            .where(*event_filter)
            .group_by(Event.grid_code)
        )
    }
    open_tickets: dict[str, int] = {
        str(code): count
        for code, count in session.execute(
            select(Ticket.grid_code, func.count())
            .where(*ticket_filter)
            .group_by(Ticket.grid_code)
        )
    }
    codes = set(events) | set(open_tickets)
    names: dict[str, str] = {
        code: name
        for code, name in session.execute(
            select(Area.code, Area.name).where(Area.code.in_(codes))
        )
    }
    spots = [
        Hotspot(
            grid_code=code,
            name=names.get(code, ""),
            events=int(events.get(code, 0)),
            open_tickets=int(open_tickets.get(code, 0)),
        )
        for code in codes
    ]
    return sorted(spots, key=lambda s: (-s.events, -s.open_tickets, s.grid_code))


def histogram(values_s: Sequence[float]) -> list[DurationBin]:
    counts = [0] * len(DURATION_EDGES_S)
    for value in values_s:
        counts[next(i for i, e in enumerate(DURATION_EDGES_S) if value <= e)] += 1
    return [
        DurationBin(le_s=None if math.isinf(edge) else edge, count=count)
        for edge, count in zip(DURATION_EDGES_S, counts, strict=True)
    ]


def duration_histograms(
    session: Session, *, start: datetime, end: datetime
) -> DurationHistograms:
    rows = session.execute(
        select(
            Ticket.created_at,
            Ticket.dispatched_at,
            Ticket.accepted_at,
            Ticket.closed_at,
        ).where(Ticket.created_at >= start, Ticket.created_at < end)
    ).all()

    def spans(pairs: list[tuple[datetime | None, datetime | None]]) -> list[float]:
        return [
            max(0.0, (later - earlier).total_seconds())
            for earlier, later in pairs
            if earlier is not None and later is not None
        ]

    return DurationHistograms(
        start=start,
        end=end,
        dispatch=histogram(spans([(r.created_at, r.dispatched_at) for r in rows])),
        accept=histogram(spans([(r.dispatched_at, r.accepted_at) for r in rows])),
        close=histogram(spans([(r.created_at, r.closed_at) for r in rows])),
    )

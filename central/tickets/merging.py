"""One ticket per problem: a report of a case an open ticket already covers
joins that ticket instead of opening another.

A patrol report, a citizen report or an Open311 request of the same matter, in
the same grid, within the matter's merge radius of an open ticket and its merge
window of the ticket's last observation (`MergePolicy`) joins it: one more
observation, a `merge` history entry, and a `TicketMerge` row that keeps what
the report said and where. Its reporter row (citizen or patrol) points at the
ticket, so the citizen's tracking link follows the ticket's progress. Camera
events join by the same rule in the ingest path (`central.ingest.processor`).

An operator who finds a merge wrong splits the report off: it becomes a ticket
of its own, with its reporter, and both tickets say so in their history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.db.models import Ticket, TicketMerge
from central.matters import MergePolicy
from central.tickets.model import HistoryEntry, NewTicket
from central.tickets.states import OPEN_STATES, TicketAction

EARTH_RADIUS_M = 6_371_000.0
_OPEN_STATE_VALUES = sorted(s.value for s in OPEN_STATES)


def metres_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Equirectangular distance: exact enough at the metres-to-kilometres scale."""
    mean_lat = math.radians((lat1 + lat2) / 2)
    dx = math.radians(lon2 - lon1) * math.cos(mean_lat)
    dy = math.radians(lat2 - lat1)
    return EARTH_RADIUS_M * math.hypot(dx, dy)


@dataclass(frozen=True, slots=True)
class Sighting:
    """A new report of a problem: what, where and when, and who sent it."""

    source: str
    matter_key: str
    grid_code: str
    lat: float
    lon: float
    at: datetime
    title: str
    description: str = ""
    photo_sha256: str | None = None


def sighting_of(new: NewTicket) -> Sighting | None:
    """A new report ticket as a sighting; None without a grid or a position
    (it cannot be placed near anything)."""
    if new.grid_code is None or new.lat is None or new.lon is None:
        return None
    return Sighting(
        source=new.source,
        matter_key=new.matter_key,
        grid_code=new.grid_code,
        lat=new.lat,
        lon=new.lon,
        at=new.created_at,
        title=new.title,
        description=new.description,
        photo_sha256=new.snapshot_sha256,
    )


@dataclass(frozen=True, slots=True)
class MergeTarget:
    """The open ticket a sighting joins, and how far from it the sighting is."""

    ticket: Ticket
    distance_m: float


def find_open_ticket(
    session: Session, policy: MergePolicy, sighting: Sighting
) -> MergeTarget | None:
    """The nearest open ticket of the sighting's matter and grid within the
    policy's radius and window, or None (also when the policy turns merging off).
    """
    if not policy.enabled:
        return None
    window = timedelta(minutes=policy.window_min)
    candidates = session.scalars(
        select(Ticket)
        .where(
            Ticket.state.in_(_OPEN_STATE_VALUES),
            Ticket.matter_key == sighting.matter_key,
            Ticket.grid_code == sighting.grid_code,
            Ticket.last_observed_at >= sighting.at - window,
            Ticket.lat.is_not(None),
            Ticket.lon.is_not(None),
        )
        .order_by(Ticket.id)
    )
    best: MergeTarget | None = None
    for ticket in candidates:
        assert ticket.lat is not None and ticket.lon is not None  # filtered above
        distance = metres_between(sighting.lat, sighting.lon, ticket.lat, ticket.lon)
        if distance > policy.distance_m:
            continue
        if best is None or distance < best.distance_m:
            best = MergeTarget(ticket, distance)
    return best


def merge_into(
    session: Session,
    target: MergeTarget,
    sighting: Sighting,
    *,
    actor_name: str,
    citizen_report_id: int | None = None,
    patrol_report_id: int | None = None,
) -> TicketMerge:
    """Count the sighting as one more observation of the target's ticket and
    keep it (flushed, not committed). The caller points the reporter row at the
    ticket."""
    ticket = target.ticket
    ticket.observations += 1
    ticket.last_observed_at = max(ticket.last_observed_at, sighting.at)
    merge = TicketMerge(
        ticket_id=ticket.id,
        source=sighting.source,
        title=sighting.title,
        description=sighting.description,
        lat=sighting.lat,
        lon=sighting.lon,
        grid_code=sighting.grid_code,
        distance_m=round(target.distance_m, 1),
        photo_sha256=sighting.photo_sha256,
        citizen_report_id=citizen_report_id,
        patrol_report_id=patrol_report_id,
        merged_at=sighting.at,
    )
    session.add(merge)
    session.flush()
    session.add(
        HistoryEntry.after(
            ticket.id,
            ticket,
            at=sighting.at,
            actor=actor_name,
            action=TicketAction.MERGE,
            from_state=ticket.state,
            note=f"{sighting.source} report merged ({target.distance_m:.0f} m "
            f"away; merge #{merge.id})",
        ).to_orm()
    )
    return merge


def merges_of(session: Session, ticket_id: int) -> list[TicketMerge]:
    """The reports that joined a ticket (split ones too), oldest first."""
    return list(
        session.scalars(
            select(TicketMerge)
            .where(TicketMerge.ticket_id == ticket_id)
            .order_by(TicketMerge.merged_at, TicketMerge.id)
        )
    )

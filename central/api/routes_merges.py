"""One ticket per problem: the reports merged into a ticket, and splitting a
wrong merge off into a ticket of its own (staff; audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from central.api.deps import ContextDep, StaffDep
from central.api.routes_auth import client_address
from central.api.routes_media import media_url
from central.api.routes_tickets import TicketId, TicketOut, ticket_out
from central.db.models import TicketMerge, TicketSource
from central.tickets.merging import merges_of

router = APIRouter(prefix="/api/v1", tags=["tickets"])

MAX_ROW_ID = 2**31 - 1  # an INTEGER column (PostgreSQL) holds no more


class MergedReportOut(BaseModel):
    """A report that joined the ticket instead of opening one of its own."""

    id: int = Field(description="Merge number (what a split names).")
    source: TicketSource = Field(description="patrol, citizen or open311.")
    title: str
    description: str = ""
    lat: float
    lon: float
    grid_code: str | None = None
    distance_m: float = Field(description="Metres from the ticket when merged.")
    photo_url: str | None = Field(default=None, description="The report's photo.")
    merged_at: datetime
    split_at: datetime | None = Field(
        default=None, description="When an operator split it off (null: merged)."
    )
    split_by: str | None = None
    split_ticket_id: int | None = Field(
        default=None, description="The ticket it became when split off."
    )


class MergedReports(BaseModel):
    items: list[MergedReportOut] = Field(description="Oldest first.")


class SplitIn(BaseModel):
    merge_id: Annotated[int, Field(ge=1, le=MAX_ROW_ID)] = Field(
        description="The merged report to split off (`GET .../merges`)."
    )
    reason: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="Why the merge was wrong (history and audit log)."
    )


class SplitOut(BaseModel):
    ticket: TicketOut = Field(description="The ticket the report was split off.")
    split_ticket: TicketOut = Field(description="The report's own new ticket.")


def merged_report_out(row: TicketMerge) -> MergedReportOut:
    return MergedReportOut(
        id=row.id,
        source=TicketSource(row.source),
        title=row.title,
        description=row.description,
        lat=row.lat,
        lon=row.lon,
        grid_code=row.grid_code,
        distance_m=row.distance_m,
        photo_url=media_url(row.photo_sha256),
        merged_at=row.merged_at,
        split_at=row.split_at,
        split_by=row.split_by,
        split_ticket_id=row.split_ticket_id,
    )


@router.get(
    "/tickets/{ticket_id}/merges",
    response_model=MergedReports,
    summary="Reports merged into a ticket (staff)",
    description="Patrol, citizen and Open311 reports of the same matter near the "
    "same place within the matter's merge window joined this ticket (one ticket "
    "per problem); split ones stay listed with the ticket they became.",
    responses={404: {"description": "No such ticket"}},
)
def ticket_merges(
    context: ContextDep, actor: StaffDep, ticket_id: TicketId
) -> MergedReports:
    with context.sessions() as session:
        context.tickets.visible(session, actor, ticket_id)
        rows = merges_of(session, ticket_id)
        return MergedReports(items=[merged_report_out(r) for r in rows])


@router.post(
    "/tickets/{ticket_id}/split",
    response_model=SplitOut,
    summary="Split a wrongly merged report off into its own ticket (staff)",
    description="The report becomes a ticket of its own (dispatched to its "
    "grid's on-duty worker, or held for review), with its reporter: a citizen's "
    "tracking link follows the new ticket. Both histories and the audit log "
    "record it.",
    responses={
        404: {"description": "No such ticket"},
        422: {"description": "Not a report of this ticket, or split already"},
    },
)
def split_report(
    request: Request,
    context: ContextDep,
    actor: StaffDep,
    ticket_id: TicketId,
    body: SplitIn,
) -> SplitOut:
    ticket, split = context.tickets.split(
        actor,
        ticket_id,
        body.merge_id,
        body.reason.strip(),
        address=client_address(request),
    )
    now = context.clock.now()
    return SplitOut(ticket=ticket_out(ticket, now), split_ticket=ticket_out(split, now))

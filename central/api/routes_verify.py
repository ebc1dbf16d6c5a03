"""Camera checks of a ticket (`central/verify/`): what the camera saw when it
looked again after the resolution, with the before and after pictures.

Staff see every ticket's checks, a worker those of their own tickets (another
ticket answers 404, as the ticket itself does).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from central.api.deps import ContextDep, MemberDep
from central.api.routes_media import media_url
from central.api.routes_tickets import TicketId
from central.db.models import CameraCheck
from central.verify.service import checks_of

router = APIRouter(prefix="/api/v1", tags=["tickets"])


class CameraCheckOut(BaseModel):
    request_id: str
    node_id: str
    camera_id: str
    zone_id: str | None
    event_type: str
    state: str = Field(description="pending, gone, present or cannot_verify.")
    reason: str | None = Field(description="What the node (or the time-out) said.")
    outcome: str | None = Field(
        description="What it did to the ticket: closed (verified by camera), "
        "review (an operator decides), returned (rework), none (moved on by hand)."
    )
    requested_at: datetime
    deadline_at: datetime
    answered_at: datetime | None
    before_url: str | None = Field(description="The event's snapshot.")
    after_url: str | None = Field(
        description="The camera's picture when it looked again."
    )


class CameraChecksOut(BaseModel):
    data: list[CameraCheckOut] = Field(description="Newest first.")
    count: int


def _check_out(row: CameraCheck) -> CameraCheckOut:
    return CameraCheckOut(
        request_id=row.request_id,
        node_id=row.node_id,
        camera_id=row.camera_id,
        zone_id=row.zone_id,
        event_type=row.event_type,
        state=row.state,
        reason=row.reason,
        outcome=row.outcome,
        requested_at=row.requested_at,
        deadline_at=row.deadline_at,
        answered_at=row.answered_at,
        before_url=media_url(row.before_sha256),
        after_url=media_url(row.after_sha256),
    )


@router.get(
    "/tickets/{ticket_id}/camera-checks",
    response_model=CameraChecksOut,
    summary="The ticket's camera checks: did the camera see the problem gone?",
    description="After a worker resolves a ticket a camera raised (matters with "
    "`camera_check`), the camera looks again; each check's verdict, reason and "
    "before/after pictures, newest first.",
    responses={404: {"description": "No such ticket (or not yours)"}},
)
def ticket_camera_checks(
    context: ContextDep, actor: MemberDep, ticket_id: TicketId
) -> CameraChecksOut:
    with context.sessions() as session:
        context.tickets.visible(session, actor, ticket_id)
        rows = [_check_out(row) for row in checks_of(session, ticket_id)]
    return CameraChecksOut(data=rows, count=len(rows))

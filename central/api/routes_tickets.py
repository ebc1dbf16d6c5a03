"""Tickets: lists for operators and workers, the review queue, and every action
of the closed loop (review → dispatch → accept → resolve → close)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, Path, Query, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.api.deps import ContextDep, MemberDep, StaffDep, WorkerDep
from central.api.idempotency import ActionRequest, IdempotencyKey, run_once
from central.api.routes_media import MediaDep, media_refusal, media_url, record_media
from central.context import CentralContext
from central.db.models import (
    Area,
    AreaLevel,
    Event,
    Ticket,
    TicketHistory,
    TicketSource,
    UserRole,
)
from central.matters import PRIORITY_RANK, Priority
from central.media import MediaRejected, MediaStore
from central.tickets.service import (
    Actor,
    InvalidRequest,
    ManualTicket,
    PermissionDenied,
)
from central.tickets.states import (
    OPEN_STATES,
    WORKING_STATES,
    TicketAction,
    TicketState,
    actions_from,
    next_state,
)

router = APIRouter(prefix="/api/v1", tags=["tickets"])

GRID_CODE_PATTERN = r"^\d{15}$"
MAX_PAGE = 500
# PostgreSQL's INTEGER: a larger id or offset would fail in the database (a 500),
# so it is refused as invalid input (422) instead.
MAX_ROW_ID = 2**31 - 1
TicketId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="Ticket number.")]
TOP_ESCALATION_LEVEL = 3

# Who takes which action (each a POST /tickets/{id}/{action}), as these routes
# and the ticket service check it: the assigned worker accepts and resolves;
# staff do the rest. In the order the pages offer them.
WORKER_ACTIONS: tuple[TicketAction, ...] = (TicketAction.ACCEPT, TicketAction.RESOLVE)
STAFF_ACTIONS: tuple[TicketAction, ...] = (
    TicketAction.CLOSE,
    TicketAction.RETURN,
    TicketAction.CONFIRM,
    TicketAction.REASSIGN,
    TicketAction.ESCALATE,
    TicketAction.REJECT,
)


# -- response models -------------------------------------------------------------


class TicketOut(BaseModel):
    """A ticket as the operator console and the worker terminal show it."""

    id: int = Field(description="Ticket number.")
    state: TicketState = Field(description="Where the ticket is in the closed loop.")
    source: TicketSource = Field(description="ai (camera event), citizen or patrol.")
    event_type: str | None = Field(
        default=None,
        description="AI event type (crowding, littering, ...); null by hand.",
    )
    matter_key: str = Field(description="Matter list entry the ticket follows.")
    category_code: str = Field(description="GB/T 30428.2-style category code.")
    category_name: str = Field(description="Category class/subclass name.")
    department_code: str | None = Field(
        default=None, description="Handling department."
    )
    priority: str = Field(description="low, normal, high or urgent.")
    title: str
    description: str = ""
    grid_code: str | None = Field(default=None, description="15-digit grid code.")
    lat: float | None = None
    lon: float | None = None
    confidence: float | None = Field(default=None, description="AI confidence, 0..1.")
    node_id: str | None = Field(default=None, description="Edge node of the camera.")
    camera_id: str | None = None
    assignee_id: str | None = Field(
        default=None, description="Worker holding the ticket."
    )
    escalation_level: int = Field(
        default=0, description="0 none, 1 grid leader, 2 street, 3 department."
    )
    overdue: bool = Field(default=False, description="The time limit has passed.")
    time_limit_min: int = Field(description="Minutes from dispatch to resolution.")
    observations: int = Field(
        default=1,
        description="Observations merged into it: camera events and reports of "
        "the same problem (one ticket per problem).",
    )
    rework_count: int = Field(default=0, description="Times returned for rework.")
    review_reason: str | None = Field(
        default=None,
        description="Why it waits for review (low_confidence, no_worker, ...).",
    )
    reporter: str | None = Field(default=None, description="Who reported it (by hand).")
    found_at: datetime
    created_at: datetime
    dispatched_at: datetime | None = None
    due_at: datetime | None = Field(default=None, description="Dispatch + time limit.")
    accepted_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    rejected_at: datetime | None = None
    resolution_note: str | None = None
    reject_reason: str | None = None
    return_reason: str | None = None
    snapshot_url: str | None = Field(
        default=None, description="Event snapshot or photo."
    )
    resolution_photo_url: str | None = Field(
        default=None, description="Photo the worker sent with the resolution."
    )
    time_left_s: float | None = Field(
        default=None,
        description="Seconds until due while a worker holds it (negative when "
        "overdue); null when the clock is not running.",
    )


# Counting every match of a broad search costs more than the page itself on a
# city's years of tickets (5 M: 0.66 s against 0.07 ms); past this many the
# answer says "at least" instead.
TOTAL_COUNT_CAP = 10_000


class TicketPage(BaseModel):
    items: list[TicketOut]
    total: int = Field(
        description="Tickets matching the filters (all pages), counted up to "
        f"{TOTAL_COUNT_CAP:,}; see `total_exact`."
    )
    total_exact: bool = Field(
        default=True,
        description="False when more tickets match than were counted: `total` is "
        'then a lower bound (show it as e.g. "10,000+"; narrow the filters).',
    )


class HistoryOut(BaseModel):
    at: datetime
    actor: str = Field(description="Username, or `system`.")
    action: str = Field(description="create, dispatch, accept, resolve, close, ...")
    from_state: str | None = None
    to_state: str
    note: str | None = None
    assignee_id: str | None = None
    escalation_level: int | None = None


class EventOut(BaseModel):
    """A camera event merged into a ticket."""

    event_id: str
    type: str
    phase: str = Field(description="start, update or end.")
    node_id: str
    camera_id: str
    started_at: datetime
    detected_at: datetime
    ended_at: datetime | None = None
    received_at: datetime
    confidence: float
    lat: float
    lon: float
    grid_code: str | None = None
    zone_id: str | None = None
    image_box: list[float] | None = Field(
        default=None, description="Normalised x1, y1, x2, y2 of the detection."
    )
    attributes: dict[str, Any] = Field(default_factory=dict)
    observations: int = 1
    model_name: str
    model_version: str
    snapshot_url: str | None = None
    clip_url: str | None = None


class TicketDetail(TicketOut):
    history: list[HistoryOut] = Field(description="Every transition, oldest first.")
    events: list[EventOut] = Field(description="Camera events of the ticket.")
    actions: list[TicketAction] = Field(
        default_factory=list,
        description="What the caller may do to the ticket now, each a POST "
        "/tickets/{id}/{action}: from the ticket's state (the transition table), "
        "the caller's role (the assigned worker: accept, resolve; staff: close, "
        "return, confirm, reassign, escalate, reject) and, for escalate, a level "
        "left to raise it to.",
    )


class ReviewItem(TicketOut):
    events: list[EventOut] = Field(description="Camera events to judge it by.")


class ReviewPage(BaseModel):
    items: list[ReviewItem]
    total: int = Field(
        description=f"Waiting tickets, counted up to {TOTAL_COUNT_CAP:,}."
    )
    total_exact: bool = Field(
        default=True, description="False when `total` is a lower bound."
    )


# -- request models --------------------------------------------------------------


class ManualTicketIn(BaseModel):
    """A case reported by a citizen or found on patrol."""

    matter_key: str = Field(description="Matter list key (GET /api/v1/matters).")
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=10_000)
    source: Literal["citizen", "patrol"] = Field(
        default="citizen", description="Who reported it."
    )
    lat: float | None = Field(default=None, ge=-90, le=90, description="Where (WGS84).")
    lon: float | None = Field(
        default=None, ge=-180, le=180, description="Where (WGS84)."
    )
    grid_code: str | None = Field(
        default=None,
        pattern=GRID_CODE_PATTERN,
        description="The grid, when known; else found from lat/lon.",
    )
    reporter: str | None = Field(
        default=None, max_length=200, description="Reporter's name or contact."
    )

    @model_validator(mode="after")
    def _where(self) -> ManualTicketIn:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        if self.lat is None and self.grid_code is None:
            raise ValueError("say where: lat and lon, or grid_code")
        return self


class ConfirmIn(BaseModel):
    worker_id: str | None = Field(
        default=None,
        description="Dispatch to this worker; the grid's on-duty one if null.",
    )


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why.")


class CloseIn(BaseModel):
    note: str | None = Field(
        default=None, max_length=2000, description="Verification note."
    )


class ReassignIn(BaseModel):
    worker_id: str | None = Field(default=None, description="The new worker.")
    grid_code: str | None = Field(
        default=None,
        pattern=GRID_CODE_PATTERN,
        description="Move the ticket to this grid (its on-duty worker takes it "
        "unless worker_id is given).",
    )
    note: str | None = Field(default=None, max_length=2000)


class EscalateIn(BaseModel):
    level: int = Field(
        ge=1,
        le=TOP_ESCALATION_LEVEL,
        description="1 grid leader, 2 street, 3 handling department.",
    )
    note: str = Field(min_length=1, max_length=2000, description="Why.")


# -- conversion ------------------------------------------------------------------


def time_left_s(ticket: Ticket, now: datetime) -> float | None:
    if ticket.due_at is None or TicketState(ticket.state) not in WORKING_STATES:
        return None
    return (ticket.due_at - now).total_seconds()


def ticket_fields(ticket: Ticket, now: datetime) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "state": ticket.state,
        "source": ticket.source,
        "event_type": ticket.event_type,
        "matter_key": ticket.matter_key,
        "category_code": ticket.category_code,
        "category_name": ticket.category_name,
        "department_code": ticket.department_code,
        "priority": ticket.priority,
        "title": ticket.title,
        "description": ticket.description,
        "grid_code": ticket.grid_code,
        "lat": ticket.lat,
        "lon": ticket.lon,
        "confidence": ticket.confidence,
        "node_id": ticket.node_id,
        "camera_id": ticket.camera_id,
        "assignee_id": ticket.assignee_id,
        "escalation_level": ticket.escalation_level,
        "overdue": ticket.overdue,
        "time_limit_min": ticket.time_limit_min,
        "observations": ticket.observations,
        "rework_count": ticket.rework_count,
        "review_reason": ticket.review_reason,
        "reporter": ticket.reporter,
        "found_at": ticket.found_at,
        "created_at": ticket.created_at,
        "dispatched_at": ticket.dispatched_at,
        "due_at": ticket.due_at,
        "accepted_at": ticket.accepted_at,
        "resolved_at": ticket.resolved_at,
        "closed_at": ticket.closed_at,
        "rejected_at": ticket.rejected_at,
        "resolution_note": ticket.resolution_note,
        "reject_reason": ticket.reject_reason,
        "return_reason": ticket.return_reason,
        "snapshot_url": media_url(ticket.snapshot_sha256),
        "resolution_photo_url": media_url(ticket.resolution_photo_sha256),
        "time_left_s": time_left_s(ticket, now),
    }


def allowed_actions(actor: Actor, ticket: Ticket) -> list[TicketAction]:
    """The actions `actor` may take on `ticket` now (TicketDetail.actions)."""
    if actor.is_staff:
        offered = STAFF_ACTIONS
    elif actor.role is UserRole.WORKER and ticket.assignee_id == actor.worker_id:
        offered = WORKER_ACTIONS
    else:
        return []
    allowed = actions_from(TicketState(ticket.state))
    if ticket.escalation_level >= TOP_ESCALATION_LEVEL:
        allowed -= {TicketAction.ESCALATE}
    return [action for action in offered if action in allowed]


def ticket_out(ticket: Ticket, now: datetime) -> TicketOut:
    return TicketOut(**ticket_fields(ticket, now))


def event_out(event: Event) -> EventOut:
    return EventOut(
        event_id=event.event_id,
        type=event.type,
        phase=event.phase,
        node_id=event.node_id,
        camera_id=event.camera_id,
        started_at=event.started_at,
        detected_at=event.detected_at,
        ended_at=event.ended_at,
        received_at=event.received_at,
        confidence=event.confidence,
        lat=event.lat,
        lon=event.lon,
        grid_code=event.grid_code,
        zone_id=event.zone_id,
        image_box=event.image_box,
        attributes=event.attributes or {},
        observations=event.observations,
        model_name=event.model_name,
        model_version=event.model_version,
        snapshot_url=media_url(event.snapshot_sha256),
        clip_url=media_url(event.clip_sha256),
    )


def events_by_ticket(
    session: Session, ticket_ids: Sequence[int]
) -> dict[int, list[EventOut]]:
    result: dict[int, list[EventOut]] = {tid: [] for tid in ticket_ids}
    if not ticket_ids:
        return result
    for event in session.scalars(
        select(Event)
        .where(Event.ticket_id.in_(list(ticket_ids)))
        .order_by(Event.detected_at, Event.event_id)
    ):
        if event.ticket_id is not None:
            result[event.ticket_id].append(event_out(event))
    return result


def _priority_rank_sql() -> ColumnElement[int]:
    return case(
        {p.value: rank for p, rank in PRIORITY_RANK.items()},
        value=Ticket.priority,
        else_=0,
    )


def _priority_rank(priority: str) -> int:
    try:
        return PRIORITY_RANK[Priority(priority)]
    except ValueError:
        return 0


def _page(
    session: Session, query: Select[Ticket], limit: int, offset: int
) -> tuple[list[Ticket], int, bool]:
    """A page of the query, the matches counted (capped) and whether that is exact."""
    cap = TOTAL_COUNT_CAP
    counted = session.scalar(
        select(func.count()).select_from(query.order_by(None).limit(cap + 1).subquery())
    )
    total = int(counted or 0)
    items = list(session.scalars(query.limit(limit).offset(offset)))
    if total > cap:
        # A page beyond the cap still counts as many as it proves exist.
        return items, max(cap, offset + len(items)), False
    return items, total, True


# -- reading ---------------------------------------------------------------------


@router.get(
    "/tickets",
    response_model=TicketPage,
    summary="Search tickets (staff)",
)
def list_tickets(
    context: ContextDep,
    _actor: StaffDep,
    state: Annotated[
        list[TicketState] | None,
        Query(description="Only these states (repeat the parameter for several)."),
    ] = None,
    grid: Annotated[
        str | None,
        Query(
            pattern=r"^\d{1,15}$",
            description="Grid code prefix: a grid (15 digits), community (12), "
            "street (9) or district (6).",
        ),
    ] = None,
    category: Annotated[
        str | None,
        Query(
            pattern=r"^\d{2,4}$",
            description="Category code (4 digits) or class prefix (2 digits).",
        ),
    ] = None,
    overdue: Annotated[
        bool | None, Query(description="Only overdue (true) or on time (false).")
    ] = None,
    escalation_min: Annotated[
        int | None, Query(ge=0, le=3, description="Escalation level at least this.")
    ] = None,
    assignee: Annotated[str | None, Query(description="Assigned worker id.")] = None,
    source: Annotated[
        TicketSource | None, Query(description="ai, citizen or patrol.")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Title contains (case-insensitive)."),
    ] = None,
    sort: Annotated[
        Literal["newest", "oldest", "urgency"],
        Query(
            description="newest / oldest by creation; urgency: overdue first, "
            "then soonest due."
        ),
    ] = "newest",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> TicketPage:
    query = select(Ticket)
    if state:
        query = query.where(Ticket.state.in_([s.value for s in state]))
    if grid:
        query = query.where(Ticket.grid_code.startswith(grid, autoescape=True))
    if category:
        query = query.where(Ticket.category_code.startswith(category, autoescape=True))
    if overdue is not None:
        query = query.where(Ticket.overdue.is_(overdue))
    if escalation_min is not None:
        query = query.where(Ticket.escalation_level >= escalation_min)
    if assignee:
        query = query.where(Ticket.assignee_id == assignee)
    if source is not None:
        query = query.where(Ticket.source == source.value)
    if q:
        query = query.where(Ticket.title.icontains(q, autoescape=True))
    if sort == "urgency":
        query = query.order_by(
            Ticket.overdue.desc(),
            Ticket.due_at.is_(None),
            Ticket.due_at.asc(),
            Ticket.id,
        )
    elif sort == "oldest":
        query = query.order_by(Ticket.created_at.asc(), Ticket.id.asc())
    else:
        query = query.order_by(Ticket.created_at.desc(), Ticket.id.desc())
    now = context.clock.now()
    with context.sessions() as session:
        tickets, total, exact = _page(session, query, limit, offset)
        return TicketPage(
            items=[ticket_out(t, now) for t in tickets], total=total, total_exact=exact
        )


@router.get(
    "/me/tickets",
    response_model=TicketPage,
    summary="My tickets (worker), most urgent first",
    description="Open tickets by default; `all=true` adds closed and rejected ones. "
    "Sorted by priority (urgent first), then by time left.",
)
def my_tickets(
    context: ContextDep,
    actor: WorkerDep,
    include_closed: Annotated[
        bool, Query(alias="all", description="Include closed and rejected tickets.")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 200,
) -> TicketPage:
    query = select(Ticket).where(Ticket.assignee_id == actor.worker_id)
    if not include_closed:
        query = query.where(Ticket.state.in_([s.value for s in OPEN_STATES]))
    now = context.clock.now()
    with context.sessions() as session:
        tickets = list(session.scalars(query))

    def urgency(ticket: Ticket) -> tuple[int, int, float, int]:
        left = time_left_s(ticket, now)
        is_open = TicketState(ticket.state) in OPEN_STATES
        return (
            0 if is_open else 1,
            -_priority_rank(ticket.priority),
            math.inf if left is None else left,
            ticket.id,
        )

    tickets.sort(key=urgency)
    return TicketPage(
        items=[ticket_out(t, now) for t in tickets[:limit]], total=len(tickets)
    )


@router.get(
    "/tickets/{ticket_id}",
    response_model=TicketDetail,
    summary="One ticket with its history, events and the caller's actions",
    description="Workers see only their own tickets; any other id answers 404. "
    "`actions` lists what the caller may do to it now (the pages offer those).",
    responses={404: {"description": "No such ticket (or not yours)"}},
)
def get_ticket(
    context: ContextDep, actor: MemberDep, ticket_id: TicketId
) -> TicketDetail:
    now = context.clock.now()
    with context.sessions() as session:
        ticket = context.tickets.visible(session, actor, ticket_id)
        history = [
            HistoryOut(
                at=h.at,
                actor=h.actor,
                action=h.action,
                from_state=h.from_state,
                to_state=h.to_state,
                note=h.note,
                assignee_id=h.assignee_id,
                escalation_level=h.escalation_level,
            )
            for h in session.scalars(
                select(TicketHistory)
                .where(TicketHistory.ticket_id == ticket_id)
                .order_by(TicketHistory.at, TicketHistory.id)
            )
        ]
        events = events_by_ticket(session, [ticket_id])[ticket_id]
        return TicketDetail(
            **ticket_fields(ticket, now),
            history=history,
            events=events,
            actions=allowed_actions(actor, ticket),
        )


@router.get(
    "/review",
    response_model=ReviewPage,
    summary="Review queue (staff): tickets waiting for an operator",
    description="pending_review tickets, most urgent priority first, then oldest, "
    "each with its camera events. Confirm dispatches one; reject ends it.",
)
def review_queue(
    context: ContextDep,
    _actor: StaffDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> ReviewPage:
    query = (
        select(Ticket)
        .where(Ticket.state == TicketState.PENDING_REVIEW.value)
        .order_by(_priority_rank_sql().desc(), Ticket.created_at, Ticket.id)
    )
    now = context.clock.now()
    with context.sessions() as session:
        tickets, total, exact = _page(session, query, limit, offset)
        events = events_by_ticket(session, [t.id for t in tickets])
        items = [
            ReviewItem(**ticket_fields(t, now), events=events[t.id]) for t in tickets
        ]
    return ReviewPage(items=items, total=total, total_exact=exact)


# -- creating and acting ---------------------------------------------------------


def _known_grid(context: CentralContext, grid_code: str) -> None:
    with context.sessions() as session:
        area = session.get(Area, grid_code)
    if area is None or area.level != AreaLevel.GRID.value:
        raise HTTPException(422, f"no grid {grid_code!r}")


@router.post(
    "/tickets",
    response_model=TicketOut,
    status_code=201,
    summary="Open a ticket by hand (staff): citizen report or patrol",
    description="The grid comes from grid_code, else from lat/lon; the ticket is "
    "dispatched to the grid's on-duty worker, or waits for review when nobody is.",
)
def create_ticket(
    context: ContextDep, actor: StaffDep, body: ManualTicketIn
) -> TicketOut:
    if body.grid_code is not None:
        _known_grid(context, body.grid_code)
    ticket = context.tickets.create_manual(
        actor,
        ManualTicket(
            matter_key=body.matter_key,
            title=body.title,
            description=body.description,
            source=TicketSource(body.source),
            lat=body.lat,
            lon=body.lon,
            grid_code=body.grid_code,
            reporter=body.reporter,
        ),
    )
    return ticket_out(ticket, context.clock.now())


@router.post(
    "/tickets/{ticket_id}/accept",
    response_model=TicketOut,
    summary="Accept a dispatched ticket (the assigned worker)",
    description="With an `Idempotency-Key`, sending it again answers as the first "
    "time and does not act twice.",
    responses={
        404: {"description": "No such ticket, or given to another worker"},
        409: {"description": "Not dispatched or returned; or the key is in use"},
        422: {"description": "The Idempotency-Key was used for another request"},
    },
)
def accept(
    context: ContextDep,
    actor: MemberDep,
    ticket_id: TicketId,
    idempotency_key: IdempotencyKey = None,
) -> TicketOut | JSONResponse:
    def act() -> TicketOut:
        ticket = context.tickets.accept(actor, ticket_id)
        return ticket_out(ticket, context.clock.now())

    request = ActionRequest.of(ticket_id, TicketAction.ACCEPT)
    return run_once(context, actor, idempotency_key, request, act)


@router.post(
    "/tickets/{ticket_id}/resolve",
    response_model=TicketOut,
    summary="Report a ticket handled (the assigned worker), with an optional photo",
    description="multipart/form-data: `note` (what was done) and an optional "
    "`photo` (JPEG, PNG or WebP). With an `Idempotency-Key`, sending the same "
    "note and photo again answers as the first time and does not act twice.",
    responses={
        404: {"description": "No such ticket, or given to another worker"},
        409: {"description": "Not accepted; or the key is in use"},
        413: {"description": "Photo too large"},
        415: {"description": "Photo is not a JPEG, PNG or WebP image"},
        422: {
            "description": "A face still shows in the photo (refused, not "
            "stored), or the Idempotency-Key was used for another request"
        },
        503: {"description": "No face model to check the photo with; retry later"},
    },
)
def resolve(
    context: ContextDep,
    actor: MemberDep,
    media: MediaDep,
    ticket_id: TicketId,
    note: Annotated[str, Form(min_length=1, description="What was done.")],
    photo: Annotated[
        UploadFile | None, File(description="Photo of the result (optional).")
    ] = None,
    idempotency_key: IdempotencyKey = None,
) -> TicketOut | JSONResponse:
    data = _photo_bytes(context, photo)
    request = ActionRequest.of(ticket_id, TicketAction.RESOLVE, note=note, photo=data)
    return run_once(
        context,
        actor,
        idempotency_key,
        request,
        lambda: _resolve(context, actor, media, ticket_id, note, data),
    )


def _photo_bytes(context: CentralContext, photo: UploadFile | None) -> bytes | None:
    """The photo as sent (None: none), refusing one over the limit (413)."""
    if photo is None or not (photo.filename or photo.size):
        return None
    limit = context.settings.media.max_photo_bytes
    if photo.size is not None and photo.size > limit:
        raise HTTPException(413, f"photo is over the limit of {limit} bytes")
    data = photo.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"photo is over the limit of {limit} bytes")
    return data


def _resolve(
    context: CentralContext,
    actor: Actor,
    media: MediaStore,
    ticket_id: int,
    note: str,
    data: bytes | None,
) -> TicketOut:
    # Refuse what the service would refuse before a photo is stored for nothing.
    with context.sessions() as session:
        current = context.tickets.visible(session, actor, ticket_id)
    if actor.role is not UserRole.WORKER or current.assignee_id != actor.worker_id:
        raise PermissionDenied(
            f"only the assigned worker may resolve ticket {ticket_id}"
        )
    next_state(ticket_id, TicketAction.RESOLVE, TicketState(current.state))
    if not note.strip():
        raise InvalidRequest("a resolution needs a note saying what was done")
    photo_sha: str | None = None
    stored = None
    if data is not None:
        try:
            stored = media.save(data, "photo")
        except MediaRejected as exc:
            raise media_refusal(exc) from None
        photo_sha = stored.sha256
    ticket = context.tickets.resolve(actor, ticket_id, note, photo_sha)
    now = context.clock.now()
    if stored is not None:
        with context.sessions() as session:
            record_media(
                session,
                stored,
                "photo",
                event_id=None,
                ticket_id=ticket_id,
                uploaded_by=actor.name,
                now=now,
            )
            try:
                session.commit()
            except IntegrityError:  # the same photo recorded meanwhile
                session.rollback()
    return ticket_out(ticket, now)


@router.post(
    "/tickets/{ticket_id}/confirm",
    response_model=TicketOut,
    summary="Confirm a ticket waiting for review: dispatch it (staff)",
    responses={409: {"description": "Not pending review"}},
)
def confirm(
    context: ContextDep,
    actor: StaffDep,
    ticket_id: TicketId,
    body: ConfirmIn | None = None,
) -> TicketOut:
    worker_id = body.worker_id if body else None
    ticket = context.tickets.confirm(actor, ticket_id, worker_id)
    return ticket_out(ticket, context.clock.now())


@router.post(
    "/tickets/{ticket_id}/reject",
    response_model=TicketOut,
    summary="Reject a ticket as a false positive or not a case (staff)",
    responses={409: {"description": "Already resolved, closed or rejected"}},
)
def reject(
    context: ContextDep, actor: StaffDep, ticket_id: TicketId, body: ReasonIn
) -> TicketOut:
    ticket = context.tickets.reject(actor, ticket_id, body.reason)
    return ticket_out(ticket, context.clock.now())


@router.post(
    "/tickets/{ticket_id}/close",
    response_model=TicketOut,
    summary="Verify a resolved ticket and close it (staff)",
    responses={409: {"description": "Not resolved"}},
)
def close(
    context: ContextDep,
    actor: StaffDep,
    ticket_id: TicketId,
    body: CloseIn | None = None,
) -> TicketOut:
    ticket = context.tickets.close(actor, ticket_id, body.note if body else None)
    return ticket_out(ticket, context.clock.now())


@router.post(
    "/tickets/{ticket_id}/return",
    response_model=TicketOut,
    summary="Return a resolved ticket to its worker for rework (staff)",
    responses={409: {"description": "Not resolved"}},
)
def return_for_rework(
    context: ContextDep, actor: StaffDep, ticket_id: TicketId, body: ReasonIn
) -> TicketOut:
    ticket = context.tickets.return_for_rework(actor, ticket_id, body.reason)
    return ticket_out(ticket, context.clock.now())


@router.post(
    "/tickets/{ticket_id}/reassign",
    response_model=TicketOut,
    summary="Give an open ticket to another worker or grid (staff)",
    description="With neither worker_id nor grid_code, the grid's next on-duty "
    "worker other than the current one takes it.",
    responses={409: {"description": "Resolved, closed or rejected"}},
)
def reassign(
    context: ContextDep, actor: StaffDep, ticket_id: TicketId, body: ReassignIn
) -> TicketOut:
    if body.grid_code is not None:
        _known_grid(context, body.grid_code)
    ticket = context.tickets.reassign(
        actor, ticket_id, body.worker_id, body.grid_code, body.note
    )
    return ticket_out(ticket, context.clock.now())


@router.post(
    "/tickets/{ticket_id}/escalate",
    response_model=TicketOut,
    summary="Raise a ticket's escalation level (staff)",
    description="Notifies that level: 1 the grid leaders, 2 the street's workers, "
    "3 the handling department's staff.",
    responses={422: {"description": "Closed, or already at that level"}},
)
def escalate(
    context: ContextDep, actor: StaffDep, ticket_id: TicketId, body: EscalateIn
) -> TicketOut:
    with context.sessions() as session:
        current = context.tickets.visible(session, actor, ticket_id)
        recipients = context.directory.escalation_recipients(
            body.level, current.grid_code, current.department_code
        )
    ticket = context.tickets.escalate(
        actor, ticket_id, body.level, body.note, recipients
    )
    return ticket_out(ticket, context.clock.now())


__all__ = [
    "TicketDetail",
    "TicketOut",
    "TicketPage",
    "router",
    "ticket_out",
]

"""The public citizen page's API: report (no login), follow, rate and reopen.

The one deliberate anonymous write path: every call is counted per client
address (`citizen.*` settings; 429 with `Retry-After`), bodies are bounded by
`http.body.max_api_bytes`, photos are re-encoded and face-blurred like workers'
photos, positions must fall in the city's grids, and every report waits for an
operator (the review queue) before it reaches a worker. The tracking token is
sent in the `X-Tracking-Token` header, never in a URL (the page keeps it in the
link's fragment, which browsers do not send).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, HTTPException, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from central.api.deps import ContextDep, StaffDep
from central.api.routes_auth import client_address
from central.api.routes_media import MediaDep, media_refusal, record_media
from central.citizens import (
    CitizenError,
    NotAllowedNow,
    RateLimiter,
    Rating,
    ReportDesk,
    TrackingNotFound,
    progress_steps,
    state_words,
)
from central.citizens.reports import CITIZEN_ACTOR, ReportIn, matter_label
from central.config import CitizenSettings
from central.context import CentralContext
from central.db.models import (
    Area,
    AreaLevel,
    CitizenReport,
    Open311Client,
    Ticket,
    TicketHistory,
)
from central.media import MediaRejected, StoredMedia
from central.tickets.states import TicketState

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/citizen", tags=["citizen"])

TOKEN_HEADER = "X-Tracking-Token"
TRACK_PATH = "/citizen/#track="
_LIMITS_LOCK = threading.Lock()
MAX_ROW_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class CitizenLimits:
    """The limiters of the anonymous path (one set per app)."""

    reports: RateLimiter
    reports_total: RateLimiter
    lookups: RateLimiter

    @classmethod
    def from_settings(cls, settings: CitizenSettings) -> CitizenLimits:
        def limiter(limit: int) -> RateLimiter:
            return RateLimiter(
                limit=limit,
                window_s=settings.window_s,
                max_tracked=settings.max_tracked,
            )

        return cls(
            reports=limiter(settings.max_reports_per_address),
            reports_total=limiter(settings.max_reports_total),
            lookups=limiter(settings.max_lookups_per_address),
        )


def get_limits(request: Request) -> CitizenLimits:
    """The app's citizen limiters, made from the settings on first use."""
    state = request.app.state
    with _LIMITS_LOCK:
        limits: CitizenLimits | None = getattr(state, "citizen_limits", None)
        if limits is None:
            limits = CitizenLimits.from_settings(state.context.settings.citizen)
            state.citizen_limits = limits
    return limits


LimitsDep = Annotated[CitizenLimits, Depends(get_limits)]


def _count(limiter: RateLimiter, key: str, what: str) -> None:
    retry_after = limiter.hit(key)
    if retry_after is not None:
        log.warning(
            "citizen %s refused: limit reached (retry in %ss)", what, retry_after
        )
        raise HTTPException(
            429,
            f"too many {what} from here: try again in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


def get_desk(context: ContextDep) -> ReportDesk:
    return ReportDesk(context)


DeskDep = Annotated[ReportDesk, Depends(get_desk)]


# -- models ------------------------------------------------------------------------


class CategoryOut(BaseModel):
    key: str = Field(description="Matter key (what a report names as matter_key).")
    label: str = Field(description="Short name.")
    category_code: str = Field(description="GB/T 30428.2-style code.")
    category_name: str = Field(description="Class/subclass.")
    common: bool = Field(description="Among the most reported lately.")


class CategoriesOut(BaseModel):
    data: list[CategoryOut] = Field(description="Common ones first.")
    count: int


class AreaOut(BaseModel):
    type: str = "FeatureCollection"
    features: list[dict[str, Any]] = Field(
        description="Grid polygons (code only), to place a report on the map."
    )
    bbox: list[float] | None = Field(
        default=None, description="[west, south, east, north] of all grids."
    )


class SubmittedOut(BaseModel):
    reference: int = Field(description="The case number (tell it when phoning).")
    tracking_token: str = Field(
        description="Secret of the tracking link; shown once, stored hashed."
    )
    tracking_url: str = Field(description="The page that follows the report.")
    status: str = Field(description="Plain words.")


class StepOut(BaseModel):
    at: datetime
    words: str


class TrackingOut(BaseModel):
    reference: int
    category: str
    description: str
    submitted_at: datetime
    state: str = Field(description="Ticket state code.")
    status: str = Field(description="The state in plain words.")
    reason: str | None = Field(
        default=None, description="Why it was not taken up (rejected only)."
    )
    steps: list[StepOut]
    rating: Rating | None = None
    rating_comment: str | None = None
    can_rate: bool
    can_reopen: bool
    reopen_until: datetime | None = None


class RatingIn(BaseModel):
    rating: Rating
    comment: str = Field(default="", max_length=1000)


class ReopenIn(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


class ReportForStaff(BaseModel):
    ticket_id: int
    channel: str
    contact: str | None = Field(description="Personal data: staff only.")
    open311_client: str | None
    external_id: str | None
    created_at: datetime
    rating: str | None
    rating_comment: str | None
    rated_at: datetime | None
    reopen_count: int
    reopened_at: datetime | None


# -- public routes -----------------------------------------------------------------


@router.get(
    "/categories",
    response_model=CategoriesOut,
    summary="What a citizen may report (the matter list), common first",
)
def categories(context: ContextDep, desk: DeskDep) -> CategoriesOut:
    with context.sessions() as session:
        common = desk.common_matter_keys(session)
    rank = {key: i for i, key in enumerate(common)}
    matters = sorted(
        context.matters.matters, key=lambda m: (rank.get(m.key, len(rank)), 0)
    )
    data = [
        CategoryOut(
            key=m.key,
            label=matter_label(m),
            category_code=m.category.code,
            category_name=m.category.name,
            common=m.key in rank,
        )
        for m in matters
    ]
    return CategoriesOut(data=data, count=len(data))


@router.get(
    "/area",
    response_model=AreaOut,
    summary="The city's grid polygons (codes only), for the report map",
)
def area(context: ContextDep) -> AreaOut:
    with context.sessions() as session:
        rows = session.execute(
            select(Area.code, Area.geometry).where(
                Area.level == AreaLevel.GRID.value, Area.geometry.is_not(None)
            )
        ).all()
    features: list[dict[str, Any]] = []
    xs: list[float] = []
    ys: list[float] = []
    for code, geometry in rows:
        features.append(
            {"type": "Feature", "id": code, "geometry": geometry, "properties": {}}
        )
        _collect(geometry.get("coordinates") if geometry else None, xs, ys)
    bbox = [min(xs), min(ys), max(xs), max(ys)] if xs else None
    return AreaOut(features=features, bbox=bbox)


def _collect(coords: Any, xs: list[float], ys: list[float]) -> None:
    if (
        isinstance(coords, list)
        and len(coords) >= 2
        and all(isinstance(v, int | float) for v in coords[:2])
    ):
        xs.append(float(coords[0]))
        ys.append(float(coords[1]))
    elif isinstance(coords, list):
        for part in coords:
            _collect(part, xs, ys)


@router.post(
    "/reports",
    response_model=SubmittedOut,
    status_code=201,
    summary="Report a problem (no login; limited per address; reviewed first)",
    description="multipart/form-data: `matter_key`, `description`, `lat`, `lon`, "
    "optional `contact` (staff only) and `photo` (JPEG, PNG or WebP; stored "
    "re-encoded, EXIF removed, faces blurred). The whole body is at most "
    "`http.body.max_api_bytes`.",
    responses={
        413: {"description": "Body or photo too large"},
        415: {"description": "Photo is not a JPEG, PNG or WebP image"},
        422: {"description": "Unknown category, outside the city, or a face"},
        429: {"description": "Too many reports from this address (Retry-After)"},
        503: {"description": "No face model to check the photo with; retry later"},
    },
)
def submit_report(
    request: Request,
    context: ContextDep,
    desk: DeskDep,
    limits: LimitsDep,
    media: MediaDep,
    matter_key: Annotated[str, Form(min_length=1, max_length=64)],
    description: Annotated[str, Form(min_length=1, max_length=2000)],
    lat: Annotated[float, Form(ge=-90, le=90)],
    lon: Annotated[float, Form(ge=-180, le=180)],
    contact: Annotated[str | None, Form(max_length=200)] = None,
    photo: Annotated[bytes | None, File(description="Photo (optional).")] = None,
) -> SubmittedOut:
    address = client_address(request)
    _count(limits.reports, address, "reports")
    _count(limits.reports_total, "*", "reports")
    if not description.strip():
        raise HTTPException(422, "description: say what is wrong")
    try:
        desk.place(matter_key, lat, lon)  # before a photo is stored for nothing
    except CitizenError as exc:
        raise HTTPException(422, str(exc)) from None
    photo_sha: str | None = None
    stored = None
    if photo:
        limit = context.settings.media.max_photo_bytes
        if len(photo) > limit:
            raise HTTPException(413, f"photo is over the limit of {limit} bytes")
        try:
            stored = media.save(photo, "photo")
        except MediaRejected as exc:
            raise media_refusal(exc) from None
        photo_sha = stored.sha256
    report = ReportIn(
        matter_key=matter_key,
        description=description.strip(),
        lat=lat,
        lon=lon,
        contact=(contact or "").strip() or None,
        photo_sha256=photo_sha,
    )
    try:
        ticket, token = desk.submit(report)
    except CitizenError as exc:
        raise HTTPException(422, str(exc)) from None
    assert token is not None  # web reports always get one
    if stored is not None:
        _record_photo(context, stored, ticket.id)
    log.info("citizen report: ticket %s (%s)", ticket.id, ticket.matter_key)
    return SubmittedOut(
        reference=ticket.id,
        tracking_token=token,
        tracking_url=TRACK_PATH + token,
        status=state_words(ticket.state),
    )


def _record_photo(context: CentralContext, stored: StoredMedia, ticket_id: int) -> None:
    with context.sessions() as session:
        record_media(
            session,
            stored,
            "photo",
            event_id=None,
            ticket_id=ticket_id,
            uploaded_by=CITIZEN_ACTOR,
            now=context.clock.now(),
        )
        try:
            session.commit()
        except IntegrityError:  # the same photo recorded meanwhile
            session.rollback()


TokenHeader = Annotated[
    str,
    Header(
        alias=TOKEN_HEADER,
        min_length=16,
        max_length=200,
        description="The tracking token (from the link's #track=…).",
    ),
]


def _tracking(desk: ReportDesk, token: str) -> TrackingOut:
    context = desk.context
    with context.sessions() as session:
        try:
            report, ticket = desk.find(session, token)
        except TrackingNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        history = list(
            session.scalars(
                select(TicketHistory)
                .where(TicketHistory.ticket_id == ticket.id)
                .order_by(TicketHistory.at, TicketHistory.id)
            )
        )
        until = desk.reopen_until(ticket)
        now = context.clock.now()
        closed = ticket.state == TicketState.CLOSED.value
        return TrackingOut(
            reference=ticket.id,
            category=_category_label(desk, ticket),
            description=ticket.description,
            submitted_at=report.created_at,
            state=ticket.state,
            status=state_words(ticket.state),
            reason=ticket.reject_reason
            if ticket.state == TicketState.REJECTED.value
            else None,
            steps=[StepOut(at=s.at, words=s.words) for s in progress_steps(history)],
            rating=Rating(report.rating) if report.rating else None,
            rating_comment=report.rating_comment,
            can_rate=closed and report.rated_at is None,
            can_reopen=until is not None and now <= until,
            reopen_until=until,
        )


def _category_label(desk: ReportDesk, ticket: Ticket) -> str:
    try:
        return matter_label(desk.context.matters.by_key(ticket.matter_key))
    except KeyError:
        return ticket.category_name


_TRACK_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No report with this tracking token"},
    429: {"description": "Too many calls from this address (Retry-After)"},
}


@router.get(
    "/track",
    response_model=TrackingOut,
    summary="Follow a report by its tracking token (plain words, nothing private)",
    responses=_TRACK_RESPONSES,
)
def track(
    request: Request, desk: DeskDep, limits: LimitsDep, token: TokenHeader
) -> TrackingOut:
    _count(limits.lookups, client_address(request), "tracking calls")
    return _tracking(desk, token)


@router.post(
    "/track/rating",
    response_model=TrackingOut,
    summary="Rate the handling of a closed report, once",
    responses={**_TRACK_RESPONSES, 409: {"description": "Not closed, or rated"}},
)
def rate(
    request: Request,
    desk: DeskDep,
    limits: LimitsDep,
    token: TokenHeader,
    body: RatingIn,
) -> TrackingOut:
    _count(limits.lookups, client_address(request), "tracking calls")
    try:
        desk.rate(token, body.rating, body.comment)
    except TrackingNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except NotAllowedNow as exc:
        raise HTTPException(409, str(exc)) from None
    return _tracking(desk, token)


@router.post(
    "/track/reopen",
    response_model=TrackingOut,
    summary="Reopen a closed report within the allowed days (back for rework)",
    responses={
        **_TRACK_RESPONSES,
        409: {"description": "Not closed, or the time to reopen has passed"},
    },
)
def reopen(
    request: Request,
    desk: DeskDep,
    limits: LimitsDep,
    token: TokenHeader,
    body: ReopenIn,
) -> TrackingOut:
    _count(limits.lookups, client_address(request), "tracking calls")
    try:
        desk.reopen(token, body.reason.strip() or "no reason given")
    except TrackingNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except NotAllowedNow as exc:
        raise HTTPException(409, str(exc)) from None
    return _tracking(desk, token)


# -- staff -------------------------------------------------------------------------


@router.get(
    "/reports/{ticket_id}",
    response_model=ReportForStaff,
    summary="The reporter side of a citizen or Open311 ticket (staff only)",
    description="Contact data is personal data: shown to staff only, never "
    "logged, erased by retention (`retention.citizen_contact_days`).",
    responses={404: {"description": "Not a citizen or Open311 ticket"}},
)
def report_for_staff(
    context: ContextDep,
    _actor: StaffDep,
    ticket_id: Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)],
) -> ReportForStaff:
    with context.sessions() as session:
        row = session.execute(
            select(CitizenReport, Open311Client.name)
            .outerjoin(
                Open311Client, Open311Client.id == CitizenReport.open311_client_id
            )
            .where(CitizenReport.ticket_id == ticket_id)
        ).first()
    if row is None:
        raise HTTPException(404, f"ticket {ticket_id} has no citizen report")
    report, client_name = row
    return ReportForStaff(
        ticket_id=report.ticket_id,
        channel=report.channel,
        contact=report.contact,
        open311_client=client_name,
        external_id=report.external_id,
        created_at=report.created_at,
        rating=report.rating,
        rating_comment=report.rating_comment,
        rated_at=report.rated_at,
        reopen_count=report.reopen_count,
        reopened_at=report.reopened_at,
    )

"""Patrol reports (网格员巡查上报): a grid worker reports a case they found, for
dispatch through the matter list or handled by themselves on the spot (一格解决)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, HTTPException, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from central.api.deps import ContextDep, WorkerDep
from central.api.routes_media import MediaDep, media_refusal, record_media
from central.api.routes_tickets import TicketOut, ticket_out
from central.citizens.reports import TITLE_TEXT_MAX, matter_label
from central.context import CentralContext
from central.media import MediaRejected, MediaStore, StoredMedia
from central.tickets.patrol import CLIENT_KEY_PATTERN, PatrolReportIn, find_reported
from central.tickets.service import Actor, InvalidRequest

router = APIRouter(prefix="/api/v1/patrol", tags=["patrol"])


class PatrolReportOut(BaseModel):
    replayed: bool = Field(
        description="The report had been received before (same client_key): "
        "this is the ticket it opened then, nothing new was stored."
    )
    merged: bool = Field(
        default=False,
        description="An open ticket of the same problem was near: the report "
        "joined it (one ticket per problem) instead of opening another.",
    )
    ticket: TicketOut


def _sent(upload: UploadFile | None) -> bool:
    return upload is not None and bool(upload.filename or upload.size)


def _read_photo(
    context: CentralContext, media: MediaStore, upload: UploadFile | None
) -> StoredMedia | None:
    """Store an uploaded photo the way a worker's photo is stored (upright,
    faces blurred, re-encoded without EXIF), or None when none was sent."""
    if not _sent(upload):
        return None
    assert upload is not None
    limit = context.settings.media.max_photo_bytes
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"photo is over the limit of {limit} bytes")
    try:
        return media.save(data, "photo")
    except MediaRejected as exc:
        raise media_refusal(exc) from None


def _record(
    context: CentralContext, stored: list[StoredMedia], ticket_id: int, actor: Actor
) -> None:
    with context.sessions() as session:
        for item in stored:
            record_media(
                session,
                item,
                "photo",
                event_id=None,
                ticket_id=ticket_id,
                uploaded_by=actor.name,
                now=context.clock.now(),
            )
        try:
            session.commit()
        except IntegrityError:  # the same photo recorded meanwhile
            session.rollback()


def _check_place(
    context: CentralContext, matter_key: str, lat: float, lon: float
) -> str:
    """The report's title opening (the matter's label), refusing an unknown
    matter or a place outside every grid before any photo is stored."""
    try:
        matter = context.matters.by_key(matter_key)
    except KeyError:
        raise InvalidRequest(f"matter_key: no category {matter_key!r}") from None
    if context.lookup_grid(lat, lon) is None:
        raise InvalidRequest(
            f"lat/lon: the position {lat:.6f}, {lon:.6f} is outside the city's grids"
        )
    return matter_label(matter)


def _check_parts(
    *,
    handle_self: bool,
    description: str,
    resolution_note: str | None,
    after_photo: UploadFile | None,
) -> None:
    """Refuse text that cannot be stored, and a self-handled case without its
    note or photo, before any photo is stored."""
    for name, text in (
        ("description", description),
        ("resolution_note", resolution_note),
    ):
        if text and "\x00" in text:  # PostgreSQL text cannot hold NUL: 422, not 500
            raise InvalidRequest(f"{name}: contains a NUL character")
    if handle_self and not (resolution_note or "").strip():
        raise InvalidRequest("resolution_note: say what you did to handle it")
    if handle_self and not _sent(after_photo):
        raise InvalidRequest("after_photo: handling it yourself needs a photo of it")


@router.post(
    "/reports",
    response_model=PatrolReportOut,
    status_code=201,
    summary="Report a case found on patrol (workers, as themselves)",
    description="multipart/form-data: `client_key` (minted once by the phone "
    "for this report: sending it again returns the same ticket, 200 with "
    "`replayed`), `matter_key`, `description`, `lat`, `lon`, `handling` "
    "(`dispatch`: through the matter list to the grid's on-duty worker; "
    "`self`: opened, accepted and resolved by you at once, then checked by an "
    "operator, which needs `resolution_note` and `after_photo`), and an "
    "optional `photo` of what was found. Photos are stored re-encoded, EXIF "
    "removed, faces blurred.",
    responses={
        200: {"description": "Received before: the ticket it opened"},
        413: {"description": "Photo too large"},
        415: {"description": "Photo is not a JPEG, PNG or WebP image"},
        422: {"description": "Unknown category, outside the city, or missing part"},
        503: {"description": "No face model to check the photo with; retry later"},
    },
)
def report_on_patrol(
    response: Response,
    context: ContextDep,
    actor: WorkerDep,
    media: MediaDep,
    client_key: Annotated[str, Form(pattern=CLIENT_KEY_PATTERN)],
    matter_key: Annotated[str, Form(min_length=1, max_length=64)],
    lat: Annotated[float, Form(ge=-90, le=90)],
    lon: Annotated[float, Form(ge=-180, le=180)],
    description: Annotated[str, Form(max_length=2000)] = "",
    handling: Annotated[Literal["dispatch", "self"], Form()] = "dispatch",
    resolution_note: Annotated[str | None, Form(max_length=2000)] = None,
    photo: Annotated[UploadFile | None, File(description="What was found.")] = None,
    after_photo: Annotated[
        UploadFile | None, File(description="The result (handling: self).")
    ] = None,
) -> PatrolReportOut:
    worker_id = actor.worker_id or ""
    with context.sessions() as session:
        known = find_reported(session, worker_id=worker_id, client_key=client_key)
    if known is not None:  # a retry: answer before storing anything again
        response.status_code = 200
        return PatrolReportOut(
            replayed=True, ticket=ticket_out(known, context.clock.now())
        )
    handle_self = handling == "self"
    _check_parts(
        handle_self=handle_self,
        description=description,
        resolution_note=resolution_note,
        after_photo=after_photo,
    )
    label = _check_place(context, matter_key, lat, lon)
    before = _read_photo(context, media, photo)
    after = _read_photo(context, media, after_photo)
    text = " ".join(description.split())
    outcome = context.tickets.report_on_patrol(
        actor,
        PatrolReportIn(
            matter_key=matter_key,
            title=f"{label}: {text[:TITLE_TEXT_MAX]}".rstrip(": "),
            description=description.strip(),
            lat=lat,
            lon=lon,
            client_key=client_key,
            handle_self=handle_self,
            photo_sha256=before.sha256 if before else None,
            resolution_note=resolution_note,
            after_photo_sha256=after.sha256 if after else None,
        ),
    )
    ticket = outcome.ticket
    if not outcome.replayed:
        _record(
            context, [s for s in (before, after) if s is not None], ticket.id, actor
        )
    response.status_code = 200 if outcome.replayed else 201
    return PatrolReportOut(
        replayed=outcome.replayed,
        merged=outcome.merged,
        ticket=ticket_out(ticket, context.clock.now()),
    )

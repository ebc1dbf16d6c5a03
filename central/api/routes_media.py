"""Media: edge nodes upload snapshots and clips; staff and workers fetch them,
with their bearer header or through a short-lived signed link."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.api.deps import (
    ContextDep,
    EdgeNodeDep,
    LinkSignerDep,
    PrincipalDep,
    actor_of_user,
    current_principal,
    not_authenticated,
    oauth2,
)
from central.api.routes_auth import client_address
from central.auth.audit import AuditAction, record
from central.auth.links import LinkRefused
from central.context import CentralContext
from central.db.models import Event, MediaObject, Ticket, UserRole
from central.media import (
    MediaCheckUnavailable,
    MediaKind,
    MediaRejected,
    MediaShowsFace,
    MediaStore,
    StoredMedia,
    is_sha256,
)
from central.tickets.service import Actor

router = APIRouter(prefix="/api/v1", tags=["media"])

MEDIA_PATH = "/api/v1/media"


def get_media(request: Request) -> MediaStore:
    media: MediaStore = request.app.state.media
    return media


MediaDep = Annotated[MediaStore, Depends(get_media)]


def media_path(sha256: str) -> str:
    """The API path that serves a stored file (what media links sign)."""
    return f"{MEDIA_PATH}/{sha256}"


def media_url(sha256: str | None) -> str | None:
    """The API path that serves a stored file, or None."""
    return media_path(sha256) if sha256 else None


def record_media(
    session: Session,
    stored: StoredMedia,
    kind: MediaKind,
    *,
    event_id: str | None,
    ticket_id: int | None,
    uploaded_by: str,
    now: datetime,
) -> MediaObject:
    """The MediaObject row of a stored file (added once; later uploads keep it)."""
    row = session.get(MediaObject, stored.sha256)
    if row is None:
        row = MediaObject(
            sha256=stored.sha256,
            kind=kind,
            content_type=stored.content_type,
            size=stored.size,
            event_id=event_id,
            ticket_id=ticket_id,
            uploaded_by=uploaded_by,
            created_at=now,
        )
        session.add(row)
    else:
        row.event_id = row.event_id or event_id
        row.ticket_id = row.ticket_id or ticket_id
    session.flush()
    return row


def media_refusal(error: MediaRejected) -> HTTPException:
    """The HTTP answer to media the store refused: 503 when it cannot screen
    media for faces (retry later), 422 for a face still showing, else 415."""
    if isinstance(error, MediaCheckUnavailable):
        return HTTPException(503, str(error))
    if isinstance(error, MediaShowsFace):
        return HTTPException(422, str(error))
    return HTTPException(415, str(error))


class UploadResult(BaseModel):
    sha256: str = Field(description="SHA-256 of the bytes: the media id.")
    size: int = Field(description="Bytes stored.")
    content_type: str = Field(description="What the bytes are (from their content).")
    url: str = Field(description="Where staff and the ticket's worker fetch it.")
    event_known: bool = Field(
        description="Whether the event exists yet (media may arrive first; it is "
        "kept and linked when the event comes)."
    )


def _limit(context: CentralContext, kind: str) -> int:
    media = context.settings.media
    return media.max_clip_bytes if kind == "clip" else media.max_snapshot_bytes


def _check_owner(context: CentralContext, actor: Actor, event_id: str) -> bool:
    """Whether the event exists; 403 when it belongs to another node."""
    with context.sessions() as session:
        node_id = session.scalar(
            select(Event.node_id).where(Event.event_id == event_id)
        )
    if node_id is None:
        return False
    if actor.role is UserRole.EDGE_NODE and node_id != actor.node_id:
        raise HTTPException(
            403, f"event {event_id} belongs to node {node_id}, not {actor.node_id}"
        )
    return True


def _link(
    context: CentralContext,
    stored: StoredMedia,
    kind: MediaKind,
    event_id: str,
    actor: Actor,
) -> bool:
    try:
        return _link_once(context, stored, kind, event_id, actor)
    except IntegrityError:  # the same bytes were recorded concurrently; once more
        return _link_once(context, stored, kind, event_id, actor)


def _link_once(
    context: CentralContext,
    stored: StoredMedia,
    kind: MediaKind,
    event_id: str,
    actor: Actor,
) -> bool:
    now = context.clock.now()
    with context.sessions() as session:
        event = session.get(Event, event_id)
        if (
            event is not None
            and actor.role is UserRole.EDGE_NODE
            and event.node_id != actor.node_id
        ):  # the event arrived while the body was uploading
            raise HTTPException(
                403, f"event {event_id} belongs to node {event.node_id}"
            )
        record_media(
            session,
            stored,
            kind,
            event_id=event_id,
            ticket_id=event.ticket_id if event else None,
            uploaded_by=actor.name,
            now=now,
        )
        if event is not None:
            if kind == "clip":
                event.clip_sha256 = stored.sha256
            else:
                event.snapshot_sha256 = stored.sha256
        session.commit()
    return event is not None


@router.put(
    "/media/{event_id}/{kind}",
    response_model=UploadResult,
    summary="Upload an event's snapshot or clip (edge node or admin)",
    description="The raw bytes are the body: a JPEG/PNG/WebP snapshot, or an "
    "MP4/MOV/WebM clip; the format is read from the bytes. Central looks for "
    "faces again (the whole snapshot; clip frames sampled twice a second) and "
    "refuses media in which one still shows. Idempotent: the same bytes again "
    "answer the same result.",
    responses={
        403: {"description": "The event belongs to another edge node"},
        413: {"description": "Over the size limit of that kind"},
        415: {
            "description": "Not an accepted format, or not decodable; the message "
            "says what it is"
        },
        422: {"description": "A face still shows: refused, not stored"},
        503: {"description": "No face model to check media with; retry later"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                "video/mp4": {"schema": {"type": "string", "format": "binary"}},
                "application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"}
                },
            },
        }
    },
)
async def upload_media(
    request: Request,
    context: ContextDep,
    actor: EdgeNodeDep,
    media: MediaDep,
    event_id: Annotated[
        str, Path(min_length=1, max_length=64, description="The event's id.")
    ],
    kind: Literal["snapshot", "clip"],
) -> UploadResult:
    limit = _limit(context, kind)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"a {kind} may be at most {limit} bytes")
    await run_in_threadpool(_check_owner, context, actor, event_id)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"a {kind} may be at most {limit} bytes")
        chunks.append(chunk)
    data = b"".join(chunks)
    try:
        stored = await run_in_threadpool(media.save, data, kind)
    except MediaRejected as exc:
        raise media_refusal(exc) from None
    event_known = await run_in_threadpool(_link, context, stored, kind, event_id, actor)
    return UploadResult(
        sha256=stored.sha256,
        size=stored.size,
        content_type=stored.content_type,
        url=media_path(stored.sha256),
        event_known=event_known,
    )


def _may_fetch(session: Session, actor: Actor, sha256: str) -> bool:
    if actor.is_staff:
        return True
    if actor.role is not UserRole.WORKER or actor.worker_id is None:
        return False
    of_event = exists().where(
        Event.ticket_id == Ticket.id,
        or_(Event.snapshot_sha256 == sha256, Event.clip_sha256 == sha256),
    )
    query = select(Ticket.id).where(
        Ticket.assignee_id == actor.worker_id,
        or_(
            Ticket.snapshot_sha256 == sha256,
            Ticket.resolution_photo_sha256 == sha256,
            of_event,
        ),
    )
    return session.scalar(query.limit(1)) is not None


class MediaLink(BaseModel):
    url: str = Field(
        description="The media path with `uid`, `exp` and `sig`: fetches the file "
        "without a header until it expires. Use it in <img>/<video> src."
    )
    expires_at: datetime = Field(description="When the link stops working (UTC).")
    expires_in_s: int = Field(
        description="Seconds it stays valid from now (for clients whose clock is off)."
    )


def _visible_media(
    context: CentralContext, media: MediaStore, actor: Actor, sha256: str
) -> StoredMedia:
    """The stored file, if `actor` may see it; else 404 (also for another
    worker's media, which is not to be told apart from missing media)."""
    not_found = HTTPException(404, f"media {sha256} not found")
    if not is_sha256(sha256):
        raise not_found
    with context.sessions() as session:
        if not _may_fetch(session, actor, sha256):
            raise not_found
        row = session.get(MediaObject, sha256)
        content_type = row.content_type if row is not None else None
        expired_at = row.expired_at if row is not None else None
    found = media.find(sha256)
    if found is None and expired_at is not None:
        # Deleted by retention (central/retention.py): say so, not "not found".
        raise HTTPException(
            410, f"media {sha256} expired on {expired_at:%Y-%m-%d} (retention)"
        )
    if found is None:
        raise not_found
    if content_type and content_type != found.content_type:
        return replace(found, content_type=content_type)
    return found


@router.post(
    "/media/{sha256}/link",
    response_model=MediaLink,
    summary="A short-lived signed link to a snapshot, clip or photo",
    description="For <img>/<video>, which cannot send the bearer header: the "
    "answer's `url` opens this file, for the user asking, until `expires_at` "
    "(a few minutes). Staff get links to any media; a worker only to media of "
    "their own tickets (others answer 404).",
    responses={404: {"description": "No such media, or not yours"}},
)
def issue_media_link(
    context: ContextDep,
    principal: PrincipalDep,
    signer: LinkSignerDep,
    media: MediaDep,
    sha256: str,
) -> MediaLink:
    _visible_media(context, media, principal.actor, sha256)
    link = signer.sign_media(
        media_path(sha256), user_id=principal.user_id, now=context.clock.now()
    )
    return MediaLink(
        url=link.url, expires_at=link.expires_at, expires_in_s=signer.media_ttl_s
    )


def media_reader(
    request: Request,
    context: ContextDep,
    signer: LinkSignerDep,
    bearer: Annotated[str | None, Depends(oauth2)],
    sha256: str,
    uid: Annotated[str | None, Query(description="Signed link: the user id.")] = None,
    exp: Annotated[
        str | None, Query(description="Signed link: expiry, unix seconds.")
    ] = None,
    sig: Annotated[str | None, Query(description="Signed link: signature.")] = None,
) -> Actor:
    """Who fetches: the bearer header's user, else a signed link's (403 when the
    link is incomplete, tampered with or expired)."""
    if bearer:
        return current_principal(request, context, bearer).actor
    if uid is None and exp is None and sig is None:
        raise not_authenticated(request)
    try:
        user_id = signer.verify_media(
            media_path(sha256), uid=uid, exp=exp, sig=sig, now=context.clock.now()
        )
    except LinkRefused as exc:
        raise HTTPException(403, str(exc)) from None
    return actor_of_user(context, user_id)


@router.get(
    "/media/{sha256}",
    response_class=FileResponse,
    summary="Fetch a stored snapshot, clip or photo",
    description="With the bearer header, or without one through a signed link "
    "from `POST /api/v1/media/{sha256}/link` (`?uid=&exp=&sig=`). Staff fetch any; "
    "a worker only media of their own tickets (others answer 404), checked again "
    "on every fetch. Supports HTTP range requests (video seeking).",
    responses={
        200: {
            "content": {
                "image/jpeg": {},
                "image/png": {},
                "image/webp": {},
                "video/mp4": {},
                "video/webm": {},
            },
            "description": "The file.",
        },
        401: {"description": "Neither a bearer header nor a signed link"},
        403: {"description": "A signed link that is incomplete, altered or expired"},
        404: {"description": "No such media, or not yours"},
    },
)
def get_media_file(
    request: Request,
    context: ContextDep,
    actor: Annotated[Actor, Depends(media_reader)],
    media: MediaDep,
    sha256: str,
) -> FileResponse:
    found = _visible_media(context, media, actor, sha256)
    _audit_download(request, context, actor, sha256)
    return FileResponse(
        found.path,
        media_type=found.content_type,
        headers={"Cache-Control": _cache_control(request, context)},
        content_disposition_type="inline",
    )


def _audit_download(
    request: Request, context: CentralContext, actor: Actor, sha256: str
) -> None:
    """One audit row per fetch (each range request of a video too)."""
    detail: dict[str, Any] = {
        "via": "bearer" if "authorization" in request.headers else "signed_link"
    }
    ranged = request.headers.get("range")
    if ranged is not None:
        detail["range"] = ranged[:100]
    with context.sessions() as session:
        record(
            session,
            actor.name,
            AuditAction.MEDIA_DOWNLOADED,
            sha256,
            client_address(request),
            detail,
        )
        session.commit()


def _cache_control(request: Request, context: CentralContext) -> str:
    """A file's content never changes (it is named by its hash), but a signed
    link must not outlive its expiry in the browser's cache: a shared phone
    would show a reassigned ticket's photo from history without asking."""
    exp = request.query_params.get("exp")
    if "authorization" in request.headers or exp is None or not exp.isdecimal():
        return "private, max-age=31536000, immutable"
    left = int(exp) - int(context.clock.now().timestamp())
    return f"private, max-age={max(left, 0)}"

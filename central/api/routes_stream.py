"""Live ticket notices as Server-Sent Events (EventSource in the browser).

Each notice is one `ticket` event whose data is the `TicketNotice` JSON (the
staff stream also carries `warning` events, a `WarningNotice` each); a
comment line every `KEEPALIVE_S` seconds keeps proxies from closing an idle
stream and lets the server notice a client that went away. At each keep-alive
the reader is checked again (still active, same role, and the bearer token,
when the stream was opened with one, not logged out or expired); a reader who
no longer passes gets a `revoked` event and the stream ends, so an open stream
does not outlive a logout or a disabled account by more than `KEEPALIVE_S`.

EventSource cannot send a header, so a page first asks, with its bearer header,
for a stream ticket (`POST /api/v1/stream-tickets`: single-use, about a minute)
and opens `...?ticket=`; every reconnect asks for a new one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from central.api.deps import (
    MEMBER_ROLES,
    ContextDep,
    LinkSignerDep,
    PrincipalDep,
    actor_of_user,
    current_principal,
    ensure_role,
    not_authenticated,
    oauth2,
)
from central.auth.links import LinkRefused
from central.db.models import UserRole
from central.stream import ALL, TicketStream
from central.tickets.service import STAFF_ROLES, Actor
from central.warnings.notice import WarningNotice

router = APIRouter(prefix="/api/v1", tags=["stream"])

KEEPALIVE_S = 15.0
RETRY_MS = 3000
SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
}

MY_STREAM_PATH = "/api/v1/me/tickets/stream"
ALL_STREAM_PATH = "/api/v1/tickets/stream"
_WORKER_ROLES = frozenset({UserRole.WORKER})

_SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
        "description": "`event: ticket` / `data: <TicketNotice JSON>` per notice; "
        "`: keep-alive` comments in between.",
    },
    401: {
        "description": "Neither a bearer header nor a ticket; a malformed, "
        "altered, expired or already used ticket"
    },
    403: {"description": "This user's role may not open this stream"},
}
_STREAM_DESCRIPTION = (
    "Open it with the bearer header, or (EventSource, which cannot send one) "
    "with `?ticket=` from `POST /api/v1/stream-tickets`."
)


class StreamTicketOut(BaseModel):
    ticket: str = Field(
        description="Opens this user's ticket stream once, until `expires_at`."
    )
    expires_at: datetime = Field(description="When the ticket stops working (UTC).")
    url: str = Field(
        description="The stream this user may open, with the ticket: give it to "
        "EventSource as it is."
    )


def stream_path(actor: Actor) -> str:
    """The one stream a user may open: a worker's own, or staff's of all."""
    return MY_STREAM_PATH if actor.role is UserRole.WORKER else ALL_STREAM_PATH


@router.post(
    "/stream-tickets",
    response_model=StreamTicketOut,
    summary="A single-use ticket to open my live ticket stream (EventSource)",
    description="EventSource cannot send the bearer header and the token must not "
    "go in a URL: ask for a ticket (valid about a minute, for one connection) and "
    "open the answer's `url`. Ask again for every reconnect. Workers and staff.",
    responses={403: {"description": "A role without a ticket stream"}},
)
def issue_stream_ticket(
    context: ContextDep, principal: PrincipalDep, signer: LinkSignerDep
) -> StreamTicketOut:
    actor = ensure_role(principal.actor, MEMBER_ROLES)
    issued = signer.issue_stream_ticket(
        user_id=principal.user_id, now=context.clock.now()
    )
    return StreamTicketOut(
        ticket=issued.ticket,
        expires_at=issued.expires_at,
        url=f"{stream_path(actor)}?ticket={issued.ticket}",
    )


@dataclass(frozen=True, slots=True)
class StreamReader:
    """Who opened a stream, and how to check that they still may read it."""

    actor: Actor
    still_allowed: Callable[[], bool]


def stream_reader(
    request: Request,
    context: ContextDep,
    signer: LinkSignerDep,
    bearer: Annotated[str | None, Depends(oauth2)],
    ticket: Annotated[
        str | None,
        Query(max_length=200, description="A ticket from POST /api/v1/stream-tickets."),
    ] = None,
) -> StreamReader:
    """Who opens the stream: the bearer header's user, else the ticket's (which
    is spent by it)."""
    if bearer:
        actor = current_principal(request, context, bearer).actor

        def bearer_still_valid() -> bool:
            again = current_principal(request, context, bearer).actor
            return again.role is actor.role

        return StreamReader(actor, _passes(bearer_still_valid))
    if not ticket:
        raise not_authenticated(request)
    try:
        user_id = signer.redeem_stream_ticket(ticket, now=context.clock.now())
    except LinkRefused as exc:
        raise HTTPException(
            401, str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from None
    actor = actor_of_user(context, user_id)
    return StreamReader(
        actor,
        _passes(lambda: actor_of_user(context, user_id).role is actor.role),
    )


def _passes(check: Callable[[], bool]) -> Callable[[], bool]:
    """`check`, with a refusal (HTTPException) read as False."""

    def run() -> bool:
        try:
            return check()
        except HTTPException:
            return False

    return run


StreamReaderDep = Annotated[StreamReader, Depends(stream_reader)]


async def sse_events(
    stream: TicketStream,
    key: str,
    still_allowed: Callable[[], bool] = lambda: True,
) -> AsyncIterator[str]:
    """The SSE text of the notices for `key` (a worker id, or ALL).

    The listener is subscribed before the first chunk (`: connected`) is sent,
    so a client that has read it misses nothing; it is unsubscribed when the
    client goes away (the response is cancelled, or a write fails), or when
    `still_allowed` (asked at every keep-alive) says no.
    """
    listener = stream.subscribe(key)
    try:
        yield f": connected\nretry: {RETRY_MS}\n\n"
        while True:
            try:
                notice = await asyncio.wait_for(
                    listener.queue.get(), timeout=KEEPALIVE_S
                )
            except TimeoutError:
                if not await run_in_threadpool(still_allowed):
                    yield "event: revoked\ndata: {}\n\n"
                    return
                yield ": keep-alive\n\n"
                continue
            kind = "warning" if isinstance(notice, WarningNotice) else "ticket"
            yield f"event: {kind}\ndata: {notice.to_json()}\n\n"
    finally:
        stream.unsubscribe(listener)


def _response(
    stream: TicketStream, key: str, reader: StreamReader
) -> StreamingResponse:
    return StreamingResponse(
        sse_events(stream, key, reader.still_allowed),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


@router.get(
    "/me/tickets/stream",
    response_class=StreamingResponse,
    summary="Live notices of my tickets (worker), as Server-Sent Events",
    description=_STREAM_DESCRIPTION,
    responses=_SSE_DOC,
)
async def my_ticket_stream(
    context: ContextDep, reader: StreamReaderDep
) -> StreamingResponse:
    actor = ensure_role(reader.actor, _WORKER_ROLES)
    return _response(context.stream, actor.worker_id or "", reader)


@router.get(
    "/tickets/stream",
    response_class=StreamingResponse,
    summary="Live notices of every ticket (staff), as Server-Sent Events",
    description=_STREAM_DESCRIPTION,
    responses=_SSE_DOC,
)
async def all_ticket_stream(
    context: ContextDep, reader: StreamReaderDep
) -> StreamingResponse:
    ensure_role(reader.actor, STAFF_ROLES)
    return _response(context.stream, ALL, reader)

"""Live ticket notices as Server-Sent Events (EventSource in the browser).

Each notice is one `ticket` event whose data is the `TicketNotice` JSON; a
comment line every `KEEPALIVE_S` seconds keeps proxies from closing an idle
stream and lets the server notice a client that went away.

EventSource cannot send a header, so a page first asks, with its bearer header,
for a stream ticket (`POST /api/v1/stream-tickets`: single-use, about a minute)
and opens `...?ticket=`; every reconnect asks for a new one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
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


def stream_reader(
    request: Request,
    context: ContextDep,
    signer: LinkSignerDep,
    bearer: Annotated[str | None, Depends(oauth2)],
    ticket: Annotated[
        str | None,
        Query(max_length=200, description="A ticket from POST /api/v1/stream-tickets."),
    ] = None,
) -> Actor:
    """Who opens the stream: the bearer header's user, else the ticket's (which
    is spent by it)."""
    if bearer:
        return current_principal(request, context, bearer).actor
    if not ticket:
        raise not_authenticated(request)
    try:
        user_id = signer.redeem_stream_ticket(ticket, now=context.clock.now())
    except LinkRefused as exc:
        raise HTTPException(
            401, str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from None
    return actor_of_user(context, user_id)


StreamReaderDep = Annotated[Actor, Depends(stream_reader)]


async def sse_events(stream: TicketStream, key: str) -> AsyncIterator[str]:
    """The SSE text of the notices for `key` (a worker id, or ALL).

    The listener is subscribed before the first chunk (`: connected`) is sent,
    so a client that has read it misses nothing; it is unsubscribed when the
    client goes away (the response is cancelled, or a write fails).
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
                yield ": keep-alive\n\n"
                continue
            yield f"event: ticket\ndata: {notice.to_json()}\n\n"
    finally:
        stream.unsubscribe(listener)


def _response(stream: TicketStream, key: str) -> StreamingResponse:
    return StreamingResponse(
        sse_events(stream, key), media_type="text/event-stream", headers=SSE_HEADERS
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
    actor = ensure_role(reader, _WORKER_ROLES)
    return _response(context.stream, actor.worker_id or "")


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
    ensure_role(reader, STAFF_ROLES)
    return _response(context.stream, ALL)

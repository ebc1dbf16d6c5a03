"""Live ticket notices as Server-Sent Events (EventSource in the browser).

Each notice is one `ticket` event whose data is the `TicketNotice` JSON; a
comment line every `KEEPALIVE_S` seconds keeps proxies from closing an idle
stream and lets the server notice a client that went away.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from central.api.deps import ContextDep, StaffDep, WorkerDep
from central.stream import ALL, TicketStream

router = APIRouter(prefix="/api/v1", tags=["stream"])

KEEPALIVE_S = 15.0
RETRY_MS = 3000
SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
}

_SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
        "description": "`event: ticket` / `data: <TicketNotice JSON>` per notice; "
        "`: keep-alive` comments in between.",
    }
}


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
    description="Pass the token as `?access_token=` from EventSource.",
    responses=_SSE_DOC,
)
async def my_ticket_stream(context: ContextDep, actor: WorkerDep) -> StreamingResponse:
    return _response(context.stream, actor.worker_id or "")


@router.get(
    "/tickets/stream",
    response_class=StreamingResponse,
    summary="Live notices of every ticket (staff), as Server-Sent Events",
    description="Pass the token as `?access_token=` from EventSource.",
    responses=_SSE_DOC,
)
async def all_ticket_stream(context: ContextDep, _actor: StaffDep) -> StreamingResponse:
    return _response(context.stream, ALL)

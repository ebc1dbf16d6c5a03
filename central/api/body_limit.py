"""Request-body size limits, enforced in front of routing and authentication."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from fastapi import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from central.config import BodyLimitSettings, MediaSettings

log = logging.getLogger(__name__)

# Routes that take a media file: the larger limit. Everything else: the API limit.
UPLOAD_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("PUT", re.compile(r"^/api/v1/media/[^/]+/[^/]+/?$")),
    ("POST", re.compile(r"^/api/v1/tickets/[^/]+/resolve/?$")),
    ("POST", re.compile(r"^/api/v1/patrol/reports/?$")),
    ("POST", re.compile(r"^/api/v1/admin/grids/import/?$")),  # a city's grids
)
MULTIPART_ALLOWANCE_BYTES = 1024 * 1024


class BodyTooLarge(HTTPException):
    """The body went over its limit while it was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is over the limit of {limit} bytes")


def upload_limit_bytes(body: BodyLimitSettings, media: MediaSettings) -> int:
    """The configured upload limit, or the largest media limit plus framing."""
    if body.max_upload_bytes is not None:
        return body.max_upload_bytes
    largest = max(media.max_snapshot_bytes, media.max_photo_bytes, media.max_clip_bytes)
    return largest + MULTIPART_ALLOWANCE_BYTES


def limit_for(method: str, path: str, *, api_bytes: int, upload_bytes: int) -> int:
    """The body limit of one request."""
    is_upload = any(
        method == route_method and pattern.match(path)
        for route_method, pattern in UPLOAD_ROUTES
    )
    return upload_bytes if is_upload else api_bytes


class BodySizeLimit:
    """Pure ASGI middleware: a declared Content-Length over the limit is answered
    413 before the app runs; a body without one (chunked) is counted as it is
    read and the read fails with 413 as soon as it goes over, so no route ever
    holds more than the limit.

    Args:
        app: the wrapped app.
        limit_of: the limit in bytes for (method, path).
    """

    def __init__(self, app: ASGIApp, *, limit_of: Callable[[str, str], int]) -> None:
        self._app = app
        self._limit_of = limit_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limit = self._limit_of(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            log.info(
                "refused %s %s: body of %d bytes over %d",
                scope["method"],
                scope["path"],
                declared,
                limit,
            )
            await _too_large(limit)(scope, receive, send)
            return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self._app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if response_started:
                raise
            await _too_large(limit)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"detail": f"request body is over the limit of {limit} bytes"},
        status_code=413,
        headers={"Connection": "close"},
    )

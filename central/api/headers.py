"""Security headers on every HTTP response (pages, API, static files, errors)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Same origin only. The pages load no inline scripts or styles and nothing from
# another origin (Leaflet and Chart.js are vendored; the map has no tiles);
# scripts change styles only through the CSSOM, which CSP does not restrict.
# `data:` images: Leaflet's blank-image placeholder; `blob:`: media fetched with
# a bearer token and shown through object URLs.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)

# FastAPI's Swagger UI page loads its script and style from a CDN and starts
# with an inline script; it shows no user data. Only that page gets this policy.
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'",
        "style-src 'self' https://cdn.jsdelivr.net",
        "img-src 'self' data: https://fastapi.tiangolo.com",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)


class SecurityHeaders:
    """Pure ASGI middleware adding `SECURITY_HEADERS` to every response that does
    not set them itself.

    Args:
        app: the wrapped app.
        docs_path: the Swagger UI page, which gets `DOCS_CONTENT_SECURITY_POLICY`.
    """

    def __init__(self, app: ASGIApp, *, docs_path: str | None = None) -> None:
        self._app = app
        self._docs_path = docs_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        is_docs = scope["path"] == self._docs_path

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if is_docs:
                    headers.setdefault(
                        "Content-Security-Policy", DOCS_CONTENT_SECURITY_POLICY
                    )
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name, value)
            await send(message)

        await self._app(scope, receive, send_with_headers)

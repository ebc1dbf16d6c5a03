"""The node's HTTP face: /healthz, /metrics and the snapshot endpoint of checkpoints."""

from __future__ import annotations

import hmac
import json
import logging
import os
import socket
import threading
from datetime import datetime
from typing import Annotated, Any, Protocol

import uvicorn
from fastapi import FastAPI, Header, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from edge.config import ConfigError, HttpConfig
from edge.ingest.jpeg_push import MAX_SNAPSHOT_BYTES, SnapshotError
from gridwatch.secrets import SecretError, read_secret_file
from gridwatch.tls import HttpsServerTls

logger = logging.getLogger(__name__)

# These constants' names differ across Starlette versions.
UNPROCESSABLE = 422
TOO_LARGE = 413

MIN_MONITOR_TOKEN_CHARS = 16
NO_MONITOR_TOKEN = (
    "no monitoring token is configured on this node: set http.monitor_token_file "
    "or http.monitor_token_env to enable /metrics and the detailed /healthz"
)


class UnknownCameraError(KeyError):
    """No snapshot camera with that id is configured."""


class PushUnauthorizedError(PermissionError):
    """A push without the checkpoint's secret."""


class NodeHttpApi(Protocol):
    """What the HTTP face needs from the node."""

    @property
    def registry(self) -> CollectorRegistry: ...

    def health(self) -> tuple[bool, dict[str, Any]]: ...

    def authorize_push(self, camera_id: str, authorization: str | None) -> None:
        """Raises UnknownCameraError or PushUnauthorizedError."""

    def push_snapshot(
        self,
        camera_id: str,
        jpeg: bytes,
        checkpoint_id: str | None,
        captured_at: datetime | None,
    ) -> None: ...


def _parse_captured_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            detail=f"X-Captured-At is not an RFC 3339 time: {value!r}",
        ) from None


def read_monitor_token(http: HttpConfig) -> str | None:
    """The monitoring token from `monitor_token_env` or `monitor_token_file`;
    None when neither is set (then `/metrics` is refused to everyone).

    Raises:
        ConfigError: the file or variable is set but unreadable, empty or
            shorter than MIN_MONITOR_TOKEN_CHARS (the message names where it
            looked, never the token).
    """
    if http.monitor_token_env:
        where = f"http.monitor_token_env variable {http.monitor_token_env}"
        token = os.environ.get(http.monitor_token_env, "").strip()
    elif http.monitor_token_file is not None:
        where = f"http.monitor_token_file {http.monitor_token_file}"
        try:
            token = read_secret_file(http.monitor_token_file)
        except SecretError as error:
            raise ConfigError(f"http.monitor_token_file {error}") from None
    else:
        return None
    if len(token) < MIN_MONITOR_TOKEN_CHARS:
        raise ConfigError(
            f"{where} is unset or shorter than {MIN_MONITOR_TOKEN_CHARS} characters"
        )
    return token


def _bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class _MonitorGate:
    """Checks the monitoring token, in constant time."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode() if token is not None else None

    def require(self, authorization: str | None) -> None:
        """Raise 403 without a configured token, 401 for a missing or wrong one."""
        if self._token is None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=NO_MONITOR_TOKEN)
        given = _bearer(authorization)
        # compare_digest: the time taken says nothing about how much matched.
        if given is None or not hmac.compare_digest(given.encode(), self._token):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="the monitoring token is missing or wrong",
                headers={"WWW-Authenticate": "Bearer"},
            )


def _node_of(request: Request) -> NodeHttpApi:
    node: NodeHttpApi = request.app.state.node
    return node


def _gate_of(request: Request) -> _MonitorGate:
    gate: _MonitorGate = request.app.state.gate
    return gate


def build_app(node: NodeHttpApi, *, monitor_token: str | None = None) -> FastAPI:
    """FastAPI app bound to one node.

    Args:
        node: what the endpoints read and feed.
        monitor_token: the bearer token `/metrics` and the detailed `/healthz`
            need; None refuses `/metrics` (403) and keeps `/healthz` to its status.
    """
    app = FastAPI(title="gridwatch edge node", version="1")
    # The endpoints find the node through the request, not a closure: FastAPI
    # keeps every endpoint function in a process-wide cache, so one that closed
    # over the node kept it, its cameras and their buffers alive after it
    # stopped (seen as ~300 MB per node in a `bench density` search).
    app.state.node = node
    app.state.gate = _MonitorGate(monitor_token)

    @app.get("/healthz")
    def healthz(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Response:
        # Anonymous liveness probes get the verdict only; the details (cameras,
        # their URLs' errors, outbox) need the monitoring token.
        if authorization is not None:
            _gate_of(request).require(authorization)
        ok, body = _node_of(request).health()
        shown = body if authorization is not None else {"status": body["status"]}
        return Response(
            content=json.dumps(shown),
            media_type="application/json",
            status_code=status.HTTP_200_OK
            if ok
            else status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    @app.get("/metrics")
    def metrics(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Response:
        _gate_of(request).require(authorization)
        registry = _node_of(request).registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/snapshots/{camera_id}", status_code=status.HTTP_202_ACCEPTED)
    async def snapshot(
        camera_id: str,
        request: Request,
        x_checkpoint_id: Annotated[str | None, Header()] = None,
        x_captured_at: Annotated[str | None, Header()] = None,
    ) -> dict[str, str]:
        node = _node_of(request)
        # Who it is first, before a byte of the body is read.
        try:
            node.authorize_push(camera_id, request.headers.get("authorization"))
        except UnknownCameraError:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                detail=f"no snapshot camera {camera_id!r} on this node",
            ) from None
        except PushUnauthorizedError:
            logger.warning("snapshot push for %s refused: no valid secret", camera_id)
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="the checkpoint's secret is missing or wrong",
                headers={"WWW-Authenticate": "Bearer"},
            ) from None
        captured_at = _parse_captured_at(x_captured_at)
        declared = request.headers.get("content-length")
        if (
            declared is not None
            and declared.isdigit()
            and int(declared) > MAX_SNAPSHOT_BYTES
        ):
            raise HTTPException(
                TOO_LARGE,
                detail=f"snapshot over {MAX_SNAPSHOT_BYTES} bytes",
            )
        body = await _read_at_most(request, MAX_SNAPSHOT_BYTES)
        try:
            # JPEG decoding takes milliseconds: keep it off the event loop.
            await run_in_threadpool(
                node.push_snapshot, camera_id, body, x_checkpoint_id, captured_at
            )
        except UnknownCameraError:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                detail=f"no snapshot camera {camera_id!r} on this node",
            ) from None
        except SnapshotError as error:
            raise HTTPException(UNPROCESSABLE, detail=str(error)) from None
        return {"status": "accepted"}

    return app


async def _read_at_most(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it passes `limit` bytes, also when it
    comes chunked without a Content-Length."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(TOO_LARGE, detail=f"snapshot over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class HttpServer:
    """Runs the app with uvicorn in a background thread."""

    def __init__(
        self, app: FastAPI, host: str, port: int, tls: HttpsServerTls | None = None
    ) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host = host
        self.port = int(self._socket.getsockname()[1])
        self._scheme = "http" if tls is None else "https"
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            ssl_certfile=str(tls.cert_file) if tls is not None else None,
            ssl_keyfile=str(tls.key_file) if tls is not None else None,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{self._scheme}://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="edge-http",
            daemon=True,
        )
        self._thread.start()
        logger.info("edge http on %s", self.url)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5)
        self._socket.close()

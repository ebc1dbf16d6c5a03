"""The central HTTP API: one FastAPI app bound to a `CentralContext`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DataError

import gridwatch
from central.api.body_limit import BodySizeLimit, limit_for, upload_limit_bytes
from central.api.deps import build_link_signer
from central.api.headers import SecurityHeaders
from central.api.login_throttle import LoginThrottle, PasswordCheckSlots
from central.api.routes_account import router as account_router
from central.api.routes_activity import router as activity_router
from central.api.routes_admin import router as admin_router
from central.api.routes_area_lookup import router as area_lookup_router
from central.api.routes_auth import router as auth_router
from central.api.routes_citizen import router as citizen_router
from central.api.routes_devices import router as devices_router
from central.api.routes_grid_admin import router as grid_admin_router
from central.api.routes_map import router as map_router
from central.api.routes_matter_admin import router as matter_admin_router
from central.api.routes_media import router as media_router
from central.api.routes_merges import router as merges_router
from central.api.routes_metrics import build_metrics_registry
from central.api.routes_metrics import router as metrics_router
from central.api.routes_open311 import admin_router as open311_admin_router
from central.api.routes_open311 import router as open311_router
from central.api.routes_patrol import router as patrol_router
from central.api.routes_points import router as points_router
from central.api.routes_reference import router as reference_router
from central.api.routes_stats import router as stats_router
from central.api.routes_stream import router as stream_router
from central.api.routes_tickets import router as tickets_router
from central.api.routes_verify import router as verify_router
from central.api.routes_warnings import router as warnings_router
from central.auth.accounts import (
    AccountError,
    UnknownToken,
    UnknownUser,
    WrongPassword,
)
from central.auth.links import LinkSigner
from central.auth.passwords import WeakPasswordError
from central.auth.users import TokenLifetimeError
from central.context import CentralContext
from central.ingest.replicas import slot_warnings
from central.ingest.stats import judge
from central.media import MediaStore
from central.tickets.service import (
    ConcurrentChange,
    InvalidRequest,
    PermissionDenied,
    TicketNotFound,
)
from central.tickets.states import IllegalTransition
from central.web import mount_web
from central.workforce import InvalidWorker, UnknownWorker, WorkerConflict

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"

_ERROR_STATUS: dict[type[Exception], int] = {
    IllegalTransition: 409,
    ConcurrentChange: 409,
    TicketNotFound: 404,
    PermissionDenied: 403,
    InvalidRequest: 422,
    # Subclasses before AccountError: the first match wins.
    UnknownUser: 404,
    UnknownToken: 404,
    WrongPassword: 403,
    AccountError: 409,
    WeakPasswordError: 422,
    TokenLifetimeError: 422,
    UnknownWorker: 404,
    WorkerConflict: 409,
    InvalidWorker: 422,
}


async def _service_error(_request: Request, exc: Exception) -> JSONResponse:
    status_code = next(
        (code for kind, code in _ERROR_STATUS.items() if isinstance(exc, kind)), 400
    )
    return JSONResponse({"detail": str(exc)}, status_code=status_code)


async def _unstorable_value(request: Request, exc: Exception) -> JSONResponse:
    """A value the database refuses (a NUL character in text on PostgreSQL, a
    number beyond a column's range) is the client's input, not a server fault:
    422 for every route, whatever its own checks missed. The value is not logged."""
    log.warning(
        "%s %s: a value could not be stored (%s)",
        request.method,
        request.url.path,
        type(getattr(exc, "orig", exc)).__name__,
    )
    return JSONResponse(
        {
            "detail": "a value cannot be stored: text with a NUL character "
            "or a number out of range"
        },
        status_code=422,
    )


def _add_http_protection(app: FastAPI, context: CentralContext) -> None:
    """Login throttling state, body-size limits and security headers.

    Middleware added last runs first: the headers wrap everything (413s
    included), and the body limit runs before routing and authentication."""
    http = context.settings.http
    app.state.login_throttle = LoginThrottle(http.login, sessions=context.sessions)
    app.state.password_check_slots = PasswordCheckSlots(
        slots=http.login.max_concurrent_hashes, wait_s=http.login.hash_wait_s
    )
    api_bytes = http.body.max_api_bytes
    upload_bytes = upload_limit_bytes(http.body, context.settings.media)

    def limit_of(method: str, path: str) -> int:
        return limit_for(method, path, api_bytes=api_bytes, upload_bytes=upload_bytes)

    app.add_middleware(BodySizeLimit, limit_of=limit_of)
    app.add_middleware(SecurityHeaders, docs_path=app.docs_url)


def create_app(
    context: CentralContext,
    media: MediaStore | None = None,
    *,
    link_signer: LinkSigner | None = None,
) -> FastAPI:
    """The API app; `app.state.context` is the context, `app.state.media` its store
    (`media`, or one on the configured media directory), `app.state.link_signer`
    the signer of media links and stream tickets (`link_signer`, or one made now
    from `http.links` and the environment).

    Raises:
        CentralConfigError: the link secret or a link lifetime is unusable.
    """
    app = FastAPI(
        title="gridwatch central",
        version=getattr(gridwatch, "__version__", "0.1.0"),
        description=(
            "Grid tickets from city camera events: login, the ticket closed loop "
            "(review → dispatch → accept → resolve → close), live notices, media "
            "and reference data. Authenticate with `Authorization: Bearer <token>` "
            "from `POST /api/v1/auth/token`."
        ),
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.context = context
    app.state.metrics_registry = build_metrics_registry(context)
    app.state.media = media or MediaStore(context.settings.media.dir)
    app.state.link_signer = link_signer or build_link_signer(
        context.settings.http.links
    )

    _add_http_protection(app, context)

    for kind in _ERROR_STATUS:
        app.add_exception_handler(kind, _service_error)
    app.add_exception_handler(DataError, _unstorable_value)

    @app.get(
        "/healthz",
        tags=["health"],
        summary="Liveness, database and ingest check",
        description="200 `ok`; 503 `unavailable` when the database cannot be "
        "reached, 503 `degraded` (with the reasons) when this process's ingest is "
        "stuck or lagging.",
    )
    def healthz() -> JSONResponse:
        try:
            with context.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("health check: database unreachable: %s", exc)
            return JSONResponse(
                {
                    "status": "unavailable",
                    "database": f"unreachable ({type(exc).__name__})",
                },
                status_code=503,
            )
        body: dict[str, object] = {
            "status": "ok",
            "database": "ok",
            "version": app.version,
            "matter_list": context.matters.version,
        }
        away = slot_warnings(
            context.replicas, context.settings.ingest.slot_offline_alert_s
        )
        if away:  # reported, not a 503: see central/ingest/replicas.py
            body["warnings"] = away
        if context.runs_ingest:
            ingest = context.settings.ingest
            verdict = judge(
                context.ingest_stats,
                stuck_after_s=ingest.stuck_after_s,
                lag_after_s=ingest.lag_degraded_s,
            )
            body["ingest"] = {"status": verdict.status, **verdict.details}
            if verdict.reasons:
                body.update(status="degraded", reasons=list(verdict.reasons))
                return JSONResponse(body, status_code=503)
        return JSONResponse(body)

    # The stream router goes before the tickets router so that
    # /tickets/stream is not taken for /tickets/{ticket_id}.
    app.include_router(auth_router)
    app.include_router(account_router)
    app.include_router(admin_router)
    app.include_router(grid_admin_router)
    app.include_router(matter_admin_router)
    app.include_router(stream_router)
    app.include_router(tickets_router)
    app.include_router(verify_router)
    app.include_router(media_router)
    app.include_router(area_lookup_router)
    app.include_router(reference_router)
    app.include_router(map_router)
    app.include_router(devices_router)
    app.include_router(stats_router)
    app.include_router(activity_router)
    app.include_router(metrics_router)
    app.include_router(citizen_router)
    app.include_router(open311_router)
    app.include_router(open311_admin_router)
    app.include_router(patrol_router)
    app.include_router(merges_router)
    app.include_router(points_router)
    app.include_router(warnings_router)
    mount_web(app)
    return app

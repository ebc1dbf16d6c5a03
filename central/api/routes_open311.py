"""Open311 GeoReport v2 (`/open311/v2/`): the service list, submitting a
request and reading its status, for civic apps and a 12345 hotline system; and
the admin API that issues their API keys.

Follows the spec's field names; errors are the spec's list of
`{"code", "description"}` with the HTTP status. JSON only (`.json`). Every call
but the service list needs an `api_key` issued by an admin; a client reads only
the requests it submitted. Orders keep the client's own case number
(`external_id`, an extension of the spec) next to our `service_request_id`.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from central.api.deps import AdminDep, ContextDep
from central.api.routes_auth import client_address
from central.auth.audit import record
from central.citizens.open311 import (
    ClientNameTaken,
    client_by_key,
    issue_client,
    request_of,
    service_of,
)
from central.citizens.reports import (
    Channel,
    CitizenError,
    ReportDesk,
    ReportIn,
    matter_label,
)
from central.context import CentralContext
from central.db.models import CitizenReport, Open311Client, Ticket

log = logging.getLogger(__name__)

router = APIRouter(prefix="/open311/v2", tags=["open311"])
admin_router = APIRouter(prefix="/api/v1/admin/open311-clients", tags=["open311"])

MAX_ROW_ID = 2**31 - 1
DEFAULT_SPAN = timedelta(days=90)
MAX_REQUESTS = 1000
CONTACT_MAX = 200

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A required field is missing or invalid"},
    403: {"description": "No api_key, or not a valid one"},
    404: {"description": "Unknown service_code or service_request_id"},
}


def error(status: int, description: str) -> JSONResponse:
    """The spec's error body: a list of `{code, description}`."""
    return JSONResponse(
        [{"code": status, "description": description}], status_code=status
    )


def _client(context: CentralContext, api_key: str | None) -> Open311Client | None:
    if not api_key or len(api_key) > 200:
        return None
    with context.sessions() as session:
        return client_by_key(session, api_key)


class Service(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


@router.get(
    "/services.json",
    response_model=list[Service],
    summary="Service list: the matter list (no key needed)",
)
def services(context: ContextDep) -> list[Service]:
    return [Service.model_validate(service_of(m)) for m in context.matters.matters]


def _number(value: str | None, name: str, low: float, high: float) -> float:
    try:
        number = float(value) if value is not None else math.nan
    except ValueError:
        number = math.nan
    if not (low <= number <= high):
        raise ValueError(f"{name} must be a number from {low} to {high}")
    return number


def _contact(parts: list[str | None]) -> str | None:
    text = " ".join(p.strip() for p in parts if p and p.strip())
    return text[:CONTACT_MAX] or None


@router.post(
    "/requests.json",
    summary="Submit a service request (api_key required)",
    description="application/x-www-form-urlencoded, as the spec: `api_key`, "
    "`service_code`, `lat`, `long`, `description`, optional `email`, "
    "`first_name`, `last_name`, `phone` (kept as the reporter's contact, staff "
    "only) and `external_id` (the client's own case number). Answers "
    "`[{service_request_id, service_notice, account_id}]`.",
    responses={200: {"description": "Accepted"}, **_ERRORS},
)
def submit_request(
    context: ContextDep,
    api_key: Annotated[str | None, Form()] = None,
    service_code: Annotated[str | None, Form()] = None,
    lat: Annotated[str | None, Form()] = None,
    long: Annotated[str | None, Form()] = None,
    description: Annotated[str | None, Form()] = None,
    email: Annotated[str | None, Form()] = None,
    first_name: Annotated[str | None, Form()] = None,
    last_name: Annotated[str | None, Form()] = None,
    phone: Annotated[str | None, Form()] = None,
    external_id: Annotated[str | None, Form()] = None,
) -> Response:
    client = _client(context, api_key)
    if client is None:
        return error(403, "api_key missing or not valid")
    if not service_code:
        return error(400, "service_code is required")
    try:
        matter = context.matters.by_key(service_code)
    except KeyError:
        return error(404, f"service_code {service_code!r} not found")
    try:
        point = (_number(lat, "lat", -90, 90), _number(long, "long", -180, 180))
    except ValueError as exc:
        return error(400, f"{exc} (address_string is not supported)")
    text = (description or "").strip()[:2000] or matter_label(matter)
    if external_id is not None and not 0 < len(external_id.strip()) <= 100:
        return error(400, "external_id must be 1 to 100 characters")
    report = ReportIn(
        matter_key=matter.key,
        description=text,
        lat=point[0],
        lon=point[1],
        contact=_contact([first_name, last_name, email, phone]),
        channel=Channel.OPEN311,
        open311_client_id=client.id,
        external_id=external_id.strip() if external_id else None,
        review_first=client.review_first,
    )
    try:
        ticket, _ = ReportDesk(context).submit(report)
    except CitizenError as exc:
        return error(400, str(exc))
    log.info("open311 request from %s: ticket %s", client.name, ticket.id)
    return JSONResponse(
        [
            {
                "service_request_id": str(ticket.id),
                "service_notice": None,
                "account_id": None,
            }
        ]
    )


def _requests(
    context: CentralContext,
    client: Open311Client,
    *,
    ids: list[int] | None,
    since: datetime | None = None,
) -> list[dict[str, object]]:
    query = (
        select(Ticket, CitizenReport)
        .join(CitizenReport, CitizenReport.ticket_id == Ticket.id)
        .where(CitizenReport.open311_client_id == client.id)
        .order_by(Ticket.id.desc())
        .limit(MAX_REQUESTS)
    )
    if ids is not None:
        query = query.where(Ticket.id.in_(ids))
    if since is not None:
        query = query.where(Ticket.created_at >= since)
    with context.sessions() as session:
        rows = session.execute(query).all()
    answer: list[dict[str, object]] = []
    for ticket, report in rows:
        try:
            name = matter_label(context.matters.by_key(ticket.matter_key))
        except KeyError:
            name = ticket.category_name
        answer.append(
            request_of(ticket, report, service_name=name, agency=ticket.department_code)
        )
    return answer


def _ids(text: str) -> list[int] | None:
    ids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or not 0 < int(part) <= MAX_ROW_ID:
            return None
        ids.append(int(part))
    return ids


@router.get(
    "/requests.json",
    summary="Service requests of this client (api_key required)",
    description="`service_request_id` (comma-separated) picks requests; without "
    "it, the client's requests of the last 90 days (at most 1000), newest first.",
    responses={200: {"description": "A list of service requests"}, **_ERRORS},
)
def list_requests(
    context: ContextDep,
    api_key: Annotated[str | None, Query()] = None,
    service_request_id: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    client = _client(context, api_key)
    if client is None:
        return error(403, "api_key missing or not valid")
    if service_request_id is None:
        since = context.clock.now() - DEFAULT_SPAN
        return JSONResponse(_requests(context, client, ids=None, since=since))
    ids = _ids(service_request_id)
    if ids is None:
        return error(400, "service_request_id must be numbers separated by commas")
    return JSONResponse(_requests(context, client, ids=ids))


@router.get(
    "/requests/{service_request_id}.json",
    summary="One service request (api_key required)",
    responses={200: {"description": "A list of one service request"}, **_ERRORS},
)
def get_request(
    context: ContextDep,
    service_request_id: Annotated[str, PathParam(max_length=20)],
    api_key: Annotated[str | None, Query()] = None,
) -> Response:
    client = _client(context, api_key)
    if client is None:
        return error(403, "api_key missing or not valid")
    ids = _ids(service_request_id)
    found = _requests(context, client, ids=ids) if ids and len(ids) == 1 else []
    if not found:
        return error(404, f"service_request_id {service_request_id!r} not found")
    return JSONResponse(found)


# -- admin: API keys ---------------------------------------------------------------


class ClientIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[\w .@()-]+$")
    review_first: bool = Field(
        default=True,
        description="Requests wait in the review queue (true) or are dispatched "
        "through the matter list at once (a hotline whose staff already took "
        "the call).",
    )


class ClientOut(BaseModel):
    id: int
    name: str
    review_first: bool
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


class ClientIssued(ClientOut):
    api_key: str = Field(description="Shown once; only its SHA-256 is stored.")


class ClientsOut(BaseModel):
    data: list[ClientOut]
    count: int


def _client_out(client: Open311Client) -> dict[str, Any]:
    return {
        "id": client.id,
        "name": client.name,
        "review_first": client.review_first,
        "created_at": client.created_at,
        "created_by": client.created_by,
        "revoked_at": client.revoked_at,
    }


@admin_router.get("", response_model=ClientsOut, summary="Open311 clients (admin)")
def list_clients(context: ContextDep, _actor: AdminDep) -> ClientsOut:
    with context.sessions() as session:
        clients = list(
            session.scalars(select(Open311Client).order_by(Open311Client.id))
        )
    data = [ClientOut(**_client_out(c)) for c in clients]
    return ClientsOut(data=data, count=len(data))


@admin_router.post(
    "",
    response_model=ClientIssued,
    status_code=201,
    summary="Issue an API key to an Open311 client (admin)",
    responses={409: {"description": "The name is taken"}},
)
def add_client(
    request: Request, context: ContextDep, actor: AdminDep, body: ClientIn
) -> ClientIssued | JSONResponse:
    now = context.clock.now()
    try:
        with context.sessions.begin() as session:
            issued = issue_client(
                session,
                name=body.name,
                review_first=body.review_first,
                by=actor.name,
                now=now,
            )
            record(
                session,
                actor.name,
                "open311_client_issued",
                body.name,
                client_address(request),
                {"client_id": issued.client.id, "review_first": body.review_first},
            )
            out = ClientIssued(**_client_out(issued.client), api_key=issued.api_key)
    except (ClientNameTaken, IntegrityError):
        return JSONResponse(
            {"detail": f"an Open311 client named {body.name!r} exists"},
            status_code=409,
        )
    return out


@admin_router.delete(
    "/{client_id}",
    status_code=204,
    summary="Revoke an Open311 client's API key (admin)",
    responses={404: {"description": "No such client"}},
)
def revoke_client(
    request: Request,
    context: ContextDep,
    actor: AdminDep,
    client_id: Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)],
) -> Response:
    with context.sessions.begin() as session:
        client = session.get(Open311Client, client_id)
        if client is None:
            return JSONResponse(
                {"detail": f"no Open311 client {client_id}"}, status_code=404
            )
        if client.revoked_at is None:
            client.revoked_at = context.clock.now()
            record(
                session,
                actor.name,
                "open311_client_revoked",
                client.name,
                client_address(request),
                {"client_id": client.id},
            )
    return Response(status_code=204)

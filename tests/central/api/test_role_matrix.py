"""Who may call what: every operation of the OpenAPI document, called by every kind
of caller, against a declared table of expected statuses.

The callers: nobody (no token), each staff role, the worker who owns the resource,
another worker, the edge node that owns the resource and another edge node. Each
call uses a token issued for it and resources made for it (a fresh ticket, user,
event or media file), so one call's side effects (a logout, a disabled user, a
ticket moved on) never decide another's status. An operation that is in the
document but not in `MATRIX` fails `test_every_operation_should_be_in_the_matrix`:
a new endpoint needs a declared answer for each caller.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, cast

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from central.api.app import create_app
from central.api.routes_media import record_media
from central.auth.tokens import token_digest, token_id
from central.auth.users import issue_token
from central.citizens.open311 import issue_client
from central.citizens.reports import Channel, ReportDesk, ReportIn
from central.db.models import HotspotWarning, Ticket, User, UserRole, Worker
from central.matter_store import newest_version
from central.media import MediaStore
from central.tickets.merging import MergeTarget, Sighting, merge_into
from tests.central.api.conftest import (
    PASSWORD,
    Api,
    add_ai_ticket,
    add_event,
    open_api,
    square,
    tiny_jpeg,
)

Caller = Literal[
    "anonymous",
    "admin",
    "operator",
    "supervisor",
    "worker",
    "other_worker",
    "edge_node",
    "other_node",
]
CALLERS: tuple[Caller, ...] = (
    "anonymous",
    "admin",
    "operator",
    "supervisor",
    "worker",
    "other_worker",
    "edge_node",
    "other_node",
)
# caller → login; "worker" owns the tickets (w1), "edge_node" the events (node-01)
LOGINS: dict[Caller, str] = {
    "admin": "admin",
    "operator": "operator",
    "supervisor": "supervisor",
    "worker": "worker1",
    "other_worker": "worker2",
    "edge_node": "node01",
    "other_node": "node02",
}
STAFF: frozenset[Caller] = frozenset({"admin", "operator", "supervisor"})
WORKERS: frozenset[Caller] = frozenset({"worker", "other_worker"})
NODES: frozenset[Caller] = frozenset({"edge_node", "other_node"})
MEMBERS = STAFF | WORKERS
LOGGED_IN = MEMBERS | NODES
ADMIN: frozenset[Caller] = frozenset({"admin"})

_NAMES = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Call:
    """One request, made for one caller."""

    url: str
    json: Any = None
    data: Mapping[str, str] | None = None
    files: Mapping[str, tuple[str, bytes, str]] | None = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    is_stream: bool = False


Prepare = Callable[[Api, Caller], Call]


@dataclass(frozen=True, slots=True)
class Rule:
    """How to call an operation, and what each caller must get."""

    prepare: Prepare
    expect: Mapping[Caller, int]


def answers(
    ok: int,
    allowed: frozenset[Caller],
    *,
    denied: int = 403,
    public: bool = False,
    **overrides: int,
) -> dict[Caller, int]:
    """`ok` for `allowed`, `denied` for the other logged-in callers, 401 for
    nobody (unless `public`); `overrides` win (keyword per caller)."""
    expected: dict[Caller, int] = {
        caller: ok if caller in allowed else denied for caller in CALLERS
    }
    expected["anonymous"] = ok if public else 401
    for caller in CALLERS:
        if caller in overrides:
            expected[caller] = overrides[caller]
    return expected


def fixed(url: str, **kwargs: Any) -> Prepare:
    def prepare(_api: Api, _caller: Caller) -> Call:
        return Call(url, **kwargs)

    return prepare


def fresh_name(prefix: str) -> str:
    return f"{prefix}{next(_NAMES)}"


def login_of(caller: Caller) -> str:
    """The caller's login; nobody's resources are worker1's."""
    return LOGINS.get(caller, "worker1")


# -- resources made per call ---------------------------------------------------------


def _add_user(api: Api, role: UserRole, **columns: Any) -> str:
    username = fresh_name(f"target-{role.value}-")
    with api.context.sessions.begin() as session:
        hashed = session.scalar(select(User.password_hash).limit(1))
        session.add(
            User(
                username=username,
                password_hash=hashed,
                role=role.value,
                created_at=api.clock.now(),
                **columns,
            )
        )
    return username


def _extra_token(api: Api, username: str) -> str:
    """The public id of a new token of `username`."""
    with api.context.sessions.begin() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        token = issue_token(
            session, user, now=api.clock.now(), ttl=timedelta(hours=1), label="extra"
        )
    return token_id(token_digest(token))


def _ticket(api: Api, state: str, assignee: str | None = "w1") -> int:
    return add_ai_ticket(
        api.context,
        state=state,
        assignee_id=assignee,
        event_id=fresh_name("evt-matrix-"),
    )


def app_of(api: Api) -> FastAPI:
    return cast(FastAPI, api.client.app)


def _workers_media(api: Api) -> str:
    """A snapshot of a ticket of worker w1 (stored, recorded, linked)."""
    store: MediaStore = app_of(api).state.media
    stored = store.save(tiny_jpeg(next(_NAMES) % 250), "snapshot")
    ticket_id = _ticket(api, "dispatched")
    with api.context.sessions.begin() as session:
        session.get_one(Ticket, ticket_id).snapshot_sha256 = stored.sha256
        record_media(
            session,
            stored,
            "snapshot",
            event_id=None,
            ticket_id=ticket_id,
            uploaded_by="node01",
            now=api.clock.now(),
        )
    return stored.sha256


def on_ticket(state: str, action: str, **kwargs: Any) -> Prepare:
    """`POST /tickets/{id}/{action}` on a new ticket of w1 in `state`."""

    def prepare(api: Api, _caller: Caller) -> Call:
        ticket_id = _ticket(api, state, None if state == "pending_review" else "w1")
        return Call(f"/api/v1/tickets/{ticket_id}/{action}", **kwargs)

    return prepare


def ticket_page(api: Api, _caller: Caller) -> Call:
    return Call(f"/api/v1/tickets/{_ticket(api, 'dispatched')}")


def ticket_camera_checks(api: Api, _caller: Caller) -> Call:
    return Call(f"/api/v1/tickets/{_ticket(api, 'resolved')}/camera-checks")


def on_target_user(suffix: str, **kwargs: Any) -> Prepare:
    """`/admin/users/{new operator}{suffix}`."""

    def prepare(api: Api, _caller: Caller) -> Call:
        username = _add_user(api, UserRole.OPERATOR)
        return Call(f"/api/v1/admin/users/{username}{suffix}", **kwargs)

    return prepare


def revoke_target_token(api: Api, _caller: Caller) -> Call:
    username = _add_user(api, UserRole.OPERATOR)
    return Call(f"/api/v1/admin/users/{username}/tokens/{_extra_token(api, username)}")


def revoke_my_token(api: Api, caller: Caller) -> Call:
    return Call(f"/api/v1/me/tokens/{_extra_token(api, login_of(caller))}")


def new_user(api: Api, _caller: Caller) -> Call:
    return Call(
        "/api/v1/users",
        json={
            "username": fresh_name("made-"),
            "password": "a-long-password-1",
            "role": "operator",
        },
    )


def node_token(api: Api, _caller: Caller) -> Call:
    username = _add_user(api, UserRole.EDGE_NODE, node_id=fresh_name("node-x"))
    return Call(f"/api/v1/users/{username}/tokens", json={"label": "matrix"})


def upload_snapshot(api: Api, _caller: Caller) -> Call:
    event_id = fresh_name("evt-upload-")
    add_event(api.context, event_id, node_id="node-01")
    return Call(
        f"/api/v1/media/{event_id}/snapshot",
        content=tiny_jpeg(),
        headers={"Content-Type": "image/jpeg"},
    )


def media_link(api: Api, _caller: Caller) -> Call:
    return Call(f"/api/v1/media/{_workers_media(api)}/link")


def media_file(api: Api, _caller: Caller) -> Call:
    return Call(f"/api/v1/media/{_workers_media(api)}")


# -- citizen and Open311 (public routes: the bearer token changes nothing) -----------

EVERYONE: frozenset[Caller] = frozenset(CALLERS)
CITIZEN_POINT = {"lat": "23.1225", "lon": "113.3225"}


def _fresh_citizen_limits(api: Api) -> None:
    """Each call starts with empty per-address counts (all callers share one
    address here, and the limits would decide the status instead of the role)."""
    app_of(api).state.citizen_limits = None


def citizen_report(api: Api, _caller: Caller) -> Call:
    _fresh_citizen_limits(api)
    return Call(
        "/api/v1/citizen/reports",
        data={"matter_key": "littering", "description": "bags", **CITIZEN_POINT},
    )


def _citizen_ticket(api: Api, *, closed: bool) -> tuple[int, str]:
    _fresh_citizen_limits(api)
    ticket, token = ReportDesk(api.context).submit(
        ReportIn(matter_key="littering", description="bags", lat=23.1225, lon=113.3225)
    )
    assert token is not None
    if closed:
        with api.context.sessions.begin() as session:
            row = session.get_one(Ticket, ticket.id)
            row.state, row.assignee_id = "closed", "w1"
            row.closed_at = api.clock.now()
    return ticket.id, token


def on_tracking(suffix: str, *, closed: bool = False, **kwargs: Any) -> Prepare:
    """`/api/v1/citizen/track{suffix}` with a new report's token."""

    def prepare(api: Api, _caller: Caller) -> Call:
        _, token = _citizen_ticket(api, closed=closed)
        headers = {"X-Tracking-Token": token}
        return Call(f"/api/v1/citizen/track{suffix}", headers=headers, **kwargs)

    return prepare


def citizen_report_for_staff(api: Api, _caller: Caller) -> Call:
    ticket_id, _ = _citizen_ticket(api, closed=False)
    return Call(f"/api/v1/citizen/reports/{ticket_id}")


def _open311_key(api: Api, *, name: str | None = None) -> tuple[int, str]:
    with api.context.sessions.begin() as session:
        issued = issue_client(
            session,
            name=name or fresh_name("client-"),
            review_first=True,
            by="admin",
            now=api.clock.now(),
        )
        return issued.client.id, issued.api_key


def open311_submit(api: Api, _caller: Caller) -> Call:
    _, key = _open311_key(api)
    return Call(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "service_code": "littering",
            "lat": "23.1225",
            "long": "113.3225",
        },
    )


def _open311_request(api: Api) -> tuple[int, str]:
    client_id, key = _open311_key(api)
    ticket, _ = ReportDesk(api.context).submit(
        ReportIn(
            matter_key="littering",
            description="bags",
            lat=23.1225,
            lon=113.3225,
            channel=Channel.OPEN311,
            open311_client_id=client_id,
        )
    )
    return ticket.id, key


def open311_one(api: Api, _caller: Caller) -> Call:
    ticket_id, key = _open311_request(api)
    return Call(f"/open311/v2/requests/{ticket_id}.json?api_key={key}")


def open311_list(api: Api, _caller: Caller) -> Call:
    ticket_id, key = _open311_request(api)
    return Call(
        f"/open311/v2/requests.json?api_key={key}&service_request_id={ticket_id}"
    )


def new_open311_client(api: Api, _caller: Caller) -> Call:
    return Call("/api/v1/admin/open311-clients", json={"name": fresh_name("app-")})


def revoke_open311_client(api: Api, _caller: Caller) -> Call:
    client_id, _ = _open311_key(api)
    return Call(f"/api/v1/admin/open311-clients/{client_id}")


def patrol_report(_api: Api, _caller: Caller) -> Call:
    """A worker's report for dispatch, with a key of its own (a replay is 200)."""
    return Call(
        "/api/v1/patrol/reports",
        data={
            "client_key": fresh_name("patrol-key-"),
            "matter_key": "littering",
            **CITIZEN_POINT,
        },
    )


def on_warning(api: Api, _caller: Caller) -> Call:
    """`POST /warnings/{id}/ack` on a new open warning (a category of its own:
    one active warning per grid and category)."""
    now = api.clock.now()
    with api.context.sessions.begin() as session:
        warning = HotspotWarning(
            grid_code="440106001001001",
            category_code=fresh_name("w"),
            category_name="matrix",
            state="open",
            window_days=3,
            observed=4,
            expected=0.2,
            p_value=1e-5,
            opened_at=now,
            updated_at=now,
        )
        session.add(warning)
        session.flush()
        warning_id = warning.id
    return Call(f"/api/v1/warnings/{warning_id}/ack")


def _merged_report(api: Api) -> tuple[int, int]:
    """A dispatched ticket of w1 with a citizen report merged into it."""
    ticket_id = _ticket(api, "dispatched")
    with api.context.sessions.begin() as session:
        ticket = session.get_one(Ticket, ticket_id)
        merge = merge_into(
            session,
            MergeTarget(ticket, 4.0),
            Sighting(
                source="citizen",
                matter_key="littering",
                grid_code="440106001001001",
                lat=23.12254,
                lon=113.3225,
                at=api.clock.now(),
                title="bags",
            ),
            actor_name="citizen",
        )
        return ticket_id, merge.id


def ticket_merges(api: Api, _caller: Caller) -> Call:
    ticket_id, _ = _merged_report(api)
    return Call(f"/api/v1/tickets/{ticket_id}/merges")


def ticket_split(api: Api, _caller: Caller) -> Call:
    ticket_id, merge_id = _merged_report(api)
    return Call(
        f"/api/v1/tickets/{ticket_id}/split",
        json={"merge_id": merge_id, "reason": "another bin"},
    )


def _fresh_worker(api: Api) -> str:
    """A part-time worker of no grid (dispatch never picks them)."""
    worker_id = fresh_name("matrix-w")
    with api.context.sessions.begin() as session:
        session.add(Worker(id=worker_id, name="Matrix", role="part_time", duty=[]))
    return worker_id


def on_fresh_worker(suffix: str, **kwargs: Any) -> Prepare:
    """`/admin/workers/{new worker}{suffix}`."""

    def prepare(api: Api, _caller: Caller) -> Call:
        return Call(f"/api/v1/admin/workers/{_fresh_worker(api)}{suffix}", **kwargs)

    return prepare


def new_worker(_api: Api, _caller: Caller) -> Call:
    body = {"id": fresh_name("made-w"), "name": "New", "role": "part_time"}
    return Call("/api/v1/admin/workers", json=body)


def _matter_list_text(api: Api, version: str) -> str:
    """The stored matter list with a new version line."""
    with api.context.sessions() as session:
        newest = newest_version(session)
    assert newest is not None
    lines = [
        f'version: "{version}"' if line.startswith("version:") else line
        for line in newest.text.splitlines()
    ]
    return "\n".join(lines) + "\n"


def matter_list_check(api: Api, _caller: Caller) -> Call:
    text = _matter_list_text(api, fresh_name("matrix-"))
    return Call("/api/v1/matter-list/check", json={"text": text})


def matter_list_apply(api: Api, _caller: Caller) -> Call:
    version = fresh_name("matrix-")
    text = _matter_list_text(api, version)
    return Call("/api/v1/matter-list", json={"text": text, "version": version})


GRID_FILE = json.dumps(
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": square(113.320, 23.120),
                "properties": {"code": "440106001001001", "name": "Grid 1"},
            }
        ],
    }
).encode()

REASON = {"reason": "checked on site"}

# (method, OpenAPI path) → how to call it and what each caller gets
MATRIX: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): Rule(fixed("/healthz"), answers(200, LOGGED_IN, public=True)),
    ("POST", "/api/v1/auth/token"): Rule(
        fixed(
            "/api/v1/auth/token", data={"username": "operator", "password": PASSWORD}
        ),
        answers(200, LOGGED_IN, public=True),
    ),
    ("POST", "/api/v1/auth/logout"): Rule(
        fixed("/api/v1/auth/logout"), answers(204, LOGGED_IN)
    ),
    ("GET", "/api/v1/me"): Rule(fixed("/api/v1/me"), answers(200, LOGGED_IN)),
    ("GET", "/api/v1/me/tokens"): Rule(
        fixed("/api/v1/me/tokens"), answers(200, LOGGED_IN)
    ),
    ("DELETE", "/api/v1/me/tokens/{token_id}"): Rule(
        revoke_my_token, answers(204, LOGGED_IN)
    ),
    ("POST", "/api/v1/me/password"): Rule(
        fixed(
            "/api/v1/me/password",
            json={"old_password": PASSWORD, "new_password": "another-password-7"},
        ),
        answers(204, LOGGED_IN),
    ),
    ("GET", "/api/v1/admin/users"): Rule(
        fixed("/api/v1/admin/users"), answers(200, ADMIN)
    ),
    ("GET", "/api/v1/admin/users/{username}"): Rule(
        on_target_user(""), answers(200, ADMIN)
    ),
    ("POST", "/api/v1/admin/users/{username}/disable"): Rule(
        on_target_user("/disable"), answers(200, ADMIN)
    ),
    ("POST", "/api/v1/admin/users/{username}/enable"): Rule(
        on_target_user("/enable"), answers(200, ADMIN)
    ),
    ("GET", "/api/v1/admin/users/{username}/tokens"): Rule(
        on_target_user("/tokens"), answers(200, ADMIN)
    ),
    ("DELETE", "/api/v1/admin/users/{username}/tokens/{token_id}"): Rule(
        revoke_target_token, answers(204, ADMIN)
    ),
    ("POST", "/api/v1/admin/users/{username}/password"): Rule(
        on_target_user("/password", json={"new_password": "reset-password-42"}),
        answers(204, ADMIN),
    ),
    ("GET", "/api/v1/admin/audit"): Rule(
        fixed("/api/v1/admin/audit"), answers(200, ADMIN)
    ),
    ("POST", "/api/v1/stream-tickets"): Rule(
        fixed("/api/v1/stream-tickets"), answers(200, MEMBERS)
    ),
    ("GET", "/api/v1/me/tickets/stream"): Rule(
        fixed("/api/v1/me/tickets/stream", is_stream=True), answers(200, WORKERS)
    ),
    ("GET", "/api/v1/tickets/stream"): Rule(
        fixed("/api/v1/tickets/stream", is_stream=True), answers(200, STAFF)
    ),
    ("GET", "/api/v1/tickets"): Rule(fixed("/api/v1/tickets"), answers(200, STAFF)),
    ("POST", "/api/v1/tickets"): Rule(
        fixed(
            "/api/v1/tickets",
            json={
                "matter_key": "littering",
                "title": "bags",
                "lat": 23.1225,
                "lon": 113.3225,
            },
        ),
        answers(201, STAFF),
    ),
    ("GET", "/api/v1/me/tickets"): Rule(
        fixed("/api/v1/me/tickets"), answers(200, WORKERS)
    ),
    ("GET", "/api/v1/tickets/{ticket_id}"): Rule(
        ticket_page, answers(200, STAFF | {"worker"}, other_worker=404)
    ),
    ("GET", "/api/v1/tickets/{ticket_id}/camera-checks"): Rule(
        ticket_camera_checks, answers(200, STAFF | {"worker"}, other_worker=404)
    ),
    ("GET", "/api/v1/review"): Rule(fixed("/api/v1/review"), answers(200, STAFF)),
    ("POST", "/api/v1/tickets/{ticket_id}/accept"): Rule(
        on_ticket("dispatched", "accept"),
        answers(200, frozenset({"worker"}), other_worker=404),
    ),
    ("POST", "/api/v1/tickets/{ticket_id}/resolve"): Rule(
        on_ticket("accepted", "resolve", data={"note": "swept"}),
        answers(200, frozenset({"worker"}), other_worker=404),
    ),
    ("POST", "/api/v1/tickets/{ticket_id}/confirm"): Rule(
        on_ticket("pending_review", "confirm"), answers(200, STAFF)
    ),
    ("POST", "/api/v1/tickets/{ticket_id}/reject"): Rule(
        on_ticket("pending_review", "reject", json=REASON), answers(200, STAFF)
    ),
    ("POST", "/api/v1/tickets/{ticket_id}/close"): Rule(
        on_ticket("resolved", "close"), answers(200, STAFF)
    ),
    ("POST", "/api/v1/tickets/{ticket_id}/return"): Rule(
        on_ticket("resolved", "return", json=REASON), answers(200, STAFF)
    ),
    ("POST", "/api/v1/tickets/{ticket_id}/reassign"): Rule(
        on_ticket("dispatched", "reassign", json={"worker_id": "w2"}),
        answers(200, STAFF),
    ),
    ("POST", "/api/v1/tickets/{ticket_id}/escalate"): Rule(
        on_ticket("dispatched", "escalate", json={"level": 1, "note": "late"}),
        answers(200, STAFF),
    ),
    ("PUT", "/api/v1/media/{event_id}/{kind}"): Rule(
        upload_snapshot, answers(200, frozenset({"admin", "edge_node"}))
    ),
    ("POST", "/api/v1/media/{sha256}/link"): Rule(
        media_link,
        answers(
            200, STAFF | {"worker"}, other_worker=404, edge_node=404, other_node=404
        ),
    ),
    ("GET", "/api/v1/media/{sha256}"): Rule(
        media_file,
        answers(
            200, STAFF | {"worker"}, other_worker=404, edge_node=404, other_node=404
        ),
    ),
    ("GET", "/api/v1/grids"): Rule(fixed("/api/v1/grids"), answers(200, MEMBERS)),
    ("GET", "/api/v1/areas"): Rule(fixed("/api/v1/areas"), answers(200, MEMBERS)),
    ("GET", "/api/v1/areas/counts"): Rule(
        fixed("/api/v1/areas/counts"), answers(200, MEMBERS)
    ),
    ("GET", "/api/v1/grids/at"): Rule(
        fixed("/api/v1/grids/at?lat=23.1&lon=113.3"), answers(200, MEMBERS)
    ),
    ("GET", "/api/v1/map/areas"): Rule(
        fixed("/api/v1/map/areas?level=grid&zoom=14"), answers(200, MEMBERS)
    ),
    ("GET", "/api/v1/map/events"): Rule(
        fixed("/api/v1/map/events"), answers(200, STAFF)
    ),
    ("GET", "/api/v1/cameras"): Rule(fixed("/api/v1/cameras"), answers(200, STAFF)),
    ("GET", "/api/v1/devices"): Rule(fixed("/api/v1/devices"), answers(200, STAFF)),
    ("GET", "/api/v1/workers"): Rule(fixed("/api/v1/workers"), answers(200, STAFF)),
    ("GET", "/api/v1/matters"): Rule(fixed("/api/v1/matters"), answers(200, MEMBERS)),
    ("GET", "/api/v1/event-types"): Rule(
        fixed("/api/v1/event-types"), answers(200, MEMBERS)
    ),
    ("POST", "/api/v1/users"): Rule(new_user, answers(201, ADMIN)),
    ("POST", "/api/v1/users/{username}/tokens"): Rule(node_token, answers(201, ADMIN)),
    ("GET", "/api/v1/stats/evaluation"): Rule(
        fixed("/api/v1/stats/evaluation"), answers(200, STAFF)
    ),
    ("GET", "/api/v1/stats/scores"): Rule(
        fixed("/api/v1/stats/scores"), answers(200, STAFF)
    ),
    ("GET", "/api/v1/stats/false-positives"): Rule(
        fixed("/api/v1/stats/false-positives"), answers(200, STAFF)
    ),
    ("GET", "/api/v1/stats/daily"): Rule(
        fixed("/api/v1/stats/daily"), answers(200, STAFF)
    ),
    ("GET", "/api/v1/events"): Rule(fixed("/api/v1/events"), answers(200, STAFF)),
    ("GET", "/api/v1/stats/hotspots"): Rule(
        fixed("/api/v1/stats/hotspots"), answers(200, STAFF)
    ),
    ("GET", "/api/v1/stats/durations"): Rule(
        fixed("/api/v1/stats/durations"), answers(200, STAFF)
    ),
    ("GET", "/api/v1/nodes"): Rule(fixed("/api/v1/nodes"), answers(200, STAFF)),
    ("GET", "/api/v1/system/ingest"): Rule(
        fixed("/api/v1/system/ingest"), answers(200, STAFF)
    ),
    ("GET", "/metrics"): Rule(fixed("/metrics"), answers(200, STAFF)),
    ("GET", "/api/v1/citizen/categories"): Rule(
        fixed("/api/v1/citizen/categories"), answers(200, EVERYONE, public=True)
    ),
    ("GET", "/api/v1/citizen/area"): Rule(
        fixed("/api/v1/citizen/area"), answers(200, EVERYONE, public=True)
    ),
    ("POST", "/api/v1/citizen/reports"): Rule(
        citizen_report, answers(201, EVERYONE, public=True)
    ),
    ("GET", "/api/v1/citizen/track"): Rule(
        on_tracking(""), answers(200, EVERYONE, public=True)
    ),
    ("POST", "/api/v1/citizen/track/rating"): Rule(
        on_tracking("/rating", closed=True, json={"rating": "satisfied"}),
        answers(200, EVERYONE, public=True),
    ),
    ("POST", "/api/v1/citizen/track/reopen"): Rule(
        on_tracking("/reopen", closed=True, json={"reason": "back again"}),
        answers(200, EVERYONE, public=True),
    ),
    ("GET", "/api/v1/citizen/reports/{ticket_id}"): Rule(
        citizen_report_for_staff, answers(200, STAFF)
    ),
    ("GET", "/open311/v2/services.json"): Rule(
        fixed("/open311/v2/services.json"), answers(200, EVERYONE, public=True)
    ),
    ("POST", "/open311/v2/requests.json"): Rule(
        open311_submit, answers(200, EVERYONE, public=True)
    ),
    ("GET", "/open311/v2/requests.json"): Rule(
        open311_list, answers(200, EVERYONE, public=True)
    ),
    ("GET", "/open311/v2/requests/{service_request_id}.json"): Rule(
        open311_one, answers(200, EVERYONE, public=True)
    ),
    ("GET", "/api/v1/admin/open311-clients"): Rule(
        fixed("/api/v1/admin/open311-clients"), answers(200, ADMIN)
    ),
    ("POST", "/api/v1/admin/open311-clients"): Rule(
        new_open311_client, answers(201, ADMIN)
    ),
    ("DELETE", "/api/v1/admin/open311-clients/{client_id}"): Rule(
        revoke_open311_client, answers(204, ADMIN)
    ),
    ("POST", "/api/v1/patrol/reports"): Rule(patrol_report, answers(201, WORKERS)),
    ("GET", "/api/v1/tickets/{ticket_id}/merges"): Rule(
        ticket_merges, answers(200, STAFF)
    ),
    ("POST", "/api/v1/tickets/{ticket_id}/split"): Rule(
        ticket_split, answers(200, STAFF)
    ),
    ("GET", "/api/v1/stats/points"): Rule(
        fixed("/api/v1/stats/points"), answers(200, STAFF)
    ),
    ("GET", "/api/v1/me/points"): Rule(
        fixed("/api/v1/me/points"), answers(200, WORKERS)
    ),
    ("GET", "/api/v1/warnings"): Rule(fixed("/api/v1/warnings"), answers(200, STAFF)),
    ("POST", "/api/v1/warnings/{warning_id}/ack"): Rule(
        on_warning, answers(200, STAFF)
    ),
    ("GET", "/api/v1/admin/workers"): Rule(
        fixed("/api/v1/admin/workers"), answers(200, ADMIN)
    ),
    ("GET", "/api/v1/admin/workers/{worker_id}"): Rule(
        on_fresh_worker(""), answers(200, ADMIN)
    ),
    ("POST", "/api/v1/admin/workers"): Rule(new_worker, answers(201, ADMIN)),
    ("PATCH", "/api/v1/admin/workers/{worker_id}"): Rule(
        on_fresh_worker("", json={"phone": "10000000000"}), answers(200, ADMIN)
    ),
    ("PUT", "/api/v1/admin/workers/{worker_id}/duty"): Rule(
        on_fresh_worker(
            "/duty",
            json={"windows": [{"days": [1], "start": "22:00", "end": "06:00"}]},
        ),
        answers(200, ADMIN),
    ),
    ("GET", "/api/v1/admin/departments"): Rule(
        fixed("/api/v1/admin/departments"), answers(200, ADMIN)
    ),
    ("GET", "/api/v1/matter-list"): Rule(
        fixed("/api/v1/matter-list"), answers(200, STAFF)
    ),
    ("GET", "/api/v1/matter-list/versions"): Rule(
        fixed("/api/v1/matter-list/versions"), answers(200, STAFF)
    ),
    ("GET", "/api/v1/matter-list/versions/{version_id}"): Rule(
        fixed("/api/v1/matter-list/versions/1"), answers(200, STAFF)
    ),
    ("POST", "/api/v1/matter-list/check"): Rule(matter_list_check, answers(200, ADMIN)),
    ("PUT", "/api/v1/matter-list"): Rule(matter_list_apply, answers(200, ADMIN)),
    ("POST", "/api/v1/admin/grids/import"): Rule(
        fixed(
            "/api/v1/admin/grids/import?dry_run=true",
            files={"file": ("grids.geojson", GRID_FILE, "application/geo+json")},
        ),
        answers(200, ADMIN),
    ),
}


def add_supervisor(api: Api) -> None:
    with api.context.sessions.begin() as session:
        hashed = session.scalar(select(User.password_hash).limit(1))
        session.add(
            User(
                username="supervisor",
                password_hash=hashed,
                role=UserRole.SUPERVISOR.value,
                created_at=api.clock.now(),
            )
        )


@pytest.fixture(scope="module")
def matrix_api(
    tmp_path_factory: pytest.TempPathFactory, password_hash: str
) -> Iterator[Api]:
    """One tiny city for the whole matrix: every call makes its own resources."""
    with open_api(tmp_path_factory.mktemp("matrix"), password_hash) as opened:
        add_supervisor(opened)
        yield opened


def fresh_token(api: Api, caller: Caller) -> str:
    with api.context.sessions.begin() as session:
        user = session.scalars(
            select(User).where(User.username == LOGINS[caller])
        ).one()
        return issue_token(
            session, user, now=api.clock.now(), ttl=timedelta(hours=1), label="matrix"
        )


def send(api: Api, method: str, call: Call, token: str | None) -> int:
    headers = dict(call.headers)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request: dict[str, Any] = {
        "headers": headers,
        "json": call.json,
        "data": call.data,
        "files": call.files,
        "content": call.content,
    }
    if call.is_stream:
        # An open event stream never ends: the status line is the answer.
        response: httpx.Response
        with api.client.stream(method, call.url, **request) as response:
            return response.status_code
    answered: httpx.Response = api.client.request(method, call.url, **request)
    return answered.status_code


def operations(openapi: Mapping[str, Any]) -> set[tuple[str, str]]:
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    return {
        (method.upper(), path)
        for path, item in openapi["paths"].items()
        for method in item
        if method in methods
    }


def test_every_operation_should_be_in_the_matrix(matrix_api: Api) -> None:
    documented = operations(app_of(matrix_api).openapi())
    missing = sorted(documented - MATRIX.keys())
    assert not missing, f"operations without a declared role matrix entry: {missing}"
    stale = sorted(MATRIX.keys() - documented)
    assert not stale, f"matrix entries for operations that no longer exist: {stale}"


def test_every_rule_should_name_every_caller() -> None:
    for key, rule in MATRIX.items():
        assert set(rule.expect) == set(CALLERS), key


@pytest.mark.parametrize(
    ("method", "path"), sorted(MATRIX), ids=[f"{m} {p}" for m, p in sorted(MATRIX)]
)
def test_each_caller_should_get_the_declared_status(
    matrix_api: Api, method: str, path: str
) -> None:
    rule = MATRIX[(method, path)]
    got: dict[Caller, int] = {}
    for caller in CALLERS:
        call = rule.prepare(matrix_api, caller)
        token = None if caller == "anonymous" else fresh_token(matrix_api, caller)
        got[caller] = send(matrix_api, method, call, token)
    wrong = {
        caller: f"got {got[caller]}, expected {rule.expect[caller]}"
        for caller in CALLERS
        if got[caller] != rule.expect[caller]
    }
    assert not wrong, f"{method} {path}: {wrong}"


def test_a_new_endpoint_without_an_entry_should_be_caught(matrix_api: Api) -> None:
    """The completeness check can fail: an app with one more route has an
    operation that the matrix does not declare."""
    app = create_app(matrix_api.context)

    def new_thing() -> dict[str, str]:
        return {}

    app.add_api_route("/api/v1/new-thing", new_thing, methods=["GET"])
    assert operations(app.openapi()) - MATRIX.keys() == {("GET", "/api/v1/new-thing")}

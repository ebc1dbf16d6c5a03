"""Patrol reports (网格员巡查上报): a worker reports a case for dispatch or
handles it at once (一格解决); only as themselves, once per client key."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.db.models import PatrolReport, Ticket, TicketHistory, UserRole
from central.tickets import service as service_module
from central.tickets.patrol import PatrolReportIn, find_reported
from central.tickets.service import Actor
from tests.central.api.conftest import (
    GRID_1,
    GRID_1_POINT,
    GRID_2,
    GRID_2_POINT,
    OUTSIDE_POINT,
    Api,
    tiny_jpeg,
)

REPORTS = "/api/v1/patrol/reports"
_KEYS = iter(range(10_000, 99_999))


def fresh_key() -> str:
    return f"phone-key-{next(_KEYS)}"


def form(point: tuple[float, float] = GRID_2_POINT, **extra: str) -> dict[str, str]:
    return {
        "client_key": fresh_key(),
        "matter_key": "littering",
        "description": "bags of rubbish by the bus stop",
        "lat": str(point[0]),
        "lon": str(point[1]),
        **extra,
    }


def photo(value: int = 120) -> tuple[str, bytes, str]:
    return ("photo.jpg", tiny_jpeg(value), "image/jpeg")


def report(
    api: Api,
    data: dict[str, str],
    *,
    user: str = "worker1",
    files: dict[str, Any] | None = None,
) -> httpx.Response:
    return api.post(user, REPORTS, data=data, files=files)


def patrol_tickets(api: Api) -> int:
    with api.context.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(PatrolReport)) or 0)


def history_actions(api: Api, ticket_id: int) -> list[tuple[str, str, str | None]]:
    with api.context.sessions() as session:
        rows = session.scalars(
            select(TicketHistory)
            .where(TicketHistory.ticket_id == ticket_id)
            .order_by(TicketHistory.id)
        )
        return [(h.action, h.actor, h.to_state) for h in rows]


def test_report_given_needs_dispatch_should_go_to_the_grids_worker(api: Api) -> None:
    response = report(api, form(GRID_2_POINT), files={"photo": photo()})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["replayed"] is False
    ticket = body["ticket"]
    assert ticket["source"] == "patrol"
    assert ticket["state"] == "dispatched"
    assert ticket["grid_code"] == GRID_2
    assert ticket["assignee_id"] == "w2"  # the grid's worker, not the reporter
    assert ticket["reporter"] == "worker1"
    assert ticket["snapshot_url"], "the photo is the ticket's picture"
    assert ticket["title"].endswith("bags of rubbish by the bus stop")
    assert ticket["due_at"] is not None
    assert [a for a, _, _ in history_actions(api, ticket["id"])] == [
        "create",
        "dispatch",
    ]
    notices = [(n.ticket_id, n.action, r) for n, r in api.notifier.notices]
    assert (ticket["id"], "dispatched", ("w2",)) in notices


def test_report_given_i_handle_it_should_be_accepted_and_resolved_by_me(
    api: Api,
) -> None:
    response = report(
        api,
        form(GRID_1_POINT, handling="self", resolution_note="picked the bags up"),
        files={"after_photo": photo(60)},
    )
    assert response.status_code == 201, response.text
    ticket = response.json()["ticket"]
    assert ticket["state"] == "resolved"
    assert ticket["assignee_id"] == "w1"
    assert ticket["grid_code"] == GRID_1
    assert ticket["resolution_note"] == "picked the bags up"
    assert ticket["resolution_photo_url"]
    assert ticket["dispatched_at"] == ticket["accepted_at"] == ticket["resolved_at"]
    # every step through the transition table, in the history, as the worker
    assert history_actions(api, ticket["id"]) == [
        ("create", "worker1", "pending_review"),
        ("dispatch", "worker1", "dispatched"),
        ("accept", "worker1", "accepted"),
        ("resolve", "worker1", "resolved"),
    ]
    mine = api.get("worker1", "/api/v1/me/tickets").json()["items"]
    assert ticket["id"] in [t["id"] for t in mine]
    closed = api.act("operator", ticket["id"], "close")
    assert closed.status_code == 200, closed.text
    assert closed.json()["state"] == "closed"


def test_report_given_the_same_key_again_should_answer_the_first_ticket(
    api: Api,
) -> None:
    data = form(GRID_1_POINT)
    first = report(api, data, files={"photo": photo()})
    again = report(api, data, files={"photo": photo()})
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json()["replayed"] is True
    assert again.json()["ticket"]["id"] == first.json()["ticket"]["id"]
    assert patrol_tickets(api) == 1
    # the key is the phone's, per worker: another worker's same key is theirs
    other = report(api, data, user="worker2")
    assert other.status_code == 201, other.text
    assert other.json()["replayed"] is False
    # ... a report of the same problem, which joins the first one's ticket
    assert other.json()["merged"] is True
    assert patrol_tickets(api) == 2


@pytest.mark.parametrize("user", ["operator", "admin", "node01"])
def test_report_given_a_caller_who_is_not_a_worker_should_be_403(
    api: Api, user: str
) -> None:
    response = report(api, form(), user=user)
    assert response.status_code == 403, response.text
    assert patrol_tickets(api) == 0


def test_report_given_no_login_should_be_401(api: Api) -> None:
    response = api.client.post(REPORTS, data=form())
    assert response.status_code == 401
    assert patrol_tickets(api) == 0


@pytest.mark.parametrize(
    ("change", "files", "says"),
    [
        ({"matter_key": "no_such_matter"}, None, "no category"),
        ({"lat": str(OUTSIDE_POINT[0]), "lon": str(OUTSIDE_POINT[1])}, None, "outside"),
        ({"lat": "91"}, None, "lat"),
        ({"lon": "nan"}, None, "lon"),
        ({"client_key": "short"}, None, "client_key"),
        ({"description": "bags\x00"}, None, "NUL"),
        ({"handling": "later"}, None, "handling"),
        ({"handling": "self", "resolution_note": "done"}, None, "after_photo"),
        ({"handling": "self"}, {"after_photo": photo()}, "resolution_note"),
    ],
)
def test_report_given_bad_input_should_be_422_and_store_nothing(
    api: Api, change: dict[str, str], files: dict[str, Any] | None, says: str
) -> None:
    response = report(api, {**form(), **change}, files=files)
    assert response.status_code == 422, response.text
    assert says in response.text
    assert patrol_tickets(api) == 0
    with api.context.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_report_given_a_file_that_is_not_a_photo_should_be_415(api: Api) -> None:
    response = report(
        api, form(), files={"photo": ("x.jpg", b"not a photo", "image/jpeg")}
    )
    assert response.status_code == 415, response.text
    assert patrol_tickets(api) == 0


def test_report_given_a_race_with_the_same_key_should_store_one(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two copies arriving at once: the second one's look-up misses the first
    (not committed yet), its insert then breaks the unique key, and it answers
    the first one's ticket."""
    data = form(GRID_1_POINT)
    first = report(api, data)
    assert first.status_code == 201, first.text
    looked_up: list[str] = []

    def blind_once(session: Session, *, worker_id: str, client_key: str) -> Any:
        looked_up.append(client_key)
        if len(looked_up) == 1:
            return None  # as if the first copy were not committed yet
        return find_reported(session, worker_id=worker_id, client_key=client_key)

    monkeypatch.setattr(service_module, "find_reported", blind_once)
    outcome = api.context.tickets.report_on_patrol(
        Actor("worker1", UserRole.WORKER, "w1"),
        PatrolReportIn(
            matter_key="littering",
            title="bags",
            description="bags",
            lat=GRID_1_POINT[0],
            lon=GRID_1_POINT[1],
            client_key=data["client_key"],
        ),
    )
    assert looked_up == [data["client_key"]] * 2
    assert outcome.replayed is True
    assert outcome.ticket.id == first.json()["ticket"]["id"]
    assert patrol_tickets(api) == 1
    with api.context.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1

"""One ticket per problem, on SQLite and PostgreSQL: a camera ticket, a patrol
report, a citizen report and an Open311 request of the same matter near the
same place merge into one ticket; an operator splits a wrong merge (audited)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from central.db.models import (
    AuditEntry,
    CitizenReport,
    PatrolReport,
    Ticket,
    TicketHistory,
)
from central.tickets import service as service_module
from central.tickets.merging import MergeTarget, merge_into
from tests.central.api.conftest import (
    GRID_1_POINT,
    Api,
    add_ai_ticket,
    open_api,
)

M_PER_DEG_LAT = 110_574.0
MERGES = "/api/v1/tickets/{}/merges"
SPLIT = "/api/v1/tickets/{}/split"


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def city(
    request: pytest.FixtureRequest, tmp_path: Path, password_hash: str
) -> Iterator[Api]:
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    with open_api(tmp_path, password_hash, database_url=url) as opened:
        yield opened


def north(metres: float) -> tuple[float, float]:
    """A point `metres` north of GRID_1_POINT (still in grid 1 up to ~275 m)."""
    return GRID_1_POINT[0] + metres / M_PER_DEG_LAT, GRID_1_POINT[1]


def patrol(api: Api, point: tuple[float, float], key: str) -> dict[str, Any]:
    response = api.post(
        "worker2",
        "/api/v1/patrol/reports",
        data={
            "client_key": key,
            "matter_key": "littering",
            "description": "overflowing bin",
            "lat": str(point[0]),
            "lon": str(point[1]),
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def citizen(
    api: Api, point: tuple[float, float], matter_key: str = "littering"
) -> dict[str, Any]:
    response = api.client.post(
        "/api/v1/citizen/reports",
        data={
            "matter_key": matter_key,
            "description": "rubbish bags at the corner",
            "lat": str(point[0]),
            "lon": str(point[1]),
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def open311(api: Api, point: tuple[float, float]) -> str:
    key = api.post("admin", "/api/v1/admin/open311-clients", json={"name": "12345"})
    assert key.status_code == 201, key.text
    response = api.client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key.json()["api_key"],
            "service_code": "littering",
            "lat": str(point[0]),
            "long": str(point[1]),
            "description": "hotline: rubbish at the bus stop",
            "external_id": "12345-2026-000777",
        },
    )
    assert response.status_code == 200, response.text
    request_id: str = response.json()[0]["service_request_id"]
    return request_id


def track(api: Api, token: str) -> dict[str, Any]:
    response = api.client.get(
        "/api/v1/citizen/track", headers={"X-Tracking-Token": token}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ticket(api: Api, ticket_id: int) -> dict[str, Any]:
    response = api.get("operator", f"/api/v1/tickets/{ticket_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def split(api: Api, ticket_id: int, merge_id: int, user: str = "operator") -> Any:
    response: httpx.Response = api.post(
        user,
        SPLIT.format(ticket_id),
        json={"merge_id": merge_id, "reason": "a different bin across the road"},
    )
    return response


def test_every_channel_should_join_the_camera_ticket_and_keep_its_reporter(
    city: Api,
) -> None:
    camera = add_ai_ticket(city.context, state="dispatched", assignee_id="w1")
    by_patrol = patrol(city, north(10), "merge-key-0001")
    by_citizen = citizen(city, north(-12))
    by_hotline = open311(city, north(5))
    assert by_patrol["merged"] is True
    assert by_patrol["ticket"]["id"] == camera
    assert by_citizen["reference"] == camera
    assert by_hotline == str(camera)

    merged = ticket(city, camera)
    assert merged["observations"] == 4
    assert [h["action"] for h in merged["history"]].count("merge") == 3
    listed = city.get("operator", MERGES.format(camera)).json()["items"]
    assert [m["source"] for m in listed] == ["patrol", "citizen", "open311"]
    assert 9 < listed[0]["distance_m"] < 11
    # the citizen follows the camera ticket, in plain words
    followed = track(city, by_citizen["tracking_token"])
    assert followed["reference"] == camera
    assert followed["state"] == "dispatched"
    words = [s["words"] for s in followed["steps"]]
    assert "Reported again: handled together as one case" in words
    # the worker holding it heard of each report
    merged_notices = [n for n in city.notifier.notices if n[0].action == "merged"]
    assert [targets for _, targets in merged_notices] == [("w1",)] * 3
    with city.context.sessions() as session:
        reporters = session.scalars(
            select(CitizenReport.channel).where(CitizenReport.ticket_id == camera)
        )
        assert sorted(reporters) == ["open311", "web"]


def test_reports_far_away_late_or_of_another_matter_should_open_their_own(
    city: Api,
) -> None:
    first = citizen(city, GRID_1_POINT)["reference"]
    far = citizen(city, north(45))["reference"]  # littering merges within 30 m
    other = citizen(city, GRID_1_POINT, matter_key="illegal_parking")["reference"]
    city.clock.advance(timedelta(minutes=31))  # littering merges within 30 min
    late = citizen(city, GRID_1_POINT)["reference"]
    assert len({first, far, other, late}) == 4
    assert ticket(city, first)["observations"] == 1


def test_a_closed_ticket_should_not_take_new_reports(city: Api) -> None:
    closed = add_ai_ticket(city.context, state="closed", assignee_id="w1")
    assert citizen(city, GRID_1_POINT)["reference"] != closed


def test_an_operator_should_split_a_wrong_merge_into_its_own_ticket(
    city: Api,
) -> None:
    camera = add_ai_ticket(city.context, state="dispatched", assignee_id="w1")
    by_citizen = citizen(city, north(8))
    by_patrol = patrol(city, north(-8), "merge-key-0002")
    listed = city.get("operator", MERGES.format(camera)).json()["items"]
    citizen_merge = listed[0]["id"]

    city.clock.advance(timedelta(minutes=5))
    response = split(city, camera, citizen_merge)
    assert response.status_code == 200, response.text
    body = response.json()
    own = body["split_ticket"]
    assert body["ticket"]["id"] == camera and body["ticket"]["observations"] == 2
    assert own["id"] != camera
    assert (own["source"], own["matter_key"]) == ("citizen", "littering")
    assert own["lat"] == pytest.approx(north(8)[0])
    assert own["state"] == "dispatched" and own["assignee_id"] == "w1"
    assert own["reporter"] is None  # a citizen's contact never enters a ticket
    # the citizen's link now follows the new ticket
    assert track(city, by_citizen["tracking_token"])["reference"] == own["id"]
    # the patrol report stays merged
    with city.context.sessions() as session:
        patrol_row = session.scalar(
            select(PatrolReport).where(PatrolReport.client_key == "merge-key-0002")
        )
        assert patrol_row is not None and patrol_row.ticket_id == camera
        notes = session.scalars(
            select(TicketHistory.note).where(
                TicketHistory.ticket_id == camera, TicketHistory.action == "split"
            )
        )
        assert [n for n in notes if n and f"ticket {own['id']}" in n]
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "ticket_split")
        ).one()
    assert (audit.actor, audit.target) == ("operator", f"ticket:{camera}")
    assert audit.detail["split_ticket_id"] == own["id"]
    after = city.get("operator", MERGES.format(camera)).json()["items"]
    assert after[0]["split_ticket_id"] == own["id"]
    assert after[0]["split_by"] == "operator"
    assert by_patrol["ticket"]["id"] == camera


def test_a_split_should_be_refused_when_wrong_twice_or_not_staff(city: Api) -> None:
    camera = add_ai_ticket(city.context, state="dispatched", assignee_id="w1")
    citizen(city, north(8))
    merge_id = city.get("operator", MERGES.format(camera)).json()["items"][0]["id"]
    other = add_ai_ticket(city.context, event_id="evt-other-0001")

    assert split(city, camera, merge_id, user="worker1").status_code == 403
    assert city.client.post(SPLIT.format(camera), json={}).status_code == 401
    wrong_ticket = split(city, other, merge_id)
    assert wrong_ticket.status_code == 422
    assert "not a report merged" in wrong_ticket.text
    no_reason = city.post(
        "operator", SPLIT.format(camera), json={"merge_id": merge_id, "reason": ""}
    )
    assert no_reason.status_code == 422
    assert split(city, 999_999, merge_id).status_code == 404
    assert split(city, camera, merge_id).status_code == 200
    again = split(city, camera, merge_id)
    assert again.status_code == 422 and "split off already" in again.text
    assert city.get("worker1", MERGES.format(camera)).status_code == 403


def test_the_patrol_reporters_should_hear_how_the_ticket_ended(city: Api) -> None:
    camera = add_ai_ticket(city.context, state="dispatched", assignee_id="w1")
    patrol(city, north(4), "merge-key-0003")  # worker2's report joins it
    assert city.act("worker1", camera, "accept").status_code == 200
    resolved = city.act("worker1", camera, "resolve", data={"note": "cleared"})
    assert resolved.status_code == 200, resolved.text
    closed = city.act("operator", camera, "close", json={"note": "checked"})
    assert closed.status_code == 200, closed.text
    told = [
        (notice.action, targets)
        for notice, targets in city.notifier.notices
        if notice.ticket_id == camera and notice.action == "closed"
    ]
    assert told == [("closed", ("w1",)), ("closed", ("w2",))]


@pytest.mark.integration
def test_a_report_racing_another_change_of_the_ticket_should_still_join(
    tmp_path: Path,
    password_hash: str,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with open_api(tmp_path, password_hash, database_url=postgres_url) as api:
        camera = add_ai_ticket(api.context, state="dispatched", assignee_id="w1")
        calls: list[int] = []

        def racing(session: Session, target: MergeTarget, *args: Any, **kw: Any) -> Any:
            if not calls:  # a camera event joins the ticket just before this one
                with api.context.engine.begin() as conn:
                    conn.execute(
                        update(Ticket)
                        .where(Ticket.id == target.ticket.id)
                        .values(
                            observations=Ticket.observations + 1,
                            version=Ticket.version + 1,
                        )
                    )
            calls.append(target.ticket.id)
            return merge_into(session, target, *args, **kw)

        monkeypatch.setattr(service_module, "merge_into", racing)
        assert citizen(api, north(5))["reference"] == camera
        assert calls == [camera, camera]  # tried again once
        assert ticket(api, camera)["observations"] == 3
        with api.context.sessions() as session:
            rows = session.scalars(
                select(CitizenReport).where(CitizenReport.ticket_id == camera)
            ).all()
        assert len(rows) == 1  # the first try's row was rolled back

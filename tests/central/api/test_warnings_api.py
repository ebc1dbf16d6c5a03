"""Hotspot warnings over HTTP: listed for staff, acknowledged once (audited),
pushed live on the staff stream."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from central.auth.users import issue_token
from central.db.models import AuditEntry, HotspotWarning, User, UserRole
from central.warnings.job import WarningFeed
from tests.central.api.conftest import COMMUNITY, GRID_1, GRID_2, Api
from tests.central.api.test_stream import sse_messages


def add_warning(api: Api, grid: str, category: str, state: str = "open") -> int:
    now = api.clock.now()
    with api.context.sessions.begin() as session:
        row = HotspotWarning(
            grid_code=grid,
            category_code=category,
            category_name="市容环境/暴露垃圾",
            state=state,
            window_days=3,
            observed=5,
            expected=0.4,
            p_value=2e-5,
            opened_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        return row.id


def supervisor_token(api: Api) -> dict[str, str]:
    with api.context.sessions.begin() as session:
        hashed = session.scalar(select(User.password_hash).limit(1))
        user = User(
            username="supervisor",
            password_hash=hashed,
            role=UserRole.SUPERVISOR.value,
            created_at=api.clock.now(),
        )
        session.add(user)
        session.flush()
        token = issue_token(session, user, now=api.clock.now(), ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


def test_staff_should_list_warnings_with_filters(api: Api) -> None:
    first = add_warning(api, GRID_1, "0102")
    add_warning(api, GRID_2, "0102", state="acknowledged")
    api.clock.advance(timedelta(minutes=1))
    add_warning(api, GRID_2, "0511")
    body = api.get("operator", "/api/v1/warnings").json()
    assert body["count"] == 3
    assert body["data"][0]["category_code"] == "0511"  # newest first
    only_open = api.get("admin", "/api/v1/warnings", params={"state": "open"}).json()
    assert {w["grid_code"] for w in only_open["data"]} == {GRID_1, GRID_2}
    in_grid = api.get("operator", "/api/v1/warnings", params={"area": GRID_1}).json()
    assert [w["id"] for w in in_grid["data"]] == [first]
    in_community = api.get(
        "operator", "/api/v1/warnings", params={"area": COMMUNITY}
    ).json()
    assert in_community["count"] == 3
    several = api.get(
        "operator",
        "/api/v1/warnings",
        params=[("state", "open"), ("state", "acknowledged")],
    ).json()
    assert several["count"] == 3
    supervisor = api.client.get("/api/v1/warnings", headers=supervisor_token(api))
    assert supervisor.status_code == 200


def test_workers_and_bad_filters_should_be_refused(api: Api) -> None:
    assert api.get("worker1", "/api/v1/warnings").status_code == 403
    assert api.get("node01", "/api/v1/warnings").status_code == 403
    unknown = api.get("operator", "/api/v1/warnings", params={"area": "999"})
    assert unknown.status_code == 404
    bad = api.get("operator", "/api/v1/warnings", params={"state": "closed"})
    assert bad.status_code == 422


def test_a_warning_should_be_acknowledged_once_and_audited(api: Api) -> None:
    warning_id = add_warning(api, GRID_1, "0102")
    url = f"/api/v1/warnings/{warning_id}/ack"
    assert api.post("worker1", url).status_code == 403
    done = api.client.post(url, headers=supervisor_token(api))
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "acknowledged"
    assert done.json()["acknowledged_by"] == "supervisor"
    again = api.post("operator", url)
    assert again.status_code == 409
    assert api.post("operator", "/api/v1/warnings/99999/ack").status_code == 404
    with api.context.sessions() as session:
        audits = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "warning_acknowledged")
        ).all()
    assert [(a.actor, a.target) for a in audits] == [
        ("supervisor", f"warning:{warning_id}")
    ]


@pytest.mark.timeout(30)
def test_the_staff_stream_should_carry_warnings(api: Api) -> None:
    feed = WarningFeed(api.context, lookback=timedelta(minutes=1))
    with api.client.stream(
        "GET", "/api/v1/tickets/stream", headers=api.auth("operator")
    ) as response:
        assert response.status_code == 200
        messages = sse_messages(response.iter_text())
        assert next(messages).startswith(": connected")
        warning_id = add_warning(api, GRID_1, "0102")
        assert len(feed.poll()) == 1
        seen = False
        for message in messages:
            if message.startswith(":"):
                continue
            lines = message.split("\n")
            assert lines[0] == "event: warning"
            assert f'"id":{warning_id}' in lines[1]
            assert '"schema":"gw.warning/1"' in lines[1]
            seen = True
            break
        assert seen, "the stream ended without the warning"

"""Server-Sent Events: worker and staff streams of ticket notices, opened with
the bearer header or a single-use stream ticket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update

from central.api import routes_stream
from central.auth.links import DEFAULT_STREAM_TTL_S
from central.db.models import ApiToken, User
from gridwatch.contract import TicketNotice
from tests.central.api.conftest import START, Api


def notice(ticket_id: int, assignee: str) -> TicketNotice:
    return TicketNotice(
        ticket_id=ticket_id,
        action="dispatched",
        state="dispatched",
        title=f"ticket {ticket_id}",
        category_code="0102",
        category_name="市容环境/暴露垃圾",
        priority="normal",
        assignee_id=assignee,
        found_at=datetime(2026, 11, 25, 2, 0, tzinfo=UTC),
    )


def sse_messages(chunks: Iterator[str]) -> Iterator[str]:
    """Whole SSE messages (blank-line separated) from a text stream."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk
        while "\n\n" in buffer:
            message, buffer = buffer.split("\n\n", 1)
            yield message


def stream_ticket(api: Api, user: str) -> dict[str, object]:
    response = api.post(user, "/api/v1/stream-tickets")
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def first_ticket_event(messages: Iterator[str]) -> dict[str, object]:
    for message in messages:
        if message.startswith(":") or message.startswith("retry"):
            continue
        lines = message.split("\n")
        assert lines[0] == "event: ticket"
        assert lines[1].startswith("data: ")
        data: dict[str, object] = json.loads(lines[1].removeprefix("data: "))
        return data
    raise AssertionError("the stream ended")


@pytest.mark.timeout(30)
def test_a_worker_stream_should_receive_its_notices_only(api: Api) -> None:
    stream = api.context.stream
    with api.client.stream(
        "GET", "/api/v1/me/tickets/stream", headers=api.auth("worker1")
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        messages = sse_messages(response.iter_text())
        hello = next(messages)
        assert hello.startswith(": connected")  # subscribed from here on
        assert stream.listener_count() == 1
        stream.ticket_changed(notice(1, "w2"), ["w2"])  # someone else's
        stream.ticket_changed(notice(2, "w1"), ["w1"])
        data = first_ticket_event(messages)
        assert data["ticket_id"] == 2
        assert data["schema"] == "gw.ticket/1"
        assert data["assignee_id"] == "w1"
    assert stream.listener_count() == 0  # unsubscribed on disconnect


@pytest.mark.timeout(30)
def test_the_staff_stream_should_receive_every_notice(api: Api) -> None:
    stream = api.context.stream
    url = stream_ticket(api, "operator")["url"]
    assert isinstance(url, str)
    with api.client.stream("GET", url) as response:
        assert response.status_code == 200
        messages = sse_messages(response.iter_text())
        next(messages)
        stream.ticket_changed(notice(7, "w2"), ["w2"])
        assert first_ticket_event(messages)["ticket_id"] == 7
    assert stream.listener_count() == 0


@pytest.mark.timeout(30)
def test_an_idle_stream_should_send_keep_alive_comments(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_stream, "KEEPALIVE_S", 0.05)
    with api.client.stream(
        "GET", "/api/v1/me/tickets/stream", headers=api.auth("worker1")
    ) as response:
        messages = sse_messages(response.iter_text())
        next(messages)
        assert next(messages) == ": keep-alive"
    assert api.context.stream.listener_count() == 0


def test_streams_should_check_the_role(api: Api) -> None:
    assert api.client.get("/api/v1/me/tickets/stream").status_code == 401
    assert api.get("operator", "/api/v1/me/tickets/stream").status_code == 403
    assert api.get("worker1", "/api/v1/tickets/stream").status_code == 403
    assert api.context.stream.listener_count() == 0


def test_a_stream_ticket_should_name_the_users_stream(api: Api) -> None:
    worker = stream_ticket(api, "worker1")
    assert worker["url"] == f"/api/v1/me/tickets/stream?ticket={worker['ticket']}"
    expires = START + timedelta(seconds=DEFAULT_STREAM_TTL_S)
    assert str(worker["expires_at"]).startswith(expires.strftime("%Y-%m-%dT%H:%M:%S"))
    assert api.tokens["worker1"] not in str(worker["ticket"])
    staff = stream_ticket(api, "admin")
    assert str(staff["url"]).startswith("/api/v1/tickets/stream?ticket=")
    # edge nodes have no stream; nobody without a token gets a ticket
    assert api.post("node01", "/api/v1/stream-tickets").status_code == 403
    assert api.client.post("/api/v1/stream-tickets").status_code == 401


@pytest.mark.timeout(30)
def test_a_stream_ticket_should_open_the_stream_once(api: Api) -> None:
    stream = api.context.stream
    url = str(stream_ticket(api, "worker1")["url"])
    with api.client.stream("GET", url) as response:
        assert response.status_code == 200
        messages = sse_messages(response.iter_text())
        next(messages)
        stream.ticket_changed(notice(1, "w2"), ["w2"])  # someone else's
        stream.ticket_changed(notice(3, "w1"), ["w1"])
        assert first_ticket_event(messages)["ticket_id"] == 3
    assert stream.listener_count() == 0
    again = api.client.get(url)
    assert again.status_code == 401
    assert again.json()["detail"] == "stream ticket already used: ask for a new one"


def test_an_expired_stream_ticket_should_get_401(api: Api) -> None:
    url = str(stream_ticket(api, "worker1")["url"])
    api.clock.advance(timedelta(seconds=DEFAULT_STREAM_TTL_S))
    response = api.client.get(url)
    assert response.status_code == 401
    assert response.json()["detail"].startswith("stream ticket expired at ")
    assert api.context.stream.listener_count() == 0


def test_a_stream_ticket_should_open_only_its_users_stream(api: Api) -> None:
    worker = stream_ticket(api, "worker1")
    # a worker's ticket does not open the staff stream
    staff_url = f"/api/v1/tickets/stream?ticket={worker['ticket']}"
    assert api.client.get(staff_url).status_code == 403
    # another user's id in the ticket breaks its signature
    uid, rest = str(stream_ticket(api, "worker1")["ticket"]).split(".", 1)
    forged = f"/api/v1/me/tickets/stream?ticket={int(uid) + 1}.{rest}"
    response = api.client.get(forged)
    assert response.status_code == 401
    assert response.json()["detail"] == "stream ticket signature is not valid"
    for bad in ("nonsense", "1.2.3", "a.b.c.d"):
        bad_response = api.client.get(f"/api/v1/me/tickets/stream?ticket={bad}")
        assert bad_response.status_code == 401
        assert bad_response.json()["detail"] == "malformed stream ticket"
    assert api.context.stream.listener_count() == 0


def _revoked_after(messages: Iterator[str]) -> list[str]:
    """The messages up to and including `event: revoked` (the stream then ends)."""
    seen: list[str] = []
    for message in messages:
        seen.append(message)
        if message.startswith("event: revoked"):
            return seen
    raise AssertionError(f"the stream ended without a revoked event: {seen}")


@pytest.mark.timeout(30)
def test_a_stream_should_end_once_its_token_is_logged_out(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_stream, "KEEPALIVE_S", 0.05)
    with api.client.stream(
        "GET", "/api/v1/me/tickets/stream", headers=api.auth("worker1")
    ) as response:
        messages = sse_messages(response.iter_text())
        next(messages)
        assert next(messages) == ": keep-alive"  # still allowed: goes on
        with api.context.sessions.begin() as session:  # what logout does
            session.execute(delete(ApiToken))
        assert _revoked_after(messages)[-1] == "event: revoked\ndata: {}"
    assert api.context.stream.listener_count() == 0


@pytest.mark.timeout(30)
def test_a_stream_opened_with_a_ticket_should_end_when_its_user_is_disabled(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_stream, "KEEPALIVE_S", 0.05)
    url = str(stream_ticket(api, "worker1")["url"])
    with api.client.stream("GET", url) as response:
        messages = sse_messages(response.iter_text())
        next(messages)
        assert next(messages) == ": keep-alive"
        with api.context.sessions.begin() as session:
            session.execute(
                update(User).where(User.username == "worker1").values(active=False)
            )
        assert _revoked_after(messages)[-1] == "event: revoked\ndata: {}"
    assert api.context.stream.listener_count() == 0

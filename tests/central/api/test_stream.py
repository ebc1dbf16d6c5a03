"""Server-Sent Events: worker and staff streams of ticket notices."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from central.api import routes_stream
from gridwatch.contract import TicketNotice
from tests.central.api.conftest import Api


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
    url = f"/api/v1/tickets/stream?access_token={api.tokens['operator']}"
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

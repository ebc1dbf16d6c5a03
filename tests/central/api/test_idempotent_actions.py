"""Idempotent ticket actions (`central/api/idempotency.py`): a worker's action
sent again with its `Idempotency-Key` (a phone's offline queue, a retry) gets
the first outcome back and acts once, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from central.api.idempotency import REPLAY_HEADER, STALE_AFTER, ActionRequest
from central.config import RetentionSettings
from central.db.models import MediaObject, TicketActionKey, TicketHistory
from central.media import MediaStore
from central.retention import apply_retention
from central.tickets.states import TicketAction
from tests.central.api.conftest import Api, open_api, tiny_jpeg

KEY = "0b7c6f0e-1d2a-4c1e-9f7a-3c5d2e1b0a99"


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


def act(
    api: Api, user: str, tid: int, action: str, key: str | None, **kwargs: Any
) -> httpx.Response:
    headers = api.auth(user)
    if key is not None:
        headers["Idempotency-Key"] = key
    response: httpx.Response = api.client.post(
        f"/api/v1/tickets/{tid}/{action}", headers=headers, **kwargs
    )
    return response


def history_actions(api: Api, tid: int) -> list[str]:
    with api.context.sessions() as session:
        return list(
            session.scalars(
                select(TicketHistory.action)
                .where(TicketHistory.ticket_id == tid)
                .order_by(TicketHistory.id)
            )
        )


def photo(value: int = 120) -> dict[str, tuple[str, bytes, str]]:
    return {"photo": ("after.jpg", tiny_jpeg(value), "image/jpeg")}


# -- the fingerprint --------------------------------------------------------------


@pytest.mark.parametrize(
    ("other", "same"),
    [
        (ActionRequest.of(5, TicketAction.RESOLVE, note="done"), True),
        (ActionRequest.of(5, TicketAction.RESOLVE, note="done", photo=b""), False),
        (ActionRequest.of(5, TicketAction.RESOLVE, note="done."), False),
        (ActionRequest.of(6, TicketAction.RESOLVE, note="done"), False),
        (ActionRequest.of(5, TicketAction.ACCEPT), False),
    ],
)
def test_fingerprint_given_parts_should_differ_when_any_part_does(
    other: ActionRequest, same: bool
) -> None:
    first = ActionRequest.of(5, TicketAction.RESOLVE, note="done")
    assert (first.fingerprint == other.fingerprint) is same
    assert len(first.fingerprint) == 64


# -- replays ------------------------------------------------------------------------


def test_accept_sent_twice_with_its_key_should_answer_the_same_and_act_once(
    city: Api,
) -> None:
    tid = city.create_ticket()["id"]
    first = act(city, "worker1", tid, "accept", KEY)
    city.clock.advance(timedelta(minutes=3))
    again = act(city, "worker1", tid, "accept", KEY)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json()
    assert again.headers[REPLAY_HEADER] == "true"
    assert REPLAY_HEADER not in first.headers
    assert history_actions(city, tid).count("accept") == 1


def test_resolve_with_a_photo_sent_twice_should_resolve_once(city: Api) -> None:
    tid = city.create_ticket()["id"]
    assert act(city, "worker1", tid, "accept", None).status_code == 200
    form = {"note": "bags taken away"}
    first = act(city, "worker1", tid, "resolve", KEY, data=form, files=photo())
    again = act(city, "worker1", tid, "resolve", KEY, data=form, files=photo())
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json()
    assert first.json()["state"] == "resolved"
    assert first.json()["resolution_photo_url"]
    assert history_actions(city, tid).count("resolve") == 1
    with city.context.sessions() as session:
        photos = session.scalar(
            select(func.count())
            .select_from(MediaObject)
            .where(MediaObject.ticket_id == tid)
        )
    assert photos == 1


def test_without_a_key_a_second_accept_should_be_refused_as_before(
    city: Api,
) -> None:
    tid = city.create_ticket()["id"]
    assert act(city, "worker1", tid, "accept", None).status_code == 200
    again = act(city, "worker1", tid, "accept", None)
    assert again.status_code == 409
    assert "is accepted: cannot accept" in again.json()["detail"]


def test_a_refusal_should_be_replayed_as_it_was(city: Api) -> None:
    tid = city.create_ticket()["id"]
    refused = act(city, "worker1", tid, "resolve", KEY, data={"note": "done"})
    assert refused.status_code == 409
    assert act(city, "worker1", tid, "accept", None).status_code == 200
    # The ticket now allows resolving, but this key's answer was a refusal.
    again = act(city, "worker1", tid, "resolve", KEY, data={"note": "done"})
    assert again.status_code == 409
    assert again.json() == refused.json()
    assert again.headers[REPLAY_HEADER] == "true"
    assert "resolve" not in history_actions(city, tid)


# -- keys used wrongly ------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "form", "files"),
    [
        ("resolve", {"note": "something else was done"}, None),
        ("resolve", {"note": "bags taken away"}, photo(30)),
        ("accept", None, None),
    ],
)
def test_a_used_key_with_another_request_should_be_refused_and_change_nothing(
    city: Api, action: str, form: dict[str, str] | None, files: Any
) -> None:
    tid = city.create_ticket()["id"]
    assert act(city, "worker1", tid, "accept", None).status_code == 200
    first = act(city, "worker1", tid, "resolve", KEY, data={"note": "bags taken away"})
    assert first.status_code == 200, first.text
    other = act(city, "worker1", tid, action, KEY, data=form, files=files)
    assert other.status_code == 422
    assert "was used for another request (resolve of ticket" in other.json()["detail"]
    stored = city.get("operator", f"/api/v1/tickets/{tid}").json()
    assert stored["resolution_note"] == "bags taken away"
    assert stored["resolution_photo_url"] is None


def test_the_same_key_from_another_worker_should_be_their_own(city: Api) -> None:
    mine = city.create_ticket()["id"]
    theirs = city.create_ticket(point=(23.1225, 113.3275))["id"]  # grid 2: w2
    assert act(city, "worker1", mine, "accept", KEY).status_code == 200
    answer = act(city, "worker2", theirs, "accept", KEY)
    assert answer.status_code == 200, answer.text
    assert REPLAY_HEADER not in answer.headers


@pytest.mark.parametrize(
    ("key", "expectation"),
    [
        ("short", pytest.raises(AssertionError)),
        ("has space in it", pytest.raises(AssertionError)),
        ("x" * 65, pytest.raises(AssertionError)),
        ("abcDEF12_-", nullcontext()),
    ],
)
def test_key_given_its_form_should_be_checked(
    api: Api, key: str, expectation: Any
) -> None:
    tid = api.create_ticket()["id"]
    answer = act(api, "worker1", tid, "accept", key)
    with expectation:
        assert answer.status_code == 200, answer.text
    if answer.status_code != 200:
        assert answer.status_code == 422
        assert "Idempotency-Key" in answer.text


def test_a_key_still_in_use_should_say_retry_then_be_taken_over_when_stale(
    city: Api,
) -> None:
    tid = city.create_ticket()["id"]
    with city.context.sessions.begin() as session:  # a first request still running
        session.add(
            TicketActionKey(
                username="worker1",
                key=KEY,
                ticket_id=tid,
                action="accept",
                fingerprint=ActionRequest.of(tid, TicketAction.ACCEPT).fingerprint,
                created_at=city.clock.now(),
            )
        )
    busy = act(city, "worker1", tid, "accept", KEY)
    assert busy.status_code == 409
    assert "still being handled" in busy.json()["detail"]
    city.clock.advance(STALE_AFTER + timedelta(seconds=1))  # it died
    taken = act(city, "worker1", tid, "accept", KEY)
    assert taken.status_code == 200, taken.text
    assert history_actions(city, tid).count("accept") == 1


def test_a_failure_that_may_pass_should_free_the_key(city: Api) -> None:
    tid = city.create_ticket()["id"]
    assert act(city, "worker1", tid, "accept", None).status_code == 200
    not_a_photo = {"photo": ("after.jpg", b"not an image", "image/jpeg")}
    refused = act(
        city, "worker1", tid, "resolve", KEY, data={"note": "x"}, files=not_a_photo
    )
    assert refused.status_code == 415, refused.text
    # The key is free again: the same key with a good request acts.
    fixed = act(city, "worker1", tid, "resolve", KEY, data={"note": "x"})
    assert fixed.status_code == 200, fixed.text
    assert REPLAY_HEADER not in fixed.headers


# -- a ticket that changed while the action waited on the phone -------------------


def test_an_action_arriving_after_the_ticket_was_reassigned_should_say_so(
    city: Api,
) -> None:
    tid = city.create_ticket()["id"]
    moved = city.act("operator", tid, "reassign", json={"worker_id": "w2"})
    assert moved.status_code == 200, moved.text
    late = act(city, "worker1", tid, "accept", KEY)
    assert late.status_code == 404
    assert late.json()["detail"] == (
        f"ticket {tid} was given to another worker: your accept was not applied"
    )
    # A ticket worker1 never held stays a plain "not found" (nothing revealed).
    other = city.create_ticket(point=(23.1225, 113.3275))["id"]
    never = act(city, "worker1", other, "accept", None)
    assert never.status_code == 404
    assert never.json()["detail"] == f"ticket {other} not found"


# -- expiry -------------------------------------------------------------------------


def test_keys_should_expire_after_the_retention_setting(
    city: Api, tmp_path: Path
) -> None:
    tid = city.create_ticket()["id"]
    assert act(city, "worker1", tid, "accept", KEY).status_code == 200
    settings = RetentionSettings(
        event_media_days=None,
        event_messages_days=None,
        citizen_contact_days=None,
        action_key_days=30,
    )
    media = MediaStore(tmp_path / "media")
    age_keys(city, days=29)
    assert apply_retention(city.context, media, settings).action_keys_deleted == 0
    assert act(city, "worker1", tid, "accept", KEY).headers[REPLAY_HEADER] == "true"
    age_keys(city, days=31)
    assert apply_retention(city.context, media, settings).action_keys_deleted == 1
    # Gone: the key acts as a new request, which the ticket's state refuses.
    late = act(city, "worker1", tid, "accept", KEY)
    assert late.status_code == 409
    assert REPLAY_HEADER not in late.headers
    assert history_actions(city, tid).count("accept") == 1


def age_keys(api: Api, *, days: int) -> None:
    """Date every key `days` back (the clock stays: the login tokens expire)."""
    with api.context.sessions.begin() as session:
        session.execute(
            update(TicketActionKey).values(
                created_at=api.clock.now() - timedelta(days=days)
            )
        )

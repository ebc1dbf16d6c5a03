"""Signed media links: issued with the bearer header, used without one."""

from __future__ import annotations

import hashlib
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import select, update

from central.auth.links import (
    DEFAULT_MEDIA_TTL_S,
    DEFAULT_STREAM_TTL_S,
    LinkRefused,
    LinkSigner,
)
from central.db.models import Ticket, User
from tests.central.api.conftest import START, Api, add_ai_ticket, tiny_jpeg

SECRET = b"k" * 32


def stored_snapshot(api: Api, value: int = 9, assignee: str = "w1") -> str:
    """A snapshot of an event of a ticket held by `assignee`; its sha256."""
    jpeg = tiny_jpeg(value)
    event_id = f"evt-{value:010d}"
    add_ai_ticket(
        api.context, state="dispatched", assignee_id=assignee, event_id=event_id
    )
    uploaded = api.put("node01", f"/api/v1/media/{event_id}/snapshot", content=jpeg)
    assert uploaded.status_code == 200, uploaded.text
    return hashlib.sha256(jpeg).hexdigest()


def link_of(api: Api, user: str, sha: str) -> str:
    response = api.post(user, f"/api/v1/media/{sha}/link")
    assert response.status_code == 200, response.text
    url: str = response.json()["url"]
    return url


def with_params(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    params.update(changes)
    return f"{parts.path}?{urlencode(params)}"


def user_id(api: Api, username: str) -> int:
    with api.context.sessions() as session:
        found = session.scalar(select(User.id).where(User.username == username))
    assert found is not None
    return found


def test_a_signed_link_should_open_the_media_without_a_header(api: Api) -> None:
    sha = stored_snapshot(api)
    response = api.post("worker1", f"/api/v1/media/{sha}/link")
    assert response.status_code == 200, response.text
    body = response.json()
    expires = START + timedelta(seconds=DEFAULT_MEDIA_TTL_S)
    assert body["expires_at"].startswith(expires.strftime("%Y-%m-%dT%H:%M:%S"))
    assert body["expires_in_s"] == DEFAULT_MEDIA_TTL_S
    url = body["url"]
    assert url.startswith(f"/api/v1/media/{sha}?")
    assert set(parse_qs(urlsplit(url).query)) == {"uid", "exp", "sig"}
    assert api.tokens["worker1"] not in url
    fetched = api.client.get(url)
    assert fetched.status_code == 200
    assert fetched.content == tiny_jpeg(9)
    # the browser may keep it only until the link expires, not for a year
    cache = fetched.headers["cache-control"]
    assert cache == f"private, max-age={DEFAULT_MEDIA_TTL_S}", cache
    # ranges work through a link too (video seeking)
    part = api.client.get(url, headers={"Range": "bytes=0-1"})
    assert part.status_code == 206 and part.content == b"\xff\xd8"


def test_the_bearer_header_should_still_open_media(api: Api) -> None:
    sha = stored_snapshot(api)
    fetched = api.get("operator", f"/api/v1/media/{sha}")
    assert fetched.status_code == 200
    assert "immutable" in fetched.headers["cache-control"]
    assert api.client.get(f"/api/v1/media/{sha}").status_code == 401


def test_an_expired_link_should_get_403_saying_so(api: Api) -> None:
    sha = stored_snapshot(api)
    url = link_of(api, "operator", sha)
    api.clock.advance(timedelta(seconds=DEFAULT_MEDIA_TTL_S - 1))
    assert api.client.get(url).status_code == 200
    api.clock.advance(timedelta(seconds=1))
    response = api.client.get(url)
    assert response.status_code == 403
    assert response.json()["detail"].startswith("media link expired at ")


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"sig": "A" * 43}, "signature is not valid"),
        ({"exp": "9999999999"}, "signature is not valid"),
        ({"sig": "é"}, "signature is not valid"),
        ({"uid": "x1"}, "malformed media link"),
        ({"exp": ""}, "incomplete media link"),
    ],
)
def test_a_tampered_link_should_get_403(
    api: Api, change: dict[str, str], detail: str
) -> None:
    sha = stored_snapshot(api)
    url = link_of(api, "operator", sha)
    response = api.client.get(with_params(url, **change))
    assert response.status_code == 403
    assert detail in response.json()["detail"]


def test_a_link_should_open_only_its_own_media_for_its_own_user(api: Api) -> None:
    first = stored_snapshot(api, 9)
    second = stored_snapshot(api, 10)
    url = link_of(api, "operator", first)
    # the same signature on another media id
    other_media = url.replace(first, second)
    response = api.client.get(other_media)
    assert response.status_code == 403
    assert "signature is not valid" in response.json()["detail"]
    # the same signature for another user (worker 1 may see it, but did not ask)
    other_user = with_params(url, uid=str(user_id(api, "worker1")))
    assert api.client.get(other_user).status_code == 403


def test_a_worker_should_get_links_only_to_media_of_own_tickets(api: Api) -> None:
    sha = stored_snapshot(api, assignee="w1")
    assert api.post("worker1", f"/api/v1/media/{sha}/link").status_code == 200
    refused = api.post("worker2", f"/api/v1/media/{sha}/link")
    assert refused.status_code == 404
    assert refused.json()["detail"] == f"media {sha} not found"
    # edge nodes upload but do not fetch; nobody without a token gets a link
    assert api.post("node01", f"/api/v1/media/{sha}/link").status_code == 404
    assert api.client.post(f"/api/v1/media/{sha}/link").status_code == 401
    # unknown and malformed ids
    assert api.post("operator", f"/api/v1/media/{'0' * 64}/link").status_code == 404
    assert api.post("operator", "/api/v1/media/not-a-sha/link").status_code == 404


def test_a_link_should_stop_working_when_the_ticket_moves_away(api: Api) -> None:
    sha = stored_snapshot(api, assignee="w1")
    url = link_of(api, "worker1", sha)
    assert api.client.get(url).status_code == 200
    with api.context.sessions.begin() as session:
        session.execute(update(Ticket).values(assignee_id="w2"))
    assert api.client.get(url).status_code == 404


def test_a_link_of_a_disabled_user_should_get_401(api: Api) -> None:
    sha = stored_snapshot(api)
    url = link_of(api, "operator", sha)
    with api.context.sessions.begin() as session:
        session.execute(
            update(User).where(User.username == "operator").values(active=False)
        )
    response = api.client.get(url)
    assert response.status_code == 401
    assert response.json()["detail"] == "user operator is disabled"


def test_a_link_signed_with_another_key_should_get_403(api: Api) -> None:
    sha = stored_snapshot(api)
    other = LinkSigner(b"z" * 32).sign_media(
        f"/api/v1/media/{sha}", user_id=user_id(api, "operator"), now=START
    )
    assert api.client.get(other.url).status_code == 403


def test_the_app_should_use_the_signer_it_was_given(api: Api) -> None:
    sha = stored_snapshot(api)
    api.client.app.state.link_signer = LinkSigner(SECRET, media_ttl_s=30)  # type: ignore[attr-defined]
    body = api.post("operator", f"/api/v1/media/{sha}/link").json()
    assert body["expires_in_s"] == 30
    api.clock.advance(timedelta(seconds=30))
    assert api.client.get(body["url"]).status_code == 403


# -- the signer itself -----------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, nullcontext((DEFAULT_MEDIA_TTL_S, DEFAULT_STREAM_TTL_S))),
        (
            {
                "GRIDWATCH_LINK_SECRET": "s" * 32,
                "GRIDWATCH_MEDIA_LINK_TTL_S": "600",
                "GRIDWATCH_STREAM_TICKET_TTL_S": "30",
            },
            nullcontext((600, 30)),
        ),
        (
            {"GRIDWATCH_LINK_SECRET": "short"},
            pytest.raises(ValueError, match="at least 32 bytes, got 5"),
        ),
        (
            {"GRIDWATCH_MEDIA_LINK_TTL_S": "5m"},
            pytest.raises(ValueError, match="whole seconds, got '5m'"),
        ),
        (
            {"GRIDWATCH_STREAM_TICKET_TTL_S": "0"},
            pytest.raises(ValueError, match=r"1\.\.86400 seconds, got 0"),
        ),
    ],
)
def test_signer_from_env(
    environ: dict[str, str],
    expected: AbstractContextManager[tuple[int, int]],
) -> None:
    with expected as ttls:
        signer = LinkSigner.from_env(environ)
        assert (signer.media_ttl_s, signer.stream_ttl_s) == ttls


def test_signers_with_one_secret_should_accept_each_others_links() -> None:
    # what lets API replicas that share GRIDWATCH_LINK_SECRET honour each other
    one, two = LinkSigner(SECRET), LinkSigner(SECRET)
    link = one.sign_media("/api/v1/media/ab", user_id=3, now=START)
    query = parse_qs(urlsplit(link.url).query)
    uid, exp, sig = (query[k][0] for k in ("uid", "exp", "sig"))
    assert (
        two.verify_media("/api/v1/media/ab", uid=uid, exp=exp, sig=sig, now=START) == 3
    )
    with pytest.raises(LinkRefused, match="signature is not valid"):
        LinkSigner(b"o" * 32).verify_media(
            "/api/v1/media/ab", uid=uid, exp=exp, sig=sig, now=START
        )
    # a stream ticket is no media signature, and the other way round
    ticket = one.issue_stream_ticket(user_id=3, now=START).ticket
    with pytest.raises(LinkRefused, match="signature is not valid"):
        two.verify_media(
            "/api/v1/media/ab",
            uid=uid,
            exp=exp,
            sig=ticket.rsplit(".", 1)[1],
            now=START,
        )
    with pytest.raises(LinkRefused, match="signature is not valid"):
        two.redeem_stream_ticket(f"{uid}.{exp}.x.{sig}", now=START)
    assert two.redeem_stream_ticket(ticket, now=START) == 3

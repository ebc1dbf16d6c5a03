"""Media upload by edge nodes (limits, content checks, ownership) and download."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from sqlalchemy import select

from central.db.models import Event, MediaObject
from tests.central.api.conftest import (
    MAX_CLIP,
    MAX_SNAPSHOT,
    Api,
    add_ai_ticket,
    add_event,
    tiny_jpeg,
    tiny_mp4,
)

JPEG_HEADERS = {"Content-Type": "image/jpeg"}


def test_an_edge_node_should_upload_a_snapshot_for_its_event(api: Api) -> None:
    add_event(api.context, "evt-0000000001")
    jpeg = tiny_jpeg()
    response = api.put(
        "node01",
        "/api/v1/media/evt-0000000001/snapshot",
        content=jpeg,
        headers=JPEG_HEADERS,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    sha = hashlib.sha256(jpeg).hexdigest()
    assert body == {
        "sha256": sha,
        "size": len(jpeg),
        "content_type": "image/jpeg",
        "url": f"/api/v1/media/{sha}",
        "event_known": True,
    }
    with api.context.sessions() as session:
        event = session.get(Event, "evt-0000000001")
        assert event is not None and event.snapshot_sha256 == sha
        row = session.get(MediaObject, sha)
        assert row is not None
        assert (row.kind, row.event_id, row.uploaded_by) == (
            "snapshot",
            "evt-0000000001",
            "node01",
        )
    stored = api.context.settings.media.dir / sha[:2] / f"{sha}.jpg"
    assert stored.read_bytes() == jpeg
    # the same bytes again: the same answer, one row
    again = api.put("node01", "/api/v1/media/evt-0000000001/snapshot", content=jpeg)
    assert again.json() == body
    with api.context.sessions() as session:
        assert session.scalars(select(MediaObject.sha256)).all() == [sha]


def test_a_clip_should_be_stored_and_served_with_ranges(api: Api) -> None:
    add_event(api.context, "evt-0000000001")
    clip = tiny_mp4()
    response = api.put("node01", "/api/v1/media/evt-0000000001/clip", content=clip)
    assert response.status_code == 200, response.text
    assert response.json()["content_type"] == "video/mp4"
    url = response.json()["url"]
    with api.context.sessions() as session:
        event = session.get(Event, "evt-0000000001")
        assert event is not None and event.clip_sha256 == response.json()["sha256"]
    whole = api.get("operator", url)
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    part = api.client.get(url, headers={**api.auth("operator"), "Range": "bytes=4-11"})
    assert part.status_code == 206
    assert part.content == clip[4:12] == b"ftypisom"


def test_media_may_arrive_before_its_event(api: Api) -> None:
    jpeg = tiny_jpeg(7)
    response = api.put(
        "node02", "/api/v1/media/evt-not-yet-here/snapshot", content=jpeg
    )
    assert response.status_code == 200, response.text
    assert response.json()["event_known"] is False
    with api.context.sessions() as session:
        row = session.get(MediaObject, response.json()["sha256"])
        assert row is not None and row.event_id == "evt-not-yet-here"


def test_a_text_body_should_get_415_naming_it(api: Api) -> None:
    response = api.put(
        "node01",
        "/api/v1/media/evt-0000000001/snapshot",
        content=b"this is not an image",
        headers=JPEG_HEADERS,
    )
    assert response.status_code == 415
    assert response.json()["detail"] == (
        "a snapshot must be a JPEG, PNG or WebP image; got plain text"
    )
    as_clip = api.put(
        "node01", "/api/v1/media/evt-0000000001/clip", content=tiny_jpeg()
    )
    assert as_clip.status_code == 415
    assert "got image/jpeg data" in as_clip.json()["detail"]
    empty = api.put("node01", "/api/v1/media/evt-0000000001/snapshot", content=b"")
    assert empty.status_code == 415
    assert "empty body" in empty.json()["detail"]
    with api.context.sessions() as session:
        assert session.scalars(select(MediaObject)).all() == []


def test_too_large_should_get_413(api: Api) -> None:
    big = b"\xff\xd8\xff" + b"\0" * MAX_SNAPSHOT
    response = api.put("node01", "/api/v1/media/evt-0000000001/snapshot", content=big)
    assert response.status_code == 413
    assert str(MAX_SNAPSHOT) in response.json()["detail"]

    # a streamed body without Content-Length is cut off at the limit too
    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b"\0" * (MAX_CLIP // 3)

    streamed = api.put("node01", "/api/v1/media/evt-0000000001/clip", content=chunks())
    assert streamed.status_code == 413


def test_an_edge_node_may_not_upload_for_another_nodes_event(api: Api) -> None:
    add_event(api.context, "evt-0000000001", node_id="node-01")
    response = api.put(
        "node02", "/api/v1/media/evt-0000000001/snapshot", content=tiny_jpeg()
    )
    assert response.status_code == 403
    assert "belongs to node node-01" in response.json()["detail"]
    # an admin may
    admin = api.put(
        "admin", "/api/v1/media/evt-0000000001/snapshot", content=tiny_jpeg()
    )
    assert admin.status_code == 200


def test_only_edge_nodes_and_admins_upload(api: Api) -> None:
    for user in ("operator", "worker1"):
        response = api.put(
            user, "/api/v1/media/evt-0000000001/snapshot", content=tiny_jpeg()
        )
        assert response.status_code == 403
    assert (
        api.client.put(
            "/api/v1/media/evt-0000000001/snapshot", content=tiny_jpeg()
        ).status_code
        == 401
    )
    assert (
        api.put(
            "node01", "/api/v1/media/evt-0000000001/thumbnail", content=tiny_jpeg()
        ).status_code
        == 422
    )


def test_media_download_permissions(api: Api) -> None:
    jpeg = tiny_jpeg(9)
    sha = hashlib.sha256(jpeg).hexdigest()
    tid = add_ai_ticket(api.context, state="dispatched", assignee_id="w1")
    assert (
        api.put(
            "node01", "/api/v1/media/evt-0000000001/snapshot", content=jpeg
        ).status_code
        == 200
    )
    url = f"/api/v1/media/{sha}"
    assert api.get("operator", url).content == jpeg
    # worker 1 holds the ticket of the event; worker 2 does not
    assert api.get("worker1", url).status_code == 200
    assert api.get("worker2", url).status_code == 404
    assert api.get("node01", url).status_code == 404
    # a bearer token in the query string is not a credential
    refused = api.client.get(f"{url}?access_token={api.tokens['worker1']}")
    assert refused.status_code == 401
    # unknown and malformed ids
    assert api.get("operator", f"/api/v1/media/{'0' * 64}").status_code == 404
    assert api.get("operator", "/api/v1/media/..%2F..%2Fetc").status_code == 404
    with api.context.sessions() as session:
        row = session.get(MediaObject, sha)
        assert row is not None and row.ticket_id == tid

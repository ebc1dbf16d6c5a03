"""The public citizen path: report without a login, operator review, follow by
a private link in plain words, rate once, reopen within the window; limits."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from central.api.routes_citizen import CitizenLimits
from central.citizens import RateLimiter
from central.citizens.reports import token_digest
from central.db.models import CitizenReport, MediaObject, Ticket, TicketHistory
from central.media import MediaStore
from central.performance import Dimension, Period, evaluate
from central.retention import erase_reporters
from tests.central.api.conftest import (
    GRID_1_POINT,
    OUTSIDE_POINT,
    START,
    Api,
    open_api,
)
from tests.central.api.test_photo_scrub import Unavailable
from tests.edge.media.faces import FACE_GIF, FACE_MODEL, FaceCounter, read_frames

CONTACT = "Ms Zhou 13912345678"
REPORTS = "/api/v1/citizen/reports"
TRACK = "/api/v1/citizen/track"


def report(
    api: Api,
    *,
    point: tuple[float, float] = GRID_1_POINT,
    photo: bytes | None = None,
    contact: str | None = CONTACT,
    matter_key: str = "littering",
    description: str = "bags of rubbish left by the bus stop",
) -> httpx.Response:
    data: dict[str, Any] = {
        "matter_key": matter_key,
        "description": description,
        "lat": str(point[0]),
        "lon": str(point[1]),
    }
    if contact is not None:
        data["contact"] = contact
    files = {"photo": ("p.jpg", photo, "image/jpeg")} if photo else None
    response: httpx.Response = api.client.post(REPORTS, data=data, files=files)
    return response


def submitted(api: Api, **kwargs: Any) -> tuple[int, str]:
    response = report(api, **kwargs)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["tracking_url"] == "/citizen/#track=" + body["tracking_token"]
    return body["reference"], body["tracking_token"]


def track(api: Api, token: str) -> dict[str, Any]:
    response = api.client.get(TRACK, headers={"X-Tracking-Token": token})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def close_loop(api: Api, tid: int) -> None:
    assert api.act("operator", tid, "confirm", json={}).status_code == 200
    assert api.act("worker1", tid, "accept").status_code == 200
    resolved = api.act("worker1", tid, "resolve", data={"note": "cleared"})
    assert resolved.status_code == 200, resolved.text
    closed = api.act("operator", tid, "close", json={"note": "checked"})
    assert closed.status_code == 200, closed.text


def phone_photo() -> bytes:
    """A phone-like JPEG with GPS EXIF (what the server must strip)."""
    image = np.zeros((120, 160, 3), np.uint8)
    cv2.rectangle(image, (20, 20), (140, 100), (40, 160, 200), -1)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (23.0, 7.0, 12.5), 3: "E", 4: (113.0, 19.0, 8.0)}
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def test_a_report_should_wait_for_review_without_the_contact_in_the_ticket(
    api: Api,
) -> None:
    tid, token = submitted(api)
    with api.context.sessions() as session:
        ticket = session.get(Ticket, tid)
        assert ticket is not None
        assert (ticket.state, ticket.source) == ("pending_review", "citizen")
        assert ticket.review_reason == "citizen_report"
        assert ticket.reporter is None and ticket.assignee_id is None
        row = session.scalar(
            select(CitizenReport).where(CitizenReport.ticket_id == tid)
        )
        assert row is not None and row.contact == CONTACT
        assert row.token_digest == token_digest(token)  # the token itself is not kept
        notes = [h.note or "" for h in session.scalars(select(TicketHistory))]
    assert notes and not any("13912345678" in note for note in notes)
    review = api.get("operator", "/api/v1/review").json()
    assert [item["id"] for item in review["items"]] == [tid]
    staff = api.get("operator", f"{REPORTS}/{tid}")
    assert staff.status_code == 200 and staff.json()["contact"] == CONTACT
    assert api.get("worker1", f"{REPORTS}/{tid}").status_code == 403
    assert api.client.get(f"{REPORTS}/{tid}").status_code == 401


def test_the_tracking_link_should_say_the_progress_in_plain_words_and_nothing_private(
    api: Api,
) -> None:
    tid, token = submitted(api)
    body = track(api, token)
    assert body["reference"] == tid and body["state"] == "pending_review"
    assert body["status"].startswith("Received")
    assert [s["words"] for s in body["steps"]] == ["Report received"]
    assert api.act("operator", tid, "confirm", json={}).status_code == 200
    body = track(api, token)
    assert body["status"] == "Sent to the grid worker responsible for the place"
    assert body["steps"][-1]["words"].startswith("Checked by an operator")
    text = json.dumps(body)
    for private in ("13912345678", "w1", "Li Wei", "Operator", "440106"):
        assert private not in text
    assert not body["can_rate"] and not body["can_reopen"]


def test_a_rejected_report_should_say_why(api: Api) -> None:
    tid, token = submitted(api)
    rejected = api.act("operator", tid, "reject", json={"reason": "private land"})
    assert rejected.status_code == 200
    body = track(api, token)
    assert (body["status"], body["reason"]) == ("Not taken up", "private land")


def test_an_unknown_or_missing_token_should_be_refused(api: Api) -> None:
    unknown = api.client.get(TRACK, headers={"X-Tracking-Token": "x" * 43})
    assert unknown.status_code == 404
    assert api.client.get(TRACK).status_code == 422


def test_a_position_outside_the_city_should_be_refused(api: Api) -> None:
    response = report(api, point=OUTSIDE_POINT, photo=phone_photo())
    assert response.status_code == 422
    assert "outside the city's grids" in response.json()["detail"]
    assert report(api, matter_key="no_such").status_code == 422
    with api.context.sessions() as session:
        assert session.scalar(select(Ticket.id)) is None
    media_dir = api.context.settings.media.dir
    assert not any(p.is_file() for p in media_dir.rglob("*"))  # photo not kept


def test_an_oversized_report_should_be_refused_before_it_is_read(api: Api) -> None:
    big = b"\xff\xd8" + b"0" * (2 * 1024 * 1024)
    assert report(api, photo=big).status_code == 413


def test_reports_from_one_address_should_be_limited(api: Api) -> None:
    api.client.app.state.citizen_limits = CitizenLimits(  # type: ignore[attr-defined]
        reports=RateLimiter(limit=2, window_s=3600),
        reports_total=RateLimiter(limit=100, window_s=3600),
        lookups=RateLimiter(limit=2, window_s=3600),
    )
    submitted(api)
    _, token = submitted(api)
    refused = report(api)
    assert refused.status_code == 429
    assert 3500 <= int(refused.headers["Retry-After"]) <= 3600
    track(api, token)
    track(api, token)
    again = api.client.get(TRACK, headers={"X-Tracking-Token": token})
    assert again.status_code == 429 and "Retry-After" in again.headers


def test_the_rate_limiter_should_forget_hits_older_than_the_window() -> None:
    now = [0.0]
    limiter = RateLimiter(limit=1, window_s=10, max_tracked=2, clock=lambda: now[0])
    assert limiter.hit("a") is None
    assert limiter.hit("a") == 10
    now[0] = 10.5
    assert limiter.hit("a") is None
    limiter.hit("b")
    limiter.hit("c")  # "a" is dropped: at most two addresses remembered
    assert limiter.hit("a") is None


def test_a_photo_should_be_stored_re_encoded_without_exif(api: Api) -> None:
    tid, _ = submitted(api, photo=phone_photo())
    ticket = api.get("operator", f"/api/v1/tickets/{tid}").json()
    assert ticket["snapshot_url"]
    stored = api.get("operator", ticket["snapshot_url"])
    assert stored.status_code == 200
    assert b"PhoneMaker" not in stored.content
    assert not Image.open(io.BytesIO(stored.content)).getexif()
    with api.context.sessions() as session:
        media = session.scalar(select(MediaObject).where(MediaObject.ticket_id == tid))
    assert media is not None and media.uploaded_by == "citizen"


def test_faces_in_a_citizens_photo_should_be_blurred(
    api: Api, videos_dir: Path, models_dir: Path
) -> None:
    frame = read_frames(videos_dir / FACE_GIF)[29]
    counter = FaceCounter(models_dir / FACE_MODEL)
    assert counter.count(frame) == 2
    ok, jpeg = cv2.imencode(".jpg", frame)
    assert ok
    tid, _ = submitted(api, photo=bytes(jpeg))
    url = api.get("operator", f"/api/v1/tickets/{tid}").json()["snapshot_url"]
    stored = api.get("operator", url).content
    image = cv2.imdecode(np.frombuffer(stored, np.uint8), cv2.IMREAD_COLOR)
    assert counter.count(np.asarray(image, np.uint8)) == 0


def test_without_a_face_model_a_photo_report_should_answer_503(api: Api) -> None:
    app = api.client.app
    app.state.media = MediaStore(  # type: ignore[attr-defined]
        api.context.settings.media.dir, screen=Unavailable()
    )
    assert report(api, photo=phone_photo()).status_code == 503
    with api.context.sessions() as session:
        assert session.scalar(select(Ticket.id)) is None


def test_a_closed_report_should_be_rated_once(api: Api) -> None:
    tid, token = submitted(api)
    headers = {"X-Tracking-Token": token}
    early = api.client.post(
        f"{TRACK}/rating", headers=headers, json={"rating": "satisfied"}
    )
    assert early.status_code == 409
    close_loop(api, tid)
    assert track(api, token)["can_rate"]
    rated = api.client.post(
        f"{TRACK}/rating",
        headers=headers,
        json={"rating": "basically_satisfied", "comment": "slow but done"},
    )
    assert rated.status_code == 200, rated.text
    body = rated.json()
    assert (body["rating"], body["rating_comment"]) == (
        "basically_satisfied",
        "slow but done",
    )
    assert not body["can_rate"]
    again = api.client.post(
        f"{TRACK}/rating", headers=headers, json={"rating": "dissatisfied"}
    )
    assert again.status_code == 409
    bad = api.client.post(f"{TRACK}/rating", headers=headers, json={"rating": "meh"})
    assert bad.status_code == 422


def test_a_reopened_report_should_go_back_to_its_worker_and_count_as_rework(
    api: Api,
) -> None:
    tid, token = submitted(api)
    close_loop(api, tid)
    body = track(api, token)
    assert body["can_reopen"]
    api.clock.advance(timedelta(days=6))
    api.notifier.notices.clear()
    reopened = api.client.post(
        f"{TRACK}/reopen",
        headers={"X-Tracking-Token": token},
        json={"reason": "the rubbish is back"},
    )
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["steps"][-1]["words"] == "Reopened by you"
    with api.context.sessions() as session:  # (the fixture's logins expired)
        ticket = session.get(Ticket, tid)
        assert ticket is not None
        assert (ticket.state, ticket.assignee_id) == ("returned", "w1")
        assert ticket.rework_count == 1 and ticket.closed_at is None
        assert ticket.due_at == api.clock.now() + timedelta(minutes=120)
        last = session.scalars(
            select(TicketHistory.action).order_by(TicketHistory.id.desc())
        ).first()
        assert last == "reopen"
    assert [(n.action, to) for n, to in api.notifier.notices] == [("returned", ("w1",))]
    with api.context.sessions() as session:
        rows = evaluate(
            session,
            start=START - timedelta(days=1),
            end=START + timedelta(days=30),
            period=Period.MONTH,
            by=Dimension.WORKER,
            timezone="UTC",
        )
    assert [(r.key, r.returns, r.resolves) for r in rows] == [("w1", 1, 1)]


def test_a_report_should_not_reopen_after_the_window(api: Api) -> None:
    tid, token = submitted(api)
    close_loop(api, tid)
    api.clock.advance(timedelta(days=7, seconds=1))
    assert not track(api, token)["can_reopen"]
    late = api.client.post(
        f"{TRACK}/reopen",
        headers={"X-Tracking-Token": token},
        json={"reason": "again"},
    )
    assert late.status_code == 409
    assert "passed" in late.json()["detail"]
    with api.context.sessions() as session:
        assert session.scalar(select(Ticket.state)) == "closed"


def test_an_open_report_should_not_reopen(api: Api) -> None:
    _, token = submitted(api)
    response = api.client.post(
        f"{TRACK}/reopen", headers={"X-Tracking-Token": token}, json={"reason": "x"}
    )
    assert response.status_code == 409


def test_categories_should_list_the_matter_list_most_reported_first(api: Api) -> None:
    submitted(api, matter_key="illegal_parking")
    body = api.client.get("/api/v1/citizen/categories").json()
    keys = [c["key"] for c in body["data"]]
    assert keys[0] == "illegal_parking" and body["data"][0]["common"]
    assert set(keys) == {m.key for m in api.context.matters.matters}
    area = api.client.get("/api/v1/citizen/area").json()
    assert len(area["features"]) == 2 and area["features"][0]["properties"] == {}
    assert area["bbox"] == pytest.approx([113.320, 23.120, 113.330, 23.125])


def test_retention_should_erase_the_contact_of_an_ended_report(api: Api) -> None:
    tid, _ = submitted(api)
    close_loop(api, tid)
    with api.context.sessions() as session:
        erase_reporters(session, ended_before=START + timedelta(days=1))
    with api.context.sessions() as session:
        row = session.scalar(
            select(CitizenReport).where(CitizenReport.ticket_id == tid)
        )
    assert row is not None and row.contact is None


def test_a_nul_character_should_be_refused_on_postgresql_not_fail(
    tmp_path: Path, password_hash: str, postgres_url: str
) -> None:
    # PostgreSQL text cannot hold NUL; whatever a route's own checks miss, the
    # database's refusal is the client's input: 422, never a 500.
    with open_api(tmp_path, password_hash, database_url=postgres_url) as pg_api:
        response = report(pg_api, description="rubbish\x00 by the gate")
        assert response.status_code == 422, response.text
        assert "NUL" in response.json()["detail"]
        assert submitted(pg_api)[0] > 0  # the next report is taken

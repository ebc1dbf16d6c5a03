"""The ticket API: the closed loop, illegal transitions, who sees what, lists."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.central.api.conftest import (
    GRID_1,
    GRID_2,
    GRID_2_POINT,
    MAX_PHOTO,
    OUTSIDE_POINT,
    Api,
    add_ai_ticket,
    tiny_jpeg,
)


def notices(api: Api) -> list[tuple[int, str, tuple[str, ...]]]:
    return [(n.ticket_id, n.action, r) for n, r in api.notifier.notices]


def test_full_loop_manual_dispatch_accept_resolve_with_photo_close(api: Api) -> None:
    created = api.create_ticket()
    tid = created["id"]
    assert created["state"] == "dispatched"
    assert created["assignee_id"] == "w1"
    assert created["grid_code"] == GRID_1
    assert created["source"] == "citizen"
    assert created["category_code"] == "0102"
    assert created["department_code"] == "TH-SAN"
    assert created["time_limit_min"] == 120
    assert created["time_left_s"] == 7200
    assert (tid, "dispatched", ("w1",)) in notices(api)

    # the worker sees it among their tickets
    mine = api.get("worker1", "/api/v1/me/tickets").json()
    assert [t["id"] for t in mine["items"]] == [tid]

    api.clock.advance(timedelta(minutes=5))
    accepted = api.act("worker1", tid, "accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "accepted"

    api.clock.advance(timedelta(minutes=30))
    photo = tiny_jpeg()
    resolved = api.act(
        "worker1",
        tid,
        "resolve",
        data={"note": "bags collected, pavement swept"},
        files={"photo": ("after.jpg", photo, "image/jpeg")},
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["state"] == "resolved"
    assert body["resolution_note"] == "bags collected, pavement swept"
    assert body["resolution_photo_url"].startswith("/api/v1/media/")
    assert body["time_left_s"] is None  # the clock stops on resolution

    # the photo is served to the worker and to staff, as a JPEG (re-encoded
    # without metadata: tests/central/api/test_photo_scrub.py)
    for user in ("worker1", "operator"):
        got = api.get(user, body["resolution_photo_url"])
        assert got.status_code == 200
        assert got.headers["content-type"] == "image/jpeg"
        assert got.content.startswith(b"\xff\xd8\xff") and len(got.content) > 100
    # but not to another worker
    assert api.get("worker2", body["resolution_photo_url"]).status_code == 404

    api.clock.advance(timedelta(minutes=10))
    closed = api.act("operator", tid, "close", json={"note": "checked on camera"})
    assert closed.status_code == 200, closed.text
    assert closed.json()["state"] == "closed"
    assert closed.json()["closed_at"] is not None

    detail = api.get("operator", f"/api/v1/tickets/{tid}").json()
    steps = [(h["action"], h["from_state"], h["to_state"]) for h in detail["history"]]
    assert steps == [
        ("create", None, "pending_review"),
        ("dispatch", "pending_review", "dispatched"),
        ("accept", "dispatched", "accepted"),
        ("resolve", "accepted", "resolved"),
        ("close", "resolved", "closed"),
    ]
    assert [h["actor"] for h in detail["history"]] == [
        "operator",
        "operator",
        "worker1",
        "worker1",
        "operator",
    ]
    times = [h["at"] for h in detail["history"]]
    assert times == sorted(times)
    # closed tickets leave the worker's default list but stay in ?all=true
    assert api.get("worker1", "/api/v1/me/tickets").json()["total"] == 0
    every = api.get("worker1", "/api/v1/me/tickets?all=true").json()
    assert [t["id"] for t in every["items"]] == [tid]


@pytest.mark.parametrize(
    ("setup", "user", "action", "body", "state"),
    [
        ([], "operator", "close", {"note": "x"}, "dispatched"),
        ([], "worker1", "resolve", None, "dispatched"),
        ([], "operator", "confirm", None, "dispatched"),
        ([], "operator", "return", {"reason": "x"}, "dispatched"),
        (["accept"], "operator", "close", None, "accepted"),
        (["accept", "resolve", "close"], "worker1", "accept", None, "closed"),
        (
            ["accept", "resolve", "close"],
            "operator",
            "reject",
            {"reason": "x"},
            "closed",
        ),
        (["accept", "resolve"], "operator", "reject", {"reason": "x"}, "resolved"),
        (
            ["accept", "resolve"],
            "operator",
            "reassign",
            {"worker_id": "w2"},
            "resolved",
        ),
    ],
)
def test_an_illegal_transition_should_get_409_with_the_reason(
    api: Api,
    setup: list[str],
    user: str,
    action: str,
    body: dict[str, object] | None,
    state: str,
) -> None:
    tid = api.create_ticket()["id"]
    for step in setup:
        if step == "accept":
            assert api.act("worker1", tid, "accept").status_code == 200
        elif step == "resolve":
            response = api.act("worker1", tid, "resolve", data={"note": "done"})
            assert response.status_code == 200, response.text
        elif step == "close":
            assert api.act("operator", tid, "close").status_code == 200
    kwargs: dict[str, object] = {}
    if action == "resolve":
        kwargs["data"] = {"note": "done"}
    elif body is not None:
        kwargs["json"] = body
    response = api.act(user, tid, action, **kwargs)
    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    assert detail.startswith(f"ticket {tid} is {state}: cannot {action} it")
    assert "is allowed from" in detail
    # nothing changed
    assert api.get("operator", f"/api/v1/tickets/{tid}").json()["state"] == state


def test_another_worker_should_learn_nothing_about_a_ticket(api: Api) -> None:
    tid = api.create_ticket()["id"]
    theirs = api.get("worker2", f"/api/v1/tickets/{tid}")
    missing = api.get("worker2", "/api/v1/tickets/999999")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == {"detail": f"ticket {tid} not found"}
    assert api.act("worker2", tid, "accept").status_code == 404
    assert api.act("worker2", tid, "resolve", data={"note": "x"}).status_code == 404
    assert api.get("worker2", "/api/v1/me/tickets").json() == {
        "items": [],
        "total": 0,
        "total_exact": True,
    }
    # staff may see it but only the assignee may accept it
    staff_accept = api.act("operator", tid, "accept")
    assert staff_accept.status_code == 403
    assert "only the assigned worker" in staff_accept.json()["detail"]


def test_resolve_should_check_the_note_and_the_photo(api: Api) -> None:
    tid = api.create_ticket()["id"]
    early = api.act(
        "worker1",
        tid,
        "resolve",
        data={"note": "done"},
        files={"photo": ("after.jpg", tiny_jpeg(), "image/jpeg")},
    )
    assert early.status_code == 409  # not accepted yet: the photo is not kept
    media_dir = api.context.settings.media.dir
    assert not media_dir.exists() or not any(media_dir.iterdir())
    assert api.act("worker1", tid, "accept").status_code == 200
    blank = api.act("worker1", tid, "resolve", data={"note": "   "})
    assert blank.status_code == 422
    assert "needs a note" in blank.json()["detail"]
    text = api.act(
        "worker1",
        tid,
        "resolve",
        data={"note": "done"},
        files={"photo": ("after.jpg", b"hello, not a photo", "image/jpeg")},
    )
    assert text.status_code == 415
    assert "got plain text" in text.json()["detail"]
    big = api.act(
        "worker1",
        tid,
        "resolve",
        data={"note": "done"},
        files={
            "photo": ("after.jpg", b"\xff\xd8\xff" + b"\0" * MAX_PHOTO, "image/jpeg")
        },
    )
    assert big.status_code == 413
    still = api.get("worker1", f"/api/v1/tickets/{tid}").json()
    assert still["state"] == "accepted"
    # without a photo it resolves
    ok = api.act("worker1", tid, "resolve", data={"note": "done"})
    assert ok.status_code == 200
    assert ok.json()["resolution_photo_url"] is None


def test_review_queue_confirm_and_reject(api: Api) -> None:
    from central.media import MediaStore

    stored = MediaStore(api.context.settings.media.dir).save(tiny_jpeg(), "snapshot")
    first = add_ai_ticket(api.context, snapshot_sha256=stored.sha256)
    second = add_ai_ticket(
        api.context, event_id="evt-0000000002", priority="urgent", title="a fall"
    )
    queue = api.get("operator", "/api/v1/review")
    assert queue.status_code == 200, queue.text
    body = queue.json()
    assert body["total"] == 2
    assert [t["id"] for t in body["items"]] == [second, first]  # urgent first
    item = next(t for t in body["items"] if t["id"] == first)
    assert item["review_reason"] == "low_confidence"
    assert item["snapshot_url"] == f"/api/v1/media/{stored.sha256}"
    assert [e["event_id"] for e in item["events"]] == ["evt-0000000001"]
    assert item["events"][0]["snapshot_url"] == f"/api/v1/media/{stored.sha256}"

    confirmed = api.act("operator", first, "confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "dispatched"
    assert confirmed.json()["assignee_id"] == "w1"
    assert confirmed.json()["due_at"] is not None
    # the worker now sees the event snapshot of their ticket
    event_snapshot = api.get("worker1", f"/api/v1/media/{stored.sha256}")
    assert event_snapshot.status_code == 200
    detail = api.get("worker1", f"/api/v1/tickets/{first}").json()
    assert detail["events"][0]["event_id"] == "evt-0000000001"

    to_w2 = api.act("operator", second, "confirm", json={"worker_id": "w2"})
    assert to_w2.json()["assignee_id"] == "w2"
    rejected = api.act("operator", second, "reject", json={"reason": "a shadow"})
    assert rejected.status_code == 200
    assert rejected.json()["state"] == "rejected"
    assert rejected.json()["reject_reason"] == "a shadow"
    assert (second, "rejected", ("w2",)) in notices(api)
    assert api.get("operator", "/api/v1/review").json()["total"] == 0

    empty_reason = api.act("operator", first, "reject", json={"reason": ""})
    assert empty_reason.status_code == 422


def test_return_for_rework_then_accept_again(api: Api) -> None:
    tid = api.create_ticket()["id"]
    api.act("worker1", tid, "accept")
    api.act("worker1", tid, "resolve", data={"note": "done"})
    returned = api.act("operator", tid, "return", json={"reason": "still a bag left"})
    assert returned.status_code == 200, returned.text
    assert returned.json()["state"] == "returned"
    assert returned.json()["rework_count"] == 1
    assert returned.json()["return_reason"] == "still a bag left"
    assert (tid, "returned", ("w1",)) in notices(api)
    again = api.act("worker1", tid, "accept")
    assert again.json()["state"] == "accepted"


def test_reassign_to_a_worker_or_a_grid(api: Api) -> None:
    tid = api.create_ticket()["id"]
    moved = api.act("operator", tid, "reassign", json={"worker_id": "w2", "note": "x"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["assignee_id"] == "w2"
    assert (tid, "reassigned_away", ("w1",)) in notices(api)
    assert api.get("worker1", f"/api/v1/tickets/{tid}").status_code == 404
    assert api.get("worker2", f"/api/v1/tickets/{tid}").status_code == 200

    other = api.create_ticket()["id"]
    by_grid = api.act("operator", other, "reassign", json={"grid_code": GRID_2})
    assert by_grid.json()["grid_code"] == GRID_2
    assert by_grid.json()["assignee_id"] == "w2"

    unknown = api.act("operator", other, "reassign", json={"worker_id": "nobody"})
    assert unknown.status_code == 422
    assert "no active worker 'nobody'" in unknown.json()["detail"]
    bad_grid = api.act(
        "operator", other, "reassign", json={"grid_code": "440106001001999"}
    )
    assert bad_grid.status_code == 422


def test_escalate_should_raise_the_level_and_notify_the_leader(api: Api) -> None:
    tid = api.create_ticket()["id"]
    response = api.act("operator", tid, "escalate", json={"level": 1, "note": "late"})
    assert response.status_code == 200, response.text
    assert response.json()["escalation_level"] == 1
    assert (tid, "escalated", ("w1", "lead")) in notices(api)
    again = api.act("operator", tid, "escalate", json={"level": 1, "note": "late"})
    assert again.status_code == 422
    assert "already at escalation level 1" in again.json()["detail"]
    assert (
        api.act("operator", tid, "escalate", json={"level": 4, "note": "x"}).status_code
        == 422
    )
    listed = api.get("operator", "/api/v1/tickets?escalation_min=1").json()
    assert [t["id"] for t in listed["items"]] == [tid]


def test_manual_ticket_validation(api: Api) -> None:
    def create(body: dict[str, object]) -> httpx.Response:
        return api.post("operator", "/api/v1/tickets", json=body)

    base: dict[str, object] = {"matter_key": "littering", "title": "rubbish"}
    nowhere = create(base)
    assert nowhere.status_code == 422
    assert "say where" in nowhere.text
    half = create({**base, "lat": 23.1})
    assert half.status_code == 422
    unknown = create({**base, "matter_key": "ufo", "grid_code": GRID_1})
    assert unknown.status_code == 422
    assert "no matter 'ufo'" in unknown.json()["detail"]
    bad_grid = create({**base, "grid_code": "440106001001999"})
    assert bad_grid.status_code == 422
    ai = create({**base, "grid_code": GRID_1, "source": "ai"})
    assert ai.status_code == 422
    # by grid code, a patrol report
    patrol = create({**base, "grid_code": GRID_2, "source": "patrol"})
    assert patrol.status_code == 201
    assert patrol.json()["assignee_id"] == "w2"
    assert patrol.json()["source"] == "patrol"
    # outside every grid: waits for review
    outside = api.create_ticket(point=OUTSIDE_POINT)
    assert outside["state"] == "pending_review"
    assert outside["review_reason"] == "unassigned_grid"
    assert outside["grid_code"] is None


def test_ticket_detail_should_count_time_left(api: Api) -> None:
    tid = api.create_ticket()["id"]
    api.clock.advance(timedelta(minutes=90))
    detail = api.get("worker1", f"/api/v1/tickets/{tid}").json()
    assert detail["time_left_s"] == 30 * 60
    api.clock.advance(timedelta(minutes=40))
    detail = api.get("worker1", f"/api/v1/tickets/{tid}").json()
    assert detail["time_left_s"] == -10 * 60
    assert detail["events"] == []
    assert detail["reporter"] == "resident 13800000000"


def test_ticket_list_filters_sort_and_pages(api: Api) -> None:
    a = api.create_ticket(title="rubbish at the school gate")["id"]
    api.clock.advance(timedelta(minutes=1))
    b = api.create_ticket(
        point=GRID_2_POINT, title="Parked on the pavement", matter_key="illegal_parking"
    )["id"]
    api.clock.advance(timedelta(minutes=1))
    c = add_ai_ticket(api.context)
    api.act("worker1", a, "accept")

    def ids(query: str) -> list[int]:
        response = api.get("operator", f"/api/v1/tickets{query}")
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    assert ids("") == [c, b, a]  # newest first
    assert ids("?sort=oldest") == [a, b, c]
    assert ids("?state=accepted") == [a]
    assert ids("?state=accepted&state=pending_review") == [c, a]
    assert ids(f"?grid={GRID_2}") == [b]
    assert ids("?grid=440106001") == [c, b, a]
    assert ids("?grid=440107") == []
    assert ids("?category=0301") == [b]
    assert ids("?category=01") == [c, a]
    assert ids("?source=ai") == [c]
    assert ids("?source=citizen") == [b, a]
    assert ids("?assignee=w2") == [b]
    assert ids("?q=PAVEMENT") == [b]
    assert ids("?q=100%25") == []
    assert ids("?overdue=false") == [c, b, a]
    assert ids("?overdue=true") == []
    # soonest due first (parking has 60 min, rubbish 120), undated last
    assert ids("?sort=urgency") == [b, a, c]
    page = api.get("operator", "/api/v1/tickets?limit=2&offset=1").json()
    assert page["total"] == 3
    assert page["total_exact"] is True
    assert [t["id"] for t in page["items"]] == [b, a]
    assert api.get("operator", "/api/v1/tickets?limit=501").status_code == 422
    assert api.get("operator", "/api/v1/tickets?state=nope").status_code == 422
    assert api.get("operator", "/api/v1/tickets?grid=44a").status_code == 422


def test_my_tickets_should_put_priority_then_time_left_first(api: Api) -> None:
    slow = api.create_ticket(title="rubbish 1")["id"]  # normal, due in 120 min
    api.clock.advance(timedelta(minutes=10))
    parking = api.create_ticket(title="parking", matter_key="illegal_parking")["id"]
    api.clock.advance(timedelta(minutes=10))
    fall = api.create_ticket(title="a fall", matter_key="fall")["id"]  # urgent
    other = add_ai_ticket(
        api.context,
        state="dispatched",
        assignee_id="w2",
        event_id=None,
        due_in=timedelta(minutes=1),
    )
    items = api.get("worker1", "/api/v1/me/tickets").json()["items"]
    # urgent first; then normal by time left: parking due 70 min after creation
    # (60 min limit + 10), rubbish at 120
    assert [t["id"] for t in items] == [fall, parking, slow]
    assert other not in [t["id"] for t in items]
    assert [t["priority"] for t in items] == ["urgent", "normal", "normal"]
    staff = api.get("operator", "/api/v1/me/tickets")
    assert staff.status_code == 403


def test_concurrent_change_should_answer_409(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from central.tickets.service import ConcurrentChange

    tid = api.create_ticket()["id"]

    def stale(*_: object, **__: object) -> None:
        raise ConcurrentChange("the ticket changed meanwhile; reload and retry")

    monkeypatch.setattr(api.context.tickets, "accept", stale)
    response = api.act("worker1", tid, "accept")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "the ticket changed meanwhile; reload and retry"
    }


def test_list_given_more_matches_than_the_count_cap_should_answer_a_lower_bound(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from central.api import routes_tickets

    made = [api.create_ticket(title=f"rubbish {i}")["id"] for i in range(4)]
    monkeypatch.setattr(routes_tickets, "TOTAL_COUNT_CAP", 2)

    first = api.get("operator", "/api/v1/tickets?limit=1").json()
    assert (first["total"], first["total_exact"]) == (2, False)
    assert [t["id"] for t in first["items"]] == [made[-1]]
    # a page past the cap proves at least offset + its rows
    deep = api.get("operator", "/api/v1/tickets?limit=2&offset=2").json()
    assert (deep["total"], deep["total_exact"]) == (4, False)
    assert [t["id"] for t in deep["items"]] == [made[1], made[0]]
    # a narrow search under the cap is still exact
    one = api.get("operator", "/api/v1/tickets?q=rubbish%203").json()
    assert (one["total"], one["total_exact"]) == (1, True)

"""Recent events, hotspots, duration histograms, edge nodes and live occupancy."""

from __future__ import annotations

from datetime import timedelta

from central.activity import DURATION_EDGES_S, histogram
from central.db.models import Camera
from gridwatch.contract import NodeStatusMessage, OccupancyMessage
from tests.central.api.conftest import (
    GRID_1,
    Api,
    add_ai_ticket,
    add_event,
)


def test_recent_events_newest_first_with_their_ticket(api: Api) -> None:
    ticket_id = add_ai_ticket(api.context, event_id=None)
    add_event(api.context, "evt-older-0001", ticket_id=ticket_id)
    api.clock.advance(timedelta(seconds=30))
    add_event(api.context, "evt-newer-0002")
    body = api.get("operator", "/api/v1/events").json()
    assert [e["event_id"] for e in body] == ["evt-newer-0002", "evt-older-0001"]
    assert body[1]["ticket_id"] == ticket_id
    assert body[0]["ticket_id"] is None
    assert body[0]["grid_code"] == GRID_1
    since = body[1]["received_at"]
    later = api.get("operator", "/api/v1/events", params={"since": since}).json()
    assert [e["event_id"] for e in later] == ["evt-newer-0002"]
    assert api.get("operator", "/api/v1/events?type=fall").json() == []
    assert api.get("operator", "/api/v1/events?limit=0").status_code == 422


def test_recent_events_are_for_staff_only(api: Api) -> None:
    assert api.get("worker1", "/api/v1/events").status_code == 403
    assert api.client.get("/api/v1/events").status_code == 401


def test_hotspots_count_events_and_open_tickets_per_grid(api: Api) -> None:
    add_ai_ticket(api.context, state="dispatched", assignee_id="w1", event_id=None)
    add_event(api.context, "evt-hot-00001")
    add_event(api.context, "evt-hot-00002")
    spots = api.get("operator", "/api/v1/stats/hotspots").json()
    assert spots == [
        {"grid_code": GRID_1, "name": "Grid 1", "events": 2, "open_tickets": 1}
    ]
    api.clock.advance(timedelta(seconds=10))
    later = api.get("operator", "/api/v1/stats/hotspots?days=0.0001").json()
    assert later == [
        {"grid_code": GRID_1, "name": "Grid 1", "events": 0, "open_tickets": 1}
    ]
    assert api.get("operator", "/api/v1/stats/hotspots?days=0").status_code == 422


def test_hotspots_given_an_area_prefix_should_keep_only_its_grids(api: Api) -> None:
    add_ai_ticket(api.context, state="dispatched", assignee_id="w1", event_id=None)
    add_event(api.context, "evt-hot-00003")

    def grids(query: str) -> list[str]:
        answer = api.get("operator", f"/api/v1/stats/hotspots{query}")
        assert answer.status_code == 200, answer.text
        return [s["grid_code"] for s in answer.json()]

    assert grids("?grid=440106") == [GRID_1]  # its district
    assert grids(f"?grid={GRID_1}") == [GRID_1]
    assert grids("?grid=440107") == []  # another district
    assert grids(f"?grid={GRID_1[:-1]}2") == []  # the next grid
    assert api.get("operator", "/api/v1/stats/hotspots?grid=44%25").status_code == 422


def test_histogram_puts_each_value_in_the_first_bin_that_holds_it() -> None:
    bins = histogram([0, 10, 11, 45, 100_000])
    assert len(bins) == len(DURATION_EDGES_S)
    counts = {b.le_s: b.count for b in bins if b.count}
    assert counts == {10: 2, 30: 1, 60: 1, None: 1}


def test_duration_histograms_of_the_closed_loop(api: Api) -> None:
    ticket = api.create_ticket()  # dispatched at once to w1
    api.clock.advance(timedelta(seconds=45))
    assert api.act("worker1", ticket["id"], "accept").status_code == 200
    body = api.get("operator", "/api/v1/stats/durations").json()
    dispatch = {b["le_s"]: b["count"] for b in body["dispatch"] if b["count"]}
    accept = {b["le_s"]: b["count"] for b in body["accept"] if b["count"]}
    assert dispatch == {10: 1}
    assert accept == {60: 1}
    assert all(b["count"] == 0 for b in body["close"])
    bad = api.get("operator", "/api/v1/stats/durations?start=yesterday")
    assert bad.status_code == 422
    assert "neither a date" in bad.text


def test_nodes_and_occupancy_come_from_live_messages(api: Api) -> None:
    with api.context.sessions.begin() as session:
        session.add(Camera(node_id="node-01", camera_id="cam-001", name="Gate"))
    now = api.clock.now()
    live = api.context.live
    live.record_node_status(
        "gw/v1/edge/node-01/status",
        NodeStatusMessage(
            node_id="node-01", state="online", version="0.1", cameras=["cam-001"]
        )
        .to_json()
        .encode(),
    )
    occupancy = OccupancyMessage(
        node_id="node-01", camera_id="cam-001", at=now, zones={"gate": {"person": 3}}
    )
    live.record_occupancy("t", occupancy.to_json().encode())
    stale = occupancy.model_copy(
        update={"at": now - timedelta(seconds=5), "zones": {"gate": {"person": 9}}}
    )
    live.record_occupancy("t", stale.to_json().encode())  # older: ignored
    live.record_occupancy("t", b"{not json")  # malformed: logged, ignored
    live.record_node_status("t", b"")  # cleared retained message
    nodes = api.get("operator", "/api/v1/nodes").json()
    assert [(n["node_id"], n["state"], n["cameras"]) for n in nodes] == [
        ("node-01", "online", ["cam-001"])
    ]
    (camera,) = api.get("operator", "/api/v1/cameras").json()
    assert camera["occupancy"] == {"gate": {"person": 3}}
    assert camera["occupancy_at"] is not None
    assert api.get("worker1", "/api/v1/nodes").status_code == 403

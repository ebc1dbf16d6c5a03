"""Reference data endpoints, user administration, health and the OpenAPI document."""

from __future__ import annotations

import httpx
from sqlalchemy import create_engine

from central.db.models import Camera
from tests.central.api.conftest import (
    COMMUNITY,
    DISTRICT,
    GRID_1,
    GRID_2,
    PASSWORD,
    STREET,
    Api,
    tiny_jpeg,
)


def test_grids_should_be_a_geojson_feature_collection(api: Api) -> None:
    for user in ("operator", "worker1"):
        response = api.get(user, "/api/v1/grids")
        assert response.status_code == 200
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert [f["id"] for f in body["features"]] == [GRID_1, GRID_2]
    feature = body["features"][0]
    assert feature["type"] == "Feature"
    assert feature["geometry"]["type"] == "Polygon"
    assert feature["properties"]["code"] == GRID_1
    assert feature["properties"]["name"] == "Grid 1"
    assert feature["properties"]["level"] == "grid"
    assert feature["properties"]["parent"] == COMMUNITY
    only = api.get("operator", f"/api/v1/grids?prefix={GRID_2}").json()
    assert [f["id"] for f in only["features"]] == [GRID_2]
    assert api.get("operator", "/api/v1/grids?prefix=440107").json()["features"] == []
    assert api.get("node01", "/api/v1/grids").status_code == 403


def test_areas_should_list_the_hierarchy(api: Api) -> None:
    areas = api.get("worker1", "/api/v1/areas").json()
    assert [(a["code"], a["level"], a["parent"]) for a in areas] == [
        (DISTRICT, "district", None),
        (STREET, "street", DISTRICT),
        (COMMUNITY, "community", STREET),
        (GRID_1, "grid", COMMUNITY),
        (GRID_2, "grid", COMMUNITY),
    ]
    grids = api.get("worker1", "/api/v1/areas?level=grid").json()
    assert [a["code"] for a in grids] == [GRID_1, GRID_2]


def test_cameras_for_staff(api: Api) -> None:
    with api.context.sessions.begin() as session:
        session.add(
            Camera(
                node_id="node-01", camera_id="cam-001", name="Gate", grid_code=GRID_1
            )
        )
    cameras = api.get("operator", "/api/v1/cameras").json()
    assert [(c["node_id"], c["camera_id"], c["grid_code"]) for c in cameras] == [
        ("node-01", "cam-001", GRID_1)
    ]
    assert api.get("operator", "/api/v1/cameras?node_id=node-02").json() == []
    assert api.get("worker1", "/api/v1/cameras").status_code == 403


def test_workers_should_show_open_ticket_counts(api: Api) -> None:
    api.create_ticket()
    api.create_ticket()
    workers = {w["id"]: w for w in api.get("operator", "/api/v1/workers").json()}
    assert set(workers) == {"w1", "w2", "lead"}
    assert workers["w1"]["open_tickets"] == 2
    assert workers["w2"]["open_tickets"] == 0
    assert workers["w1"]["areas"] == [GRID_1]
    assert workers["lead"]["role"] == "grid_leader"
    assert workers["w1"]["on_duty"] is True
    in_grid_2 = api.get("operator", f"/api/v1/workers?area={GRID_2}").json()
    assert [w["id"] for w in in_grid_2] == ["w2"]


def test_matters_should_list_the_matter_list(api: Api) -> None:
    body = api.get("worker1", "/api/v1/matters").json()
    assert body["version"] == api.context.matters.version
    littering = next(m for m in body["matters"] if m["key"] == "littering")
    assert littering["category_code"] == "0102"
    assert littering["department"] == "sanitation"
    assert littering["department_code"] == "TH-SAN"
    assert littering["event_types"] == ["littering"]
    assert littering["time_limit_min"] == 120


def test_event_types_should_carry_the_matter_lists_words(api: Api) -> None:
    for user in ("operator", "worker1"):
        response = api.get(user, "/api/v1/event-types")
        assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == api.context.matters.version
    by_type = {e["type"]: e for e in body["event_types"]}
    assert set(by_type) == set(api.context.matters.by_event_type())
    assert by_type["crowding"] == {
        "type": "crowding",
        "label": "Crowding",
        "title": "Crowd gathering",
        "matter_key": "crowding",
    }
    assert by_type["fall"]["label"] == "Person fallen"
    assert api.get("node01", "/api/v1/event-types").status_code == 403
    assert api.client.get("/api/v1/event-types").status_code == 401


def test_admin_should_create_users_and_issue_tokens(api: Api) -> None:
    created = api.post(
        "admin",
        "/api/v1/users",
        json={"username": "node03", "role": "edge_node", "node_id": "node-03"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["node_id"] == "node-03"
    issued = api.post(
        "admin", "/api/v1/users/node03/tokens", json={"label": "node-03 outbox"}
    )
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    assert token.startswith("gw_")
    assert issued.json()["expires_at"] is None
    upload = api.client.put(
        "/api/v1/media/evt-node03-0001/snapshot",
        content=tiny_jpeg(),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert upload.status_code == 200

    expiring = api.post("admin", "/api/v1/users/node03/tokens", json={"ttl_h": 1})
    assert expiring.json()["expires_at"] is not None
    no_body = api.post("admin", "/api/v1/users/node03/tokens")
    assert no_body.status_code == 201
    assert api.post("admin", "/api/v1/users/ghost/tokens").status_code == 404

    worker = api.post(
        "admin",
        "/api/v1/users",
        json={
            "username": "worker3",
            "password": PASSWORD,
            "role": "worker",
            "worker_id": "lead",
        },
    )
    assert worker.status_code == 201
    login = api.client.post(
        "/api/v1/auth/token", data={"username": "worker3", "password": PASSWORD}
    )
    assert login.status_code == 200
    assert login.json()["worker_id"] == "lead"


def test_user_creation_errors(api: Api) -> None:
    def create(body: dict[str, object]) -> httpx.Response:
        return api.post("admin", "/api/v1/users", json=body)

    duplicate = create(
        {"username": "worker1", "password": PASSWORD, "role": "operator"}
    )
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.json()["detail"]
    no_worker = create({"username": "w9", "password": PASSWORD, "role": "worker"})
    assert no_worker.status_code == 422
    assert "worker_id" in no_worker.json()["detail"]
    no_node = create({"username": "n9", "role": "edge_node"})
    assert no_node.status_code == 422
    assert "node_id" in no_node.json()["detail"]
    weak = create({"username": "op2", "password": "short", "role": "operator"})
    assert weak.status_code == 422
    assert "at least 8 characters" in weak.json()["detail"]
    assert (
        api.post(
            "operator",
            "/api/v1/users",
            json={"username": "x1", "password": PASSWORD, "role": "admin"},
        ).status_code
        == 403
    )


def test_healthz(api: Api) -> None:
    ok = api.client.get("/healthz")
    assert ok.status_code == 200
    assert ok.json()["status"] == "ok"
    assert ok.json()["database"] == "ok"
    api.context.engine = create_engine("sqlite:////nonexistent-dir/never/c.db")
    down = api.client.get("/healthz")
    assert down.status_code == 503
    assert down.json()["status"] == "unavailable"


def test_openapi_should_document_the_action_endpoints(api: Api) -> None:
    doc = api.client.get("/api/v1/openapi.json").json()
    assert doc["info"]["title"] == "gridwatch central"
    paths = doc["paths"]
    for action in (
        "accept",
        "resolve",
        "confirm",
        "reject",
        "close",
        "return",
        "reassign",
        "escalate",
    ):
        assert f"/api/v1/tickets/{{ticket_id}}/{action}" in paths, action
        assert "post" in paths[f"/api/v1/tickets/{{ticket_id}}/{action}"]
    for path in (
        "/api/v1/auth/token",
        "/api/v1/me",
        "/api/v1/tickets",
        "/api/v1/me/tickets",
        "/api/v1/review",
        "/api/v1/tickets/stream",
        "/api/v1/media/{event_id}/{kind}",
        "/api/v1/media/{sha256}",
        "/api/v1/grids",
        "/api/v1/users/{username}/tokens",
        "/healthz",
    ):
        assert path in paths, path
    ticket_schema = doc["components"]["schemas"]["TicketOut"]
    assert "time_left_s" in ticket_schema["properties"]
    assert ticket_schema["properties"]["state"]
    assert api.client.get("/api/docs").status_code == 200

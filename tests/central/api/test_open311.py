"""Open311 GeoReport v2: the service list, submitting with an admin-issued API
key, reading status by id, the spec's field names and error format."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from central.db.models import AuditEntry, CitizenReport, Ticket
from tests.central.api.conftest import GRID_1_POINT, OUTSIDE_POINT, Api

BASE = "/open311/v2"
CLIENTS = "/api/v1/admin/open311-clients"
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}


def issue_key(api: Api, name: str = "12345 hotline", **extra: Any) -> str:
    response = api.post("admin", CLIENTS, json={"name": name, **extra})
    assert response.status_code == 201, response.text
    key: str = response.json()["api_key"]
    return key


def submit(api: Api, key: str | None, **extra: str) -> httpx.Response:
    data = {
        "service_code": "littering",
        "lat": str(GRID_1_POINT[0]),
        "long": str(GRID_1_POINT[1]),
        "description": "rubbish by the bus stop",
        "first_name": "Zhou",
        "phone": "13912345678",
        "external_id": "12345-2026-000042",
        **extra,
    }
    if key is not None:
        data["api_key"] = key
    response: httpx.Response = api.client.post(f"{BASE}/requests.json", data=data)
    return response


def assert_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, list) and len(body) == 1
    assert set(body[0]) == {"code", "description"} and body[0]["code"] == status
    description: str = body[0]["description"]
    return description


def test_services_should_list_the_matter_list_in_the_specs_fields(api: Api) -> None:
    response = api.client.get(f"{BASE}/services.json")
    assert response.status_code == 200
    services = response.json()
    assert [s["service_code"] for s in services] == [
        m.key for m in api.context.matters.matters
    ]
    littering = services[0]
    assert littering == {
        "service_code": "littering",
        "service_name": "Littering",
        "description": "市容环境/暴露垃圾 (0102)",
        "metadata": False,
        "type": "realtime",
        "keywords": "littering",
        "group": "市容环境",
    }


def test_a_request_should_need_a_valid_api_key(api: Api) -> None:
    assert "api_key" in assert_error(submit(api, None), 403)
    assert_error(submit(api, "o311_not-a-key"), 403)
    key = issue_key(api)
    clients = api.get("admin", CLIENTS).json()["data"]
    client_id = clients[0]["id"]
    assert api.client.delete(f"{CLIENTS}/{client_id}").status_code == 401
    assert api.post("operator", CLIENTS, json={"name": "x"}).status_code == 403
    revoked = api.client.delete(f"{CLIENTS}/{client_id}", headers=api.auth("admin"))
    assert revoked.status_code == 204
    assert_error(submit(api, key), 403)
    with api.context.sessions() as session:
        actions = list(session.scalars(select(AuditEntry.action)))
    assert "open311_client_issued" in actions and "open311_client_revoked" in actions
    assert key not in str(api.get("admin", CLIENTS).json())


def test_bad_fields_should_answer_the_specs_errors(api: Api) -> None:
    key = issue_key(api)
    assert "service_code" in assert_error(submit(api, key, service_code="nope"), 404)
    assert_error(submit(api, key, service_code=""), 400)
    assert "lat" in assert_error(submit(api, key, lat="north"), 400)
    outside = submit(api, key, lat=str(OUTSIDE_POINT[0]), long=str(OUTSIDE_POINT[1]))
    assert "outside" in assert_error(outside, 400)
    assert_error(api.client.get(f"{BASE}/requests/1.json?api_key={key}"), 404)
    assert_error(api.client.get(f"{BASE}/requests/abc.json?api_key={key}"), 404)
    listed = api.client.get(
        f"{BASE}/requests.json", params={"api_key": key, "service_request_id": "1;2"}
    )
    assert_error(listed, 400)


def test_a_hotline_order_should_keep_its_id_and_report_its_status(api: Api) -> None:
    key = issue_key(api)
    response = submit(api, key)
    assert response.status_code == 200, response.text
    [answer] = response.json()
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}
    request_id = answer["service_request_id"]
    with api.context.sessions() as session:
        ticket = session.get(Ticket, int(request_id))
        report = session.scalar(select(CitizenReport))
    assert ticket is not None and report is not None
    assert (ticket.source, ticket.state) == ("open311", "pending_review")
    assert report.external_id == "12345-2026-000042"
    assert report.contact == "Zhou 13912345678" and ticket.reporter is None

    one = api.client.get(f"{BASE}/requests/{request_id}.json", params={"api_key": key})
    assert one.status_code == 200
    [status] = one.json()
    assert set(status) >= REQUEST_FIELDS
    assert status["service_request_id"] == request_id
    assert status["external_id"] == "12345-2026-000042"
    assert (status["status"], status["service_code"]) == ("open", "littering")
    assert status["lat"] == GRID_1_POINT[0] and status["long"] == GRID_1_POINT[1]
    assert "13912345678" not in one.text

    api.act("operator", int(request_id), "reject", json={"reason": "duplicate"})
    listed = api.client.get(
        f"{BASE}/requests.json",
        params={"api_key": key, "service_request_id": request_id},
    )
    [closed] = listed.json()
    assert closed["status"] == "closed" and "duplicate" in closed["status_notes"]
    everything = api.client.get(f"{BASE}/requests.json", params={"api_key": key})
    assert [r["service_request_id"] for r in everything.json()] == [request_id]

    other = issue_key(api, name="civic app")
    hidden = api.client.get(
        f"{BASE}/requests/{request_id}.json", params={"api_key": other}
    )
    assert_error(hidden, 404)
    assert_error(api.client.get(f"{BASE}/requests/{request_id}.json"), 403)


def test_a_client_trusted_without_review_should_be_dispatched_at_once(
    api: Api,
) -> None:
    key = issue_key(api, review_first=False)
    [answer] = submit(api, key).json()
    with api.context.sessions() as session:
        ticket = session.get(Ticket, int(answer["service_request_id"]))
    assert ticket is not None
    assert (ticket.state, ticket.assignee_id) == ("dispatched", "w1")
    assert api.post("admin", CLIENTS, json={"name": "civic app"}).status_code == 201
    assert api.post("admin", CLIENTS, json={"name": "civic app"}).status_code == 409

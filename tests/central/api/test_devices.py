"""`GET /api/v1/devices`: the city's sensors with status and recent values."""

from __future__ import annotations

import json
from datetime import timedelta

from central.importer import CityFile, import_city
from central.ingest.processor import EventProcessor, InboundMessage
from central.iot.ingest import ReadingProcessor
from gridwatch.readings import readings_topic
from tests.central.api.conftest import GRID_1, GRID_1_POINT, GRID_2, Api


def _import(api: Api) -> None:
    lat, lon = GRID_1_POINT
    city = CityFile.model_validate(
        {
            "schema": "gw.city/1",
            "name": "test",
            "city_code": "4401",
            "devices": [
                {
                    "id": "bin-1",
                    "type": "bin_fill",
                    "gateway_id": "gw-a",
                    "lat": lat,
                    "lon": lon,
                    "name": "Bin 1",
                },
                {
                    "id": "wl-1",
                    "type": "water_level",
                    "gateway_id": "gw-a",
                    "lat": lat,
                    "lon": lon,
                },
                {
                    "id": "far-1",
                    "type": "noise",
                    "gateway_id": "gw-b",
                    "lat": 0.0,
                    "lon": 0.0,
                },
            ],
        }
    )
    with api.context.sessions.begin() as session:
        report = import_city(session, city, now=api.clock.now())
    assert report.created["devices"] == 3
    with api.context.sessions.begin() as session:  # idempotent
        assert import_city(session, city, now=api.clock.now()).updated["devices"] == 3


def test_devices_given_readings_should_list_status_and_recent_values(
    api: Api,
) -> None:
    _import(api)
    now = api.clock.now()
    readings = [
        {
            "device_id": "bin-1",
            "device_type": "bin_fill",
            "ts": (now - timedelta(minutes=5 - n)).isoformat(),
            "seq": n,
            "values": {"fill": {"value": 10.0 * n, "unit": "%"}},
        }
        for n in range(1, 4)
    ]
    body = {"schema": "gw.reading/1", "gateway_id": "gw-a", "readings": readings}
    inbound = InboundMessage(readings_topic("gw/v1", "gw-a"), json.dumps(body).encode())
    result = ReadingProcessor(api.context, EventProcessor(api.context)).process(
        [inbound]
    )
    assert result.deadletters == []

    response = api.get("operator", "/api/v1/devices")
    assert response.status_code == 200, response.text
    listed = response.json()
    assert listed["count"] == 3
    by_id = {d["id"]: d for d in listed["data"]}
    bin_ = by_id["bin-1"]
    assert bin_["status"] == "ok" and bin_["grid_code"] == GRID_1
    assert [p["value"] for p in bin_["recent"]] == [10.0, 20.0, 30.0]
    assert bin_["last_reading"]["fill"] == {"value": 30.0, "unit": "%"}
    assert by_id["wl-1"]["status"] == "unknown"
    assert by_id["far-1"]["grid_code"] is None

    only = api.get("operator", "/api/v1/devices?type=water_level").json()
    assert [d["id"] for d in only["data"]] == ["wl-1"]
    assert api.get("operator", "/api/v1/devices?status=ok").json()["count"] == 1
    assert api.get("operator", f"/api/v1/devices?grid={GRID_2}").json()["count"] == 0
    page = api.get("admin", "/api/v1/devices?limit=1&offset=1").json()
    assert page["count"] == 3 and [d["id"] for d in page["data"]] == ["far-1"]
    assert api.get("operator", "/api/v1/devices?type=toaster").status_code == 422
    assert api.get("worker1", "/api/v1/devices").status_code == 403
    assert api.client.get("/api/v1/devices").status_code == 401

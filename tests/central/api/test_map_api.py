"""The map endpoints: the grid hierarchy by level, zoom and view; a day of events."""

from __future__ import annotations

from datetime import timedelta

import pytest
import shapely
from shapely.geometry import Polygon, box

from central.db.models import Area, AreaLevel
from central.grids.map_layers import WARM_LAYERS
from tests.central.api.conftest import (
    COMMUNITY,
    DISTRICT,
    GRID_1,
    GRID_2,
    STREET,
    Api,
    add_event,
    square,
)

AREAS = "/api/v1/map/areas"


@pytest.mark.parametrize(
    ("level", "codes", "name"),
    [
        ("district", [DISTRICT], "Tianhe"),
        ("street", [STREET], "Shipai"),
        ("community", [COMMUNITY], "Gangding"),
        ("grid", [GRID_1, GRID_2], "Grid 1"),
    ],
)
def test_map_areas_given_a_level_should_return_its_shapes(
    api: Api, level: str, codes: list[str], name: str
) -> None:
    response = api.get("worker1", f"{AREAS}?level={level}&zoom=12")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert (body["level"], body["zoom"], body["grid_count"]) == (level, 12, 2)
    assert body["bounds"] == pytest.approx([113.320, 23.120, 113.330, 23.125])
    assert [f["id"] for f in body["features"]] == codes
    first = body["features"][0]["properties"]
    assert first["name"] == name
    assert first["grids"] == (1 if level == "grid" else 2)


def test_map_community_should_be_its_grids_dissolved(api: Api) -> None:
    body = api.get("operator", f"{AREAS}?level=community&zoom=14").json()
    ring = body["features"][0]["geometry"]["coordinates"][0]
    assert shapely.equals(Polygon(ring), box(113.320, 23.120, 113.330, 23.125))


def test_map_areas_given_a_bbox_should_return_only_what_it_meets(api: Api) -> None:
    west_half = "113.3201,23.121,113.3249,23.124"
    body = api.get("operator", f"{AREAS}?level=grid&zoom=16&bbox={west_half}").json()
    assert [f["id"] for f in body["features"]] == [GRID_1]
    assert body["zoom"] == 16
    far = "100,10,101,11"
    assert (
        api.get("operator", f"{AREAS}?level=grid&zoom=16&bbox={far}").json()["features"]
        == []
    )


def test_map_areas_should_follow_a_grid_reimport(api: Api) -> None:
    assert api.get("operator", f"{AREAS}?level=grid&zoom=12").json()["grid_count"] == 2
    with api.context.sessions.begin() as session:
        session.add(
            Area(
                code="440106001001003",
                level=AreaLevel.GRID.value,
                name="Grid 3",
                parent_code=COMMUNITY,
                geometry=square(113.330, 23.120),
            )
        )
    api.context.reload_reference_data()  # what an import does
    body = api.get("operator", f"{AREAS}?level=grid&zoom=12").json()
    assert body["grid_count"] == 3
    assert body["features"][-1]["properties"]["name"] == "Grid 3"


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("level=city&zoom=10", "level"),
        ("level=grid", "zoom"),
        ("level=grid&zoom=23", "zoom"),
        ("level=grid&zoom=-1", "zoom"),
        ("level=grid&zoom=ten", "zoom"),
        ("level=grid&zoom=12&bbox=1,2,3", "bbox"),
        ("level=grid&zoom=12&bbox=a,b,c,d", "bbox"),
        ("level=grid&zoom=12&bbox=113.4,23,113.3,23.2", "west (113.4) must be less"),
        ("level=grid&zoom=12&bbox=113,23.2,113.3,23.1", "south (23.2) must be less"),
        ("level=grid&zoom=12&bbox=-190,23,113,24", "west -190.0 is not a longitude"),
        ("level=grid&zoom=12&bbox=113,-95,114,24", "south -95.0 is not a latitude"),
    ],
)
def test_map_areas_given_bad_input_should_answer_422_naming_it(
    api: Api, query: str, problem: str
) -> None:
    response = api.get("operator", f"{AREAS}?{query}")
    assert response.status_code == 422
    assert problem in response.text


def test_map_areas_should_refuse_nodes_and_anonymous(api: Api) -> None:
    assert api.get("node01", f"{AREAS}?level=grid&zoom=12").status_code == 403
    anonymous = api.client.get(f"{AREAS}?level=grid&zoom=12")
    assert anonymous.status_code == 401


def test_map_events_should_list_the_last_hours_newest_first(api: Api) -> None:
    add_event(api.context, "ev-old")
    api.clock.advance(timedelta(hours=2))
    add_event(api.context, "ev-new")
    body = api.get("operator", "/api/v1/map/events").json()
    assert [e["event_id"] for e in body["events"]] == ["ev-new", "ev-old"]
    assert body["truncated"] is False
    marker = body["events"][0]
    assert set(marker) == {
        "event_id",
        "type",
        "lat",
        "lon",
        "confidence",
        "camera_id",
        "detected_at",
        "received_at",
        "ticket_id",
    }
    recent = api.get("operator", "/api/v1/map/events?hours=1").json()
    assert [e["event_id"] for e in recent["events"]] == ["ev-new"]


def test_map_events_should_say_when_truncated(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("central.api.routes_map.MAX_EVENT_MARKERS", 1)
    add_event(api.context, "ev-1")
    add_event(api.context, "ev-2")
    body = api.get("operator", "/api/v1/map/events").json()
    assert body["truncated"] is True
    assert len(body["events"]) == 1


@pytest.mark.parametrize("hours", ["0", "-1", "169", "soon"])
def test_map_events_given_bad_hours_should_answer_422(api: Api, hours: str) -> None:
    assert api.get("operator", f"/api/v1/map/events?hours={hours}").status_code == 422


def test_map_events_should_be_for_staff_only(api: Api) -> None:
    assert api.get("worker1", "/api/v1/map/events").status_code == 403
    assert api.get("node01", "/api/v1/map/events").status_code == 403


@pytest.mark.parametrize(
    ("query", "codes"),
    [
        (f"level=grid&prefix={GRID_2}", [GRID_2]),
        (f"level=grid&prefix={COMMUNITY}", [GRID_1, GRID_2]),
        (f"level=district&prefix={GRID_2}", [DISTRICT]),  # the area holding it
        ("level=grid&prefix=440107", []),
    ],
)
def test_map_areas_given_a_prefix_should_keep_its_areas(
    api: Api, query: str, codes: list[str]
) -> None:
    body = api.get("operator", f"{AREAS}?zoom=12&{query}").json()
    assert [f["id"] for f in body["features"]] == codes


def test_map_areas_given_a_bad_prefix_should_answer_422(api: Api) -> None:
    response = api.get("operator", f"{AREAS}?level=grid&zoom=12&prefix=44x")
    assert response.status_code == 422
    assert "prefix" in response.text


def test_warm_should_build_the_first_asked_layers_and_say_so(api: Api) -> None:
    cache = api.context.map_layers
    assert not cache.warmed.is_set()
    cache.warm(api.context.grid_index, api.context.sessions)
    assert cache.warmed.is_set()
    layers = cache.get(api.context.grid_index, api.context.sessions)
    assert layers.built == WARM_LAYERS
    assert cache.last_build_s is not None

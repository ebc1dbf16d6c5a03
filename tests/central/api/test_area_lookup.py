"""The compact area answers the console loads instead of the whole hierarchy:
counts per level, names by code and by level, the grid at a point."""

from __future__ import annotations

import pytest

from tests.central.api.conftest import COMMUNITY, DISTRICT, GRID_1, GRID_2, STREET, Api


def test_area_counts_given_the_seeded_city_should_count_each_level(api: Api) -> None:
    response = api.get("worker1", "/api/v1/areas/counts")
    assert response.status_code == 200
    assert response.json() == {
        "city": 0,
        "district": 1,
        "street": 1,
        "community": 1,
        "grid": 2,
    }


def test_areas_given_codes_should_list_only_those(api: Api) -> None:
    url = f"/api/v1/areas?code={GRID_2}&code={DISTRICT}&code=440199001001001"
    areas = api.get("operator", url).json()
    assert [(a["code"], a["name"]) for a in areas] == [
        (DISTRICT, "Tianhe"),
        (GRID_2, "Grid 2"),
    ]


def test_areas_given_several_levels_should_list_those_levels(api: Api) -> None:
    url = "/api/v1/areas?level=district&level=street&level=community"
    areas = api.get("operator", url).json()
    assert [a["code"] for a in areas] == [DISTRICT, STREET, COMMUNITY]


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("code=44010&code=abc", "not area codes"),
        ("code=" + "1" * 16, "not area codes"),
        ("&".join(["code=1"] * 501), "at most 500"),
    ],
)
def test_areas_given_bad_codes_should_answer_422_naming_them(
    api: Api, query: str, problem: str
) -> None:
    response = api.get("operator", f"/api/v1/areas?{query}")
    assert response.status_code == 422
    assert problem in response.json()["detail"]


def test_grid_at_given_a_point_inside_a_grid_should_name_it(api: Api) -> None:
    body = api.get("operator", "/api/v1/grids/at?lat=23.1225&lon=113.3275").json()
    assert body["grid"] == {
        "code": GRID_2,
        "level": "grid",
        "name": "Grid 2",
        "parent": COMMUNITY,
    }
    assert body["grid"]["code"] != GRID_1


def test_grid_at_given_a_point_outside_every_grid_should_answer_null(
    api: Api,
) -> None:
    body = api.get("operator", "/api/v1/grids/at?lat=10&lon=10").json()
    assert body == {"lat": 10.0, "lon": 10.0, "grid": None}


@pytest.mark.parametrize(
    "query", ["lat=91&lon=113", "lat=23&lon=-181", "lat=nan&lon=113", "lat=23"]
)
def test_grid_at_given_a_bad_point_should_answer_422(api: Api, query: str) -> None:
    assert api.get("operator", f"/api/v1/grids/at?{query}").status_code == 422


def test_area_lookups_given_no_token_should_answer_401(api: Api) -> None:
    for url in ("/api/v1/areas/counts", "/api/v1/grids/at?lat=23&lon=113"):
        assert api.client.get(url).status_code == 401

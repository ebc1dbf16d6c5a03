"""The workers' points table (积分) on SQLite and PostgreSQL: cases found on
patrol, handled on time, rated satisfied and reworked, per worker and month."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from central.config import PointSettings, PointWeightSettings
from central.db.models import Worker
from central.worker_points import month_bounds
from tests.central.api.conftest import (
    GRID_1_POINT,
    GRID_2_POINT,
    Api,
    open_api,
)

POINTS = "/api/v1/stats/points"
MINE = "/api/v1/me/points"


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def city(
    request: pytest.FixtureRequest, tmp_path: Path, password_hash: str
) -> Iterator[Api]:
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    with open_api(tmp_path, password_hash, database_url=url) as opened:
        yield opened


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def a_month_of_work(api: Api) -> None:
    """worker2 files two patrol reports; w1 handles a citizen's case (rated
    satisfied) and has a manual ticket returned for rework."""
    for n, lat in enumerate((GRID_2_POINT[0], GRID_2_POINT[0] - 0.001)):
        sent = api.post(
            "worker2",
            "/api/v1/patrol/reports",
            data={
                "client_key": f"points-key-{n:04d}",
                "matter_key": "littering",
                "lat": str(lat),
                "lon": str(GRID_2_POINT[1]),
            },
        )
        assert sent.status_code == 201, sent.text
    reported = api.client.post(
        "/api/v1/citizen/reports",
        data={
            "matter_key": "littering",
            "description": "bags",
            "lat": str(GRID_1_POINT[0]),
            "lon": str(GRID_1_POINT[1]),
        },
    ).json()
    rated = reported["reference"]
    ok(api.act("operator", rated, "confirm", json={}))
    ok(api.act("worker1", rated, "accept"))
    ok(api.act("worker1", rated, "resolve", data={"note": "cleared"}))
    ok(api.act("operator", rated, "close", json={}))
    ok(
        api.client.post(
            "/api/v1/citizen/track/rating",
            headers={"X-Tracking-Token": reported["tracking_token"]},
            json={"rating": "basically_satisfied"},
        )
    )
    returned = api.create_ticket(point=(GRID_1_POINT[0] - 0.002, GRID_1_POINT[1]))
    assert returned["assignee_id"] == "w1"
    ok(api.act("worker1", returned["id"], "accept"))
    ok(api.act("worker1", returned["id"], "resolve", data={"note": "done"}))
    ok(api.act("operator", returned["id"], "return", json={"reason": "still there"}))


def test_the_table_should_count_each_workers_month_and_points(city: Api) -> None:
    a_month_of_work(city)
    table = ok(city.get("operator", POINTS, params={"month": "2026-11"}))
    assert table["weights"] == {
        "found": 2,
        "on_time": 3,
        "satisfied": 2,
        "reworked": -3,
    }
    rows = {row["worker_id"]: row for row in table["rows"]}
    assert [row["worker_id"] for row in table["rows"]] == ["w2", "w1", "lead"]
    assert rows["w2"]["cases_found"] == 2 and rows["w2"]["points"] == 4
    w1 = rows["w1"]
    assert (w1["handled"], w1["handled_on_time"]) == (1, 1)  # the returned one not
    assert (w1["rated"], w1["rated_satisfied"], w1["reworked"]) == (1, 1, 1)
    assert w1["points"] == 3 + 2 - 3
    assert rows["lead"]["points"] == 0
    earlier = ok(city.get("operator", POINTS, params={"month": "2026-10"}))
    assert all(row["points"] == 0 for row in earlier["rows"])


def test_the_points_should_follow_the_citys_weights_from_the_config(
    city: Api,
) -> None:
    a_month_of_work(city)
    settings = city.context.settings
    city.context.settings = settings.model_copy(
        update={
            "points": PointSettings(
                weights=PointWeightSettings(
                    found=5, on_time=1, satisfied=0, reworked=-10
                )
            )
        }
    )
    table = ok(city.get("operator", POINTS, params={"month": "2026-11"}))
    assert table["weights"] == {
        "found": 5,
        "on_time": 1,
        "satisfied": 0,
        "reworked": -10,
    }
    rows = {row["worker_id"]: row for row in table["rows"]}
    assert rows["w2"]["points"] == 2 * 5
    assert rows["w1"]["points"] == 1 * 1 + 1 * 0 - 1 * 10
    # a worker's own month counts the same way
    mine = ok(city.get("worker1", MINE, params={"month": "2026-11"}))
    assert [row["points"] for row in mine["rows"]] == [-9]


@pytest.mark.parametrize(
    "weights",
    [{"found": -1}, {"reworked": 2}, {"on_time": 1001}, {"bonus": 1}],
)
def test_point_weights_out_of_bounds_should_be_refused(weights: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        PointWeightSettings(**weights)


def test_a_worker_should_see_only_their_own_month(city: Api) -> None:
    a_month_of_work(city)
    mine = ok(city.get("worker1", MINE))
    assert mine["month"] == "2026-11"  # the clock's month, in the city's zone
    assert [row["worker_id"] for row in mine["rows"]] == ["w1"]
    assert city.get("operator", MINE).status_code == 403
    assert city.get("worker1", POINTS).status_code == 403
    assert city.client.get(MINE).status_code == 401


@pytest.mark.parametrize("month", ["2026-13", "26-11", "2026-1", "1999-12", "x"])
def test_a_bad_month_should_be_422(api: Api, month: str) -> None:
    assert api.get("operator", POINTS, params={"month": month}).status_code == 422


def test_month_bounds_should_be_local_midnights() -> None:
    start, end = month_bounds("2026-12", UTC)
    assert (start, end) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_bounds("2026-00", UTC)


def test_the_table_should_download_as_csv_with_formulas_neutralised(api: Api) -> None:
    with api.context.sessions.begin() as session:
        session.get_one(Worker, "w2").name = '=HYPERLINK("http://x")'
    response = api.get("operator", POINTS, params={"month": "2026-11", "format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="points-2026-11.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["worker_id"] for row in rows] == ["lead", "w1", "w2"]
    assert rows[2]["name"].startswith("'=")
    assert rows[0]["points"] == "0"

"""The statistics API on the test city of tests/central/test_evaluation.py."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from central.api.csv_safety import neutralise_cell, neutralise_rows
from central.api.deps import current_actor
from central.api.routes_stats import router
from central.clock import ManualClock
from central.config import CentralSettings
from central.context import CentralContext, build_context
from central.db.models import UserRole
from central.performance import EvaluationRow
from central.tickets.service import Actor
from tests.central.test_performance import G3, LITTER, LIWAN, YUEXIU, populate

# Tuesday 2024-03-05 12:00 in Shanghai: t6 (due 11:32) is open past its due time.
NOW = datetime(2024, 3, 5, 4, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CentralContext]:
    path: Path = tmp_path_factory.mktemp("stats") / "central.db"
    settings = CentralSettings(
        database_url=f"sqlite:///{path}", timezone="Asia/Shanghai"
    )
    context = build_context(settings, clock=ManualClock(NOW))
    with context.sessions() as session:
        populate(session)
    yield context
    context.engine.dispose()


def make_client(context: CentralContext, role: UserRole) -> TestClient:
    app = FastAPI()
    app.state.context = context
    app.include_router(router)
    app.dependency_overrides[current_actor] = lambda: Actor("op", role, None)
    return TestClient(app)


@pytest.fixture
def client(context: CentralContext) -> TestClient:
    return make_client(context, UserRole.OPERATOR)


def rows_by_key(body: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    return {row["key"]: row for row in body["rows"]}


def test_evaluation_defaults_to_this_month_by_district(client: TestClient) -> None:
    response = client.get("/api/v1/stats/evaluation")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["period"] == "month"
    assert body["by"] == "district"
    assert body["timezone"] == "Asia/Shanghai"
    assert body["start"] == "2024-03-01T00:00:00+08:00"
    assert body["end"] == "2024-04-01T00:00:00+08:00"
    rows = rows_by_key(body)
    assert list(rows) == [LIWAN, YUEXIU]
    # t1..t4 and the open tickets of 1, 3 and 4 March (local) in 荔湾.
    assert rows[LIWAN]["tickets"] == 7
    assert rows[LIWAN]["name"] == "荔湾区"
    assert rows[LIWAN]["period_start"] == "2024-03-01"
    assert rows[LIWAN]["rework_rate"] == 0.25
    # The clock is past t6's due time: open and overdue now.
    assert rows[YUEXIU]["overdue"] == 1
    assert rows[YUEXIU]["false_positive_rate"] == 0.5


def test_evaluation_by_worker_for_one_day(client: TestClient) -> None:
    response = client.get(
        "/api/v1/stats/evaluation",
        params={
            "period": "day",
            "by": "worker",
            "start": "2024-03-05",
            "end": "2024-03-06",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["start"] == "2024-03-05T00:00:00+08:00"
    rows = rows_by_key(body)
    assert list(rows) == ["w1", "w2", "w3", None]
    w1 = rows["w1"]
    assert w1["name"] == "张三"
    assert (w1["tickets"], w1["closed"], w1["on_time_closed"]) == (2, 2, 1)
    assert w1["rework_rate"] == pytest.approx(1 / 3)
    assert w1["dispatch_s_p50"] == 90.0
    assert rows[None]["on_time_close_rate"] is None


def test_evaluation_accepts_iso_times_with_and_without_offsets(
    client: TestClient,
) -> None:
    # 10:00..10:30 local, once with an explicit UTC offset and once local.
    for start in ("2024-03-05T02:00:00Z", "2024-03-05T10:00:00"):
        response = client.get(
            "/api/v1/stats/evaluation",
            params={"by": "total", "start": start, "end": "2024-03-05T10:30:00+08:00"},
        )
        assert response.status_code == 200, response.text
        (row,) = response.json()["rows"]
        assert row["tickets"] == 3  # t1, t2, t3


def test_evaluation_csv_download(client: TestClient) -> None:
    response = client.get(
        "/api/v1/stats/evaluation", params={"by": "grid", "format": "csv"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="evaluation-grid-month-20240301-20240401.csv"'
    )
    text = response.content.decode("utf-8")
    header = text.splitlines()[0]
    assert header.split(",") == list(EvaluationRow.model_fields)
    rows = {row["key"]: row for row in csv.DictReader(io.StringIO(text))}
    g3 = rows[G3]
    assert g3["name"] == "北京一格"
    assert g3["period_start"] == "2024-03-01"
    assert (g3["tickets"], g3["closed"], g3["open_now"]) == ("3", "1", "1")
    assert g3["false_positive_rate"] == "0.5"
    assert g3["rework_rate"] == "0"


def test_evaluation_combined_gives_one_row_per_key_over_the_range(
    client: TestClient,
) -> None:
    # Per day, then combined over the days: the counts and rates of the range.
    range_ = {"by": "grid", "start": "2024-03-01", "end": "2024-03-08"}
    days = client.get(
        "/api/v1/stats/evaluation", params={**range_, "period": "day"}
    ).json()
    combined = client.get(
        "/api/v1/stats/evaluation",
        params={**range_, "period": "day", "combine": "true"},
    ).json()
    whole = client.get(
        "/api/v1/stats/evaluation", params={**range_, "period": "month"}
    ).json()
    assert combined["combined"] is True
    assert len(days["rows"]) > len(combined["rows"]) == combined["total_rows"]
    by_key = rows_by_key(combined)
    assert set(by_key) == set(rows_by_key(whole))
    for key, row in rows_by_key(whole).items():
        got = by_key[key]
        for field in ("tickets", "closed", "on_time_closed", "returns", "overdue"):
            assert got[field] == row[field], (key, field)
        for rate in ("on_time_close_rate", "rework_rate", "false_positive_rate"):
            assert got[rate] == pytest.approx(row[rate]), (key, rate)
        assert got["period_start"] == min(
            r["period_start"] for r in days["rows"] if r["key"] == key
        )


def test_evaluation_limit_keeps_the_rows_with_most_tickets(client: TestClient) -> None:
    params = {"by": "grid", "start": "2024-03-01", "end": "2024-03-08"}
    every = client.get("/api/v1/stats/evaluation", params=params).json()
    top = client.get("/api/v1/stats/evaluation", params={**params, "limit": "1"}).json()
    assert top["total_rows"] == len(every["rows"]) > 1
    (row,) = top["rows"]
    assert row["tickets"] == max(r["tickets"] for r in every["rows"])
    bad = client.get("/api/v1/stats/evaluation", params={**params, "limit": "0"})
    assert bad.status_code == 422, bad.text


@pytest.mark.parametrize(
    ("params", "location", "message"),
    [
        ({"start": "2024-13-01"}, ["query", "start"], "neither a date"),
        ({"end": "yesterday"}, ["query", "end"], "neither a date"),
        (
            {"start": "2024-03-06", "end": "2024-03-05"},
            ["query", "end"],
            "must be after start",
        ),
        ({"period": "fortnight"}, ["query", "period"], "day"),
        ({"by": "county"}, ["query", "by"], "district"),
        ({"format": "xlsx"}, ["query", "format"], "csv"),
    ],
)
def test_evaluation_rejects_bad_parameters(
    client: TestClient, params: dict[str, str], location: list[str], message: str
) -> None:
    response = client.get("/api/v1/stats/evaluation", params=params)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == location
    assert message in error["msg"]


def test_stats_are_for_staff_only(context: CentralContext) -> None:
    worker = make_client(context, UserRole.WORKER)
    for path in ("evaluation", "false-positives", "daily"):
        response = worker.get(f"/api/v1/stats/{path}")
        assert response.status_code == 403, response.text
    supervisor = make_client(context, UserRole.SUPERVISOR)
    assert supervisor.get("/api/v1/stats/daily").status_code == 200


def test_false_positives_json_and_csv(client: TestClient) -> None:
    params = {"by": "event_type", "start": "2024-03-05", "end": "2024-03-06"}
    response = client.get("/api/v1/stats/false-positives", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["by"] == "event_type"
    assert [
        (r["key"], r["ai_tickets"], r["rejected"], r["rate"]) for r in body["rows"]
    ] == [
        ("crowding", 2, 1, 0.5),
        ("littering", 3, 1, pytest.approx(1 / 3)),
    ]

    response = client.get(
        "/api/v1/stats/false-positives", params={"format": "csv"}
    )  # defaults: by camera, this month
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="false-positives-camera-20240301-20240401.csv"'
    )
    lines = response.content.decode("utf-8").splitlines()
    assert (
        lines[0]
        == "key,node_id,camera_id,name,ai_tickets,rejected,confirmed,pending,rate"
    )
    assert lines[1] == "n1/c1,n1,c1,沙面北门,2,2,1,0,1"


def test_daily_counts_default_to_the_last_30_days(client: TestClient) -> None:
    response = client.get("/api/v1/stats/daily")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["start"] == "2024-02-05T00:00:00+08:00"
    assert body["end"] == "2024-03-06T00:00:00+08:00"
    rows = [
        (r["day"], r["category_code"], r["events"], r["tickets"], r["ai_tickets"])
        for r in body["rows"]
    ]
    assert rows == [
        ("2024-02-29", "0102", 0, 1, 0),
        ("2024-03-01", "0102", 0, 1, 0),
        ("2024-03-03", "0102", 0, 1, 0),
        ("2024-03-04", "0102", 0, 1, 0),
        ("2024-03-05", "0102", 4, 4, 3),
        ("2024-03-05", "0503", 2, 3, 2),
        # the unlinked fall event, categorised by the matter list
        ("2024-03-05", "0601", 1, 0, 0),
    ]
    assert body["rows"][0]["category_name"] == LITTER[1]


def test_daily_csv(client: TestClient) -> None:
    response = client.get(
        "/api/v1/stats/daily",
        params={"start": "2024-03-06", "end": "2024-03-07", "format": "csv"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == (
        'attachment; filename="daily-20240306-20240307.csv"'
    )
    assert response.content.decode("utf-8").splitlines() == [
        "day,category_code,category_name,events,tickets,ai_tickets",
        f"2024-03-06,0102,{LITTER[1]},1,0,0",
    ]


def test_openapi_documents_the_reports(client: TestClient) -> None:
    schema = client.app.openapi()  # type: ignore[attr-defined]
    paths = schema["paths"]
    for path in ("evaluation", "false-positives", "daily"):
        operation = paths[f"/api/v1/stats/{path}"]["get"]
        assert operation["tags"] == ["statistics"]
        assert "text/csv" in operation["responses"]["200"]["content"]
    row = schema["components"]["schemas"]["EvaluationRow"]["properties"]
    assert "returns / resolves" in row["rework_rate"]["description"]
    params = {p["name"] for p in paths["/api/v1/stats/evaluation"]["get"]["parameters"]}
    assert {"period", "by", "start", "end", "format"} <= params


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(
    client: TestClient, context: CentralContext
) -> None:
    from central.db.models import Area

    hostile = '=HYPERLINK("http://evil.example","click")'
    with context.sessions.begin() as session:
        area = session.get(Area, G3)
        assert area is not None
        original, area.name = area.name, hostile
    try:
        response = client.get(
            "/api/v1/stats/evaluation", params={"by": "grid", "format": "csv"}
        )
    finally:
        with context.sessions.begin() as session:
            restored = session.get(Area, G3)
            assert restored is not None
            restored.name = original
    assert response.status_code == 200, response.text
    rows = {row["key"]: row for row in csv.DictReader(io.StringIO(response.text))}
    assert rows[G3]["name"] == "'" + hostile


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("北京一格", "北京一格"),
        ("a=b", "a=b"),
    ],
)
def test_neutralise_cell(cell: str, expected: str) -> None:
    assert neutralise_cell(cell) == expected


def test_numbers_are_left_alone_even_when_negative() -> None:
    from central.performance import DailyCountRow

    fields: dict[str, object] = dict.fromkeys(DailyCountRow.model_fields)
    fields.update(day="2024-03-01", category_name="-x")
    row = DailyCountRow.model_construct(None, **fields)
    (safe,) = neutralise_rows([row])
    assert safe.category_name == "'-x"
    assert safe.day == "2024-03-01"

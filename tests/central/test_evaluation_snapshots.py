"""Stored evaluations of completed months and quarters: the job stores what
`evaluate` computes, the statistics API serves it with `as_of`, and anything
not made of stored completed buckets is still computed on request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from central.clock import ManualClock
from central.config import CentralSettings, EvaluationSnapshotSettings
from central.context import CentralContext, build_context
from central.db.models import EvaluationSnapshot, Ticket, UserRole
from central.evaluation_snapshots import (
    REFRESH_LOCK_KEY,
    EvaluationSnapshotJob,
    buckets_of,
    completed_buckets,
    evaluate_with_stored,
)
from central.performance import Dimension, Period, evaluate
from tests.central.api.test_routes_stats import make_client
from tests.central.test_performance import G1, G3, LIWAN, SHANGHAI, YUEXIU, populate

pytest_plugins = ["tests.utils.postgres"]

# Friday 10 May 2024 in Shanghai: February to April and Q4 2023 / Q1 2024 are done.
NOW = datetime(2024, 5, 10, 4, 0, tzinfo=UTC)
MARCH = (datetime(2024, 3, 1, tzinfo=SHANGHAI), datetime(2024, 4, 1, tzinfo=SHANGHAI))
EVALUATION = "/api/v1/stats/evaluation"


def local(year: int, month: int, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=SHANGHAI)


def build(url: str, **snapshots: Any) -> CentralContext:
    """A context on the test city of test_performance, its clock at NOW."""
    settings = CentralSettings(
        database_url=url,
        timezone="Asia/Shanghai",
        evaluation_snapshots=EvaluationSnapshotSettings(**snapshots),
    )
    context = build_context(settings, clock=ManualClock(NOW))
    with context.sessions() as session:
        populate(session)
    return context


@pytest.fixture
def context(tmp_path: Path) -> Iterator[CentralContext]:
    context = build(f"sqlite:///{tmp_path / 'central.db'}")
    yield context
    context.engine.dispose()


@pytest.fixture
def client(context: CentralContext) -> TestClient:
    return make_client(context, UserRole.OPERATOR)


def manual_clock(context: CentralContext) -> ManualClock:
    assert isinstance(context.clock, ManualClock)
    return context.clock


def march_params(**extra: str) -> dict[str, str]:
    return {"by": "district", "start": "2024-03-01", "end": "2024-04-01", **extra}


def move_a_march_ticket_to_yuexiu(context: CentralContext) -> None:
    with context.sessions.begin() as session:
        ticket = session.scalars(
            select(Ticket)
            .where(Ticket.grid_code == G1, Ticket.created_at >= MARCH[0])
            .order_by(Ticket.id)
            .limit(1)
        ).one()
        ticket.grid_code = G3


def test_buckets_of_given_whole_months_should_list_them_else_none() -> None:
    months = buckets_of(Period.MONTH, local(2024, 1), local(2024, 4), SHANGHAI)

    assert months is not None
    assert [start for start, _ in months] == [
        local(2024, 1),
        local(2024, 2),
        local(2024, 3),
    ]
    assert buckets_of(Period.MONTH, local(2024, 1, 2), local(2024, 4), SHANGHAI) is None
    assert buckets_of(Period.QUARTER, local(2024, 1), local(2024, 5), SHANGHAI) is None


def test_completed_buckets_should_end_before_the_current_period() -> None:
    months = completed_buckets(Period.MONTH, NOW, SHANGHAI, 3)
    quarters = completed_buckets(Period.QUARTER, NOW, SHANGHAI, 2)

    assert [m[0] for m in months] == [local(2024, 2), local(2024, 3), local(2024, 4)]
    assert months[-1][1] == local(2024, 5)
    assert [q[0] for q in quarters] == [local(2023, 10), local(2024, 1)]


def test_job_should_store_every_fresh_bucket_by_every_dimension(
    context: CentralContext,
) -> None:
    job = EvaluationSnapshotJob(context)
    report = job.run_once()

    # Kept fresh: 14 days, 8 weeks, 3 months, 2 quarters; stored once: the
    # console's older 2 months and 1 quarter.
    assert report.stored == (14 + 8 + 3 + 2 + 3) * len(Dimension)
    assert not job.is_due(NOW)
    assert job.run_once().stored == (14 + 8 + 3 + 2) * len(Dimension)
    with context.sessions() as session:
        stored = evaluate_with_stored(
            session,
            period=Period.MONTH,
            by=Dimension.WORKER,
            start=MARCH[0],
            end=MARCH[1],
            zone=SHANGHAI,
            now=NOW,
        )
        live = evaluate(
            session,
            period=Period.MONTH,
            by=Dimension.WORKER,
            start=MARCH[0],
            end=MARCH[1],
            timezone=SHANGHAI,
            now=NOW,
        )
    assert (stored.as_of, stored.stored_buckets) == (NOW, 1)
    assert [r.model_dump() for r in stored.rows] == [r.model_dump() for r in live]
    assert len(live) > 1


def test_api_given_a_stored_month_should_serve_it_with_as_of_until_refreshed(
    context: CentralContext, client: TestClient
) -> None:
    job = EvaluationSnapshotJob(context)
    job.run_once()
    before = client.get(EVALUATION, params=march_params()).json()

    move_a_march_ticket_to_yuexiu(context)
    manual_clock(context).advance(timedelta(minutes=10))
    stored = client.get(EVALUATION, params=march_params()).json()
    fresh = client.get(EVALUATION, params=march_params(fresh="true")).json()

    assert stored["as_of"] == "2024-05-10T04:00:00Z"
    assert stored["rows"] == before["rows"]
    assert fresh["as_of"] is None
    tickets = {r["key"]: r["tickets"] for r in stored["rows"]}
    assert {r["key"]: r["tickets"] for r in fresh["rows"]} == {
        LIWAN: tickets[LIWAN] - 1,
        YUEXIU: tickets[YUEXIU] + 1,
    }

    assert job.run_if_due() is None  # the interval has not passed
    manual_clock(context).advance(timedelta(hours=1))
    assert job.run_if_due() is not None
    refreshed = client.get(EVALUATION, params=march_params()).json()
    assert refreshed["rows"] == fresh["rows"]
    assert refreshed["as_of"] == "2024-05-10T05:10:00Z"


def test_api_given_two_stored_months_should_join_them_in_bucket_order(
    context: CentralContext, client: TestClient
) -> None:
    EvaluationSnapshotJob(context).run_once()
    params = march_params(start="2024-02-01", by="total")

    stored = client.get(EVALUATION, params=params).json()
    fresh = client.get(EVALUATION, params={**params, "fresh": "true"}).json()

    assert stored["as_of"] is not None
    assert [r["period_start"] for r in stored["rows"]] == ["2024-02-01", "2024-03-01"]
    assert stored["rows"] == fresh["rows"]


def test_api_given_stored_months_and_the_current_one_should_compute_only_that(
    context: CentralContext, client: TestClient
) -> None:
    EvaluationSnapshotJob(context).run_once()
    move_a_march_ticket_to_yuexiu(context)  # after the refresh: March is stale
    params = {"by": "district", "start": "2024-03-01"}  # to the current month's end

    stored = client.get(EVALUATION, params=params).json()
    fresh = client.get(EVALUATION, params={**params, "fresh": "true"}).json()

    assert stored["end"] == "2024-06-01T00:00:00+08:00"
    assert stored["as_of"] == "2024-05-10T04:00:00Z"
    assert {r["period_start"] for r in stored["rows"]} == {"2024-03-01", "2024-04-01"}
    march = [r for r in stored["rows"] if r["period_start"] == "2024-03-01"]
    assert march != [r for r in fresh["rows"] if r["period_start"] == "2024-03-01"]
    assert [r for r in stored["rows"] if r not in march] == [
        r for r in fresh["rows"] if r["period_start"] != "2024-03-01"
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2024-05-01", "end": "2024-06-01"},  # the current month
        {"start": "2024-05-06", "end": "2024-05-13", "period": "week"},  # current
        {"start": "2024-03-02", "end": "2024-04-01"},  # not a whole month
        {"start": "2023-10-01", "end": "2023-11-01"},  # too old: never stored
    ],
)
def test_api_given_a_range_not_stored_should_compute_it(
    context: CentralContext, client: TestClient, params: dict[str, str]
) -> None:
    EvaluationSnapshotJob(context).run_once()

    response = client.get(EVALUATION, params={"by": "district", **params})

    assert response.status_code == 200, response.text
    assert response.json()["as_of"] is None


def test_api_given_the_consoles_weeks_should_compute_only_the_current_one(
    context: CentralContext, client: TestClient
) -> None:
    EvaluationSnapshotJob(context).run_once()
    params = {"period": "week", "by": "total", "start": "2024-03-18"}  # 8 weeks

    stored = client.get(EVALUATION, params=params).json()
    fresh = client.get(EVALUATION, params={**params, "fresh": "true"}).json()

    assert stored["as_of"] == "2024-05-10T04:00:00Z"
    assert stored["rows"] == fresh["rows"]


def test_scores_given_a_stored_quarter_should_say_as_of(
    context: CentralContext, client: TestClient
) -> None:
    EvaluationSnapshotJob(context).run_once()

    body = client.get(
        "/api/v1/stats/scores",
        params={"period": "quarter", "start": "2024-01-01", "end": "2024-04-01"},
    ).json()

    assert body["as_of"] == "2024-05-10T04:00:00Z"
    assert body["rows"]


def test_disabled_snapshots_should_neither_run_nor_be_served(tmp_path: Path) -> None:
    context = build(f"sqlite:///{tmp_path / 'off.db'}", enabled=False)
    try:
        EvaluationSnapshotJob(context).run_once()  # stored by hand, then switched off
        assert EvaluationSnapshotJob(context).run_if_due() is None
        body = make_client(context, UserRole.OPERATOR).get(
            EVALUATION, params=march_params()
        )
        assert body.json()["as_of"] is None
    finally:
        context.engine.dispose()


@pytest.mark.integration
def test_job_on_postgresql_should_store_the_live_rows_and_yield_to_a_replica(
    postgres_url: str,
) -> None:
    context = build(postgres_url, months=1, quarters=1)
    try:
        job = EvaluationSnapshotJob(context)
        with context.engine.connect() as other_replica:
            lock = {"k": REFRESH_LOCK_KEY}
            other_replica.execute(text("SELECT pg_advisory_lock(:k)"), lock)
            assert job.run_once().skipped
            other_replica.execute(text("SELECT pg_advisory_unlock(:k)"), lock)
            other_replica.commit()

        report = job.run_once()

        # 1 month and 1 quarter kept fresh (and 14 days, 8 weeks), plus the
        # console's older 4 months and 2 quarters stored once.
        expected = (14 + 8 + 5 + 3) * len(Dimension)
        assert (report.stored, report.skipped) == (expected, False)
        april = (local(2024, 4), local(2024, 5))
        with context.sessions() as session:
            for by in Dimension:
                stored = evaluate_with_stored(
                    session,
                    period=Period.MONTH,
                    by=by,
                    start=april[0],
                    end=april[1],
                    zone=SHANGHAI,
                    now=NOW,
                )
                live = evaluate(
                    session,
                    period=Period.MONTH,
                    by=by,
                    start=april[0],
                    end=april[1],
                    timezone=SHANGHAI,
                    now=NOW,
                )
                assert stored.stored_buckets == 1, by
                assert [r.model_dump() for r in stored.rows] == [
                    r.model_dump() for r in live
                ], by
            count = session.scalar(select(EvaluationSnapshot.id).limit(1))
        assert count is not None
    finally:
        context.engine.dispose()


def test_job_thread_should_refresh_on_its_own_and_stop(context: CentralContext) -> None:
    job = EvaluationSnapshotJob(context, check_every_s=0.05)
    job.start()
    try:
        deadline = time.monotonic() + 30
        while job.is_due(NOW):
            assert time.monotonic() < deadline, "the thread stored nothing"
            time.sleep(0.05)
    finally:
        job.stop()
    assert not job.is_alive
    with context.sessions() as session:
        stored = evaluate_with_stored(
            session,
            period=Period.QUARTER,
            by=Dimension.TOTAL,
            start=local(2024, 1),
            end=local(2024, 4),
            zone=SHANGHAI,
            now=NOW,
        )
    assert stored.stored_buckets == 1


def test_rows_stored_by_another_version_should_be_recomputed_not_served(
    context: CentralContext, client: TestClient
) -> None:
    job = EvaluationSnapshotJob(context)
    job.run_once()
    with context.sessions.begin() as session:
        for snapshot in session.scalars(select(EvaluationSnapshot)):
            snapshot.row_schema = "an older EvaluationRow"
            snapshot.rows = [{"period_start": "2024-03-01", "key": None}]

    body = client.get(EVALUATION, params=march_params()).json()

    assert body["as_of"] is None
    assert {r["key"] for r in body["rows"]} == {LIWAN, YUEXIU}
    assert job.is_due(NOW)
    job.run_once()
    assert client.get(EVALUATION, params=march_params()).json()["as_of"] is not None

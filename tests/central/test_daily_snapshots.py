"""Stored daily counts: the job counts completed days, `/stats/daily` reads
them and counts only the rest (today), and nothing stored under another
matter list or row model is served."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from central.clock import ManualClock
from central.config import CentralSettings
from central.context import CentralContext, build_context
from central.daily_snapshots import categories_of, daily_with_stored
from central.db.models import EvaluationSnapshot, Ticket, UserRole
from central.evaluation_snapshots import DAILY_CHART_DAYS, EvaluationSnapshotJob
from central.performance import daily_counts
from tests.central.api.test_routes_stats import make_client
from tests.central.test_performance import SHANGHAI, populate

# Sunday 10 March 2024, noon in Shanghai: 5 March (most tickets) is done.
NOW = datetime(2024, 3, 10, 4, 0, tzinfo=UTC)
DAILY = "/api/v1/stats/daily"


@pytest.fixture
def context(tmp_path: Path) -> Iterator[CentralContext]:
    settings = CentralSettings(
        database_url=f"sqlite:///{tmp_path / 'central.db'}", timezone="Asia/Shanghai"
    )
    context = build_context(settings, clock=ManualClock(NOW))
    with context.sessions() as session:
        populate(session)
    yield context
    context.engine.dispose()


@pytest.fixture
def client(context: CentralContext) -> TestClient:
    return make_client(context, UserRole.OPERATOR)


def test_job_should_count_the_daily_charts_days(context: CentralContext) -> None:
    job = EvaluationSnapshotJob(context)

    report = job.run_once()

    assert report.days_stored == DAILY_CHART_DAYS  # 14 fresh + 15 stored once
    assert not job.is_due(NOW)
    assert job.run_once().days_stored == 14


def test_daily_should_read_completed_days_and_count_today(
    context: CentralContext, client: TestClient
) -> None:
    EvaluationSnapshotJob(context).run_once()

    stored = client.get(DAILY).json()  # 30 days to the end of today
    fresh = client.get(DAILY, params={"fresh": "true"}).json()

    assert stored["as_of"] == "2024-03-10T04:00:00Z" and fresh["as_of"] is None
    assert stored["rows"] == fresh["rows"]
    assert any(row["day"] == "2024-03-05" for row in stored["rows"])


def test_daily_should_serve_a_stored_day_until_refreshed(
    context: CentralContext, client: TestClient
) -> None:
    job = EvaluationSnapshotJob(context)
    job.run_once()
    with context.sessions.begin() as session:
        ticket = session.scalars(
            select(Ticket).where(Ticket.category_code.is_not(None)).limit(1)
        ).one()
        day = ticket.created_at.astimezone(SHANGHAI).date().isoformat()
        ticket.created_at = datetime(2024, 2, 1, tzinfo=SHANGHAI)  # out of range

    def tickets_that_day(body: dict[str, list[dict[str, object]]]) -> int:
        return sum(int(str(r["tickets"])) for r in body["rows"] if r["day"] == day)

    stored = client.get(DAILY).json()
    fresh = client.get(DAILY, params={"fresh": "true"}).json()
    assert tickets_that_day(stored) == tickets_that_day(fresh) + 1

    manual = context.clock
    assert isinstance(manual, ManualClock)
    manual.advance(timedelta(hours=1))
    job.run_once()
    assert tickets_that_day(client.get(DAILY).json()) == tickets_that_day(fresh)


def test_daily_given_an_edited_matter_list_should_count_again(
    context: CentralContext,
) -> None:
    EvaluationSnapshotJob(context).run_once()
    categories = dict(categories_of(context.matters))
    categories["littering"] = ("99", "renamed")
    bounds = (
        datetime(2024, 3, 1, tzinfo=SHANGHAI),
        datetime(2024, 3, 8, tzinfo=SHANGHAI),
    )

    with context.sessions() as session:
        rows, as_of = daily_with_stored(
            session,
            start=bounds[0],
            end=bounds[1],
            zone=SHANGHAI,
            now=NOW,
            categories=categories,
        )
        counted = daily_counts(
            session,
            start=bounds[0],
            end=bounds[1],
            timezone=SHANGHAI,
            categories=categories,
        )
        snapshots = session.scalars(select(EvaluationSnapshot)).all()

    assert as_of is None  # nothing stored under this map
    assert rows == counted
    assert snapshots


def test_daily_given_a_range_not_at_midnight_should_count_it_whole(
    context: CentralContext, client: TestClient
) -> None:
    EvaluationSnapshotJob(context).run_once()

    body = client.get(
        DAILY, params={"start": "2024-03-05T10:00:00", "end": "2024-03-06"}
    ).json()

    assert body["as_of"] is None and body["rows"]

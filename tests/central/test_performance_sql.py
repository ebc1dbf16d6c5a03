"""The evaluation aggregated by PostgreSQL (`central.performance_sql`) gives the
rows of the Python reference (`evaluate_in_python`), on the hand-checked tables
of test_performance_rates (三率) and test_performance (counts, times, buckets),
and with several citizens' reports merged into one ticket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from central.db.migrate import upgrade
from central.db.models import CitizenReport
from central.db.session import make_engine, make_session_factory
from central.performance import (
    Dimension,
    EvaluationRow,
    Period,
    evaluate,
    evaluate_in_python,
)
from central.performance_sql import evaluation_groups
from tests.central import test_performance as counts_table
from tests.central import test_performance_rates as rates_table

pytest_plugins = ["tests.utils.postgres"]


def _database(url: str, populate: Callable[[Session], object]) -> Iterator[Session]:
    engine = make_engine(url)
    upgrade(engine)
    factory: sessionmaker[Session] = make_session_factory(engine)
    try:
        with factory() as session:
            populate(session)
        with factory() as session:
            yield session
    finally:
        engine.dispose()


@pytest.fixture
def sql_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The periods each set-based evaluation ran for (proves the SQL path ran)."""
    calls: list[str] = []

    def spy(session: Session, **kwargs: Any) -> Any:
        calls.append(kwargs["period"])
        return evaluation_groups(session, **kwargs)

    monkeypatch.setattr("central.performance.evaluation_groups", spy)
    return calls


def both(session: Session, **kwargs: Any) -> tuple[list[EvaluationRow], ...]:
    return evaluate(session, **kwargs), evaluate_in_python(session, **kwargs)


@pytest.mark.integration
def test_rates_given_postgresql_should_equal_the_python_reference(
    postgres_url: str, sql_calls: list[str]
) -> None:
    for pg in _database(postgres_url, rates_table.populate):
        compared = 0
        for by in Dimension:
            for period in (Period.DAY, Period.QUARTER):
                for now in (rates_table.NOW, None):
                    in_sql, in_python = both(
                        pg,
                        period=period,
                        by=by,
                        start=rates_table.DAY,
                        end=rates_table.DAY + timedelta(days=1),
                        now=now,
                    )
                    assert in_sql == in_python, (by, period, now)
                    compared += len(in_sql)
        total = evaluate(
            pg,
            period=Period.DAY,
            by=Dimension.TOTAL,
            start=rates_table.DAY,
            end=rates_table.DAY + timedelta(days=1),
            now=rates_table.NOW,
        )
        assert [(r.response_due, r.responded_on_time) for r in total] == [(7, 5)]
        assert (total[0].resolution_due, total[0].resolved_on_time) == (6, 2)
        assert (total[0].rated, total[0].satisfied) == (4, 3)
    assert compared > len(Dimension)
    assert sql_calls and set(sql_calls) <= {"day", "quarter"}


@pytest.mark.integration
def test_buckets_given_postgresql_should_equal_the_python_reference(
    postgres_url: str, sql_calls: list[str]
) -> None:
    for pg in _database(postgres_url, counts_table.populate):
        for by in (Dimension.COMMUNITY, Dimension.CATEGORY, Dimension.WORKER):
            for period in Period:
                in_sql, in_python = both(
                    pg,
                    period=period,
                    by=by,
                    start=datetime(2023, 12, 1, tzinfo=counts_table.SHANGHAI),
                    end=datetime(2024, 6, 1, tzinfo=counts_table.SHANGHAI),
                    timezone="Asia/Shanghai",
                    now=counts_table.at(93),
                )
                assert in_sql == in_python, (by, period)
                assert in_sql, (by, period)
    assert len(sql_calls) == 3 * len(Period)


@pytest.mark.integration
def test_evaluate_given_a_fixed_offset_zone_should_fall_back_to_python(
    postgres_url: str, sql_calls: list[str]
) -> None:
    plus_eight = timezone(timedelta(hours=8))
    for pg in _database(postgres_url, counts_table.populate):
        kwargs: dict[str, Any] = {
            "period": Period.MONTH,
            "by": Dimension.DISTRICT,
            "start": datetime(2024, 3, 1, tzinfo=plus_eight),
            "end": datetime(2024, 4, 1, tzinfo=plus_eight),
        }
        fixed = evaluate(pg, timezone=plus_eight, **kwargs)
        assert sql_calls == []
        # Shanghai has kept UTC+8 since 1991: the same buckets by name.
        assert fixed == evaluate(pg, timezone="Asia/Shanghai", **kwargs)
        assert sql_calls == ["month"]
        assert evaluate(pg, timezone=UTC, **kwargs)  # UTC by name: SQL again
        assert sql_calls == ["month", "month"]


def _second_reporter_dissatisfied(session: Session) -> None:
    """The rates table, plus a second (dissatisfied) and a third (unrated)
    citizen on the first ticket rated satisfied: reports merged into it."""
    rates_table.populate(session)
    first = session.scalars(
        select(CitizenReport)
        .where(CitizenReport.rating == "satisfied")
        .order_by(CitizenReport.ticket_id)
    ).first()
    assert first is not None
    for rating in ("dissatisfied", None):
        session.add(
            CitizenReport(
                ticket_id=first.ticket_id,
                channel="web",
                created_at=first.created_at,
                rating=rating,
            )
        )
    session.commit()


@pytest.mark.integration
def test_ratings_given_merged_reports_should_need_every_reporter_satisfied(
    postgres_url: str, sql_calls: list[str]
) -> None:
    for pg in _database(postgres_url, _second_reporter_dissatisfied):
        kwargs: dict[str, Any] = {
            "period": Period.DAY,
            "by": Dimension.TOTAL,
            "start": rates_table.DAY,
            "end": rates_table.DAY + timedelta(days=1),
            "now": rates_table.NOW,
        }
        in_sql, in_python = both(pg, **kwargs)
        assert in_sql == in_python
        # 4 rated tickets as before (one ticket, one count), one fewer satisfied.
        assert [(r.rated, r.satisfied) for r in in_sql] == [(4, 2)]
    assert sql_calls == ["day"]

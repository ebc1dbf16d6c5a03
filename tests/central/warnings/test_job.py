"""The detection job and the warnings table, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from central.clock import ManualClock
from central.config import WarningSettings
from central.context import CentralContext
from central.db.models import AuditEntry, HotspotWarning, Ticket, TicketSource
from central.notify import RecordingNotifier
from central.scheduler import DeadlineWatcher
from central.warnings.job import WarningFeed, WarningJob
from central.warnings.notice import WarningNotice
from central.warnings.store import (
    AlreadyAcknowledged,
    WarningNotFound,
    acknowledge,
    list_warnings,
)
from tests.central.conftest import GRID_1

Central = tuple[CentralContext, RecordingNotifier]
GRID_2 = "440106001001002"
LITTER = ("0102", "市容环境/暴露垃圾")


def add_tickets(
    context: CentralContext, grid: str, times: list[datetime], state: str = "closed"
) -> None:
    with context.sessions.begin() as session:
        for at in times:
            session.add(
                Ticket(
                    source=TicketSource.PATROL.value,
                    matter_key="littering",
                    matter_version=context.matters.version,
                    category_code=LITTER[0],
                    category_name=LITTER[1],
                    priority="normal",
                    state=state,
                    title="rubbish",
                    grid_code=grid,
                    time_limit_min=120,
                    found_at=at,
                    created_at=at,
                    last_observed_at=at,
                )
            )


def monthly(now: datetime, weeks: int = 9) -> list[datetime]:
    """Once a month (every 30 days) back from 5 days ago."""
    return [now - timedelta(days=5 + 30 * n) for n in range(weeks * 7 // 30 + 1)]


def rows(context: CentralContext) -> list[HotspotWarning]:
    with context.sessions() as session:
        return list(session.scalars(select(HotspotWarning).order_by(HotspotWarning.id)))


def test_a_rise_should_open_one_warning_and_resolve_later(
    central: Central, clock: ManualClock
) -> None:
    context, _ = central
    now = clock.now()
    add_tickets(context, GRID_1, monthly(now))
    add_tickets(context, GRID_1, [now - timedelta(hours=h) for h in (2, 20, 40, 60)])
    job = WarningJob(context)
    report = job.run_once()
    assert report.opened == 1
    [warning] = rows(context)
    assert (warning.grid_code, warning.category_code) == (GRID_1, LITTER[0])
    assert warning.state == "open"
    assert warning.observed >= 3
    assert warning.expected < 1

    assert job.run_once().opened == 0  # still rising: the same warning
    assert len(rows(context)) == 1

    clock.advance(timedelta(days=21))  # quiet since: back to normal
    report = job.run_once()
    assert report.resolved == 1
    [warning] = rows(context)
    assert warning.state == "resolved"
    assert warning.resolved_at == clock.now()


def test_a_sparse_grid_with_one_ticket_should_not_warn(
    central: Central, clock: ManualClock
) -> None:
    context, _ = central
    add_tickets(context, GRID_2, [clock.now() - timedelta(hours=3)])
    assert WarningJob(context).run_once().opened == 0
    assert rows(context) == []


def test_rejected_tickets_should_not_count(
    central: Central, clock: ManualClock
) -> None:
    context, _ = central
    now = clock.now()
    add_tickets(context, GRID_1, monthly(now))
    recent = [now - timedelta(hours=h) for h in (2, 20, 40, 60)]
    add_tickets(context, GRID_1, recent, state="rejected")
    assert WarningJob(context).run_once().opened == 0


def test_one_active_warning_per_grid_and_category(
    central: Central, clock: ManualClock
) -> None:
    context, _ = central

    def warning(state: str) -> HotspotWarning:
        return HotspotWarning(
            grid_code=GRID_1,
            category_code="0102",
            category_name="x",
            state=state,
            window_days=3,
            observed=4,
            expected=0.2,
            p_value=1e-5,
            opened_at=clock.now(),
            updated_at=clock.now(),
        )

    with context.sessions.begin() as session:
        session.add_all([warning("resolved"), warning("resolved"), warning("open")])
    with pytest.raises(IntegrityError), context.sessions.begin() as session:
        session.add(warning("acknowledged"))


def test_acknowledge_once_and_audit(central: Central, clock: ManualClock) -> None:
    context, _ = central
    now = clock.now()
    add_tickets(context, GRID_1, monthly(now))
    add_tickets(context, GRID_1, [now - timedelta(hours=h) for h in (1, 2, 3, 4)])
    WarningJob(context).run_once()
    [warning] = rows(context)
    with context.sessions.begin() as session:
        acknowledge(session, warning_id=warning.id, by="sup", now=now, address="::1")
    with pytest.raises(AlreadyAcknowledged), context.sessions.begin() as session:
        acknowledge(session, warning_id=warning.id, by="sup", now=now)
    with pytest.raises(WarningNotFound), context.sessions.begin() as session:
        acknowledge(session, warning_id=warning.id + 1000, by="sup", now=now)
    with context.sessions() as session:
        [audit] = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "warning_acknowledged")
        ).all()
        assert (audit.actor, audit.target) == ("sup", f"warning:{warning.id}")
        found, total = list_warnings(session, states=["acknowledged"], area_code=GRID_1)
        assert total == 1 and found[0].acknowledged_by == "sup"
        assert list_warnings(session, states=["open"])[1] == 0
        assert list_warnings(session, area_code=GRID_2)[1] == 0
        assert list_warnings(session, area_code="440106001001")[1] == 1


def test_the_feed_should_tell_each_state_once(
    central: Central, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    context, _ = central
    told: list[tuple[int, str]] = []

    def tell(notice: WarningNotice) -> None:
        told.append((notice.warning.id, notice.warning.state))

    monkeypatch.setattr(context.stream, "warning_changed", tell)
    feed = WarningFeed(context, lookback=timedelta(minutes=5))
    now = clock.now()
    add_tickets(context, GRID_1, monthly(now))
    add_tickets(context, GRID_1, [now - timedelta(hours=h) for h in (1, 2, 3, 4)])
    WarningJob(context).run_once()
    feed.poll()
    feed.poll()
    [warning] = rows(context)
    assert told == [(warning.id, "open")]
    clock.advance(timedelta(seconds=30))
    with context.sessions.begin() as session:
        acknowledge(session, warning_id=warning.id, by="sup", now=clock.now())
    feed.poll()
    assert told[-1] == (warning.id, "acknowledged") and len(told) == 2


def test_the_scheduler_should_run_the_job_at_its_interval(
    central: Central, clock: ManualClock
) -> None:
    context, _ = central
    watcher = DeadlineWatcher(context)
    assert watcher.warnings.run_if_due() is not None
    clock.advance(timedelta(minutes=30))
    assert watcher.warnings.run_if_due() is None  # interval_min is 60
    clock.advance(timedelta(minutes=31))
    assert watcher.warnings.run_if_due() is not None
    context.settings = context.settings.model_copy(
        update={"warnings": WarningSettings(enabled=False)}
    )
    clock.advance(timedelta(hours=2))
    assert watcher.warnings.run_if_due() is None

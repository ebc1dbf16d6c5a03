"""The evaluation of case handling, on a small city with hand-checked figures.

Two districts of Guangzhou (荔湾 440103, 越秀 440104), three grids, three
workers, two departments; seven tickets on Tuesday 2024-03-05 between 10:00 and
11:30 Shanghai time (UTC+8), plus tickets around month/ISO-week/quarter
boundaries that only the bucketing tests look at.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from central.db.migrate import upgrade
from central.db.models import (
    Area,
    Camera,
    Department,
    Event,
    Ticket,
    TicketHistory,
    Worker,
)
from central.db.session import make_engine, make_session_factory
from central.performance import (
    DailyCountRow,
    Dimension,
    EvaluationRow,
    FalsePositiveRow,
    Period,
    daily_counts,
    evaluate,
    false_positives,
    period_bounds,
    period_end,
    period_start,
    to_csv,
)

pytest_plugins = ["tests.utils.postgres"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Tuesday 2024-03-05 10:00 in Shanghai.
BASE = datetime(2024, 3, 5, 2, 0, tzinfo=UTC)
DAY_START = datetime(2024, 3, 5, tzinfo=SHANGHAI)
DAY_END = datetime(2024, 3, 6, tzinfo=SHANGHAI)

LIWAN, YUEXIU = "440103", "440104"
G1, G2, G3 = "440103001001001", "440103001001002", "440104001001001"
LITTER = ("0102", "市容环境/暴露垃圾")
CROWD = ("0503", "社会治安/人员聚集")


def at(minutes: float) -> datetime:
    return BASE + timedelta(minutes=minutes)


@dataclass
class Spec:
    """A ticket and its history: `steps` are (minutes after BASE, action)."""

    source: str
    category: tuple[str, str]
    grid: str | None
    created: float
    steps: list[tuple[float, str]]
    worker: str | None = None
    department: str | None = None
    limit_min: int = 120
    overdue: bool = False
    camera: tuple[str, str] | None = None
    event_type: str | None = None
    created_at: datetime | None = None  # overrides `created`


STATE_AFTER = {
    "dispatch": "dispatched",
    "confirm": "dispatched",
    "accept": "accepted",
    "resolve": "resolved",
    "return": "returned",
    "close": "closed",
    "reject": "rejected",
    "escalate": None,
}

# The seven tickets of 2024-03-05 (see the expected figures in the tests).
DAY_TICKETS: dict[str, Spec] = {
    # AI littering in G1, closed 60 min after creation, due at +121 → on time.
    "t1": Spec(
        "ai",
        LITTER,
        G1,
        0,
        [(1, "dispatch"), (6, "accept"), (40, "resolve"), (60, "close")],
        worker="w1",
        department="SAN",
        camera=("n1", "c2"),
        event_type="littering",
    ),
    # Citizen littering in G1: returned once, closed at +190, due at +132 → late.
    "t2": Spec(
        "citizen",
        LITTER,
        G1,
        10,
        [
            (12, "dispatch"),
            (22, "accept"),
            (60, "resolve"),
            (70, "return"),
            (80, "accept"),
            (150, "resolve"),
            (190, "close"),
        ],
        worker="w1",
        department="SAN",
        overdue=True,
    ),
    # AI crowding in G2, 30 min limit: closed at +50, due at +53 → on time.
    "t3": Spec(
        "ai",
        CROWD,
        G2,
        20,
        [(23, "dispatch"), (38, "accept"), (45, "resolve"), (50, "close")],
        worker="w2",
        department="PS",
        limit_min=30,
        camera=("n2", "c9"),
        event_type="crowding",
    ),
    # AI crowding from n1/c1 rejected during review (never dispatched).
    "t4": Spec(
        "ai",
        CROWD,
        G2,
        30,
        [(35, "reject")],
        department="PS",
        limit_min=30,
        camera=("n1", "c1"),
        event_type="crowding",
    ),
    # AI littering from n1/c1 dispatched, then rejected by the operator.
    "t5": Spec(
        "ai",
        LITTER,
        G3,
        40,
        [(41, "dispatch"), (50, "reject")],
        worker="w3",
        department="SAN",
        camera=("n1", "c1"),
        event_type="littering",
    ),
    # Patrol crowding in G3, accepted and still open; due at +92, not yet flagged.
    "t6": Spec(
        "patrol",
        CROWD,
        G3,
        60,
        [(62, "dispatch"), (72, "accept")],
        worker="w3",
        department="PS",
        limit_min=30,
    ),
    # AI littering from n1/c2, closed at +180, due at +211 → on time.
    "t7": Spec(
        "ai",
        LITTER,
        G3,
        90,
        [(91, "dispatch"), (96, "accept"), (150, "resolve"), (180, "close")],
        worker="w3",
        department="SAN",
        camera=("n1", "c2"),
        event_type="littering",
    ),
}


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# Tickets around period boundaries (all in G1, open): UTC creation times.
BOUNDARY_TICKETS: dict[str, datetime] = {
    "feb29_2359": _utc(2024, 2, 29, 15, 59),  # Thu 29 Feb 23:59 local
    "mar01_0000": _utc(2024, 2, 29, 16, 0),  # Fri 1 Mar 00:00 local
    "mar03_2359": _utc(2024, 3, 3, 15, 59),  # Sun 3 Mar 23:59 local
    "mar04_0000": _utc(2024, 3, 3, 16, 0),  # Mon 4 Mar 00:00 local
    "apr01_0000": _utc(2024, 3, 31, 16, 0),  # Mon 1 Apr 00:00 local (Q2)
}


def _ticket(name: str, spec: Spec) -> tuple[Ticket, list[TicketHistory]]:
    created = spec.created_at or at(spec.created)
    ticket = Ticket(
        source=spec.source,
        event_type=spec.event_type,
        matter_key=spec.event_type or "manual",
        matter_version="test",
        category_code=spec.category[0],
        category_name=spec.category[1],
        department_code=spec.department,
        priority="normal",
        state="dispatched" if spec.worker else "pending_review",
        title=name,
        grid_code=spec.grid,
        node_id=spec.camera[0] if spec.camera else None,
        camera_id=spec.camera[1] if spec.camera else None,
        assignee_id=spec.worker,
        overdue=spec.overdue,
        time_limit_min=spec.limit_min,
        found_at=created,
        created_at=created,
        last_observed_at=created,
    )
    history = [
        TicketHistory(
            at=created, actor="system", action="create", to_state="pending_review"
        )
    ]
    state = "pending_review"
    for minutes, action in spec.steps:
        when = at(minutes)
        after = STATE_AFTER[action] or state
        history.append(
            TicketHistory(
                at=when, actor="op", action=action, from_state=state, to_state=after
            )
        )
        state = after
        if action == "dispatch" and ticket.dispatched_at is None:
            ticket.dispatched_at = when
            ticket.due_at = when + timedelta(minutes=spec.limit_min)
        elif action == "accept" and ticket.accepted_at is None:
            ticket.accepted_at = when
        elif action == "resolve":
            ticket.resolved_at = when
        elif action == "close":
            ticket.closed_at = when
        elif action == "reject":
            ticket.rejected_at = when
    ticket.state = state
    return ticket, history


def populate(session: Session) -> dict[str, int]:
    """The test city; returns ticket ids by name."""
    session.add_all(
        [
            Area(code="440100", level="city", name="广州市"),
            Area(code=LIWAN, level="district", name="荔湾区", parent_code="440100"),
            Area(code=YUEXIU, level="district", name="越秀区", parent_code="440100"),
            Area(code="440103001", level="street", name="沙面街", parent_code=LIWAN),
            Area(code="440104001", level="street", name="北京街", parent_code=YUEXIU),
            Area(
                code="440103001001",
                level="community",
                name="沙面社区",
                parent_code="440103001",
            ),
            Area(
                code="440104001001",
                level="community",
                name="北京社区",
                parent_code="440104001",
            ),
            Area(code=G1, level="grid", name="沙面一格", parent_code="440103001001"),
            Area(code=G2, level="grid", name="沙面二格", parent_code="440103001001"),
            Area(code=G3, level="grid", name="北京一格", parent_code="440104001001"),
            Department(code="SAN", name="环卫局", kind="sanitation"),
            Department(code="PS", name="公安分局", kind="public_security"),
        ]
    )
    session.flush()
    session.add_all(
        [
            Worker(id="w1", name="张三", role="full_time"),
            Worker(id="w2", name="李四", role="full_time"),
            Worker(id="w3", name="王五", role="part_time"),
            Camera(node_id="n1", camera_id="c1", name="沙面北门"),
            Camera(node_id="n1", camera_id="c2", name="北京路口"),
        ]
    )
    session.flush()
    ids: dict[str, int] = {}
    specs = dict(DAY_TICKETS)
    for name, created_at in BOUNDARY_TICKETS.items():
        specs[name] = Spec(
            "citizen", LITTER, G1, 0, [], department="SAN", created_at=created_at
        )
    for name, spec in specs.items():
        ticket, history = _ticket(name, spec)
        session.add(ticket)
        session.flush()
        for row in history:
            row.ticket_id = ticket.id
        session.add_all(history)
        ids[name] = ticket.id
    # Events: one per AI ticket at its creation, plus unlinked ones.
    for name in ("t1", "t3", "t4", "t5", "t7"):
        spec = DAY_TICKETS[name]
        assert spec.camera and spec.event_type
        session.add(_event(f"e-{name}", spec.event_type, at(spec.created), ids[name]))
    # Unlinked: a littering event (matter list maps it), a fall (nothing maps it),
    # and a littering event just after local midnight (still 5 March in UTC).
    session.add(_event("e-x1", "littering", at(100), None))
    session.add(_event("e-x2", "fall", at(110), None))
    session.add(_event("e-x3", "littering", _utc(2024, 3, 5, 16, 30), None))
    session.commit()
    return ids


def _event(event_id: str, kind: str, when: datetime, ticket_id: int | None) -> Event:
    return Event(
        event_id=event_id,
        type=kind,
        node_id="n1",
        camera_id="c1",
        phase="start",
        started_at=when,
        detected_at=when,
        received_at=when,
        confidence=0.9,
        lat=23.1,
        lon=113.2,
        location_source="ground",
        model_name="m",
        model_version="1",
        ticket_id=ticket_id,
    )


def migrated_engine(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    return engine


@pytest.fixture(scope="module")
def sessions(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[sessionmaker[Session]]:
    path: Path = tmp_path_factory.mktemp("evaluation") / "central.db"
    engine = migrated_engine(f"sqlite:///{path}")
    factory = make_session_factory(engine)
    with factory() as session:
        populate(session)
    yield factory
    engine.dispose()


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as s:
        yield s


def day_rows(session: Session, by: Dimension, **kwargs: object) -> list[EvaluationRow]:
    return evaluate(
        session,
        period=Period.DAY,
        by=by,
        start=DAY_START,
        end=DAY_END,
        timezone="Asia/Shanghai",
        **kwargs,  # type: ignore[arg-type]
    )


def by_key(rows: list[EvaluationRow]) -> dict[str | None, EvaluationRow]:
    assert len({r.key for r in rows}) == len(rows)
    return {r.key: r for r in rows}


# -- periods ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("utc_time", "period", "expected"),
    [
        (_utc(2024, 2, 29, 15, 59), Period.DAY, date(2024, 2, 29)),
        (_utc(2024, 2, 29, 16, 0), Period.DAY, date(2024, 3, 1)),
        (_utc(2024, 2, 29, 16, 0), Period.MONTH, date(2024, 3, 1)),
        (_utc(2024, 2, 29, 15, 59), Period.MONTH, date(2024, 2, 1)),
        (_utc(2024, 3, 3, 15, 59), Period.WEEK, date(2024, 2, 26)),
        (_utc(2024, 3, 3, 16, 0), Period.WEEK, date(2024, 3, 4)),
        (_utc(2024, 3, 31, 15, 59), Period.QUARTER, date(2024, 1, 1)),
        (_utc(2024, 3, 31, 16, 0), Period.QUARTER, date(2024, 4, 1)),
        (_utc(2024, 12, 31, 16, 0), Period.QUARTER, date(2025, 1, 1)),
        # ISO week 1 of 2025 starts on Monday 30 December 2024.
        (_utc(2025, 1, 1, 3, 0), Period.WEEK, date(2024, 12, 30)),
    ],
)
def test_period_start_in_shanghai(
    utc_time: datetime, period: Period, expected: date
) -> None:
    start = period_start(utc_time, period, "Asia/Shanghai")
    assert start == datetime(
        expected.year, expected.month, expected.day, tzinfo=SHANGHAI
    )
    assert start.utcoffset() == timedelta(hours=8)


def test_period_bounds_and_ends() -> None:
    when = _utc(2024, 11, 15, 12, 0)
    assert period_bounds(when, "month", "Asia/Shanghai") == (
        datetime(2024, 11, 1, tzinfo=SHANGHAI),
        datetime(2024, 12, 1, tzinfo=SHANGHAI),
    )
    assert period_end(when, Period.QUARTER, SHANGHAI) == datetime(
        2025, 1, 1, tzinfo=SHANGHAI
    )
    assert period_end(when, Period.WEEK, "UTC") == datetime(2024, 11, 18, tzinfo=UTC)
    assert period_end(when, Period.DAY, "UTC") == datetime(2024, 11, 16, tzinfo=UTC)


def test_period_start_rejects_naive_times_and_unknown_zones() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        period_start(datetime(2024, 3, 1), Period.DAY)
    with pytest.raises(ValueError, match="unknown timezone 'Mars/Olympus'"):
        period_start(BASE, Period.DAY, "Mars/Olympus")
    with pytest.raises(ValueError, match="'fortnight' is not a valid Period"):
        period_start(BASE, "fortnight")


# -- evaluate ----------------------------------------------------------------------


def test_by_district_figures(session: Session) -> None:
    rows = by_key(day_rows(session, Dimension.DISTRICT))
    assert list(rows) == [LIWAN, YUEXIU]

    liwan = rows[LIWAN]
    assert liwan.period_start == "2024-03-05"
    assert liwan.name == "荔湾区"
    assert (liwan.tickets, liwan.ai_tickets, liwan.dispatched) == (4, 3, 3)
    assert (liwan.closed, liwan.rejected, liwan.ai_rejected) == (3, 1, 1)
    assert (liwan.open_now, liwan.overdue, liwan.on_time_closed) == (0, 1, 2)
    assert liwan.on_time_close_rate == pytest.approx(2 / 3)
    assert (liwan.resolves, liwan.returns) == (4, 1)
    assert liwan.rework_rate == pytest.approx(0.25)
    # dispatch: 60, 120, 180 s
    assert liwan.dispatch_s_mean == pytest.approx(120.0)
    assert liwan.dispatch_s_p50 == pytest.approx(120.0)
    assert liwan.dispatch_s_p90 == pytest.approx(168.0)
    # accept: 300, 600, 900 s
    assert liwan.accept_s_mean == pytest.approx(600.0)
    assert liwan.accept_s_p50 == pytest.approx(600.0)
    assert liwan.accept_s_p90 == pytest.approx(840.0)
    # close: 1800, 3600, 10800 s
    assert liwan.close_s_mean == pytest.approx(5400.0)
    assert liwan.close_s_p50 == pytest.approx(3600.0)
    assert liwan.close_s_p90 == pytest.approx(9360.0)
    assert liwan.false_positive_rate == pytest.approx(1 / 3)

    yuexiu = rows[YUEXIU]
    assert yuexiu.name == "越秀区"
    assert (yuexiu.tickets, yuexiu.ai_tickets, yuexiu.dispatched) == (3, 2, 3)
    assert (yuexiu.closed, yuexiu.rejected, yuexiu.open_now) == (1, 1, 1)
    # t6 is past due but the scheduler has not flagged it yet.
    assert (yuexiu.overdue, yuexiu.on_time_closed) == (0, 1)
    assert yuexiu.on_time_close_rate == 1.0
    assert (yuexiu.resolves, yuexiu.returns, yuexiu.rework_rate) == (1, 0, 0.0)
    # dispatch: 60, 120, 60 s; accept: 600, 300 s; close: 5400 s
    assert yuexiu.dispatch_s_mean == pytest.approx(80.0)
    assert yuexiu.dispatch_s_p50 == pytest.approx(60.0)
    assert yuexiu.dispatch_s_p90 == pytest.approx(108.0)
    assert yuexiu.accept_s_mean == pytest.approx(450.0)
    assert yuexiu.accept_s_p50 == pytest.approx(450.0)
    assert yuexiu.accept_s_p90 == pytest.approx(570.0)
    assert yuexiu.close_s_mean == yuexiu.close_s_p50 == yuexiu.close_s_p90 == 5400.0
    assert yuexiu.false_positive_rate == pytest.approx(0.5)


def test_open_tickets_past_due_count_as_overdue_given_now(session: Session) -> None:
    before_due = by_key(day_rows(session, Dimension.DISTRICT, now=at(91)))
    after_due = by_key(day_rows(session, Dimension.DISTRICT, now=at(93)))
    assert before_due[YUEXIU].overdue == 0
    assert after_due[YUEXIU].overdue == 1
    # Closed tickets are judged by their close time, not by `now`.
    assert after_due[LIWAN].overdue == 1


def test_by_worker_rework_rate_and_unassigned_row(session: Session) -> None:
    rows = by_key(day_rows(session, Dimension.WORKER))
    assert list(rows) == ["w1", "w2", "w3", None]
    w1 = rows["w1"]
    assert w1.name == "张三"
    assert (w1.tickets, w1.closed, w1.on_time_closed) == (2, 2, 1)
    assert w1.on_time_close_rate == 0.5
    assert (w1.resolves, w1.returns) == (3, 1)
    assert w1.rework_rate == pytest.approx(1 / 3)
    assert w1.close_s_p50 == pytest.approx((3600 + 10800) / 2)
    assert rows["w2"].name == "李四"
    assert rows["w3"].tickets == 3
    unassigned = rows[None]
    assert unassigned.name is None
    assert (unassigned.tickets, unassigned.rejected) == (1, 1)
    assert unassigned.rework_rate is None
    assert unassigned.on_time_close_rate is None
    assert unassigned.dispatch_s_mean is None
    assert unassigned.false_positive_rate == 1.0


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        (
            Dimension.GRID,
            {G1: ("沙面一格", 2), G2: ("沙面二格", 2), G3: ("北京一格", 3)},
        ),
        (
            Dimension.COMMUNITY,
            {"440103001001": ("沙面社区", 4), "440104001001": ("北京社区", 3)},
        ),
        (Dimension.STREET, {"440103001": ("沙面街", 4), "440104001": ("北京街", 3)}),
        (Dimension.CATEGORY, {"0102": (LITTER[1], 4), "0503": (CROWD[1], 3)}),
        (Dimension.DEPARTMENT, {"PS": ("公安分局", 3), "SAN": ("环卫局", 4)}),
        (Dimension.TOTAL, {"total": (None, 7)}),
    ],
)
def test_dimensions_keys_names_and_counts(
    session: Session,
    by: Dimension,
    expected: dict[str, tuple[str | None, int]],
) -> None:
    rows = day_rows(session, by)
    assert {r.key: (r.name, r.tickets) for r in rows} == expected
    assert [r.key for r in rows] == sorted(expected)


def test_category_figures(session: Session) -> None:
    rows = by_key(day_rows(session, Dimension.CATEGORY))
    litter = rows["0102"]
    # t1, t2, t5, t7: AI t1, t5, t7; t5 rejected.
    assert (litter.ai_tickets, litter.ai_rejected) == (3, 1)
    assert litter.false_positive_rate == pytest.approx(1 / 3)
    assert (litter.closed, litter.on_time_closed, litter.overdue) == (3, 2, 1)
    assert litter.rework_rate == pytest.approx(1 / 4)


def test_total_matches_the_sum_of_districts(session: Session) -> None:
    (total,) = day_rows(session, Dimension.TOTAL)
    districts = day_rows(session, Dimension.DISTRICT)
    for field_name in ("tickets", "closed", "rejected", "resolves", "returns"):
        assert getattr(total, field_name) == sum(
            getattr(r, field_name) for r in districts
        )
    assert total.on_time_close_rate == pytest.approx(3 / 4)
    assert total.rework_rate == pytest.approx(1 / 5)
    assert total.false_positive_rate == pytest.approx(2 / 5)


def test_month_and_week_buckets_follow_local_time(session: Session) -> None:
    start = datetime(2024, 2, 1, tzinfo=SHANGHAI)
    end = datetime(2024, 5, 1, tzinfo=SHANGHAI)
    months = evaluate(
        session,
        period="month",
        by="total",
        start=start,
        end=end,
        timezone="Asia/Shanghai",
    )
    assert [(r.period_start, r.tickets) for r in months] == [
        ("2024-02-01", 1),  # 29 Feb 23:59 local
        ("2024-03-01", 10),  # 1 Mar 00:00, 3 Mar, 4 Mar + the seven of 5 Mar
        ("2024-04-01", 1),  # 1 Apr 00:00 local (31 Mar in UTC)
    ]
    weeks = evaluate(
        session,
        period=Period.WEEK,
        by=Dimension.TOTAL,
        start=start,
        end=end,
        timezone="Asia/Shanghai",
    )
    assert [(r.period_start, r.tickets) for r in weeks] == [
        ("2024-02-26", 3),  # Thu 29 Feb, Fri 1 Mar, Sun 3 Mar
        ("2024-03-04", 8),  # Mon 4 Mar + the seven of Tue 5 Mar
        ("2024-04-01", 1),
    ]
    # The same tickets bucketed in UTC: 1 Mar 00:00 local is still February.
    utc_months = evaluate(
        session, period="month", by="total", start=start, end=end, timezone="UTC"
    )
    assert [(r.period_start, r.tickets) for r in utc_months] == [
        ("2024-02-01", 2),
        ("2024-03-01", 10),
    ]
    quarters = evaluate(
        session,
        period="quarter",
        by="district",
        start=start,
        end=end,
        timezone=SHANGHAI,
    )
    assert [(r.period_start, r.key, r.tickets) for r in quarters] == [
        ("2024-01-01", LIWAN, 8),
        ("2024-01-01", YUEXIU, 3),
        ("2024-04-01", LIWAN, 1),
    ]


def test_range_is_half_open(session: Session) -> None:
    # From exactly t2's creation to exactly t4's: t2 and t3.
    rows = evaluate(session, period="day", by="total", start=at(10), end=at(30))
    assert [r.tickets for r in rows] == [2]


def test_bad_arguments_are_value_errors(session: Session) -> None:
    with pytest.raises(ValueError, match="'county' is not a valid Dimension"):
        evaluate(session, period="day", by="county", start=DAY_START, end=DAY_END)
    with pytest.raises(ValueError, match="must be before end"):
        evaluate(session, period="day", by="total", start=DAY_END, end=DAY_START)
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        evaluate(
            session,
            period="day",
            by="total",
            start=datetime(2024, 3, 5),
            end=DAY_END,
        )


def test_empty_range_gives_no_rows(session: Session) -> None:
    start = datetime(2023, 1, 1, tzinfo=SHANGHAI)
    assert (
        evaluate(
            session,
            period="month",
            by="worker",
            start=start,
            end=start + timedelta(days=31),
        )
        == []
    )


# -- false positives -------------------------------------------------------------


def test_false_positives_by_camera(session: Session) -> None:
    rows = false_positives(session, by="camera", start=DAY_START, end=DAY_END)
    assert [
        (r.key, r.name, r.ai_tickets, r.rejected, r.confirmed, r.pending, r.rate)
        for r in rows
    ] == [
        ("n1/c1", "沙面北门", 2, 2, 1, 0, 1.0),
        ("n1/c2", "北京路口", 2, 0, 2, 0, 0.0),
        ("n2/c9", None, 1, 0, 1, 0, 0.0),
    ]
    assert (rows[0].node_id, rows[0].camera_id) == ("n1", "c1")


def test_false_positives_by_event_type(session: Session) -> None:
    rows = false_positives(session, by="event_type", start=DAY_START, end=DAY_END)
    assert [(r.key, r.ai_tickets, r.rejected, r.confirmed) for r in rows] == [
        ("crowding", 2, 1, 1),
        ("littering", 3, 1, 3),
    ]
    assert rows[0].rate == 0.5
    assert rows[1].rate == pytest.approx(1 / 3)
    assert rows[0].node_id is rows[0].camera_id is rows[0].name is None


# -- daily counts -------------------------------------------------------------------


def test_daily_counts_by_local_day_and_category(session: Session) -> None:
    rows = daily_counts(
        session,
        start=DAY_START,
        end=DAY_START + timedelta(days=2),
        timezone="Asia/Shanghai",
        categories={"littering": LITTER},
    )
    assert [
        (r.day, r.category_code, r.category_name, r.events, r.tickets, r.ai_tickets)
        for r in rows
    ] == [
        # events of t1, t5, t7 and the unlinked littering event e-x1
        ("2024-03-05", "0102", LITTER[1], 4, 4, 3),
        ("2024-03-05", "0503", CROWD[1], 2, 3, 2),
        ("2024-03-05", None, "fall", 1, 0, 0),
        # e-x3: 00:30 local on 6 March (16:30 UTC on 5 March)
        ("2024-03-06", "0102", LITTER[1], 1, 0, 0),
    ]


def test_daily_counts_without_categories_keeps_event_types_apart(
    session: Session,
) -> None:
    rows = daily_counts(session, start=DAY_START, end=DAY_END, timezone="UTC")
    # Unlinked events keep their type as the name; e-x3 (16:30 UTC) is past the end.
    uncategorised = [
        (r.day, r.category_name, r.events) for r in rows if not r.category_code
    ]
    assert uncategorised == [("2024-03-05", "fall", 1), ("2024-03-05", "littering", 1)]
    assert [(r.category_code, r.events) for r in rows if r.category_code] == [
        ("0102", 3),
        ("0503", 2),
    ]


# -- CSV ---------------------------------------------------------------------------


def test_evaluation_csv_header_and_row(session: Session) -> None:
    rows = day_rows(session, Dimension.DISTRICT)
    text = to_csv(rows)
    lines = text.split("\r\n")
    assert lines[0] == ",".join(EvaluationRow.model_fields)
    assert lines[0].startswith(
        "period_start,key,name,tickets,ai_tickets,dispatched,closed,rejected,"
    )
    assert lines[-1] == ""  # a final line end
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert len(parsed) == 2
    liwan = parsed[0]
    assert liwan["period_start"] == "2024-03-05"
    assert liwan["key"] == LIWAN
    assert liwan["name"] == "荔湾区"
    assert liwan["tickets"] == "4"
    assert liwan["on_time_close_rate"] == "0.666667"
    assert liwan["rework_rate"] == "0.25"
    assert liwan["dispatch_s_p90"] == "168"
    assert liwan["close_s_p50"] == "3600"


def test_csv_of_other_rows_and_empty_reports(session: Session) -> None:
    fp = false_positives(session, by="camera", start=DAY_START, end=DAY_END)
    text = to_csv(fp)
    assert text.splitlines()[0] == (
        "key,node_id,camera_id,name,ai_tickets,rejected,confirmed,pending,rate"
    )
    assert text.splitlines()[3] == "n2/c9,n2,c9,,1,0,1,0,0"
    assert to_csv([], DailyCountRow).splitlines() == [
        "day,category_code,category_name,events,tickets,ai_tickets"
    ]
    assert to_csv([], FalsePositiveRow).startswith("key,")
    assert to_csv([]) == ""


# -- PostgreSQL --------------------------------------------------------------------


@pytest.mark.integration
def test_evaluate_is_the_same_on_postgresql(
    postgres_url: str, session: Session
) -> None:
    engine = migrated_engine(postgres_url)
    try:
        factory = make_session_factory(engine)
        with factory() as pg:
            populate(pg)
        with factory() as pg:
            for by in Dimension:
                for period in (Period.DAY, Period.WEEK, Period.MONTH):
                    kwargs = {
                        "period": period,
                        "by": by,
                        "start": datetime(2024, 2, 1, tzinfo=SHANGHAI),
                        "end": datetime(2024, 5, 1, tzinfo=SHANGHAI),
                        "timezone": "Asia/Shanghai",
                        "now": at(93),
                    }
                    assert evaluate(pg, **kwargs) == evaluate(session, **kwargs)  # type: ignore[arg-type]
            for fp_by in ("camera", "event_type"):
                assert false_positives(
                    pg, by=fp_by, start=DAY_START, end=DAY_END
                ) == false_positives(session, by=fp_by, start=DAY_START, end=DAY_END)
            assert daily_counts(
                pg, start=DAY_START, end=DAY_END, timezone=SHANGHAI
            ) == daily_counts(session, start=DAY_START, end=DAY_END, timezone=SHANGHAI)
            # And the headline figures, to be sure both did not agree on nothing.
            liwan = by_key(day_rows(pg, Dimension.DISTRICT))[LIWAN]
            assert (liwan.tickets, liwan.rework_rate) == (4, 0.25)
    finally:
        engine.dispose()

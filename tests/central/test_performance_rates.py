"""三率 in the evaluation: response, resolution and satisfaction rates, on ten
tickets with hand-computed figures (see the table in `TICKETS`).

Every ticket is opened on 2024-03-05 (UTC) with a 60-minute limit, due an hour
after its dispatch; the figures are taken at 14:00 (`NOW`) unless said.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from central.db.migrate import upgrade
from central.db.models import (
    Area,
    AreaLevel,
    CitizenReport,
    Department,
    Ticket,
    Worker,
)
from central.db.session import make_engine, make_session_factory
from central.performance import Dimension, EvaluationRow, Period, evaluate, to_csv

DAY = datetime(2024, 3, 5, tzinfo=UTC)
NOW = DAY + timedelta(hours=14)
G1, G2 = "440106001001001", "440106001001002"


def at(hh_mm: str) -> datetime:
    hours, minutes = hh_mm.split(":")
    return DAY + timedelta(hours=int(hours), minutes=int(minutes))


@dataclass(frozen=True)
class T:
    """A ticket: when dispatched (None: never), accepted, resolved (HH:MM),
    its state now and the citizen's rating."""

    worker: str | None
    state: str
    dispatched: str | None
    accepted: str | None = None
    resolved: str | None = None
    rating: str | None = None


# worker A (grid 1), worker B (grid 2); response ✓/✗/-, resolution ✓/✗/- at 14:00
TICKETS: dict[str, T] = {
    # ✓ ✓: accepted and resolved in time, closed; satisfied
    "t1": T("wa", "closed", "10:00", "10:10", "10:40", "satisfied"),
    # ✗ ✗: accepted and resolved late; dissatisfied
    "t2": T("wa", "resolved", "10:00", "11:30", "11:50", "dissatisfied"),
    # - -: not accepted, due at 14:30, after NOW
    "t3": T("wa", "dispatched", "13:30"),
    # ✗ ✗: never accepted, due at 11:00
    "t4": T("wa", "dispatched", "10:00"),
    # - -: rejected before anyone accepted it
    "t5": T("wa", "rejected", "10:00"),
    # ✓ ✗: resolved in time but returned, past due; basically satisfied
    "t6": T("wa", "returned", "10:00", "10:05", "10:30", "basically_satisfied"),
    # ✓ ✗: accepted in time, not resolved, past due
    "t8": T("wb", "accepted", "10:00", "10:20"),
    # ✓ ✓: due at 14:00 = NOW, resolved at 13:50; satisfied
    "t9": T("wb", "resolved", "13:00", "13:10", "13:50", "satisfied"),
    # ✓ -: accepted, due at 14:45
    "t10": T("wb", "accepted", "13:45", "13:50"),
    # never dispatched, no worker, no grid: no rate at all
    "t7": T(None, "pending_review", None),
}


def _time(value: str | None) -> datetime | None:
    return at(value) if value else None


def populate(session: Session) -> None:
    session.add(Area(code=G1, level=AreaLevel.GRID.value, name="Grid 1"))
    session.add(Area(code=G2, level=AreaLevel.GRID.value, name="Grid 2"))
    session.add(Department(code="SAN", name="Sanitation", kind="sanitation"))
    session.add(Worker(id="wa", name="Worker A", role="full_time", duty=[]))
    session.add(Worker(id="wb", name="Worker B", role="full_time", duty=[]))
    session.flush()
    for name, spec in TICKETS.items():
        dispatched = _time(spec.dispatched)
        created = dispatched or at("09:00")
        ticket = Ticket(
            source="citizen",
            matter_key="littering",
            matter_version="t",
            category_code="0102",
            category_name="市容环境/暴露垃圾",
            department_code="SAN",
            priority="normal",
            state=spec.state,
            title=name,
            grid_code={"wa": G1, "wb": G2}.get(spec.worker or ""),
            assignee_id=spec.worker,
            time_limit_min=60,
            found_at=created,
            created_at=created,
            last_observed_at=created,
            dispatched_at=dispatched,
            due_at=dispatched + timedelta(minutes=60) if dispatched else None,
            accepted_at=_time(spec.accepted),
            resolved_at=_time(spec.resolved),
            closed_at=at("12:00") if spec.state == "closed" else None,
        )
        session.add(ticket)
        session.flush()
        session.add(
            CitizenReport(
                ticket_id=ticket.id,
                channel="web",
                created_at=created,
                rating=spec.rating,
                rated_at=at("12:30") if spec.rating else None,
            )
        )
    session.commit()


@pytest.fixture(scope="module")
def sessions(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[sessionmaker[Session]]:
    path: Path = tmp_path_factory.mktemp("rates") / "central.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        populate(session)
    yield factory
    engine.dispose()


def rows_by(
    sessions: sessionmaker[Session], by: Dimension, now: datetime | None = NOW
) -> dict[str | None, EvaluationRow]:
    with sessions() as session:
        rows = evaluate(
            session,
            period=Period.DAY,
            by=by,
            start=DAY,
            end=DAY + timedelta(days=1),
            now=now,
        )
    return {row.key: row for row in rows}


# key → (response_due, responded_on_time, resolution_due, resolved_on_time,
#        rated, satisfied), by hand from the table above
EXPECTED: dict[Dimension, dict[str | None, tuple[int, int, int, int, int, int]]] = {
    Dimension.WORKER: {
        "wa": (4, 2, 4, 1, 3, 2),  # t1 t2 t4 t6 | t1 t6 | t1 t2 t4 t6 | t1
        "wb": (3, 3, 2, 1, 1, 1),  # t8 t9 t10 | all | t8 t9 | t9
        None: (0, 0, 0, 0, 0, 0),  # t7
    },
    Dimension.GRID: {
        G1: (4, 2, 4, 1, 3, 2),
        G2: (3, 3, 2, 1, 1, 1),
        None: (0, 0, 0, 0, 0, 0),
    },
    Dimension.DEPARTMENT: {"SAN": (7, 5, 6, 2, 4, 3)},
    Dimension.TOTAL: {"total": (7, 5, 6, 2, 4, 3)},
}


@pytest.mark.parametrize("by", list(EXPECTED))
def test_rates_given_the_table_should_count_by_hand(
    sessions: sessionmaker[Session], by: Dimension
) -> None:
    rows = rows_by(sessions, by)
    got = {
        key: (
            r.response_due,
            r.responded_on_time,
            r.resolution_due,
            r.resolved_on_time,
            r.rated,
            r.satisfied,
        )
        for key, r in rows.items()
    }
    assert got == EXPECTED[by]


def test_rates_given_worker_a_should_be_the_hand_computed_ratios(
    sessions: sessionmaker[Session],
) -> None:
    wa = rows_by(sessions, Dimension.WORKER)["wa"]
    assert wa.response_rate == pytest.approx(2 / 4)
    assert wa.resolution_rate == pytest.approx(1 / 4)
    assert wa.satisfaction_rate == pytest.approx(2 / 3)
    total = rows_by(sessions, Dimension.TOTAL)["total"]
    assert total.response_rate == pytest.approx(5 / 7)
    assert total.resolution_rate == pytest.approx(2 / 6)
    assert total.satisfaction_rate == pytest.approx(3 / 4)


def test_rates_given_nothing_due_or_rated_should_be_null(
    sessions: sessionmaker[Session],
) -> None:
    nobody = rows_by(sessions, Dimension.WORKER)[None]
    assert nobody.tickets == 1
    assert nobody.response_rate is None
    assert nobody.resolution_rate is None
    assert nobody.satisfaction_rate is None


def test_rates_given_no_now_should_be_taken_at_the_end_of_the_range(
    sessions: sessionmaker[Session],
) -> None:
    """At midnight t3 (never accepted) and t10 (never resolved) are due too."""
    rows = rows_by(sessions, Dimension.WORKER, now=None)
    assert (rows["wa"].response_due, rows["wa"].responded_on_time) == (5, 2)
    assert (rows["wa"].resolution_due, rows["wa"].resolved_on_time) == (5, 1)
    assert (rows["wb"].resolution_due, rows["wb"].resolved_on_time) == (3, 1)


def test_rates_given_csv_should_be_columns_of_the_evaluation(
    sessions: sessionmaker[Session],
) -> None:
    rows = list(rows_by(sessions, Dimension.TOTAL).values())
    header, line = to_csv(rows).splitlines()
    cells = dict(zip(header.split(","), line.split(","), strict=True))
    assert cells["response_rate"] == "0.714286"
    assert cells["resolution_rate"] == "0.333333"
    assert cells["satisfaction_rate"] == "0.75"

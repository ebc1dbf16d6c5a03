"""The points table of grid workers (网格员积分): what each did in a month.

Per worker and calendar month in the city's timezone:

- cases_found: patrol reports the worker filed (网格员巡查上报), merged ones too;
- handled: tickets of theirs resolved in the month whose resolution stands
  (resolved or closed, not returned); handled_on_time: of those, resolved at or
  before the due time (or without one);
- rated / rated_satisfied: citizens' ratings given in the month of tickets they
  hold; satisfied counts "satisfied" and "basically satisfied";
- reworked: returns for rework and citizens' reopenings of their tickets.

points = found × 2 + on time × 3 + satisfied × 2 − reworked × 3 by default
(`PointWeights`; a city sets its own under `points.weights` in the config).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, tzinfo
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Integer, case, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from central.db.models import (
    CitizenReport,
    PatrolReport,
    Ticket,
    TicketHistory,
    Worker,
)
from central.tickets.states import TicketAction, TicketState

MONTH_PATTERN = r"^(20\d\d)-(0[1-9]|1[0-2])$"
SATISFIED_RATINGS = ("satisfied", "basically_satisfied")
REWORK_ACTIONS = (TicketAction.RETURN.value, TicketAction.REOPEN.value)
# A resolution stands while the ticket is resolved or closed (not returned).
STANDING_STATES = (TicketState.RESOLVED.value, TicketState.CLOSED.value)


@dataclass(frozen=True, slots=True)
class PointWeights:
    """Points per case found, handled on time and rated satisfied; reworked
    cases take points away."""

    found: int = 2
    on_time: int = 3
    satisfied: int = 2
    reworked: int = -3

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class WorkerPoints(BaseModel):
    """One worker's month."""

    worker_id: str
    name: str
    role: str
    month: str = Field(description="YYYY-MM, in the city's timezone.")
    cases_found: int = Field(description="Patrol reports filed.")
    handled: int = Field(description="Tickets resolved in the month.")
    handled_on_time: int = Field(description="Of those, by their due time.")
    rated: int = Field(description="Citizens' ratings of their tickets.")
    rated_satisfied: int = Field(description="Satisfied or basically satisfied.")
    reworked: int = Field(description="Returns for rework and reopenings.")
    points: int


def month_bounds(month: str, zone: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) of a `YYYY-MM` month: local midnights in `zone`.

    Raises:
        ValueError: not a month of the form YYYY-MM (2000-2099).
    """
    try:
        year_text, month_text = month.split("-")
        year, number = int(year_text), int(month_text)
    except ValueError:
        raise ValueError(f"month {month!r}: expected YYYY-MM") from None
    if not (2000 <= year <= 2099 and 1 <= number <= 12 and len(month) == 7):
        raise ValueError(f"month {month!r}: expected YYYY-MM between 2000 and 2099")
    start = datetime(year, number, 1, tzinfo=zone)
    following = (year + 1, 1) if number == 12 else (year, number + 1)
    return start, datetime(*following, 1, tzinfo=zone)


def month_of(moment: datetime, zone: tzinfo) -> str:
    """The `YYYY-MM` month holding `moment` in `zone`."""
    return f"{moment.astimezone(zone):%Y-%m}"


def worker_points(
    session: Session,
    *,
    month: str,
    zone: tzinfo,
    worker_ids: Sequence[str] | None = None,
    weights: PointWeights | None = None,
) -> list[WorkerPoints]:
    """Every active worker's month (or those of `worker_ids`), most points first.

    Raises:
        ValueError: a malformed month.
    """
    weights = weights or PointWeights()
    start, end = month_bounds(month, zone)
    workers = select(Worker).order_by(Worker.id)
    if worker_ids is None:
        workers = workers.where(Worker.active.is_(True))
    else:
        workers = workers.where(Worker.id.in_(list(worker_ids)))
    found = _counts(
        session,
        PatrolReport.worker_id,
        [PatrolReport.created_at >= start, PatrolReport.created_at < end],
    )
    handled = _pairs(
        session,
        Ticket.assignee_id,
        case(
            (or_(Ticket.due_at.is_(None), Ticket.resolved_at <= Ticket.due_at), 1),
            else_=0,
        ),
        [
            Ticket.state.in_(STANDING_STATES),
            Ticket.resolved_at >= start,
            Ticket.resolved_at < end,
        ],
    )
    rated = _pairs(
        session,
        Ticket.assignee_id,
        case((CitizenReport.rating.in_(SATISFIED_RATINGS), 1), else_=0),
        [CitizenReport.rated_at >= start, CitizenReport.rated_at < end],
        join_ratings=True,
    )
    reworked = _counts(
        session,
        TicketHistory.assignee_id,
        [
            TicketHistory.action.in_(REWORK_ACTIONS),
            TicketHistory.at >= start,
            TicketHistory.at < end,
        ],
    )
    rows = []
    for worker in session.scalars(workers):
        done, on_time = handled.get(worker.id, (0, 0))
        ratings, satisfied = rated.get(worker.id, (0, 0))
        row = WorkerPoints(
            worker_id=worker.id,
            name=worker.name,
            role=worker.role,
            month=month,
            cases_found=found.get(worker.id, 0),
            handled=done,
            handled_on_time=on_time,
            rated=ratings,
            rated_satisfied=satisfied,
            reworked=reworked.get(worker.id, 0),
            points=0,
        )
        row.points = points_of(row, weights)
        rows.append(row)
    return sorted(rows, key=lambda r: (-r.points, r.worker_id))


def points_of(row: WorkerPoints, weights: PointWeights) -> int:
    return (
        row.cases_found * weights.found
        + row.handled_on_time * weights.on_time
        + row.rated_satisfied * weights.satisfied
        + row.reworked * weights.reworked
    )


def _counts(
    session: Session,
    key: InstrumentedAttribute[Any],
    where: Iterable[ColumnElement[bool]],
) -> dict[str, int]:
    rows = session.execute(select(key, func.count()).where(*where).group_by(key))
    return {str(k): int(n) for k, n in rows if k is not None}


def _pairs(
    session: Session,
    key: InstrumentedAttribute[Any],
    flag: ColumnElement[int],
    where: Iterable[ColumnElement[bool]],
    *,
    join_ratings: bool = False,
) -> dict[str, tuple[int, int]]:
    """Per key: how many rows, and how many of them have `flag` 1."""
    query = select(key, func.count(), func.sum(flag, type_=Integer))
    if join_ratings:
        query = query.select_from(CitizenReport).join(
            Ticket, Ticket.id == CitizenReport.ticket_id
        )
    rows = session.execute(query.where(*where).group_by(key))
    return {str(k): (int(n), int(s or 0)) for k, n, s in rows if k is not None}

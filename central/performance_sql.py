"""The evaluation's aggregation done by PostgreSQL: set-based GROUP BY queries.

`central.performance.evaluate` defines every figure; this module computes the
same figures per (period bucket, key) inside the database, so a city-year of
tickets is never loaded into Python: one grouped query over the tickets (with
their citizens' ratings) using FILTER clauses and `percentile_cont`, and one
over the rework history rows, both joined within the range's ticket ids.
Buckets are cut with `date_trunc` on the local time (`timezone(zone,
created_at)`), which starts weeks on Monday and quarters in
January/April/July/October, as `performance.period_start` does.

PostgreSQL only: SQLite has neither time zones nor `percentile_cont`, so
`evaluate` aggregates in Python there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Float,
    and_,
    cast,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from central.citizens.reports import Rating
from central.db.models import (
    CitizenReport,
    Event,
    Ticket,
    TicketHistory,
    TicketSource,
)
from central.tickets.states import OPEN_STATES, TicketAction, TicketState

__all__ = [
    "DailyEventGroup",
    "DailyTicketGroup",
    "GroupFigures",
    "KeySpec",
    "Stats",
    "daily_groups",
    "evaluation_groups",
]

Stats = tuple[float | None, float | None, float | None]
GroupKey = tuple[date, str | None]
# (local day, ticket's category code, its name, event type, events)
DailyEventGroup = tuple[date, str | None, str | None, str, int]
# (local day, category code, name, opened from an AI event, tickets)
DailyTicketGroup = tuple[date, str | None, str | None, bool, int]

SORT_MEMORY = "256MB"
_PERIOD_UNIT = {"day": "day", "week": "week", "month": "month", "quarter": "quarter"}
_REWORK_ACTIONS = (TicketAction.RETURN.value, TicketAction.REOPEN.value)
_SATISFIED = (Rating.SATISFIED.value, Rating.BASICALLY_SATISFIED.value)


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What a row is keyed by: a grid code prefix of `prefix` characters, or a
    ticket column (`column`: category_code, assignee_id, department_code), or
    the constant 'total' (neither)."""

    prefix: int | None = None
    column: str | None = None


@dataclass(slots=True)
class GroupFigures:
    """The counts and duration statistics of one (bucket, key) group."""

    name: str | None = None
    tickets: int = 0
    ai: int = 0
    dispatched: int = 0
    closed: int = 0
    rejected: int = 0
    ai_rejected: int = 0
    open_now: int = 0
    overdue: int = 0
    on_time: int = 0
    resolves: int = 0
    returns: int = 0
    response_due: int = 0
    responded_on_time: int = 0
    resolution_due: int = 0
    resolved_on_time: int = 0
    rated: int = 0
    satisfied: int = 0
    dispatch: Stats = (None, None, None)
    accept: Stats = (None, None, None)
    close: Stats = (None, None, None)


def _key_expression(spec: KeySpec) -> ColumnElement[Any]:
    if spec.prefix is not None:
        return func.nullif(func.substr(Ticket.grid_code, 1, spec.prefix), "")
    if spec.column is not None:
        column: ColumnElement[Any] = getattr(Ticket, spec.column)
        return column
    return literal("total")


def _seconds(later: Any, earlier: Any) -> ColumnElement[float]:
    return cast(func.extract("epoch", later - earlier), Float)


def _stats_columns(seconds: ColumnElement[float]) -> list[ColumnElement[Any]]:
    # Both percentiles from one ordered-set aggregate: one sort per group.
    quantiles = func.percentile_cont(
        postgresql.array([0.5, 0.9], type_=Float)
    ).within_group(seconds)
    return [func.avg(seconds), quantiles]


def evaluation_groups(
    session: Session,
    *,
    period: str,
    key: KeySpec,
    start: datetime,
    end: datetime,
    zone_name: str,
    now: datetime | None,
    as_of: datetime,
) -> dict[GroupKey, GroupFigures]:
    """(bucket's first local day, key) → figures of the tickets created in
    [start, end), as `performance.evaluate` defines them."""
    unit = _PERIOD_UNIT[period]
    # A quarter of a city-year sorts ~1.3 million rows by (bucket, key): in
    # memory rather than in temporary files (this transaction only).
    session.execute(text(f"SET LOCAL work_mem = '{SORT_MEMORY}'"))
    bucket = cast(
        func.date_trunc(unit, func.timezone(zone_name, Ticket.created_at)), Date
    ).label("bucket")
    group_key = _key_expression(key).label("key")
    in_range = [Ticket.created_at >= start, Ticket.created_at < end]

    open_states = [s.value for s in OPEN_STATES]
    is_ai = Ticket.source == TicketSource.AI.value
    is_rejected = Ticket.state == TicketState.REJECTED.value
    is_open = Ticket.state.in_(open_states)
    is_dispatched = Ticket.dispatched_at.is_not(None)
    open_past_due: ColumnElement[bool] = (
        and_(is_open, Ticket.due_at < now) if now is not None else false()
    )
    late = or_(
        Ticket.overdue.is_(True),
        and_(
            Ticket.due_at.is_not(None),
            or_(Ticket.closed_at > Ticket.due_at, open_past_due),
        ),
    )
    past_due = Ticket.due_at <= as_of
    stands = Ticket.state.in_([TicketState.RESOLVED.value, TicketState.CLOSED.value])
    # Ticket ids of the range bound the joins below: ids grow with creation
    # time, so the history and reports of other months are never read (a
    # superset bound; the joins on ticket id keep the result exact).
    # `id + 0`: the ids come from the (created_at, id) index, where a bare
    # min(id) walks the primary key from one end until created_at is in range.
    first_last = select(func.min(Ticket.id + 0), func.max(Ticket.id + 0))
    low, high = session.connection().execute(first_last.where(*in_range)).one()
    if low is None:
        return {}
    rating = CitizenReport.rating
    ratings = (
        select(
            CitizenReport.ticket_id,
            func.bool_and(rating.in_(_SATISFIED)).label("satisfied"),
        )
        .where(
            CitizenReport.ticket_id.between(low, high),
            rating.is_not(None),
            rating != "",
        )
        .group_by(CitizenReport.ticket_id)
        .subquery("ratings")
    )

    def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.count().filter(condition)

    counts = select(
        bucket,
        group_key,
        func.min(Ticket.category_name),
        func.count(),
        count_if(is_ai),
        count_if(is_dispatched),
        count_if(Ticket.closed_at.is_not(None)),
        count_if(is_rejected),
        count_if(and_(is_rejected, is_ai)),
        count_if(is_open),
        count_if(late),
        count_if(and_(Ticket.closed_at.is_not(None), not_(late))),
        count_if(
            and_(
                is_dispatched,
                or_(
                    Ticket.accepted_at.is_not(None),
                    and_(past_due, not_(is_rejected)),
                ),
            )
        ),
        count_if(and_(is_dispatched, Ticket.accepted_at <= Ticket.due_at)),
        count_if(and_(is_dispatched, not_(is_rejected), or_(stands, past_due))),
        count_if(
            and_(
                is_dispatched,
                not_(is_rejected),
                stands,
                Ticket.resolved_at <= Ticket.due_at,
            )
        ),
        func.count(ratings.c.ticket_id),
        count_if(ratings.c.satisfied.is_(True)),
        *_stats_columns(_seconds(Ticket.dispatched_at, Ticket.created_at)),
        *_stats_columns(_seconds(Ticket.accepted_at, Ticket.dispatched_at)),
        *_stats_columns(_seconds(Ticket.closed_at, Ticket.created_at)),
    ).outerjoin(ratings, ratings.c.ticket_id == Ticket.id)
    counts = counts.where(*in_range).group_by(bucket, group_key)

    groups: dict[GroupKey, GroupFigures] = {}
    for row in session.connection().execute(counts):
        figures = GroupFigures(
            name=row[2],
            tickets=row[3],
            ai=row[4],
            dispatched=row[5],
            closed=row[6],
            rejected=row[7],
            ai_rejected=row[8],
            open_now=row[9],
            overdue=row[10],
            on_time=row[11],
            response_due=row[12],
            responded_on_time=row[13],
            resolution_due=row[14],
            resolved_on_time=row[15],
            rated=row[16],
            satisfied=row[17],
            dispatch=_stats(row[18:20]),
            accept=_stats(row[20:22]),
            close=_stats(row[22:24]),
        )
        groups[(row[0], row[1])] = figures

    action = TicketHistory.action
    rework = (
        select(
            bucket,
            group_key,
            func.count().filter(action == TicketAction.RESOLVE.value),
            func.count().filter(action.in_(_REWORK_ACTIONS)),
        )
        .join(Ticket, Ticket.id == TicketHistory.ticket_id)
        .where(
            *in_range,
            TicketHistory.ticket_id.between(low, high),
            action.in_([TicketAction.RESOLVE.value, *_REWORK_ACTIONS]),
        )
        .group_by(bucket, group_key)
    )
    for day, group, resolves, returns in session.connection().execute(rework):
        found = groups.get((day, group))
        if found is not None:
            found.resolves, found.returns = resolves, returns
    return groups


def _stats(values: Any) -> Stats:
    mean, quantiles = values
    if mean is None or quantiles is None:
        return None, None, None
    p50, p90 = quantiles
    return float(mean), float(p50), float(p90)


def daily_groups(
    session: Session, start: datetime, end: datetime, zone_name: str
) -> tuple[list[DailyEventGroup], list[DailyTicketGroup]]:
    """Events by local detection day (with their ticket's category and their
    type) and tickets by local creation day (with category and whether an AI
    event opened them) in [start, end), counted by the database."""
    event_day = cast(func.timezone(zone_name, Event.detected_at), Date).label("day")
    events = (
        select(
            event_day,
            Ticket.category_code,
            Ticket.category_name,
            Event.type,
            func.count(),
        )
        .outerjoin(Ticket, Ticket.id == Event.ticket_id)
        .where(Event.detected_at >= start, Event.detected_at < end)
        .group_by(event_day, Ticket.category_code, Ticket.category_name, Event.type)
    )
    ticket_day = cast(func.timezone(zone_name, Ticket.created_at), Date).label("day")
    from_ai = (Ticket.source == TicketSource.AI.value).label("ai")
    tickets = (
        select(
            ticket_day,
            Ticket.category_code,
            Ticket.category_name,
            from_ai,
            func.count(),
        )
        .where(Ticket.created_at >= start, Ticket.created_at < end)
        .group_by(ticket_day, Ticket.category_code, Ticket.category_name, from_ai)
    )
    db = session.connection()
    return (
        [(d, c, n, t, k) for d, c, n, t, k in db.execute(events)],
        [(d, c, n, bool(a), k) for d, c, n, a, k in db.execute(tickets)],
    )

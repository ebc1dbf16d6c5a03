"""Evaluation of case handling: how many cases, how fast, how well, by area/worker/….

Every figure comes from tickets *created* in the half-open range [start, end),
bucketed by the local period (day, ISO week, month, quarter) of their creation
time in the city's timezone. On PostgreSQL the database aggregates
(`central.performance_sql`: set-based GROUP BY with FILTER clauses and
percentile_cont), so a city-year of tickets never travels to Python; on SQLite
(and for a timezone without an IANA name) the needed columns are loaded and
aggregated in Python (`evaluate_in_python`, also the reference the SQL is
tested against). Both give the same rows.

Definitions (per bucket and key):

- tickets: opened; ai_tickets: opened from an AI event (source "ai").
- dispatched: sent to a worker at least once; closed: verified and closed;
  rejected: ended as not a case (false positive); open_now: still open.
- overdue: the overdue flag is set, it was closed after its due time, or (when
  `now` is given) it is still open past its due time.
- on_time_closed: closed and not overdue; on_time_close_rate = on_time_closed /
  closed.
- rework_rate: `return` and `reopen` (a citizen reopened the closed ticket)
  history rows / `resolve` history rows.
- dispatch_s: dispatched_at − created_at; accept_s: accepted_at − dispatched_at;
  close_s: closed_at − created_at (seconds; mean, median, 90th percentile with
  linear interpolation between the closest ranks, as PostgreSQL's percentile_cont).
- false_positive_rate: AI tickets rejected / AI tickets.
- 三率 (the rates cities are judged by), with `as_of` = `now` when given, else
  `end`, and a ticket's time limit ending at its `due_at`:
  - response_rate (响应率) = responded_on_time / response_due: response_due
    counts tickets dispatched to a worker, except those rejected before anyone
    accepted them and those not yet accepted whose due time is still ahead of
    `as_of` (they may yet respond in time); responded_on_time counts those
    accepted (first acceptance) at or before the due time.
  - resolution_rate (按期处置率) = resolved_on_time / resolution_due:
    resolution_due counts dispatched tickets, rejected ones excepted, whose
    resolution stands (resolved or closed) or whose due time has passed by
    `as_of`; resolved_on_time counts those resolved or closed whose (latest)
    resolution came at or before the due time. A returned ticket's resolution
    does not stand until it is resolved again.
  - satisfaction_rate (满意率) = satisfied / rated: rated counts tickets the
    reporting citizen rated (`citizen_reports.rating`); satisfied those rated
    satisfied or basically satisfied (by every reporter, when reports of
    several citizens were merged into one ticket).
"""

from __future__ import annotations

import csv
import io
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from central.citizens.reports import Rating
from central.db.models import (
    Area,
    Camera,
    CitizenReport,
    Department,
    Event,
    Ticket,
    TicketHistory,
    TicketSource,
    Worker,
)
from central.performance_sql import (
    DailyEventGroup,
    DailyTicketGroup,
    GroupFigures,
    KeySpec,
    daily_groups,
    evaluation_groups,
)
from central.tickets.states import OPEN_STATES, TicketAction, TicketState
from gridwatch.stats import percentile

__all__ = [
    "DailyCountRow",
    "Dimension",
    "EvaluationRow",
    "FalsePositiveBy",
    "FalsePositiveRow",
    "Period",
    "daily_counts",
    "evaluate",
    "evaluate_in_python",
    "false_positives",
    "iter_csv",
    "period_bounds",
    "period_end",
    "period_start",
    "resolve_timezone",
    "to_csv",
]


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"


class Dimension(StrEnum):
    GRID = "grid"
    COMMUNITY = "community"
    STREET = "street"
    DISTRICT = "district"
    CATEGORY = "category"
    WORKER = "worker"
    DEPARTMENT = "department"
    TOTAL = "total"


class FalsePositiveBy(StrEnum):
    CAMERA = "camera"
    EVENT_TYPE = "event_type"


# Length of the area code prefix each area dimension groups by.
_AREA_PREFIX: Mapping[Dimension, int] = {
    Dimension.GRID: 15,
    Dimension.COMMUNITY: 12,
    Dimension.STREET: 9,
    Dimension.DISTRICT: 6,
}
# The ticket column each other dimension groups by (none for the total).
_KEY_COLUMN: Mapping[Dimension, str] = {
    Dimension.CATEGORY: "category_code",
    Dimension.WORKER: "assignee_id",
    Dimension.DEPARTMENT: "department_code",
}
_OPEN = frozenset(s.value for s in OPEN_STATES)
_REJECTED = TicketState.REJECTED.value
# States in which a worker's (latest) resolution stands.
_RESOLUTION_STANDS = frozenset({TicketState.RESOLVED.value, TicketState.CLOSED.value})
_SATISFIED = frozenset({Rating.SATISFIED.value, Rating.BASICALLY_SATISFIED.value})
_CHUNK = 500  # bind parameters per IN (...) when looking names up


# -- periods --


def resolve_timezone(tz: str | tzinfo) -> tzinfo:
    """A tzinfo for an IANA name (or the tzinfo itself); ValueError if unknown."""
    if isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {tz!r} (use an IANA name)") from exc


def _aware(dt: datetime, name: str) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {dt.isoformat()}")
    return dt


def _bucket_date(day: date, period: Period) -> date:
    if period is Period.DAY:
        return day
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _next_bucket_date(start: date, period: Period) -> date:
    if period is Period.DAY:
        return start + timedelta(days=1)
    if period is Period.WEEK:
        return start + timedelta(days=7)
    months = 1 if period is Period.MONTH else 3
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def period_start(
    dt: datetime, period: Period | str, tz: str | tzinfo = "UTC"
) -> datetime:
    """Local midnight starting the period (day, ISO week from Monday, month,
    quarter from Jan/Apr/Jul/Oct) that holds `dt`, as an aware time in `tz`."""
    zone = resolve_timezone(tz)
    day = _aware(dt, "dt").astimezone(zone).date()
    return _local_midnight(_bucket_date(day, Period(period)), zone)


def period_end(
    start: datetime, period: Period | str, tz: str | tzinfo = "UTC"
) -> datetime:
    """The start of the period after the one holding `start`."""
    zone = resolve_timezone(tz)
    first = period_start(start, period, zone).date()
    return _local_midnight(_next_bucket_date(first, Period(period)), zone)


def period_bounds(
    dt: datetime, period: Period | str, tz: str | tzinfo = "UTC"
) -> tuple[datetime, datetime]:
    """[start, end) of the local period holding `dt`."""
    return period_start(dt, period, tz), period_end(dt, period, tz)


def _check_range(start: datetime, end: datetime) -> None:
    _aware(start, "start")
    _aware(end, "end")
    if start >= end:
        raise ValueError(
            f"start {start.isoformat()} must be before end {end.isoformat()}"
        )


class _LocalDays:
    """UTC time → local date (or period bucket), cached per UTC quarter hour.

    Every timezone in use today has offsets (and changes them) in whole quarter
    hours, so a local day never starts inside a UTC quarter hour: one conversion
    per quarter hour is exact and saves most of them.
    """

    def __init__(self, zone: tzinfo, period: Period = Period.DAY) -> None:
        self.zone = zone
        self.period = period
        self._cache: dict[int, date] = {}

    def __call__(self, dt: datetime) -> date:
        slot = int(dt.timestamp() // 900)
        found = self._cache.get(slot)
        if found is None:
            found = _bucket_date(dt.astimezone(self.zone).date(), self.period)
            self._cache[slot] = found
        return found


# -- statistics helpers --


def _stats(values: list[float]) -> tuple[float | None, float | None, float | None]:
    if not values:
        return None, None, None
    return (
        sum(values) / len(values),
        percentile(values, 0.5),
        percentile(values, 0.9),
    )


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


# -- rows --


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True)


_SECONDS = "seconds; null when no ticket of the row has both times"


class EvaluationRow(_Row):
    """How the tickets created in one period bucket and under one key were handled."""

    period_start: str = Field(
        description="First local day of the period bucket (YYYY-MM-DD)."
    )
    key: str | None = Field(
        description="Grid/community/street/district code, category code, worker id, "
        "department code or 'total'; null for tickets without one (no grid, "
        "never assigned, no department)."
    )
    name: str | None = Field(
        description="Area, category, worker or department name when known."
    )
    tickets: int = Field(description="Tickets opened.")
    ai_tickets: int = Field(description="Tickets opened from AI events.")
    dispatched: int = Field(description="Tickets dispatched to a worker at least once.")
    closed: int = Field(description="Tickets verified and closed.")
    rejected: int = Field(description="Tickets rejected as not a case.")
    ai_rejected: int = Field(description="AI tickets rejected (false positives).")
    open_now: int = Field(description="Tickets still open now.")
    overdue: int = Field(
        description="Tickets that were or are overdue (flagged, closed after the due "
        "time, or open past it)."
    )
    on_time_closed: int = Field(description="Tickets closed and never overdue.")
    on_time_close_rate: float | None = Field(
        description="on_time_closed / closed; null when nothing was closed."
    )
    resolves: int = Field(description="Resolutions reported by workers.")
    returns: int = Field(
        description="Resolutions returned for rework (by staff, or reopened by "
        "the citizen who reported it)."
    )
    rework_rate: float | None = Field(
        description="returns / resolves; null when nothing was resolved."
    )
    dispatch_s_mean: float | None = Field(
        description=f"Mean created → dispatched time, {_SECONDS}."
    )
    dispatch_s_p50: float | None = Field(
        description=f"Median created → dispatched time, {_SECONDS}."
    )
    dispatch_s_p90: float | None = Field(
        description=f"90th percentile created → dispatched time, {_SECONDS}."
    )
    accept_s_mean: float | None = Field(
        description=f"Mean dispatched → accepted time, {_SECONDS}."
    )
    accept_s_p50: float | None = Field(
        description=f"Median dispatched → accepted time, {_SECONDS}."
    )
    accept_s_p90: float | None = Field(
        description=f"90th percentile dispatched → accepted time, {_SECONDS}."
    )
    close_s_mean: float | None = Field(
        description=f"Mean created → closed time, {_SECONDS}."
    )
    close_s_p50: float | None = Field(
        description=f"Median created → closed time, {_SECONDS}."
    )
    close_s_p90: float | None = Field(
        description=f"90th percentile created → closed time, {_SECONDS}."
    )
    false_positive_rate: float | None = Field(
        description="ai_rejected / ai_tickets; null without AI tickets."
    )
    response_due: int = Field(
        description="Dispatched tickets that were accepted or whose due time has "
        "passed (not those rejected before anyone accepted them)."
    )
    responded_on_time: int = Field(
        description="Of those, accepted at or before their due time."
    )
    response_rate: float | None = Field(
        description="响应率: responded_on_time / response_due; null when none."
    )
    resolution_due: int = Field(
        description="Dispatched tickets, not rejected, resolved or closed or past "
        "their due time."
    )
    resolved_on_time: int = Field(
        description="Of those, resolved or closed with the resolution at or "
        "before their due time."
    )
    resolution_rate: float | None = Field(
        description="按期处置率: resolved_on_time / resolution_due; null when none."
    )
    rated: int = Field(description="Tickets the reporting citizen rated.")
    satisfied: int = Field(
        description="Of those, rated satisfied or basically satisfied."
    )
    satisfaction_rate: float | None = Field(
        description="满意率: satisfied / rated; null when nothing was rated."
    )


class FalsePositiveRow(_Row):
    """Operator rejections of AI tickets from one camera or of one event type."""

    key: str | None = Field(
        description="'node_id/camera_id' or the event type; null when unknown."
    )
    node_id: str | None = Field(description="Edge node (by camera only).")
    camera_id: str | None = Field(description="Camera (by camera only).")
    name: str | None = Field(description="Camera name when known (by camera only).")
    ai_tickets: int = Field(description="AI tickets opened.")
    rejected: int = Field(description="AI tickets rejected as false positives.")
    confirmed: int = Field(
        description="AI tickets dispatched at least once (a ticket dispatched and "
        "later rejected counts in both)."
    )
    pending: int = Field(description="AI tickets still waiting for review.")
    rate: float = Field(description="rejected / ai_tickets.")


class DailyCountRow(_Row):
    """Events and tickets of one category on one local day."""

    day: str = Field(description="Local day (YYYY-MM-DD).")
    category_code: str | None = Field(
        description="Category code; null for events of a type no category maps "
        "(category_name then holds the event type)."
    )
    category_name: str | None = Field(description="Category name.")
    events: int = Field(description="Events detected that day.")
    tickets: int = Field(description="Tickets opened that day.")
    ai_tickets: int = Field(description="Of those, tickets opened from AI events.")


# -- evaluate --


class _Acc:
    __slots__ = (
        "accept_s",
        "ai",
        "ai_rejected",
        "close_s",
        "closed",
        "dispatch_s",
        "dispatched",
        "name",
        "on_time",
        "open_now",
        "overdue",
        "rated",
        "rejected",
        "resolution_due",
        "resolved_on_time",
        "resolves",
        "responded_on_time",
        "response_due",
        "returns",
        "satisfied",
        "tickets",
    )

    def __init__(self) -> None:
        self.tickets = self.ai = self.dispatched = self.closed = 0
        self.rejected = self.ai_rejected = self.open_now = self.overdue = 0
        self.on_time = self.resolves = self.returns = 0
        self.response_due = self.responded_on_time = 0
        self.resolution_due = self.resolved_on_time = 0
        self.rated = self.satisfied = 0
        self.dispatch_s: list[float] = []
        self.accept_s: list[float] = []
        self.close_s: list[float] = []
        self.name: str | None = None

    def figures(self) -> GroupFigures:
        return GroupFigures(
            name=self.name,
            tickets=self.tickets,
            ai=self.ai,
            dispatched=self.dispatched,
            closed=self.closed,
            rejected=self.rejected,
            ai_rejected=self.ai_rejected,
            open_now=self.open_now,
            overdue=self.overdue,
            on_time=self.on_time,
            resolves=self.resolves,
            returns=self.returns,
            response_due=self.response_due,
            responded_on_time=self.responded_on_time,
            resolution_due=self.resolution_due,
            resolved_on_time=self.resolved_on_time,
            rated=self.rated,
            satisfied=self.satisfied,
            dispatch=_stats(self.dispatch_s),
            accept=_stats(self.accept_s),
            close=_stats(self.close_s),
        )


def _ticket_range(start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    return [Ticket.created_at >= start, Ticket.created_at < end]


def _history_counts(
    session: Session, start: datetime, end: datetime, actions: Iterable[TicketAction]
) -> dict[tuple[int, str], int]:
    """(ticket id, action) → number of history rows, for tickets created in range."""
    db = session.connection()
    rows = db.execute(
        select(TicketHistory.ticket_id, TicketHistory.action, func.count())
        .join(Ticket, Ticket.id == TicketHistory.ticket_id)
        .where(
            *_ticket_range(start, end),
            TicketHistory.action.in_([a.value for a in actions]),
        )
        .group_by(TicketHistory.ticket_id, TicketHistory.action)
    ).all()
    return {(ticket_id, action): count for ticket_id, action, count in rows}


def _names(
    session: Session,
    code: InstrumentedAttribute[str],
    name: InstrumentedAttribute[str],
    keys: Iterable[str],
) -> dict[str, str]:
    wanted = sorted(keys)
    result: dict[str, str] = {}
    for i in range(0, len(wanted), _CHUNK):
        chunk = wanted[i : i + _CHUNK]
        for found_code, found_name in session.execute(
            select(code, name).where(code.in_(chunk))
        ):
            result[found_code] = found_name
    return result


def evaluate(
    session: Session,
    *,
    period: Period | str,
    by: Dimension | str,
    start: datetime,
    end: datetime,
    timezone: str | tzinfo = "UTC",
    now: datetime | None = None,
) -> list[EvaluationRow]:
    """Handling figures of tickets created in [start, end), per local period bucket
    and dimension key, sorted by bucket then key (see the module docstring).

    `now`, when given, also counts open tickets past their due time as overdue
    (the scheduler flags them only on its next pass).
    """
    period = Period(period)
    by = Dimension(by)
    _check_range(start, end)
    if now is not None:
        _aware(now, "now")
    zone = resolve_timezone(timezone)
    as_of = now if now is not None else end
    zone_name = _zone_name(zone)
    if session.get_bind().dialect.name == "postgresql" and zone_name is not None:
        groups = evaluation_groups(
            session,
            period=period.value,
            key=_key_spec(by),
            start=start,
            end=end,
            zone_name=zone_name,
            now=now,
            as_of=as_of,
        )
    else:
        groups = _groups_in_python(
            session, period=period, by=by, start=start, end=end, zone=zone, now=now
        )
    return _evaluation_rows(session, by, groups)


def evaluate_in_python(
    session: Session,
    *,
    period: Period | str,
    by: Dimension | str,
    start: datetime,
    end: datetime,
    timezone: str | tzinfo = "UTC",
    now: datetime | None = None,
) -> list[EvaluationRow]:
    """`evaluate` aggregating in Python on any database: the reference the
    set-based PostgreSQL queries are checked against (tests, `bench city`)."""
    period = Period(period)
    by = Dimension(by)
    _check_range(start, end)
    if now is not None:
        _aware(now, "now")
    groups = _groups_in_python(
        session,
        period=period,
        by=by,
        start=start,
        end=end,
        zone=resolve_timezone(timezone),
        now=now,
    )
    return _evaluation_rows(session, by, groups)


def _zone_name(zone: tzinfo) -> str | None:
    """The IANA name PostgreSQL knows the zone by; None for other tzinfos."""
    if isinstance(zone, ZoneInfo):
        return zone.key
    return "UTC" if zone is UTC else None


def _key_spec(by: Dimension) -> KeySpec:
    if by in _AREA_PREFIX:
        return KeySpec(prefix=_AREA_PREFIX[by])
    column = _KEY_COLUMN.get(by)
    return KeySpec(column=column)


def _groups_in_python(
    session: Session,
    *,
    period: Period,
    by: Dimension,
    start: datetime,
    end: datetime,
    zone: tzinfo,
    now: datetime | None,
) -> dict[tuple[date, str | None], GroupFigures]:
    bucket_of = _LocalDays(zone, period)
    key_of = _key_function(by)
    as_of = now if now is not None else end
    db = session.connection()
    tickets = db.execute(
        select(
            Ticket.id,
            Ticket.created_at,
            Ticket.source,
            Ticket.state,
            Ticket.grid_code,
            Ticket.category_code,
            Ticket.category_name,
            Ticket.assignee_id,
            Ticket.department_code,
            Ticket.overdue,
            Ticket.dispatched_at,
            Ticket.accepted_at,
            Ticket.closed_at,
            Ticket.due_at,
            Ticket.resolved_at,
        ).where(*_ticket_range(start, end))
    ).all()
    ratings = _ratings(session, start, end)
    history = _history_counts(
        session,
        start,
        end,
        (TicketAction.RESOLVE, TicketAction.RETURN, TicketAction.REOPEN),
    )
    resolve, give_back = TicketAction.RESOLVE.value, TicketAction.RETURN.value
    reopen = TicketAction.REOPEN.value
    ai, rejected_state = TicketSource.AI.value, TicketState.REJECTED.value

    groups: dict[tuple[date, str | None], _Acc] = defaultdict(_Acc)
    for (
        ticket_id,
        created_at,
        source,
        state,
        grid_code,
        category_code,
        category_name,
        assignee_id,
        department_code,
        overdue_flag,
        dispatched_at,
        accepted_at,
        closed_at,
        due_at,
        resolved_at,
    ) in tickets:
        key = key_of(grid_code, category_code, assignee_id, department_code)
        acc = groups[(bucket_of(created_at), key)]
        # One name per key: the smallest, should versions of the matter differ.
        acc.name = category_name if acc.name is None else min(acc.name, category_name)
        acc.tickets += 1
        is_ai = source == ai
        acc.ai += is_ai
        if dispatched_at is not None:
            acc.dispatched += 1
            acc.dispatch_s.append((dispatched_at - created_at).total_seconds())
            if accepted_at is not None:
                acc.accept_s.append((accepted_at - dispatched_at).total_seconds())
        if state == rejected_state:
            acc.rejected += 1
            acc.ai_rejected += is_ai
        is_open = state in _OPEN
        acc.open_now += is_open
        late = bool(overdue_flag) or (
            due_at is not None
            and (
                (closed_at is not None and closed_at > due_at)
                or (is_open and now is not None and now > due_at)
            )
        )
        acc.overdue += late
        if closed_at is not None:
            acc.closed += 1
            acc.on_time += not late
            acc.close_s.append((closed_at - created_at).total_seconds())
        acc.resolves += history.get((ticket_id, resolve), 0)
        # A citizen's reopening counts against the handler like a return.
        acc.returns += history.get((ticket_id, give_back), 0)
        acc.returns += history.get((ticket_id, reopen), 0)
        if dispatched_at is not None:
            _count_rates(
                acc,
                state=state,
                accepted_at=accepted_at,
                resolved_at=resolved_at,
                due_at=due_at,
                as_of=as_of,
            )
        all_satisfied = ratings.get(ticket_id)
        if all_satisfied is not None:
            acc.rated += 1
            acc.satisfied += all_satisfied
    return {group: acc.figures() for group, acc in groups.items()}


def _evaluation_rows(
    session: Session,
    by: Dimension,
    groups: Mapping[tuple[date, str | None], GroupFigures],
) -> list[EvaluationRow]:
    names = _dimension_names(session, by, {key for _, key in groups if key})
    rows = []
    for (bucket, key), acc in sorted(
        groups.items(),
        key=lambda item: (item[0][0], item[0][1] is None, item[0][1] or ""),
    ):
        dispatch, accept, close = acc.dispatch, acc.accept, acc.close
        rows.append(
            EvaluationRow(
                period_start=bucket.isoformat(),
                key=key,
                name=acc.name if by is Dimension.CATEGORY else names.get(key or ""),
                tickets=acc.tickets,
                ai_tickets=acc.ai,
                dispatched=acc.dispatched,
                closed=acc.closed,
                rejected=acc.rejected,
                ai_rejected=acc.ai_rejected,
                open_now=acc.open_now,
                overdue=acc.overdue,
                on_time_closed=acc.on_time,
                on_time_close_rate=_ratio(acc.on_time, acc.closed),
                resolves=acc.resolves,
                returns=acc.returns,
                rework_rate=_ratio(acc.returns, acc.resolves),
                dispatch_s_mean=dispatch[0],
                dispatch_s_p50=dispatch[1],
                dispatch_s_p90=dispatch[2],
                accept_s_mean=accept[0],
                accept_s_p50=accept[1],
                accept_s_p90=accept[2],
                close_s_mean=close[0],
                close_s_p50=close[1],
                close_s_p90=close[2],
                false_positive_rate=_ratio(acc.ai_rejected, acc.ai),
                response_due=acc.response_due,
                responded_on_time=acc.responded_on_time,
                response_rate=_ratio(acc.responded_on_time, acc.response_due),
                resolution_due=acc.resolution_due,
                resolved_on_time=acc.resolved_on_time,
                resolution_rate=_ratio(acc.resolved_on_time, acc.resolution_due),
                rated=acc.rated,
                satisfied=acc.satisfied,
                satisfaction_rate=_ratio(acc.satisfied, acc.rated),
            )
        )
    return rows


def _count_rates(
    acc: _Acc,
    *,
    state: str,
    accepted_at: datetime | None,
    resolved_at: datetime | None,
    due_at: datetime | None,
    as_of: datetime,
) -> None:
    """Count a dispatched ticket into the response and resolution rates (see
    the module docstring)."""
    rejected = state == _REJECTED
    past_due = due_at is not None and due_at <= as_of
    if accepted_at is not None or (past_due and not rejected):
        acc.response_due += 1
        acc.responded_on_time += (
            accepted_at is not None and due_at is not None and accepted_at <= due_at
        )
    if rejected:
        return
    stands = state in _RESOLUTION_STANDS
    if stands or past_due:
        acc.resolution_due += 1
        acc.resolved_on_time += (
            stands
            and resolved_at is not None
            and due_at is not None
            and resolved_at <= due_at
        )


def _ratings(session: Session, start: datetime, end: datetime) -> dict[int, bool]:
    """ticket id → whether every rating its reporters gave is satisfied (or
    basically satisfied), for rated tickets created in range."""
    rows = (
        session.connection()
        .execute(
            select(CitizenReport.ticket_id, CitizenReport.rating)
            .join(Ticket, Ticket.id == CitizenReport.ticket_id)
            .where(*_ticket_range(start, end), CitizenReport.rating.is_not(None))
        )
        .all()
    )
    satisfied: dict[int, bool] = {}
    for ticket_id, rating in rows:
        if rating:
            satisfied[ticket_id] = satisfied.get(ticket_id, True) and (
                rating in _SATISFIED
            )
    return satisfied


_KeyFunction = Callable[[str | None, str, str | None, str | None], str | None]


def _key_function(by: Dimension) -> _KeyFunction:
    """(grid_code, category_code, assignee_id, department_code) → the group key."""
    if by in _AREA_PREFIX:
        length = _AREA_PREFIX[by]
        return lambda grid, _c, _w, _d: grid[:length] if grid else None
    if by is Dimension.CATEGORY:
        return lambda _g, category, _w, _d: category
    if by is Dimension.WORKER:
        return lambda _g, _c, worker, _d: worker
    if by is Dimension.DEPARTMENT:
        return lambda _g, _c, _w, department: department
    return lambda _g, _c, _w, _d: Dimension.TOTAL.value


def _dimension_names(session: Session, by: Dimension, keys: set[str]) -> dict[str, str]:
    if not keys:
        return {}
    if by in _AREA_PREFIX:
        return _names(session, Area.code, Area.name, keys)
    if by is Dimension.WORKER:
        return _names(session, Worker.id, Worker.name, keys)
    if by is Dimension.DEPARTMENT:
        return _names(session, Department.code, Department.name, keys)
    return {}


# -- false positives --


def false_positives(
    session: Session,
    *,
    by: FalsePositiveBy | str,
    start: datetime,
    end: datetime,
) -> list[FalsePositiveRow]:
    """Operator rejections of AI tickets created in [start, end), per camera or per
    event type, the highest rejection rate first.

    A ticket counts as rejected when it is in state `rejected` or has a `reject`
    history row.
    """
    by = FalsePositiveBy(by)
    _check_range(start, end)
    db = session.connection()
    rows = db.execute(
        select(
            Ticket.id,
            Ticket.state,
            Ticket.event_type,
            Ticket.node_id,
            Ticket.camera_id,
            Ticket.dispatched_at,
        ).where(*_ticket_range(start, end), Ticket.source == TicketSource.AI.value)
    ).all()
    rejected_ids = {
        ticket_id
        for (ticket_id, _), count in _history_counts(
            session, start, end, (TicketAction.REJECT,)
        ).items()
        if count
    }

    class Counts:
        __slots__ = ("confirmed", "pending", "rejected", "tickets")

        def __init__(self) -> None:
            self.tickets = self.rejected = self.confirmed = self.pending = 0

    groups: dict[tuple[str | None, str | None, str | None], Counts] = defaultdict(
        Counts
    )
    rejected_state = TicketState.REJECTED.value
    pending_state = TicketState.PENDING_REVIEW.value
    for ticket_id, state, event_type, node_id, camera_id, dispatched_at in rows:
        if by is FalsePositiveBy.CAMERA:
            key = f"{node_id}/{camera_id}" if node_id and camera_id else None
            group = groups[(key, node_id, camera_id)]
        else:
            group = groups[(event_type, None, None)]
        group.tickets += 1
        group.rejected += state == rejected_state or ticket_id in rejected_ids
        group.confirmed += dispatched_at is not None
        group.pending += state == pending_state

    camera_names: dict[tuple[str, str], str] = {}
    if by is FalsePositiveBy.CAMERA and groups:
        camera_names = {
            (node, camera): name
            for node, camera, name in session.execute(
                select(Camera.node_id, Camera.camera_id, Camera.name)
            )
            if name
        }
    result = [
        FalsePositiveRow(
            key=key,
            node_id=node_id,
            camera_id=camera_id,
            name=camera_names.get((node_id, camera_id))
            if node_id and camera_id
            else None,
            ai_tickets=counts.tickets,
            rejected=counts.rejected,
            confirmed=counts.confirmed,
            pending=counts.pending,
            rate=counts.rejected / counts.tickets,
        )
        for (key, node_id, camera_id), counts in groups.items()
    ]
    result.sort(key=lambda r: (-r.rate, -r.ai_tickets, r.key is None, r.key or ""))
    return result


# -- daily counts --


def daily_counts(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    timezone: str | tzinfo = "UTC",
    categories: Mapping[str, tuple[str, str]] | None = None,
) -> list[DailyCountRow]:
    """Events (by detection time) and tickets (by creation time) in [start, end)
    per local day and category, sorted by day then category code.

    An event takes the category of its ticket; an event without a ticket takes
    `categories[event type]` ((code, name), e.g. from the matter list), else it
    is counted under category code null with its event type as the name.
    Days without any event or ticket have no row.
    """
    _check_range(start, end)
    categories = categories or {}
    # (day, code, event type when code is None else "") → [events, tickets, ai]
    counts: dict[tuple[date, str | None, str], list[int]] = defaultdict(
        lambda: [0, 0, 0]
    )
    code_names: dict[str, str] = {}

    def category(code: str | None, name: str | None, event_type: str) -> str | None:
        if code is None:
            code, name = categories.get(event_type, (None, None))
        if code is not None and name is not None:
            # One name per code (the smallest, should it differ between versions).
            code_names[code] = min(name, code_names.get(code, name))
        return code

    zone = resolve_timezone(timezone)
    zone_name = _zone_name(zone)
    if session.get_bind().dialect.name == "postgresql" and zone_name is not None:
        event_groups, ticket_groups = daily_groups(session, start, end, zone_name)
    else:
        event_groups, ticket_groups = _daily_groups_in_python(session, start, end, zone)
    for day, code, name, event_type, events in event_groups:
        found = category(code, name, event_type)
        counts[(day, found, "" if found else event_type)][0] += events
    for day, code, name, ai_source, opened in ticket_groups:
        found = category(code, name, "")
        entry = counts[(day, found, "")]
        entry[1] += opened
        entry[2] += opened if ai_source else 0

    return [
        DailyCountRow(
            day=day.isoformat(),
            category_code=code,
            category_name=code_names.get(code) if code else event_type,
            events=events,
            tickets=opened,
            ai_tickets=ai,
        )
        for (day, code, event_type), (events, opened, ai) in sorted(
            counts.items(),
            key=lambda item: (
                (item[0][0], item[0][1] is None, item[0][1] or "", item[0][2])
            ),
        )
    ]


def _daily_groups_in_python(
    session: Session, start: datetime, end: datetime, zone: tzinfo
) -> tuple[list[DailyEventGroup], list[DailyTicketGroup]]:
    """`daily_groups` with the local day cut in Python: one group per row."""
    day_of = _LocalDays(zone)
    db = session.connection()
    events: list[DailyEventGroup] = [
        (day_of(detected_at), code, name, event_type, 1)
        for detected_at, event_type, code, name in db.execute(
            select(
                Event.detected_at,
                Event.type,
                Ticket.category_code,
                Ticket.category_name,
            )
            .outerjoin(Ticket, Ticket.id == Event.ticket_id)
            .where(Event.detected_at >= start, Event.detected_at < end)
        )
    ]
    ai = TicketSource.AI.value
    tickets: list[DailyTicketGroup] = [
        (day_of(created_at), code, name, source == ai, 1)
        for created_at, code, name, source in db.execute(
            select(
                Ticket.created_at,
                Ticket.category_code,
                Ticket.category_name,
                Ticket.source,
            ).where(*_ticket_range(start, end))
        )
    ]
    return events, tickets


# -- CSV --


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = f"{value:.6f}".rstrip("0").rstrip(".")
        return "0" if text in ("", "-0") else text
    return str(value)


def to_csv(rows: Sequence[BaseModel], row_type: type[BaseModel] | None = None) -> str:
    """RFC 4180 CSV (CRLF line ends) of report rows: a header with the row model's
    field names in declaration order, then one line per row. Empty cells are
    nulls; numbers have at most 6 decimals. `row_type` gives the header of an
    empty report."""
    return "".join(iter_csv(rows, row_type))


def iter_csv(
    rows: Iterable[BaseModel],
    row_type: type[BaseModel] | None = None,
    *,
    lines_per_chunk: int = 1000,
) -> Iterator[str]:
    """`to_csv` in chunks of `lines_per_chunk` lines, for a streamed download:
    only the current chunk is built (`row_type`, or the first row's type, gives
    the header). Chunks, not single lines: each one is a hop to the server's
    thread pool and a write."""
    iterator = iter(rows)
    first = next(iterator, None)
    model = row_type or (type(first) if first is not None else None)
    if model is None:
        return
    columns = list(model.model_fields)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    pending = 1
    rest = iterator if first is None else itertools.chain((first,), iterator)
    for row in rest:
        writer.writerow([_csv_value(getattr(row, column)) for column in columns])
        pending += 1
        if pending >= lines_per_chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue()

"""Statistics and evaluation for staff: JSON for the console, CSV for spreadsheets.

Ranges are half-open [start, end). `start`/`end` take a local date (YYYY-MM-DD,
midnight in the city's timezone) or an ISO 8601 time (with an offset, or local
when it has none). Periods are bucketed in the city's timezone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from central.api.csv_safety import neutralise_rows
from central.api.deps import ContextDep, StaffDep
from central.context import CentralContext
from central.daily_snapshots import categories_of, daily_with_stored
from central.evaluation_snapshots import (
    evaluate_fields_with_stored,
    evaluate_with_stored,
)
from central.performance import (
    DailyCountRow,
    Dimension,
    EvaluationRow,
    FalsePositiveBy,
    FalsePositiveRow,
    Period,
    daily_counts,
    evaluate,
    false_positives,
    iter_csv,
    period_bounds,
)
from central.performance_combine import combine_periods
from central.scores import ScoreRow, score_rows

router = APIRouter(prefix="/api/v1/stats", tags=["statistics"])

Format = Literal["json", "csv"]
DAILY_DEFAULT_DAYS = 30

_START = (
    "Start (inclusive): a local date YYYY-MM-DD or an ISO 8601 time; "
    "default: {default}."
)
_END = (
    "End (exclusive): a local date YYYY-MM-DD or an ISO 8601 time; default: {default}."
)
_FORMAT = "json, or csv for a spreadsheet download (UTF-8)."
_FRESH = (
    "Compute now even where the evaluation of completed months and quarters is "
    "stored (it is refreshed hourly by default; see `as_of`)."
)
_AS_OF = (
    "When the stored rows among these were computed (completed months and "
    "quarters read from the stored evaluation; the oldest bucket's); rows of "
    "buckets not stored, such as the current one, are computed for this request. "
    "Null: every row was computed for this request."
)
_COMBINE = (
    "One row per key over the whole range: counts summed, rates from the sums, "
    "time statistics weighted by the tickets they describe (the percentiles so "
    "combined are approximate); `period_start` is the first period's."
)
_LIMIT = (
    "At most this many rows, those with the most tickets first (ties by key); "
    "`total_rows` says how many there were. All rows when left out."
)
_CSV_RESPONSE: dict[int | str, dict[str, object]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "The report; CSV (header + one line per row) when format=csv.",
    }
}


class EvaluationReport(BaseModel):
    period: Period = Field(description="Length of each bucket.")
    by: Dimension = Field(description="What the rows are grouped by.")
    timezone: str = Field(description="Timezone the buckets are cut in.")
    start: datetime = Field(description="Tickets created from (inclusive).")
    end: datetime = Field(description="Tickets created before (exclusive).")
    as_of: datetime | None = Field(default=None, description=_AS_OF)
    combined: bool = Field(
        default=False, description="Rows cover the whole range (see `combine`)."
    )
    total_rows: int = Field(description="Rows before `limit`.")
    rows: list[EvaluationRow] = Field(
        description="One row per bucket and key (per key when combined)."
    )


class ScoreReport(BaseModel):
    period: Period = Field(description="Length of each bucket.")
    by: Dimension = Field(description="What the rows are grouped by.")
    timezone: str = Field(description="Timezone the buckets are cut in.")
    start: datetime = Field(description="Tickets created from (inclusive).")
    end: datetime = Field(description="Tickets created before (exclusive).")
    weights: dict[str, float] = Field(description="Weights of the three rates.")
    grades: dict[str, float] = Field(description="Lowest score of grades A, B, C.")
    as_of: datetime | None = Field(default=None, description=_AS_OF)
    rows: list[ScoreRow] = Field(description="One row per bucket and key, best first.")


class FalsePositiveReport(BaseModel):
    by: FalsePositiveBy = Field(description="What the rows are grouped by.")
    start: datetime = Field(description="AI tickets created from (inclusive).")
    end: datetime = Field(description="AI tickets created before (exclusive).")
    rows: list[FalsePositiveRow] = Field(
        description="One row per camera or event type, highest rate first."
    )


class DailyReport(BaseModel):
    timezone: str = Field(description="Timezone the days are cut in.")
    start: datetime = Field(description="From (inclusive).")
    end: datetime = Field(description="Before (exclusive).")
    as_of: datetime | None = Field(
        default=None,
        description="When the stored days among these were counted (completed days "
        "read from the stored counts; the oldest one's); today and days not stored "
        "are counted for this request. Null: every day was counted now.",
    )
    rows: list[DailyCountRow] = Field(description="One row per day and category.")


def city_zone(context: CentralContext) -> ZoneInfo:
    """The city's timezone (the worker directory's: settings or imported city)."""
    return context.directory.zone


def _invalid(field: str, value: str | None, message: str) -> RequestValidationError:
    return RequestValidationError(
        [
            {
                "type": "value_error",
                "loc": ("query", field),
                "msg": message,
                "input": value,
            }
        ]
    )


def parse_when(value: str, zone: tzinfo, field: str) -> datetime:
    """A local date (midnight in `zone`) or an ISO 8601 time (local if naive)."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=zone)
        when = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid(
            field,
            value,
            f"{value!r} is neither a date (YYYY-MM-DD) nor an ISO 8601 time "
            "(e.g. 2024-03-01T08:00:00+08:00)",
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=zone)


def time_range(
    start: str | None,
    end: str | None,
    zone: tzinfo,
    default: tuple[datetime, datetime],
) -> tuple[datetime, datetime]:
    begin = parse_when(start, zone, "start") if start is not None else default[0]
    finish = parse_when(end, zone, "end") if end is not None else default[1]
    if begin >= finish:
        raise _invalid(
            "end",
            end,
            f"end {finish.isoformat()} must be after start {begin.isoformat()}",
        )
    return begin, finish


def _csv(
    rows: Sequence[BaseModel], row_type: type[BaseModel], filename: str
) -> Response:
    # Streamed a line at a time: the rows are aggregates (the database did the
    # counting), and the download never exists as one string.
    return StreamingResponse(
        iter_csv(neutralise_rows(rows), row_type),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _stamp(start: datetime, end: datetime, zone: tzinfo) -> str:
    return f"{start.astimezone(zone):%Y%m%d}-{end.astimezone(zone):%Y%m%d}"


@dataclass(frozen=True, slots=True)
class _Evaluated:
    zone: ZoneInfo
    start: datetime
    end: datetime
    rows: list[EvaluationRow]
    as_of: datetime | None


def _window(
    context: CentralContext, period: Period, start: str | None, end: str | None
) -> tuple[ZoneInfo, datetime, datetime, datetime]:
    """The city's zone, now, and [start, end) (the current period by default)."""
    zone = city_zone(context)
    now = context.clock.now()
    begin, finish = time_range(start, end, zone, period_bounds(now, period, zone))
    return zone, now, begin, finish


def _evaluation(
    context: CentralContext,
    period: Period,
    by: Dimension,
    start: str | None,
    end: str | None,
    *,
    fresh: bool = False,
) -> _Evaluated:
    """The evaluation rows of [start, end) (the current period by default),
    cut in the city's timezone: read from the stored evaluation where the range
    is made of completed months or quarters (unless `fresh`), else computed."""
    zone, now, begin, finish = _window(context, period, start, end)
    with context.sessions() as session:
        if context.settings.evaluation_snapshots.enabled and not fresh:
            done = evaluate_with_stored(
                session,
                period=period,
                by=by,
                start=begin,
                end=finish,
                zone=zone,
                now=now,
            )
            return _Evaluated(
                zone=zone, start=begin, end=finish, rows=done.rows, as_of=done.as_of
            )
        rows = evaluate(
            session,
            period=period,
            by=by,
            start=begin,
            end=finish,
            timezone=zone,
            now=now,
        )
    return _Evaluated(zone=zone, start=begin, end=finish, rows=rows, as_of=None)


def _combined_evaluation(
    context: CentralContext,
    period: Period,
    by: Dimension,
    start: str | None,
    end: str | None,
    *,
    fresh: bool,
    limit: int | None,
) -> tuple[_Evaluated, int]:
    """`_evaluation` combined into one row per key over the range (the stored
    rows added up as read, never made models), and how many keys there were."""
    if not context.settings.evaluation_snapshots.enabled or fresh:
        done = _evaluation(context, period, by, start, end, fresh=True)
        combined = combine_periods([vars(row) for row in done.rows], limit=limit)
        return dataclasses.replace(done, rows=combined.rows), combined.total_rows
    zone, now, begin, finish = _window(context, period, start, end)
    with context.sessions() as session:
        stored = evaluate_fields_with_stored(
            session, period=period, by=by, start=begin, end=finish, zone=zone, now=now
        )
    combined = combine_periods(stored.rows, limit=limit)
    evaluated = _Evaluated(
        zone=zone, start=begin, end=finish, rows=combined.rows, as_of=stored.as_of
    )
    return evaluated, combined.total_rows


@router.get(
    "/evaluation",
    response_model=EvaluationReport,
    responses=_CSV_RESPONSE,
    summary="Evaluation of case handling per period and area/worker/…",
)
def get_evaluation(
    _actor: StaffDep,
    context: ContextDep,
    period: Annotated[
        Period, Query(description="Bucket length (local day, ISO week, …).")
    ] = Period.MONTH,
    by: Annotated[Dimension, Query(description="Group rows by.")] = Dimension.DISTRICT,
    start: Annotated[
        str | None,
        Query(description=_START.format(default="the start of the current period")),
    ] = None,
    end: Annotated[
        str | None,
        Query(description=_END.format(default="the end of the current period")),
    ] = None,
    fmt: Annotated[Format, Query(alias="format", description=_FORMAT)] = "json",
    fresh: Annotated[bool, Query(description=_FRESH)] = False,
    combine: Annotated[bool, Query(description=_COMBINE)] = False,
    limit: Annotated[int | None, Query(ge=1, le=100_000, description=_LIMIT)] = None,
) -> EvaluationReport | Response:
    """Tickets created in [start, end), per period bucket and key: counts, on-time
    close rate, rework rate, dispatch/accept/close times and the AI false-positive
    rate. Buckets are cut in the city's timezone."""
    if combine:
        done, total_rows = _combined_evaluation(
            context, period, by, start, end, fresh=fresh, limit=limit
        )
        rows = done.rows
    else:
        done = _evaluation(context, period, by, start, end, fresh=fresh)
        rows, total_rows = done.rows, len(done.rows)
        if limit is not None:
            rows = sorted(rows, key=lambda r: (-r.tickets, r.key or ""))[:limit]
    if fmt == "csv":
        stamp = _stamp(done.start, done.end, done.zone)
        name = f"evaluation-{by.value}-{period.value}-{stamp}"
        return _csv(rows, EvaluationRow, f"{name}.csv")
    return EvaluationReport(
        period=period,
        by=by,
        timezone=done.zone.key,
        start=done.start,
        end=done.end,
        as_of=done.as_of,
        combined=combine,
        total_rows=total_rows,
        rows=rows,
    )


@router.get(
    "/scores",
    response_model=ScoreReport,
    responses=_CSV_RESPONSE,
    summary="Composite score and grade (A-D) from the three rates (三率)",
)
def get_scores(
    _actor: StaffDep,
    context: ContextDep,
    period: Annotated[
        Period, Query(description="Bucket length (local day, ISO week, …).")
    ] = Period.MONTH,
    by: Annotated[Dimension, Query(description="Group rows by.")] = Dimension.GRID,
    start: Annotated[
        str | None,
        Query(description=_START.format(default="the start of the current period")),
    ] = None,
    end: Annotated[
        str | None,
        Query(description=_END.format(default="the end of the current period")),
    ] = None,
    fmt: Annotated[Format, Query(alias="format", description=_FORMAT)] = "json",
    fresh: Annotated[bool, Query(description=_FRESH)] = False,
) -> ScoreReport | Response:
    """The evaluation's response, resolution and satisfaction rates of tickets
    created in [start, end), their weighted score (0-100, weights in
    `scores.weights`; a rate with nothing to measure drops out) and grade
    (`scores.grades`), the best score first within each bucket."""
    done = _evaluation(context, period, by, start, end, fresh=fresh)
    settings = context.settings.scores
    rows = score_rows(done.rows, settings)
    rows.sort(key=lambda r: (r.period_start, r.score is None, -(r.score or 0.0)))
    if fmt == "csv":
        stamp = _stamp(done.start, done.end, done.zone)
        return _csv(rows, ScoreRow, f"scores-{by.value}-{period.value}-{stamp}.csv")
    return ScoreReport(
        period=period,
        by=by,
        timezone=done.zone.key,
        start=done.start,
        end=done.end,
        weights=settings.weights.model_dump(),
        grades=settings.grades.model_dump(),
        as_of=done.as_of,
        rows=rows,
    )


@router.get(
    "/false-positives",
    response_model=FalsePositiveReport,
    responses=_CSV_RESPONSE,
    summary="AI false positives (operator rejections) per camera or event type",
)
def get_false_positives(
    _actor: StaffDep,
    context: ContextDep,
    by: Annotated[
        FalsePositiveBy, Query(description="Group rows by camera or event type.")
    ] = FalsePositiveBy.CAMERA,
    start: Annotated[
        str | None,
        Query(description=_START.format(default="the start of the current month")),
    ] = None,
    end: Annotated[
        str | None,
        Query(description=_END.format(default="the end of the current month")),
    ] = None,
    fmt: Annotated[Format, Query(alias="format", description=_FORMAT)] = "json",
) -> FalsePositiveReport | Response:
    """AI tickets created in [start, end) and how many operators rejected as false
    positives, the worst camera or event type first."""
    zone = city_zone(context)
    default = period_bounds(context.clock.now(), Period.MONTH, zone)
    begin, finish = time_range(start, end, zone, default)
    with context.sessions() as session:
        rows = false_positives(session, by=by, start=begin, end=finish)
    if fmt == "csv":
        name = f"false-positives-{by.value}-{_stamp(begin, finish, zone)}"
        return _csv(rows, FalsePositiveRow, f"{name}.csv")
    return FalsePositiveReport(by=by, start=begin, end=finish, rows=rows)


@router.get(
    "/daily",
    response_model=DailyReport,
    responses=_CSV_RESPONSE,
    summary="Events and tickets per local day and category (charts)",
)
def get_daily(
    _actor: StaffDep,
    context: ContextDep,
    start: Annotated[
        str | None,
        Query(
            description=_START.format(
                default=f"{DAILY_DEFAULT_DAYS - 1} days before today"
            )
        ),
    ] = None,
    end: Annotated[
        str | None, Query(description=_END.format(default="the end of today"))
    ] = None,
    fmt: Annotated[Format, Query(alias="format", description=_FORMAT)] = "json",
    fresh: Annotated[bool, Query(description=_FRESH)] = False,
) -> DailyReport | Response:
    """Events detected and tickets opened per local day and category."""
    zone = city_zone(context)
    today, tomorrow = period_bounds(context.clock.now(), Period.DAY, zone)
    first = (today.date() - timedelta(days=DAILY_DEFAULT_DAYS - 1)).isoformat()
    default = (parse_when(first, zone, "start"), tomorrow)
    begin, finish = time_range(start, end, zone, default)
    categories = categories_of(context.matters)
    as_of = None
    with context.sessions() as session:
        if context.settings.evaluation_snapshots.enabled and not fresh:
            rows, as_of = daily_with_stored(
                session,
                start=begin,
                end=finish,
                zone=zone,
                now=context.clock.now(),
                categories=categories,
            )
        else:
            rows = daily_counts(
                session, start=begin, end=finish, timezone=zone, categories=categories
            )
    if fmt == "csv":
        return _csv(rows, DailyCountRow, f"daily-{_stamp(begin, finish, zone)}.csv")
    return DailyReport(
        timezone=zone.key, start=begin, end=finish, as_of=as_of, rows=rows
    )

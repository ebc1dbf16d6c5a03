"""Stored daily counts of completed days: the statistics page's daily chart.

`central.performance.daily_counts` for 30 days of a city-year groups a
quarter of a million events with their tickets' categories (seconds at five
million tickets), though a completed day's counts hardly change. The
evaluation snapshot job (`central.evaluation_snapshots`) therefore also stores
each completed day's rows (`EvaluationSnapshot` rows of period
`daily_counts`), and `daily_with_stored` reads them for the completed days of
a range and computes only the rest (today). The fingerprint of a stored day
covers the row model and the matter list's event type → category map, so an
edited matter list is never served from rows made under the old one.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.db.models import EvaluationSnapshot
from central.matters import MatterList
from central.performance import DailyCountRow, Period, daily_counts, period_bounds

__all__ = [
    "DAILY_PERIOD",
    "Categories",
    "categories_of",
    "daily_fingerprint",
    "daily_with_stored",
    "refresh_day",
]

DAILY_PERIOD = "daily_counts"
_DIMENSION = "all"
Categories = Mapping[str, tuple[str, str]]
Bucket = tuple[datetime, datetime]


def categories_of(matters: MatterList) -> dict[str, tuple[str, str]]:
    """Event type → (category code, name) from the matter list."""
    return {
        event_type: (matter.category.code, matter.category.name)
        for matter in matters.matters
        for event_type in matter.event_types
    }


def daily_fingerprint(categories: Categories) -> str:
    """What stored daily rows depend on besides the data: the row model's
    fields and the event type → category map."""
    described = json.dumps(
        [sorted(DailyCountRow.model_fields), sorted(categories.items())],
        ensure_ascii=False,
    )
    return hashlib.sha256(described.encode()).hexdigest()


def _day(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).date().isoformat()


def refresh_day(
    session: Session,
    *,
    day: Bucket,
    zone: ZoneInfo,
    now: datetime,
    categories: Categories,
) -> EvaluationSnapshot:
    """Count one completed day and store its rows (the caller commits)."""
    started = time.perf_counter()
    rows = daily_counts(
        session, start=day[0], end=day[1], timezone=zone, categories=categories
    )
    seconds = time.perf_counter() - started
    key = _day(day[0], zone)
    snapshot = session.scalar(
        select(EvaluationSnapshot).where(
            EvaluationSnapshot.period == DAILY_PERIOD,
            EvaluationSnapshot.dimension == _DIMENSION,
            EvaluationSnapshot.timezone == zone.key,
            EvaluationSnapshot.bucket_start == key,
        )
    )
    if snapshot is None:
        snapshot = EvaluationSnapshot(
            period=DAILY_PERIOD,
            bucket_start=key,
            dimension=_DIMENSION,
            timezone=zone.key,
        )
        session.add(snapshot)
    snapshot.computed_at = now
    snapshot.seconds = round(seconds, 3)
    snapshot.row_count = len(rows)
    snapshot.row_schema = daily_fingerprint(categories)
    snapshot.rows = [row.model_dump(mode="json") for row in rows]
    return snapshot


def stored_days(
    session: Session, days: Sequence[Bucket], zone: ZoneInfo, categories: Categories
) -> dict[str, EvaluationSnapshot]:
    """The stored, current snapshots of `days`, by local date."""
    if not days:
        return {}
    keys = [_day(start, zone) for start, _ in days]
    return {
        snapshot.bucket_start: snapshot
        for snapshot in session.scalars(
            select(EvaluationSnapshot).where(
                EvaluationSnapshot.period == DAILY_PERIOD,
                EvaluationSnapshot.dimension == _DIMENSION,
                EvaluationSnapshot.timezone == zone.key,
                EvaluationSnapshot.bucket_start.in_(keys),
                EvaluationSnapshot.row_schema == daily_fingerprint(categories),
            )
        )
    }


def daily_with_stored(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    now: datetime,
    categories: Categories,
) -> tuple[list[DailyCountRow], datetime | None]:
    """`daily_counts` of [start, end), with completed stored days read, and when
    the oldest stored day among them was computed (None: all computed now)."""
    days = _days_of(start, end, zone)
    if days is None:
        whole = daily_counts(
            session, start=start, end=end, timezone=zone, categories=categories
        )
        return whole, None
    found = stored_days(session, [d for d in days if d[1] <= now], zone, categories)
    rows: list[DailyCountRow] = []
    stored: list[EvaluationSnapshot] = []
    missing_from: datetime | None = None
    for day in days:
        snapshot = found.get(_day(day[0], zone))
        if snapshot is None:
            missing_from = missing_from or day[0]
            continue
        if missing_from is not None:
            rows += daily_counts(
                session,
                start=missing_from,
                end=day[0],
                timezone=zone,
                categories=categories,
            )
            missing_from = None
        rows += [DailyCountRow.model_construct(**row) for row in snapshot.rows]
        stored.append(snapshot)
    if missing_from is not None:
        rows += daily_counts(
            session, start=missing_from, end=end, timezone=zone, categories=categories
        )
    as_of = min((s.computed_at for s in stored), default=None)
    return _one_name_per_code(rows), as_of


def _days_of(start: datetime, end: datetime, zone: ZoneInfo) -> list[Bucket] | None:
    """The local days [start, end) is made of; None unless it starts and ends
    at local midnight."""
    days: list[Bucket] = []
    cursor = start
    while cursor < end:
        day = period_bounds(cursor, Period.DAY, zone)
        if day[0] != cursor:
            return None
        days.append(day)
        cursor = day[1]
    return days if cursor == end and days else None


def _one_name_per_code(rows: list[DailyCountRow]) -> list[DailyCountRow]:
    """One name per category code over the whole range (the smallest), as
    `daily_counts` gives for a range counted at once."""
    names: dict[str, str] = {}
    for row in rows:
        if row.category_code is not None and row.category_name is not None:
            current = names.get(row.category_code, row.category_name)
            names[row.category_code] = min(current, row.category_name)
    return [
        row.model_copy(update={"category_name": names[row.category_code]})
        if row.category_code in names and row.category_name != names[row.category_code]
        else row
        for row in rows
    ]

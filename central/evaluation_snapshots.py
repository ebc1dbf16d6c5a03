"""Stored evaluations of completed days, weeks, months and quarters.

A city-year's monthly or quarterly evaluation aggregates hundreds of thousands
of tickets (seconds even in the database), while a completed period changes
only slowly: late closures, ratings and rework. So the scheduler stores the
rows of `central.performance.evaluate` per completed bucket and dimension
(`EvaluationSnapshot`), recomputing the last few at every refresh and storing
the older ones the console shows once, and the statistics API reads the
completed buckets of a range from those rows, saying when they were computed
(`as_of`). Anything else (the current period, a range not cut at bucket
boundaries, a bucket not stored yet) is computed on request as before.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from central.config import EvaluationSnapshotSettings
from central.context import CentralContext
from central.daily_snapshots import (
    categories_of,
    refresh_day,
    stored_days,
)
from central.db.models import EvaluationSnapshot
from central.performance import (
    Dimension,
    EvaluationRow,
    Period,
    evaluate,
    period_bounds,
)

__all__ = [
    "REFRESH_LOCK_KEY",
    "SNAPSHOT_PERIODS",
    "Evaluated",
    "EvaluatedFields",
    "EvaluationSnapshotJob",
    "completed_buckets",
    "evaluate_fields_with_stored",
    "evaluate_with_stored",
    "refresh_bucket",
]

log = logging.getLogger(__name__)

SNAPSHOT_PERIODS = (Period.DAY, Period.WEEK, Period.MONTH, Period.QUARTER)
# The periods the console's statistics page shows (the current one and these
# completed ones before it): stored once when missing, even beyond the
# kept-fresh ones, so that the page reads them all.
CONSOLE_RANGE = {Period.DAY: 13, Period.WEEK: 7, Period.MONTH: 5, Period.QUARTER: 3}
Bucket = tuple[datetime, datetime]
_Job = tuple[Period, Bucket]
# Rows stored by a version whose EvaluationRow had other fields are recomputed,
# never served (they would miss or carry columns).
ROW_SCHEMA = hashlib.sha256(
    ",".join(sorted(EvaluationRow.model_fields)).encode()
).hexdigest()
# One replica refreshes at a time (PostgreSQL advisory lock; any constant).
REFRESH_LOCK_KEY = 0x67770E5A


@dataclass(frozen=True, slots=True)
class Evaluated:
    """Evaluation rows, and when the oldest stored bucket among them was
    computed (None: every row was computed for this call)."""

    rows: list[EvaluationRow]
    as_of: datetime | None
    stored_buckets: int = 0


@dataclass(frozen=True, slots=True)
class EvaluatedFields:
    """`Evaluated` with each row as its fields (the stored rows as read): for
    callers that add rows up and need no model per row."""

    rows: list[Mapping[str, Any]]
    as_of: datetime | None
    stored_buckets: int = 0


def buckets_of(
    period: Period, start: datetime, end: datetime, zone: ZoneInfo
) -> list[tuple[datetime, datetime]] | None:
    """The buckets [start, end) is made of, None unless it starts and ends on
    bucket boundaries."""
    buckets: list[tuple[datetime, datetime]] = []
    cursor = start
    while cursor < end:
        bucket = period_bounds(cursor, period, zone)
        if bucket[0] != cursor:
            return None
        buckets.append(bucket)
        cursor = bucket[1]
    return buckets if cursor == end else None


def completed_buckets(
    period: Period, now: datetime, zone: ZoneInfo, count: int
) -> list[tuple[datetime, datetime]]:
    """The `count` last buckets of `period` that ended by `now`, oldest first."""
    found: list[tuple[datetime, datetime]] = []
    current_start, _ = period_bounds(now, period, zone)
    cursor = current_start
    for _ in range(count):
        bucket = period_bounds(cursor - timedelta(days=1), period, zone)
        found.append(bucket)
        cursor = bucket[0]
    return found[::-1]


def _local_day(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).date().isoformat()


def _key(
    period: Period, bucket: tuple[datetime, datetime], by: Dimension, zone: ZoneInfo
) -> tuple[str, str, str]:
    return period.value, _local_day(bucket[0], zone), by.value


def evaluate_with_stored(
    session: Session,
    *,
    period: Period,
    by: Dimension,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    now: datetime,
) -> Evaluated:
    """The evaluation of [start, end) as `evaluate` computes it at `now`,
    except that completed buckets that are stored are read.

    A range cut at bucket boundaries takes each completed bucket from its
    snapshot where there is one; the buckets that are not stored (the current
    one, say) are computed, each run of neighbours in one call. Any other
    range is computed whole.
    """
    rows, stored = _gather(session, period, by, (start, end), zone, now)
    return Evaluated(
        # Stored rows were validated when computed; construct skips doing it twice.
        [
            r if isinstance(r, EvaluationRow) else EvaluationRow.model_construct(**r)
            for r in rows
        ],
        _as_of(stored),
        len(stored),
    )


def evaluate_fields_with_stored(
    session: Session,
    *,
    period: Period,
    by: Dimension,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    now: datetime,
) -> EvaluatedFields:
    """`evaluate_with_stored` with each row as its fields: a city's stored
    rows (160,000 for 20,000 grids over eight periods) are not made models."""
    rows, stored = _gather(session, period, by, (start, end), zone, now)
    return EvaluatedFields(
        [vars(r) if isinstance(r, EvaluationRow) else r for r in rows],
        _as_of(stored),
        len(stored),
    )


def _gather(
    session: Session,
    period: Period,
    by: Dimension,
    bounds: tuple[datetime, datetime],
    zone: ZoneInfo,
    now: datetime,
) -> tuple[list[EvaluationRow | Mapping[str, Any]], list[EvaluationSnapshot]]:
    start, end = bounds
    buckets = (
        buckets_of(period, start, end, zone) if period in SNAPSHOT_PERIODS else None
    )
    if not buckets:
        return list(_compute(session, period, by, (start, end), zone, now)), []
    found = _snapshots(session, period, by, [b for b in buckets if b[1] <= now], zone)
    rows: list[EvaluationRow | Mapping[str, Any]] = []
    stored: list[EvaluationSnapshot] = []
    missing: list[tuple[datetime, datetime]] = []
    for bucket in buckets:
        snapshot = found.get(_local_day(bucket[0], zone))
        if snapshot is None:
            missing.append(bucket)
            continue
        if missing:
            rows += _compute(session, period, by, (missing[0][0], bucket[0]), zone, now)
            missing = []
        rows += snapshot.rows
        stored.append(snapshot)
    if missing:
        rows += _compute(session, period, by, (missing[0][0], end), zone, now)
    return rows, stored


def _as_of(stored: list[EvaluationSnapshot]) -> datetime | None:
    return min((s.computed_at for s in stored), default=None)


def _compute(
    session: Session,
    period: Period,
    by: Dimension,
    bounds: tuple[datetime, datetime],
    zone: ZoneInfo,
    now: datetime,
) -> list[EvaluationRow]:
    return evaluate(
        session,
        period=period,
        by=by,
        start=bounds[0],
        end=bounds[1],
        timezone=zone,
        now=now,
    )


def _snapshots(
    session: Session,
    period: Period,
    by: Dimension,
    buckets: Sequence[tuple[datetime, datetime]],
    zone: ZoneInfo,
) -> dict[str, EvaluationSnapshot]:
    """The stored snapshots of `buckets`, by local first day."""
    if not buckets:
        return {}
    days = [_local_day(bucket_start, zone) for bucket_start, _ in buckets]
    return {
        snapshot.bucket_start: snapshot
        for snapshot in session.scalars(
            select(EvaluationSnapshot).where(
                EvaluationSnapshot.period == period.value,
                EvaluationSnapshot.dimension == by.value,
                EvaluationSnapshot.timezone == zone.key,
                EvaluationSnapshot.bucket_start.in_(days),
                EvaluationSnapshot.row_schema == ROW_SCHEMA,
            )
        )
    }


def refresh_bucket(
    session: Session,
    *,
    period: Period,
    by: Dimension,
    bucket: tuple[datetime, datetime],
    zone: ZoneInfo,
    now: datetime,
) -> EvaluationSnapshot:
    """Compute one bucket's evaluation as of `now` and store it (replacing the
    stored one); the caller commits."""
    started = time.perf_counter()
    rows = _compute(session, period, by, bucket, zone, now)
    seconds = time.perf_counter() - started
    day = _local_day(bucket[0], zone)
    snapshot = session.scalar(
        select(EvaluationSnapshot).where(
            EvaluationSnapshot.period == period.value,
            EvaluationSnapshot.dimension == by.value,
            EvaluationSnapshot.timezone == zone.key,
            EvaluationSnapshot.bucket_start == day,
        )
    )
    if snapshot is None:
        snapshot = EvaluationSnapshot(
            period=period.value, bucket_start=day, dimension=by.value, timezone=zone.key
        )
        session.add(snapshot)
    snapshot.computed_at = now
    snapshot.seconds = round(seconds, 3)
    snapshot.row_count = len(rows)
    snapshot.row_schema = ROW_SCHEMA
    snapshot.rows = [row.model_dump(mode="json") for row in rows]
    return snapshot


# The statistics page's daily chart reaches back this many days before today.
DAILY_CHART_DAYS = 29


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """What one refresh did: evaluation snapshots and days of daily counts
    stored, and the seconds it took."""

    stored: int
    seconds: float
    skipped: bool = False
    days_stored: int = 0


class EvaluationSnapshotJob:
    """Refreshes the snapshots every `evaluation_snapshots.interval_min` (the
    scheduler calls `run_if_due` each round)."""

    def __init__(self, context: CentralContext, check_every_s: float = 30.0) -> None:
        self.context = context
        self.check_every_s = check_every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Check for due refreshes in a thread of its own (a first refresh of a
        city-year takes minutes; the scheduler's round must not wait for it)."""
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name="evaluation-snapshots", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop after the bucket being computed (each one is its own
        transaction, so nothing is left half stored)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    @property
    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_if_due()
            except Exception:
                log.exception("evaluation snapshots failed; trying again later")
            self._stop.wait(self.check_every_s)

    @property
    def settings(self) -> EvaluationSnapshotSettings:
        return self.context.settings.evaluation_snapshots

    def run_if_due(self) -> RefreshReport | None:
        """Refresh when a kept-fresh snapshot is missing or older than the
        interval (judged from the database: restarts and replicas agree)."""
        if not self.settings.enabled:
            return None
        now = self.context.clock.now()
        if not self.is_due(now):
            return None
        return self.run_once()

    def is_due(self, now: datetime) -> bool:
        """A kept-fresh snapshot is missing or older than the interval, or an
        older bucket of the console's range was never stored."""
        if self._daily_due(now):
            return True
        fresh, once = self._plan(now)
        if not fresh and not once:
            return False
        zone = self.context.directory.zone
        computed = self._computed_at([*fresh, *once], zone)
        wanted = {
            _key(period, bucket, by, zone)
            for period, bucket in fresh
            for by in Dimension
        }
        wanted_once = {
            _key(period, bucket, by, zone)
            for period, bucket in once
            for by in Dimension
        }
        if not (wanted | wanted_once) <= computed.keys():
            return True
        if not wanted:
            return False
        oldest = min(computed[key] for key in wanted)
        return now - oldest >= timedelta(minutes=self.settings.interval_min)

    def _daily_plan(self, now: datetime) -> tuple[list[Bucket], list[Bucket]]:
        """(days of daily counts recomputed at every refresh; older days of the
        daily chart stored once when missing)."""
        zone = self.context.directory.zone
        count = max(self.settings.days, DAILY_CHART_DAYS)
        days = completed_buckets(Period.DAY, now, zone, count)[::-1]  # newest first
        return days[: self.settings.days], days[self.settings.days :]

    def _daily_due(self, now: datetime) -> bool:
        fresh, once = self._daily_plan(now)
        zone = self.context.directory.zone
        with self.context.sessions() as session:
            found = stored_days(
                session, [*fresh, *once], zone, categories_of(self.context.matters)
            )
        if len(found) < len(fresh) + len(once):
            return True
        if not fresh:
            return False
        oldest = min(found[_local_day(day[0], zone)].computed_at for day in fresh)
        return now - oldest >= timedelta(minutes=self.settings.interval_min)

    def _daily_jobs(self, now: datetime) -> list[Bucket]:
        fresh, once = self._daily_plan(now)
        zone = self.context.directory.zone
        with self.context.sessions() as session:
            found = stored_days(
                session, once, zone, categories_of(self.context.matters)
            )
        return fresh + [d for d in once if _local_day(d[0], zone) not in found]

    def _plan(self, now: datetime) -> tuple[list[_Job], list[_Job]]:
        """(the buckets recomputed at every refresh, newest first; the older
        ones of the console's range, stored once when missing)."""
        zone = self.context.directory.zone
        fresh: list[_Job] = []
        once: list[_Job] = []
        for period in SNAPSHOT_PERIODS:
            keep = self._fresh_counts[period]
            count = max(keep, CONSOLE_RANGE[period])
            buckets = completed_buckets(period, now, zone, count)[::-1]
            fresh += [(period, bucket) for bucket in buckets[:keep]]
            once += [(period, bucket) for bucket in buckets[keep:]]
        return fresh, once

    @property
    def _fresh_counts(self) -> dict[Period, int]:
        settings = self.settings
        return {
            Period.DAY: settings.days,
            Period.WEEK: settings.weeks,
            Period.MONTH: settings.months,
            Period.QUARTER: settings.quarters,
        }

    def _computed_at(
        self, jobs: Sequence[_Job], zone: ZoneInfo
    ) -> dict[tuple[str, str, str], datetime]:
        days = {_local_day(bucket[0], zone) for _, bucket in jobs}
        with self.context.sessions() as session:
            found = session.execute(
                select(
                    EvaluationSnapshot.period,
                    EvaluationSnapshot.bucket_start,
                    EvaluationSnapshot.dimension,
                    EvaluationSnapshot.computed_at,
                ).where(
                    EvaluationSnapshot.timezone == zone.key,
                    EvaluationSnapshot.bucket_start.in_(days),
                    EvaluationSnapshot.row_schema == ROW_SCHEMA,
                )
            ).all()
        return {(p, day, by): at for p, day, by, at in found}

    def jobs(self, now: datetime) -> list[_Job]:
        """The buckets a refresh at `now` computes: the kept-fresh ones, then
        the older ones of the console's range not stored yet."""
        fresh, once = self._plan(now)
        if not once:
            return fresh
        zone = self.context.directory.zone
        computed = self._computed_at(once, zone)
        missing = [
            (period, bucket)
            for period, bucket in once
            if any(_key(period, bucket, by, zone) not in computed for by in Dimension)
        ]
        return fresh + missing

    def run_once(
        self, dimensions: Sequence[Dimension] = tuple(Dimension)
    ) -> RefreshReport:
        """Recompute every kept-fresh bucket by every dimension, one
        transaction each; skipped while another replica is refreshing."""
        started = time.perf_counter()
        now = self.context.clock.now()
        zone = self.context.directory.zone
        stored = days_stored = 0
        with self.context.sessions() as lock_session:
            if not _try_lock(lock_session):
                log.info("evaluation snapshots: another replica is refreshing them")
                return RefreshReport(0, 0.0, skipped=True)
            try:
                for period, bucket in self.jobs(now):
                    if self._stop.is_set():
                        break
                    for by in dimensions:
                        with self.context.sessions.begin() as session:
                            refresh_bucket(
                                session,
                                period=period,
                                by=by,
                                bucket=bucket,
                                zone=zone,
                                now=now,
                            )
                        stored += 1
                categories = categories_of(self.context.matters)
                for day in self._daily_jobs(now):
                    if self._stop.is_set():
                        break
                    with self.context.sessions.begin() as session:
                        refresh_day(
                            session, day=day, zone=zone, now=now, categories=categories
                        )
                    days_stored += 1
            finally:
                _unlock(lock_session)
        seconds = time.perf_counter() - started
        log.info(
            "evaluation snapshots: %d stored and %d days counted in %.1f s",
            stored,
            days_stored,
            seconds,
        )
        return RefreshReport(stored, round(seconds, 3), days_stored=days_stored)


def _try_lock(session: Session) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: one process owns the database
    return bool(
        session.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": REFRESH_LOCK_KEY})
    )


def _unlock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": REFRESH_LOCK_KEY})
        session.commit()

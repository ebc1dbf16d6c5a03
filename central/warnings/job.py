"""The scheduled detection run over the database, and the feed that pushes
warning changes to this process's staff streams.

`WarningJob.run_once` counts tickets (not rejected) per grid × category in
24-hour blocks ending now, pools the category's city-wide rate and weekday
profile from the baseline weeks, judges every series that could fire (at least
`min_count` tickets in the longest window) or has an active warning, and opens,
updates or resolves warnings. `WarningFeed.poll` reads the warnings changed
since its last look and hands those whose state it has not told yet to
`context.stream`: every replica that runs the scheduler tells its own SSE
listeners, whichever replica's job (or API) made the change.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.config import WarningSettings
from central.context import CentralContext
from central.db.models import Area, AreaLevel, HotspotWarning, Ticket
from central.tickets.states import TicketState
from central.warnings.detector import (
    DAYS_PER_WEEK,
    FLAT_WEEK,
    Assessment,
    SeriesCounts,
    assess,
    required_days,
    weekday_profile,
)
from central.warnings.notice import WarningNotice
from central.warnings.store import (
    SeriesKey,
    active_warnings,
    changed_since,
    open_warning,
    resolve,
    set_figures,
)

log = logging.getLogger(__name__)

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class JobReport:
    """What one detection run did."""

    judged: int = 0
    opened: int = 0
    updated: int = 0
    resolved: int = 0


@dataclass(slots=True)
class _Counts:
    """Daily counts per series (index 0 oldest) and per category."""

    series: dict[SeriesKey, list[int]]
    names: dict[str, str]
    category_days: dict[str, list[int]]


def _block_weekdays(now: datetime, zone: ZoneInfo, days: int) -> list[int]:
    """Weekday (local, Monday 0) of each 24-hour block, oldest first."""
    return [
        (now - (days - index - 0.5) * DAY).astimezone(zone).weekday()
        for index in range(days)
    ]


def count_tickets(session: Session, *, now: datetime, days: int) -> _Counts:
    """Tickets per grid × category in `days` 24-hour blocks ending at `now`."""
    start = now - days * DAY
    rows = session.execute(
        select(
            Ticket.grid_code,
            Ticket.category_code,
            Ticket.category_name,
            Ticket.created_at,
        ).where(
            Ticket.created_at >= start,
            Ticket.created_at < now,
            Ticket.grid_code.is_not(None),
            Ticket.state != TicketState.REJECTED.value,
        )
    )
    counts = _Counts({}, {}, defaultdict(lambda: [0] * days))
    for grid_code, category, name, created_at in rows:
        index = days - 1 - int((now - created_at) / DAY)
        if grid_code is None or not 0 <= index < days:
            continue
        key = SeriesKey(grid_code, category)
        counts.series.setdefault(key, [0] * days)[index] += 1
        counts.category_days[category][index] += 1
        counts.names.setdefault(category, name)
    return counts


class WarningJob:
    """Runs detection every `warnings.interval_min` (the scheduler calls
    `run_if_due` each round)."""

    def __init__(self, context: CentralContext) -> None:
        self.context = context
        self._last_run: datetime | None = None

    @property
    def settings(self) -> WarningSettings:
        return self.context.settings.warnings

    def run_if_due(self) -> JobReport | None:
        if not self.settings.enabled:
            return None
        now = self.context.clock.now()
        interval = timedelta(minutes=self.settings.interval_min)
        if self._last_run is not None and now - self._last_run < interval:
            return None
        self._last_run = now
        return self.run_once()

    def run_once(self) -> JobReport:
        """Judge every series that could fire or has an active warning; open,
        raise or resolve warnings in one transaction."""
        settings = self.settings
        now = self.context.clock.now()
        days = required_days(settings)
        longest = max(settings.windows_days)
        weekdays = _block_weekdays(now, self.context.directory.zone, days)
        with self.context.sessions.begin() as session:
            counts = count_tickets(session, now=now, days=days)
            grids = session.scalar(
                select(func.count()).where(Area.level == AreaLevel.GRID.value)
            )
            priors, profiles = _city_baselines(
                counts,
                grids=max(1, grids or 0),
                weekdays=weekdays,
                longest=longest,
                baseline_days=settings.baseline_weeks * DAYS_PER_WEEK,
            )
            active = active_warnings(session)
            wanted = {
                key
                for key, daily in counts.series.items()
                if sum(daily[-longest:]) >= settings.min_count
            } | set(active)
            tally: dict[str, int] = defaultdict(int)
            for key in sorted(wanted, key=lambda k: (k.grid_code, k.category_code)):
                verdict = assess(
                    SeriesCounts(
                        daily=counts.series.get(key, [0] * days),
                        last_weekday=weekdays[-1],
                        prior_rate=priors.get(key.category_code, 0.0),
                        weekday_profile=profiles.get(key.category_code, FLAT_WEEK),
                    ),
                    settings,
                )
                name = counts.names.get(key.category_code, key.category_code)
                outcome = _apply(session, key, active.get(key), verdict, name, now)
                tally[outcome] += 1
        report = JobReport(
            len(wanted), tally["opened"], tally["updated"], tally["resolved"]
        )
        if report.opened or report.resolved:
            log.info(
                "hotspot warnings: %d opened, %d resolved (%d series judged)",
                report.opened,
                report.resolved,
                report.judged,
            )
        return report


def _apply(
    session: Session,
    key: SeriesKey,
    row: HotspotWarning | None,
    verdict: Assessment,
    category_name: str,
    now: datetime,
) -> str:
    """Open, raise or resolve the series' warning; what was done, in a word."""
    if row is None:
        if not verdict.fired:
            return "quiet"
        opened = open_warning(
            session, key=key, category_name=category_name, verdict=verdict, now=now
        )
        return "opened" if opened is not None else "taken"
    if verdict.back_to_normal:
        resolve(row, now=now)
        return "resolved"
    if verdict.fired and verdict.observed > row.observed:
        set_figures(row, verdict)
        return "updated"
    return "active"


def _city_baselines(
    counts: _Counts,
    *,
    grids: int,
    weekdays: list[int],
    longest: int,
    baseline_days: int,
) -> tuple[dict[str, float], dict[str, tuple[float, ...]]]:
    """Per category: mean tickets per grid and day, and the weekday profile,
    over the baseline blocks (those before the longest window)."""
    stop = len(weekdays) - longest
    start = stop - baseline_days
    priors: dict[str, float] = {}
    profiles: dict[str, tuple[float, ...]] = {}
    for category, daily in counts.category_days.items():
        window = daily[start:stop]
        priors[category] = sum(window) / (grids * baseline_days)
        by_weekday = [0.0] * DAYS_PER_WEEK
        for count, weekday in zip(window, weekdays[start:stop], strict=True):
            by_weekday[weekday] += count
        profiles[category] = weekday_profile(by_weekday)
    return priors, profiles


class WarningFeed:
    """Tells this process's staff streams of warning changes, once per state."""

    def __init__(self, context: CentralContext, *, lookback: timedelta) -> None:
        self.context = context
        self.lookback = lookback
        self._since = context.clock.now()
        self._told: dict[int, str] = {}

    def poll(self) -> list[WarningNotice]:
        """Deliver (and return) the notices of changes not told yet."""
        now = self.context.clock.now()
        since = min(self._since, now) - self.lookback
        with self.context.sessions() as session:
            rows = changed_since(session, since)
            notices = [
                WarningNotice.from_row(row)
                for row in rows
                if self._told.get(row.id) != row.state
            ]
            self._told = {row.id: row.state for row in rows}
        self._since = now
        for notice in notices:
            self.context.stream.warning_changed(notice)
        return notices

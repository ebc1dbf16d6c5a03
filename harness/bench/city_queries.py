"""What people do every day on a city-year of cases, timed (`bench city`).

Requests go through the real HTTP API in process (FastAPI TestClient, a staff
bearer token) so serialisation counts; the evaluation is also timed as the
function `central.performance.evaluate`. `explain` captures the SQL a call
runs and returns PostgreSQL's EXPLAIN (ANALYZE, BUFFERS) of each statement.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from central.performance import (
    Dimension,
    EvaluationRow,
    Period,
    evaluate,
    evaluate_in_python,
    period_bounds,
)
from gridwatch.stats import percentile

__all__ = [
    "Capture",
    "ListSample",
    "evaluation_matches",
    "explain",
    "list_requests",
    "time_requests",
    "time_stats_page",
    "time_stored_evaluations",
]

EVALUATION_DIMENSIONS = (
    Dimension.GRID,
    Dimension.COMMUNITY,
    Dimension.STREET,
    Dimension.DEPARTMENT,
    Dimension.WORKER,
)
# The console's "open" state filter.
_OPEN = ("pending_review", "dispatched", "accepted", "resolved", "returned")


@dataclass(frozen=True, slots=True)
class ListSample:
    """One kind of ticket search the console makes, with its query string."""

    name: str
    params: list[tuple[str, str]]


def list_requests(
    rng: random.Random,
    grid_codes: Sequence[str],
    workers: Sequence[str],
    count: int,
) -> list[ListSample]:
    """`count` searches mixing what operators filter by: nothing (newest
    first), open tickets of a district, a street, a worker, the overdue open
    ones by urgency, a category class closed, a community's open ones."""
    makers: list[Callable[[], ListSample]] = [
        lambda: ListSample("newest", []),
        lambda: ListSample(
            "district_open",
            [("grid", rng.choice(grid_codes)[:6])] + [("state", s) for s in _OPEN],
        ),
        lambda: ListSample("street", [("grid", rng.choice(grid_codes)[:9])]),
        lambda: ListSample("worker", [("assignee", rng.choice(workers))]),
        lambda: ListSample(
            "overdue_open_urgency",
            [("overdue", "true"), ("sort", "urgency")] + [("state", s) for s in _OPEN],
        ),
        lambda: ListSample(
            "category_closed", [("category", "01"), ("state", "closed")]
        ),
        lambda: ListSample(
            "community_open",
            [("grid", rng.choice(grid_codes)[:12])] + [("state", s) for s in _OPEN],
        ),
    ]
    return [makers[i % len(makers)]() for i in range(count)]


def time_requests(
    client: TestClient,
    headers: dict[str, str],
    path: str,
    samples: Sequence[Sequence[tuple[str, str]]],
) -> dict[str, float | None]:
    """GET `path` with each query; p50/p95/max milliseconds (all must be 200)."""
    durations: list[float] = []
    for params in samples:
        started = time.perf_counter()
        response = client.get(path, params=list(params), headers=headers)
        durations.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(
                f"GET {path} {params} answered {response.status_code}: "
                f"{response.text[:300]}"
            )
    return {
        "p50_ms": _round(percentile(durations, 0.5)),
        "p95_ms": _round(percentile(durations, 0.95)),
        "max_ms": _round(max(durations)),
    }


def time_once(
    client: TestClient,
    headers: dict[str, str],
    path: str,
    params: Sequence[tuple[str, str]],
) -> tuple[float, int]:
    """(milliseconds, response bytes) of one GET that must answer 200."""
    started = time.perf_counter()
    with client.stream("GET", path, params=list(params), headers=headers) as response:
        size = sum(len(part) for part in response.iter_bytes())
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
    return (time.perf_counter() - started) * 1000, size


def time_evaluations(
    session_factory: Callable[[], Session],
    now: datetime,
    zone: ZoneInfo,
) -> dict[str, dict[str, float | int]]:
    """Seconds and rows of evaluate() for the last full month and quarter by
    each dimension."""
    result: dict[str, dict[str, float | int]] = {}
    for period in (Period.MONTH, Period.QUARTER):
        start, end = last_full(period, now, zone)
        for by in EVALUATION_DIMENSIONS:
            with session_factory() as session:
                started = time.perf_counter()
                rows = evaluate(
                    session,
                    period=period,
                    by=by,
                    start=start,
                    end=end,
                    timezone=zone,
                    now=now,
                )
                seconds = time.perf_counter() - started
            result[f"{period.value}_{by.value}"] = {
                "s": round(seconds, 3),
                "rows": len(rows),
                "tickets": sum(r.tickets for r in rows),
            }
    return result


def time_stored_evaluations(
    client: TestClient,
    headers: dict[str, str],
    now: datetime,
    zone: ZoneInfo,
) -> dict[str, float]:
    """Milliseconds of `/api/v1/stats/evaluation` for the last full month and
    quarter by each dimension, each answered from the stored evaluation."""
    result: dict[str, float] = {}
    for period in (Period.MONTH, Period.QUARTER):
        start, end = last_full(period, now, zone)
        for by in EVALUATION_DIMENSIONS:
            params = [
                ("period", period.value),
                ("by", by.value),
                ("start", start.isoformat()),
                ("end", end.isoformat()),
            ]
            started = time.perf_counter()
            with client.stream(
                "GET", "/api/v1/stats/evaluation", params=params, headers=headers
            ) as response:
                body = response.read()
            ms = (time.perf_counter() - started) * 1000
            if response.status_code != 200 or b'"as_of":null' in body:
                raise RuntimeError(
                    f"evaluation {period.value} by {by.value} was not served from "
                    f"the stored evaluation ({response.status_code})"
                )
            result[f"{period.value}_{by.value}"] = round(ms, 1)
    return result


# The console's statistics page: the current period and these many before it.
CONSOLE_PERIODS = {Period.DAY: 14, Period.WEEK: 8, Period.MONTH: 6, Period.QUARTER: 4}
# Rows of its by-grid table (stats.js TABLE_ROWS), combined over the periods.
CONSOLE_TABLE_ROWS = 500


def time_stats_page(
    client: TestClient,
    headers: dict[str, str],
    now: datetime,
    zone: ZoneInfo,
    period: Period,
) -> dict[str, float]:
    """Milliseconds of each request the console's statistics page makes for
    `period` by grid (the browser makes them at once: `slowest_ms` is what
    the page waits for)."""
    start, _ = period_bounds(now, period, zone)
    for _ in range(CONSOLE_PERIODS[period] - 1):
        start, _ = period_bounds(start - timedelta(days=1), period, zone)
    tomorrow = period_bounds(now, Period.DAY, zone)[1]
    daily_start = max(start, tomorrow - timedelta(days=30))
    requests = {
        "evaluation_grid_ms": (
            "/api/v1/stats/evaluation",
            [
                ("period", period.value),
                ("by", "grid"),
                ("start", start.date().isoformat()),
                ("combine", "true"),
                ("limit", str(CONSOLE_TABLE_ROWS)),
            ],
        ),
        "evaluation_total_ms": (
            "/api/v1/stats/evaluation",
            [
                ("period", period.value),
                ("by", "total"),
                ("start", start.date().isoformat()),
            ],
        ),
        "daily_ms": (
            "/api/v1/stats/daily",
            [
                ("start", daily_start.date().isoformat()),
                ("end", tomorrow.date().isoformat()),
            ],
        ),
    }
    result = {
        name: round(time_once(client, headers, path, params)[0], 1)
        for name, (path, params) in requests.items()
    }
    result["slowest_ms"] = max(result.values())
    # What the page asked for before central combined the periods: every
    # period's row of every grid (not part of `slowest_ms`; for the ratio).
    path, params = requests["evaluation_grid_ms"]
    every = [(k, v) for k, v in params if k not in ("combine", "limit")]
    result["evaluation_grid_every_period_ms"] = round(
        time_once(client, headers, path, every)[0], 1
    )
    return result


def last_full(
    period: Period, now: datetime, zone: ZoneInfo
) -> tuple[datetime, datetime]:
    """[start, end) of the last whole period before the one holding `now`."""
    current, _ = period_bounds(now, period, zone)
    return period_bounds(current - timedelta(days=1), period, zone)


def evaluation_matches(
    session: Session,
    *,
    period: Period,
    by: Dimension,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    now: datetime,
) -> tuple[bool, int]:
    """(the SQL evaluation equals the Python reference, rows compared); floats
    compared to 1e-9 relative (sums may add in another order)."""
    in_sql = evaluate(
        session, period=period, by=by, start=start, end=end, timezone=zone, now=now
    )
    in_python = evaluate_in_python(
        session, period=period, by=by, start=start, end=end, timezone=zone, now=now
    )
    same = len(in_sql) == len(in_python) and all(
        _same_row(a, b) for a, b in zip(in_sql, in_python, strict=True)
    )
    return same, len(in_sql)


def _same_row(a: EvaluationRow, b: EvaluationRow) -> bool:
    for field in EvaluationRow.model_fields:
        x, y = getattr(a, field), getattr(b, field)
        if isinstance(x, float) and isinstance(y, float):
            if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6):
                return False
        elif x != y:
            return False
    return True


class Capture:
    """The SQL statements (and parameters) an engine runs while active."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, Any]] = []

    def __call__(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            self.statements.append((statement, parameters))


@contextmanager
def captured(engine: Engine) -> Iterator[Capture]:
    capture = Capture()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield capture
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def explain(engine: Engine, statements: Sequence[tuple[str, Any]]) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) text of each statement."""
    plans: list[str] = []
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            for statement, parameters in statements:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                plans.append("\n".join(str(row[0]) for row in cursor.fetchall()))
        finally:
            cursor.close()
    return plans


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)

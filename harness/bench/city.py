"""`gridwatch bench city`: a city-year of cases in PostgreSQL, and the daily work on it.

Starts a throw-away PostgreSQL, imports the Guangzhou-scale city (20,031 grids,
22,367 workers), bulk-loads `--tickets` tickets created over the year before
now with their history rows, events and citizen ratings (COPY;
`harness/bench/city_data.py` says how the year is drawn), then times what
people do every day, through the HTTP API in process:

- evaluation: `central.performance.evaluate` for the last full month and
  quarter by grid / community / street / department / worker (seconds each;
  `evaluation_max_s` the slowest), computed on request;
- `snapshot_refresh_s`: the scheduler's first refresh of the stored
  evaluations (`central/evaluation_snapshots.py`, default settings: 14 days,
  8 weeks, 3 months and 2 quarters kept fresh and the console's older months
  and quarter, by every dimension), then `evaluation_api_ms`: the same month and
  quarter through `/api/v1/stats/evaluation`, now read from what it stored
  (`evaluation_api_max_ms` the slowest), and the month by grid computed on
  request (`evaluation_api_month_grid_fresh_ms`, `fresh=true`) and as a CSV
  download;
- `stats_page_ms`: the requests the console's statistics page makes by grid
  for 8 weeks and for 6 months (evaluation by grid combined over the periods,
  its 500 rows with most tickets; the total; daily counts; all reading the
  stored completed periods and days), each, and the slowest (what the page
  waits for); `evaluation_grid_every_period_ms` is every period's row of every
  grid, as the page asked before central combined them; `daily_ms` above is
  the daily chart counted before anything was stored;
- `list_p95_ms`: `/api/v1/tickets` over a mix of the console's filters, and
  `list_uncapped_count_p95_ms`: the same with every match counted (the
  list's `total` before it was capped at 10,000), for the ratio;
- `review_queue_p95_ms`: `/api/v1/review`, first pages;
- `hotspots_ms`: `/api/v1/stats/hotspots` (7 days, the whole city),
  `hotspots_district_ms` (the same for a district, `?grid=`) and `daily_ms`:
  `/api/v1/stats/daily` (30 days);
- `evaluation_matches_python`: the set-based evaluation equals the Python
  reference (`evaluate_in_python`) on the last full month by district and by
  worker;
- `ingest` (with `--ingest-events N`): `bench central`'s figures
  (events_per_s, dispatch_ms_p99, lost, ...) with central on the loaded
  database.

`--explain` adds EXPLAIN (ANALYZE, BUFFERS) of the statements behind each
(in `plans`). Progress goes to stderr; the figures to stdout (JSON with
--json). `--keep-running` leaves the database up for a look (prints its URL).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from central.api import routes_tickets
from central.api.app import create_app
from central.auth.users import create_user, issue_token
from central.config import CentralSettings
from central.context import CentralContext, build_context
from central.db.models import Ticket, User, UserRole, Worker
from central.evaluation_snapshots import EvaluationSnapshotJob
from central.grids.geojson import load_grid_file
from central.importer import import_city, import_grids, load_city_file
from central.performance import Dimension, Period, evaluate
from harness.bench.central import AUTO_TYPES
from harness.bench.city_data import year_of_tickets
from harness.bench.city_ingest import ingest_at_size
from harness.bench.city_load import as_figures, city_refs, load_year
from harness.bench.city_queries import (
    captured,
    evaluation_matches,
    explain,
    last_full,
    list_requests,
    time_evaluations,
    time_once,
    time_requests,
    time_stats_page,
    time_stored_evaluations,
)
from harness.bench.report import write_figures
from harness.services import PostgresServer
from simulators.city import generate_city, spec_for, write_city

GOALS = {
    "evaluation_api_max_ms": 2000.0,
    "list_p95_ms": 150.0,
    "review_queue_p95_ms": 150.0,
    "hotspots_ms": 500.0,
    "hotspots_district_ms": 500.0,
}
# A production-like memory budget for the throw-away cluster (the defaults are
# sized for a laptop test run: 128 MB of shared buffers).
PG_SETTINGS = {
    "shared_buffers": "2GB",
    "work_mem": "64MB",
    "effective_cache_size": "12GB",
    "max_wal_size": "8GB",
    "random_page_cost": "1.1",
}
STAFF_USER = "bench-operator"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tickets",
        type=int,
        default=200_000,
        help="tickets in the year (the full city-year: 5000000)",
    )
    parser.add_argument(
        "--scale", choices=["guangzhou", "demo"], default="guangzhou", help="city size"
    )
    parser.add_argument(
        "--requests", type=int, default=140, help="ticket list requests to time"
    )
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="skip comparing the SQL evaluation with the Python reference",
    )
    parser.add_argument(
        "--explain", action="store_true", help="add EXPLAIN ANALYZE plans (plans)"
    )
    parser.add_argument(
        "--ingest-events",
        type=int,
        default=0,
        help="then publish N events through the broker into central on the "
        "loaded database (bench central's measurement; 0: skip)",
    )
    parser.add_argument(
        "--ingest-rate", type=float, default=2500.0, help="target events/s"
    )
    parser.add_argument(
        "--ingest-replicas",
        type=int,
        nargs="+",
        default=[1],
        help="central processes sharing the ingest; several values run the "
        "ingest once with each, in order (e.g. 1 2)",
    )
    parser.add_argument("--seed", type=int, default=17, help="random seed")
    parser.add_argument("--json", action="store_true", help="print JSON only")


def run_cli(args: argparse.Namespace) -> int:
    if (
        args.tickets < 1
        or args.requests < 1
        or args.ingest_events < 0
        or min(args.ingest_replicas) < 1
    ):
        sys.stderr.write(
            "bench city: --tickets, --requests and --ingest-replicas must be at "
            "least 1, --ingest-events at least 0\n"
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="gw-bench-city-") as tmp:
        figures = run_bench(args, Path(tmp))
    write_figures(figures, as_json=args.json)
    runs = figures.get("ingest_runs") or [figures.get("ingest", {})]
    agreed = figures.get("evaluation_matches_python", True)
    kept = all(r.get("lost", 0) == 0 and r.get("duplicates", 0) == 0 for r in runs)
    return 0 if agreed and kept else 1


def _say(message: str) -> None:
    sys.stderr.write(f"bench city: {message}\n")
    sys.stderr.flush()


def run_bench(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    pg = PostgresServer(work / "pg", settings=PG_SETTINGS)
    pg.start()
    try:
        url = pg.create_database("central")
        context = build_context(CentralSettings(database_url=url))
        try:
            return _run(args, work, pg, context)
        finally:
            context.engine.dispose()
    finally:
        pg.stop()


def _run(
    args: argparse.Namespace,
    work: Path,
    pg: PostgresServer,
    context: CentralContext,
) -> dict[str, Any]:
    figures: dict[str, Any] = {"tickets": args.tickets, "scale": args.scale}
    started = time.perf_counter()
    city = generate_city(spec_for(args.scale))
    for worker in city.workers:
        worker["duty"] = []  # on duty around the clock, as `bench central` has it
    grids_path, city_path = write_city(city, work / "city")
    now = datetime.now(UTC)
    with context.sessions.begin() as session:
        import_grids(session, load_grid_file(grids_path))
        import_city(session, load_city_file(city_path), now=now)
    context.reload_reference_data()
    figures["city_import_s"] = round(time.perf_counter() - started, 1)
    _say(f"city imported in {figures['city_import_s']} s")

    with context.sessions() as session:
        refs = city_refs(session, context.matters)
        workers = [w for (w,) in session.execute(select(Worker.id))]
    figures["grids"] = len(refs.grid_codes)
    figures["workers"] = len(workers)
    chunks = year_of_tickets(refs, total=args.tickets, now=now, seed=args.seed)
    load = load_year(pg.dsn("central"), chunks, total=args.tickets)
    figures.update(as_figures(load, now))
    with context.sessions() as session:
        size = session.scalar(text("SELECT pg_database_size(current_database())"))
        states = session.execute(
            select(Ticket.state, func.count()).group_by(Ticket.state)
        ).all()
    figures["database_mb"] = round(int(size or 0) / 2**20)
    figures["tickets_by_state"] = {state: count for state, count in sorted(states)}
    _say(f"loaded in {load.copy_s:.0f} s, indexes {load.index_s:.0f} s")

    zone = context.directory.zone
    rng = random.Random(args.seed)
    figures["evaluation"] = time_evaluations(context.sessions, now, zone)
    figures["evaluation_max_s"] = max(e["s"] for e in figures["evaluation"].values())
    _say(f"evaluation: slowest {figures['evaluation_max_s']} s")

    headers = _staff_headers(context, now)
    client = TestClient(create_app(context))
    try:
        figures.update(_time_api(client, headers, refs.grid_codes, workers, rng, args))
        month = last_full(Period.MONTH, now, zone)
        eval_params = [
            ("period", "month"),
            ("by", "grid"),
            ("start", month[0].isoformat()),
            ("end", month[1].isoformat()),
        ]
        path = "/api/v1/stats/evaluation"
        figures["evaluation_api_month_grid_fresh_ms"], _ = _rounded(
            time_once(client, headers, path, [*eval_params, ("fresh", "true")])
        )
        _say("evaluation snapshots: refreshing")
        refresh = EvaluationSnapshotJob(context).run_once()
        figures["snapshot_refresh_s"] = refresh.seconds
        figures["snapshot_refresh_evaluations"] = refresh.stored
        figures["snapshot_refresh_days"] = refresh.days_stored
        _say(f"evaluation snapshots: {refresh.stored} in {refresh.seconds} s")
        figures["evaluation_api_ms"] = time_stored_evaluations(
            client, headers, now, zone
        )
        figures["evaluation_api_max_ms"] = max(figures["evaluation_api_ms"].values())
        figures["stats_page_ms"] = {
            period.value: time_stats_page(client, headers, now, zone, period)
            for period in (Period.WEEK, Period.MONTH)
        }
        figures["export_csv_ms"], figures["export_csv_bytes"] = _rounded(
            time_once(client, headers, path, [*eval_params, ("format", "csv")])
        )
    finally:
        client.close()
    _say(f"list p95 {figures['list_p95_ms']} ms")

    if not args.no_verify:
        figures["evaluation_matches_python"] = _verify(context, now, zone)
    if args.explain:
        figures["plans"] = _plans(context, now, zone, refs.grid_codes)
    if args.ingest_events > 0:
        runs = []
        for replicas in args.ingest_replicas:
            _say(
                f"ingest: {args.ingest_events} events at {args.ingest_rate}/s, "
                f"{replicas} central replica(s)"
            )
            with context.sessions() as session:
                runs.append(
                    ingest_at_size(
                        session,
                        url=pg.url("central"),
                        pg=pg,
                        work=work,
                        events=args.ingest_events,
                        rate=args.ingest_rate,
                        merge_window_min=_merge_window_min(context),
                        replicas=replicas,
                    )
                )
        figures["ingest"] = runs[0]
        if len(runs) > 1:
            figures["ingest_runs"] = runs
    figures["goals"] = {
        name: figures[name] is not None and figures[name] <= goal
        for name, goal in GOALS.items()
    }
    figures["cpu_count"] = os.cpu_count()
    return figures


def _merge_window_min(context: CentralContext) -> float:
    """The longest merge window of the matters the ingest's events open."""
    matters = [context.matters.for_event_type(str(t)) for t in AUTO_TYPES]
    return max(
        (context.matters.merge_policy(m).window_min for m in matters if m),
        default=0.0,
    )


def _rounded(measured: tuple[float, int]) -> tuple[float, int]:
    return round(measured[0], 1), measured[1]


def _staff_headers(context: CentralContext, now: datetime) -> dict[str, str]:
    with context.sessions.begin() as session:
        user = create_user(session, STAFF_USER, None, UserRole.OPERATOR, now=now)
        token = issue_token(session, user, now=now, ttl=timedelta(hours=2))
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def _count_uncapped() -> Iterator[None]:
    saved = routes_tickets.TOTAL_COUNT_CAP
    routes_tickets.TOTAL_COUNT_CAP = 10**15
    try:
        yield
    finally:
        routes_tickets.TOTAL_COUNT_CAP = saved


def _time_api(
    client: TestClient,
    headers: dict[str, str],
    grid_codes: Sequence[str],
    workers: Sequence[str],
    rng: random.Random,
    args: argparse.Namespace,
) -> dict[str, Any]:
    samples = list_requests(rng, grid_codes, workers, args.requests)
    by_kind: dict[str, list[list[tuple[str, str]]]] = {}
    for sample in samples:
        by_kind.setdefault(sample.name, []).append(sample.params)
    # One warm-up round, as a console that has been open a while.
    time_requests(client, headers, "/api/v1/tickets", [s.params for s in samples[:7]])
    overall = time_requests(
        client, headers, "/api/v1/tickets", [s.params for s in samples]
    )
    result: dict[str, Any] = {
        "list_p95_ms": overall["p95_ms"],
        "list_p50_ms": overall["p50_ms"],
        "list": {
            kind: time_requests(client, headers, "/api/v1/tickets", params)
            for kind, params in by_kind.items()
        },
    }
    # The same searches with every match counted (the list's `total` before
    # it was capped), for the ratio within one run.
    with _count_uncapped():
        uncapped = time_requests(
            client, headers, "/api/v1/tickets", [s.params for s in samples]
        )
    result["list_uncapped_count_p95_ms"] = uncapped["p95_ms"]
    queue = [[("offset", str(100 * (i % 3)))] for i in range(20)]
    review = time_requests(client, headers, "/api/v1/review", queue)
    result["review_queue_p95_ms"] = review["p95_ms"]
    hotspots = time_requests(client, headers, "/api/v1/stats/hotspots", [[]] * 5)
    result["hotspots_ms"] = hotspots["p50_ms"]
    district = [("grid", rng.choice(grid_codes)[:6])]
    in_district = time_requests(
        client, headers, "/api/v1/stats/hotspots", [district] * 5
    )
    result["hotspots_district_ms"] = in_district["p50_ms"]
    daily = time_requests(client, headers, "/api/v1/stats/daily", [[]] * 3)
    result["daily_ms"] = daily["p50_ms"]
    return result


def _verify(context: CentralContext, now: datetime, zone: Any) -> bool:
    start, end = last_full(Period.MONTH, now, zone)
    same = True
    for by in (Dimension.DISTRICT, Dimension.WORKER):
        with context.sessions() as session:
            matches, rows = evaluation_matches(
                session,
                period=Period.MONTH,
                by=by,
                start=start,
                end=end,
                zone=zone,
                now=now,
            )
        _say(f"evaluation by {by.value}: {rows} rows, matches Python: {matches}")
        same = same and matches
    return same


def _plans(
    context: CentralContext, now: datetime, zone: Any, grid_codes: Sequence[str]
) -> dict[str, list[str]]:
    start, end = last_full(Period.MONTH, now, zone)
    client = TestClient(create_app(context))
    headers = _token_headers(context, now)
    steps: dict[str, Callable[[], object]] = {
        "evaluation_month_grid": lambda: _with_session(
            context,
            lambda s: evaluate(
                s,
                period=Period.MONTH,
                by=Dimension.GRID,
                start=start,
                end=end,
                timezone=zone,
                now=now,
            ),
        ),
        "list_district_open": lambda: client.get(
            "/api/v1/tickets",
            params=[("grid", grid_codes[0][:6]), ("state", "dispatched")],
            headers=headers,
        ),
        "list_newest": lambda: client.get("/api/v1/tickets", headers=headers),
        "review_queue": lambda: client.get("/api/v1/review", headers=headers),
        "hotspots": lambda: client.get("/api/v1/stats/hotspots", headers=headers),
        "daily": lambda: client.get("/api/v1/stats/daily", headers=headers),
    }
    plans: dict[str, list[str]] = {}
    try:
        for name, step in steps.items():
            with captured(context.engine) as capture:
                step()
            wanted = [
                s
                for s in capture.statements
                if "FROM tickets" in s[0]
                or "FROM ticket_history" in s[0]
                or "FROM events" in s[0]
            ]
            plans[name] = explain(context.engine, wanted)
    finally:
        client.close()
    return plans


def _token_headers(context: CentralContext, now: datetime) -> dict[str, str]:
    """A fresh token of the staff user `_staff_headers` created."""
    with context.sessions.begin() as session:
        user = session.scalars(select(User).where(User.username == STAFF_USER)).one()
        token = issue_token(session, user, now=now, ttl=timedelta(hours=2))
    return {"Authorization": f"Bearer {token}"}


def _with_session(context: CentralContext, call: Callable[[Session], object]) -> object:
    with context.sessions() as session:
        return call(session)

"""`gridwatch bench city` end to end on the demo city with a few thousand
tickets in a real PostgreSQL (figures and agreement, not speed)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

TICKETS = 2000


def _bench_city(*extra: str) -> dict[str, Any]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "--log-level",
            "WARNING",
            "bench",
            "city",
            "--scale",
            "demo",
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert "loaded" in result.stderr  # progress goes to stderr
    return figures


@pytest.mark.integration
def test_bench_city_given_a_small_year_should_load_time_and_agree() -> None:
    figures = _bench_city(
        "--tickets",
        str(TICKETS),
        "--requests",
        "7",
        "--explain",
        "--ingest-events",
        "6",
        "--ingest-rate",
        "50",
        "--ingest-replicas",
        "1",
        "2",
    )
    assert (figures["tickets"], figures["grids"]) == (TICKETS, 12)
    loaded = figures["loaded_rows"]
    assert loaded["tickets"] == TICKETS
    # create + dispatch + accept + resolve + close for most tickets
    assert 4 * TICKETS < loaded["ticket_history"] < 6 * TICKETS
    assert 0 < loaded["events"] < TICKETS and 0 < loaded["citizen_reports"] < TICKETS
    # The set-based evaluation gave the Python reference's rows.
    assert figures["evaluation_matches_python"] is True
    evaluation = figures["evaluation"]
    assert set(evaluation) == {
        f"{period}_{by}"
        for period in ("month", "quarter")
        for by in ("grid", "community", "street", "department", "worker")
    }
    # A month holds about a twelfth of the year; every dimension counts it all.
    month = {entry["tickets"] for k, entry in evaluation.items() if "month" in k}
    assert len(month) == 1 and TICKETS / 20 < month.pop() < TICKETS / 6
    assert all(entry["s"] > 0 and entry["rows"] > 0 for entry in evaluation.values())
    for name in (
        "list_p95_ms",
        "list_uncapped_count_p95_ms",
        "review_queue_p95_ms",
        "hotspots_ms",
        "hotspots_district_ms",
        "daily_ms",
    ):
        assert figures[name] > 0, name
    assert set(figures["list"]) >= {"newest", "district_open", "worker"}
    assert figures["export_csv_bytes"] > 1000 and figures["export_csv_ms"] > 0
    # The stored evaluation by all 8 dimensions: 14 days, 8 weeks, 3 months and
    # 2 quarters kept fresh, the console's 2 older months and 1 older quarter
    # stored once; then every month and quarter above answered from it.
    assert figures["snapshot_refresh_evaluations"] == 30 * 8
    assert figures["snapshot_refresh_days"] == 29  # the daily chart's days
    assert figures["snapshot_refresh_s"] > 0
    assert set(figures["evaluation_api_ms"]) == set(evaluation)
    assert figures["evaluation_api_max_ms"] == max(
        figures["evaluation_api_ms"].values()
    )
    assert figures["evaluation_api_month_grid_fresh_ms"] > 0
    for period in ("week", "month"):
        page = figures["stats_page_ms"][period]
        requests = {"evaluation_grid_ms", "evaluation_total_ms", "daily_ms"}
        # The page's requests, the slowest, and every period's rows for the ratio.
        assert set(page) == requests | {"slowest_ms", "evaluation_grid_every_period_ms"}
        assert page["slowest_ms"] == max(page[k] for k in requests)
        assert page["evaluation_grid_every_period_ms"] > 0
    assert set(figures["goals"]) == {
        "evaluation_api_max_ms",
        "list_p95_ms",
        "review_queue_p95_ms",
        "hotspots_ms",
        "hotspots_district_ms",
    }
    plans = figures["plans"]
    assert "GroupAggregate" in "".join(plans["evaluation_month_grid"]) or (
        "HashAggregate" in "".join(plans["evaluation_month_grid"])
    )
    assert all(plans[name] for name in ("list_newest", "review_queue", "daily"))
    # Ingest on the loaded database: bench central's figures, nothing lost.
    # Once with one central replica, then with two sharing the events.
    runs = figures["ingest_runs"]
    assert figures["ingest"] == runs[0]
    assert [run["replicas"] for run in runs] == [1, 2]
    assert [len(run["replica_cpu_percent"]) for run in runs] == [1, 2]
    for ingest in runs:
        assert ingest["events"] == 6
        assert ingest["grids_that_may_merge"] >= 0
        assert (ingest["lost"], ingest["duplicates"]) == (0, 0)
        assert ingest["events_per_s"] > 0 and ingest["dispatch_ms_p99"] > 0


def test_bench_city_given_no_tickets_should_refuse() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness", "bench", "city", "--tickets", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--tickets" in result.stderr

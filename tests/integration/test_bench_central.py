"""`gridwatch bench central` end to end on a small city (figures, not speed)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest


def _bench_central(*extra: str) -> dict[str, Any]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "--log-level",
            "WARNING",
            "bench",
            "central",
            "--scale",
            "demo",
            "--json",
            "--timeout-s",
            "30",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


@pytest.mark.integration
def test_bench_central_prints_figures_and_loses_nothing() -> None:
    figures = _bench_central("--events", "30", "--rate", "100")
    assert figures["events"] == 30
    assert (figures["lost"], figures["duplicates"]) == (0, 0)
    assert figures["events_stored"] == figures["tickets_stored"] == 30
    # events name the city's cameras, so ingest moved their last event time
    assert 1 <= figures["cameras_with_events"] <= 30
    assert figures["dispatch_ms_p50"] > 0 and figures["grid_lookups_per_s"] > 0
    assert figures["database"] == "postgresql"
    assert figures["replicas"] == 1 and len(figures["replica_cpu_percent"]) == 1
    # Measured, not estimated; 30 events may cost the broker under one CPU tick.
    assert figures["database_cpu_percent"] >= 0 and figures["broker_cpu_percent"] >= 0
    assert figures["database_cpu_percent"] + figures["broker_cpu_percent"] > 0
    assert figures["central_cpu_ms_per_event"] > 0
    assert figures["database_cpu_ms_per_event"] > 0


@pytest.mark.integration
def test_bench_central_given_two_replicas_should_share_events_without_loss() -> None:
    # 36 events: the demo city has 12 grids and 3 types, so none merges.
    figures = _bench_central("--events", "36", "--rate", "60", "--replicas", "2")
    assert figures["replicas"] == 2
    assert (figures["lost"], figures["duplicates"]) == (0, 0)
    assert figures["events_stored"] == figures["tickets_stored"] == 36
    # both replicas took part (the broker shares the subscription between them)
    assert [cpu > 0 for cpu in figures["replica_cpu_percent"]] == [True, True]
    assert figures["central_cpu_percent"] == pytest.approx(
        sum(figures["replica_cpu_percent"]), abs=0.2
    )


def test_bench_central_given_replicas_on_sqlite_should_refuse() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness", "bench", "central", "--replicas", "2",
         "--database", "sqlite"],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--replicas" in result.stderr

"""`gridwatch bench central` end to end on a small city (figures, not speed)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.integration
def test_bench_central_prints_figures_and_loses_nothing() -> None:
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
            "--events",
            "30",
            "--rate",
            "100",
            "--json",
            "--timeout-s",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["events"] == 30
    assert (figures["lost"], figures["duplicates"]) == (0, 0)
    assert figures["events_stored"] == figures["tickets_stored"] == 30
    # events name the city's cameras, so ingest moved their last event time
    assert 1 <= figures["cameras_with_events"] <= 30
    assert figures["dispatch_ms_p50"] > 0 and figures["grid_lookups_per_s"] > 0
    assert figures["database"] == "postgresql"

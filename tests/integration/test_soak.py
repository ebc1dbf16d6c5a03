"""`gridwatch bench soak` for about a minute with real processes: the demo stack
(Mosquitto, central and an edge node as processes of their own, the RTSP
simulator replaying a shared clip) under operators' consoles and extra events.

A minute cannot show a slow leak (the 10–30 minute figures are in
docs/reliability.md); it shows the command works end to end, the load reaches
central, and nothing gains handles by the dozen or dies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

PROCESS_KEYS = {
    "samples",
    "rss_mb_start",
    "rss_mb_end",
    "rss_mb_max",
    "fds_start",
    "fds_end",
    "fds_max",
    "rss_mb_after_warmup",
    "fds_after_warmup",
    "rss_growth_second_half_pct",
    "fds_growth_second_half_pct",
    "fds_growth_second_half",
    "flat",
    "alive",
}
FD_SLACK = 12  # a few connections opening and closing between two readings


@pytest.fixture(scope="module")
def soak(models_dir: Path, videos_dir: Path) -> tuple[int, dict[str, Any], str]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "--log-level",
            "WARNING",
            "bench",
            "soak",
            "--minutes",
            "1",
            "--interval-s",
            "3",
            "--cameras",
            "1",
            "--operators",
            "2",
            "--event-rate",
            "2",
            "--reopen-s",
            "20",
            "--media-dir",
            str(videos_dir),
            "--models-dir",
            str(models_dir),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.stdout.strip(), result.stderr[-3000:]
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return result.returncode, figures, result.stderr


def test_soak_should_print_per_process_figures_and_samples(
    soak: tuple[int, dict[str, Any], str],
) -> None:
    _, figures, stderr = soak
    assert set(figures["processes"]) == {"central", "edge"}
    for name, process in figures["processes"].items():
        assert set(process) == PROCESS_KEYS, name
        assert process["samples"] >= 15, name  # every 3 s for 60 s
        assert process["rss_mb_start"] > 20 and process["fds_start"] > 3, name
        assert process["rss_mb_max"] >= process["rss_mb_end"], name
    rows = figures["samples"]
    assert len(rows) == figures["processes"]["central"]["samples"]
    assert rows[0]["t_s"] < 1 and 55 <= rows[-1]["t_s"] <= 70
    assert set(rows[-1]["central"]) == {"rss_mb", "fds", "fd_kinds", "cpu_percent"}
    assert (
        sum(rows[-1]["central"]["fd_kinds"].values()) >= rows[-1]["central"]["fds"] - 2
    )
    assert rows[-1]["central"]["fd_kinds"]["socket"] >= 3  # broker, 2 live streams
    assert figures["warmup_s"] == 15  # a quarter of the minute
    assert "soak: t=" in stderr  # progress, on stderr


def test_soak_should_keep_processes_alive_and_handles_bounded(
    soak: tuple[int, dict[str, Any], str],
) -> None:
    returncode, figures, _ = soak
    for name, process in figures["processes"].items():
        assert process["alive"], f"{name} died during the soak"
        grown = process["fds_end"] - process["fds_after_warmup"]
        assert grown <= FD_SLACK, f"{name} gained {grown} file descriptors"
        assert process["fds_max"] < 200, name
        # memory may still settle in a minute, but not double after the warm-up
        assert process["rss_mb_end"] < 2 * process["rss_mb_after_warmup"], name
    assert returncode == (0 if figures["flat"] else 1)


def test_soak_load_should_reach_central(
    soak: tuple[int, dict[str, Any], str],
) -> None:
    _, figures, _ = soak
    load = figures["load"]
    assert load["events_published"] >= 100  # 2 a second for a minute
    assert load["streams_opened"] >= 4  # 2 consoles, reopened every 20 s
    assert load["stream_notices"] > 0 and load["page_requests"] > 0
    assert load.get("page_errors", 0) == load.get("stream_errors", 0) == 0
    ingest = figures["central_ingest"]
    assert ingest["status"] == "ok" and ingest["failed_batches"] == 0
    assert ingest["stored"] >= load["events_published"]

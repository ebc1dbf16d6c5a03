"""`gridwatch bench soak`: the demo stack under steady load; memory and file
handles over time.

Runs the demo's parts (`harness.bench.soak_stack.SoakStack`: Mosquitto, central on
SQLite with the demo city, the RTSP simulator replaying the shared clips, one edge
node running the demo rules on `--cameras` of them), with central and the edge
node as processes of their own. On top of the cameras' own events: `--operators`
consoles open (a live ticket stream held, the pages' reads, snapshots and clips
fetched through signed links) and `--event-rate` extra events a second
(`harness.bench.soak_load`). Every `--interval-s` it reads each process's
resident memory and open file descriptors (psutil). Prints (JSON with --json):

- samples: one row per reading (seconds since the start; per process rss_mb,
  fds, fd_kinds (socket, pipe, anon_inode, file), and cpu_percent since the
  reading before, in % of one core)
- processes: per process rss_mb_start/end/max, fds_start/end/max, the values
  after the warm-up, rss_growth_second_half_pct, fds_growth_second_half_pct
  (and fds_growth_second_half, in descriptors) and `flat` (both grew under 5 %
  over the second half after the warm-up, descriptors also when by fewer than
  3; see `harness.bench.soak_growth`), and alive (still running at the end)
- load: what the load did (events published, stream notices, page requests,
  media fetched, errors); central_ingest: central's ingest counters at the end
- flat: every process flat and alive

Progress goes to stderr. Exit status 1 unless flat.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

from harness.bench.report import write_figures
from harness.bench.soak_growth import ProcessSample, summarise_process
from harness.bench.soak_load import (
    STAFF_USERS,
    EventPublisher,
    LoadCounters,
    Operator,
    OperatorPlan,
)
from harness.bench.soak_stack import SoakStack
from harness.demo_rules import DEMO_CLIP_RULES
from harness.demo_stack import DEMO_PASSWORD, demo_cameras
from models.manifest import resolve_video

log = logging.getLogger(__name__)
MAX_WARMUP_S = 300.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to run")
    parser.add_argument(
        "--warmup-minutes",
        type=float,
        default=None,
        help="left out of the growth figures (default: a quarter of the run, "
        "at most 5)",
    )
    parser.add_argument(
        "--interval-s", type=float, default=5.0, help="seconds between readings"
    )
    parser.add_argument(
        "--cameras",
        type=int,
        default=2,
        help=f"demo clips the edge node watches, 1..{len(DEMO_CLIP_RULES)}",
    )
    parser.add_argument("--operators", type=int, default=3, help="consoles open")
    parser.add_argument(
        "--event-rate", type=float, default=2.0, help="extra events a second"
    )
    parser.add_argument(
        "--poll-s", type=float, default=5.0, help="seconds between a page's reads"
    )
    parser.add_argument(
        "--reopen-s", type=float, default=60.0, help="a live stream's lifetime"
    )
    parser.add_argument("--media-dir", type=Path, default=None, help="clip folder")
    parser.add_argument("--models-dir", type=Path, default=None, help="model folder")
    parser.add_argument("--json", action="store_true", help="print JSON only")


def run_cli(args: argparse.Namespace) -> int:
    if not 1 <= args.cameras <= len(DEMO_CLIP_RULES):
        sys.stderr.write(f"bench soak: --cameras must be 1..{len(DEMO_CLIP_RULES)}\n")
        return 2
    if args.minutes <= 0 or args.interval_s <= 0:
        sys.stderr.write("bench soak: --minutes and --interval-s must be > 0\n")
        return 2
    media_dir = (
        args.media_dir or resolve_video(f"{next(iter(DEMO_CLIP_RULES))}.mp4").parent
    )
    with tempfile.TemporaryDirectory(prefix="gw-bench-soak-") as tmp:
        try:
            figures = run_soak(args, Path(tmp), media_dir)
        except RuntimeError as exc:
            sys.stderr.write(f"bench soak: {exc}\n")
            return 1
    write_figures(figures, as_json=args.json)
    return 0 if figures["flat"] else 1


def warmup_s(args: argparse.Namespace) -> float:
    """The warm-up: `--warmup-minutes`, else a quarter of the run up to 5 min."""
    if args.warmup_minutes is not None:
        return float(args.warmup_minutes) * 60
    return min(float(args.minutes) * 60 / 4, MAX_WARMUP_S)


def _progress(message: str) -> None:
    sys.stderr.write(f"soak: {message}\n")
    sys.stderr.flush()


def fd_kinds(pid: int) -> dict[str, int]:
    """Open descriptors of `pid` by kind (socket, pipe, anon_inode, file), read
    from /proc (Linux); empty where that cannot be read."""
    kinds: Counter[str] = Counter()
    try:
        entries = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return {}
    for entry in entries:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{entry}")
        except OSError:
            continue  # closed between the listing and the read
        kind = target.split(":", 1)[0] if ":" in target else "file"
        kinds[kind if kind in ("socket", "pipe", "anon_inode") else "file"] += 1
    return dict(sorted(kinds.items()))


class Sampler:
    """Reads RSS and open file descriptors of named processes every interval."""

    def __init__(self, pids: dict[str, int], interval_s: float) -> None:
        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.interval_s = interval_s
        self.series: dict[str, list[ProcessSample]] = {name: [] for name in pids}
        self.rows: list[dict[str, Any]] = []
        self.started = time.monotonic()

    def read(self) -> dict[str, Any]:
        """One reading of every process still alive (a row of `samples`)."""
        t_s = round(time.monotonic() - self.started, 1)
        row: dict[str, Any] = {"t_s": t_s}
        for name, process in self.processes.items():
            try:
                with process.oneshot():
                    rss_mb = process.memory_info().rss / 2**20
                    fds = process.num_fds()
                    cpu = process.cpu_percent()  # since the last reading
            except psutil.Error:
                row[name] = None  # gone: `alive` says so at the end
                continue
            self.series[name].append(ProcessSample(t_s, rss_mb, fds))
            row[name] = {
                "rss_mb": round(rss_mb, 1),
                "fds": fds,
                "fd_kinds": fd_kinds(process.pid),
                "cpu_percent": cpu,
            }
        self.rows.append(row)
        return row

    def run(self, seconds: float, on_row: Callable[[dict[str, Any]], None]) -> None:
        """Read until `seconds` have passed since the start (at least twice)."""
        deadline = self.started + seconds
        while True:
            on_row(self.read())
            now = time.monotonic()
            if now >= deadline:
                return
            time.sleep(min(self.interval_s, deadline - now))


def run_soak(args: argparse.Namespace, work: Path, media_dir: Path) -> dict[str, Any]:
    _progress(f"starting the stack ({args.cameras} cameras) in {work}")
    stop = threading.Event()
    counters = LoadCounters()
    with SoakStack(
        work, media_dir, cameras=args.cameras, models_dir=args.models_dir
    ) as stack:
        assert stack.broker is not None
        operators, publisher = _start_load(args, stack, counters, stop)
        sampler = Sampler(
            {"central": stack.central_process.pid, "edge": stack.edge_process.pid},
            args.interval_s,
        )
        _progress(
            f"running {args.minutes:g} min: {args.operators} operators, "
            f"{args.event_rate:g} extra events/s; central {stack.central_url}"
        )
        try:
            sampler.run(args.minutes * 60, lambda row: _report_row(row, counters))
        finally:
            stop.set()
            for operator in operators:
                operator.join(timeout_s=2.0)
            publisher.join(timeout_s=2.0)
        alive = {
            "central": stack.central_process.is_alive(),
            "edge": stack.edge_process.is_alive(),
        }
        ingest = _central_ingest(stack.central_url, operators)
    return _figures(args, sampler, alive, counters.snapshot(), ingest)


def _start_load(
    args: argparse.Namespace,
    stack: SoakStack,
    counters: LoadCounters,
    stop: threading.Event,
) -> tuple[list[Operator], EventPublisher]:
    assert stack.broker is not None
    plan = OperatorPlan(
        base_url=stack.central_url,
        password=DEMO_PASSWORD,
        poll_s=args.poll_s,
        reopen_s=args.reopen_s,
    )
    operators = [
        Operator(STAFF_USERS[n % len(STAFF_USERS)], plan, counters, stop)
        for n in range(args.operators)
    ]
    for operator in operators:
        operator.start()
    cameras = [
        (c.node_id, c.camera_id, c.lat, c.lon)
        for c in demo_cameras(stack.city_path, 100)
    ]
    publisher = EventPublisher(
        stack.broker.endpoint,
        stack.broker.simulator("soak-events"),
        cameras,
        rate_per_s=args.event_rate,
        counters=counters,
        stop=stop,
    )
    publisher.start()
    return operators, publisher


def _report_row(row: dict[str, Any], counters: LoadCounters) -> None:
    parts = [f"t={row['t_s']:.0f}s"]
    for name, reading in row.items():
        if name == "t_s":
            continue
        if reading is None:
            parts.append(f"{name} GONE")
        else:
            parts.append(f"{name} {reading['rss_mb']:.0f} MB {reading['fds']} fds")
    load = counters.snapshot()
    parts.append(
        f"events {load.get('events_published', 0)}, "
        f"notices {load.get('stream_notices', 0)}, "
        f"media {load.get('media_fetched', 0)}"
    )
    _progress(", ".join(parts))


def _central_ingest(base_url: str, operators: list[Operator]) -> dict[str, Any]:
    """Central's ingest counters at the end (the console's ingest card)."""
    if not operators:
        return {}
    try:
        response = httpx.get(
            f"{base_url}/api/v1/system/ingest",
            headers=operators[0].headers,
            timeout=10,
        )
        response.raise_for_status()
        found: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return {"error": str(exc)}
    return found


def _figures(
    args: argparse.Namespace,
    sampler: Sampler,
    alive: dict[str, bool],
    load: dict[str, int],
    ingest: dict[str, Any],
) -> dict[str, Any]:
    warmup = warmup_s(args)
    processes = {
        name: {
            **summarise_process(series, warmup_s=warmup),
            "alive": alive[name],
        }
        for name, series in sampler.series.items()
    }
    return {
        "minutes": args.minutes,
        "warmup_s": warmup,
        "interval_s": args.interval_s,
        "cameras": args.cameras,
        "operators": args.operators,
        "event_rate": args.event_rate,
        "processes": processes,
        "flat": all(p["flat"] and p["alive"] for p in processes.values()),
        "load": load,
        "central_ingest": ingest,
        "cpu_count": psutil.cpu_count(),
        "samples": sampler.rows,
    }

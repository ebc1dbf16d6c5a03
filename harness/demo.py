"""`gridwatch demo`: the whole system on one machine, on embedded defaults.

Mosquitto (TLS only, with a CA made for the run), central on SQLite with the demo
city, the RTSP simulator replaying the shared clips and an edge node watching them,
edge and central reaching the broker over TLS. Prints the URLs and demo logins, then
each event and ticket notice until Ctrl-C (or --seconds). A grid worker files a
patrol report; a citizen reports, follows and rates a case (harness/demo_channels.py).
`--check` runs headless and prints a JSON summary; it exits 1 when no AI event became
a dispatched ticket, or a channel (ai, patrol, citizen) opened none, or none was rated.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, func, select

from central.db.models import CitizenReport, Event, Ticket, TicketSource
from harness.demo_channels import ChannelError, exercise_channels
from harness.demo_extras import extras_summary, resolve_one_camera_ticket
from harness.demo_rules import DEMO_CLIP_RULES
from harness.demo_stack import DEFAULT_HTTP_PORT, DEMO_PASSWORD, DemoStack
from models.manifest import resolve_video
from simulators.signals import stop_on_signals


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--media-dir", type=Path, default=None, help="clip folder")
    parser.add_argument("--models-dir", type=Path, default=None, help="model folder")
    parser.add_argument("--seconds", type=float, default=None, help="stop after N s")
    parser.add_argument(
        "--cameras",
        type=int,
        default=len(DEMO_CLIP_RULES),
        help=f"cameras the edge node watches, 0..{len(DEMO_CLIP_RULES)} "
        f"(default {len(DEMO_CLIP_RULES)}; 0: broker and central only)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="web address to bind (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_HTTP_PORT,
        help=f"web port (default {DEFAULT_HTTP_PORT}; a free one when taken)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep the database, media and logs here (default: a temporary folder)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="headless: print a JSON summary, exit 1 unless an AI event became "
        "a dispatched ticket",
    )
    parser.add_argument(
        "--json", action="store_true", help="print only the JSON summary"
    )


def run_cli(args: argparse.Namespace) -> int:
    if not 0 <= args.cameras <= len(DEMO_CLIP_RULES):
        sys.stderr.write(f"demo: --cameras must be 0..{len(DEMO_CLIP_RULES)}\n")
        return 2
    media_dir: Path | None = None
    if args.cameras:
        media_dir = (
            args.media_dir or resolve_video(f"{next(iter(DEMO_CLIP_RULES))}.mp4").parent
        )
    quiet = args.check or args.json
    try:
        with stop_on_signals(threading.Event()) as stop:
            if args.data_dir is not None:
                args.data_dir.mkdir(parents=True, exist_ok=True)
                return _run(args, args.data_dir, media_dir, stop, quiet)
            with tempfile.TemporaryDirectory(prefix="gw-demo-") as tmp:
                return _run(args, Path(tmp), media_dir, stop, quiet)
    except RuntimeError as exc:  # a part could not start: say which and why
        sys.stderr.write(f"demo: could not start: {exc}\n")
        return 1


def _print_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _run(
    args: argparse.Namespace,
    workdir: Path,
    media_dir: Path | None,
    stop: threading.Event,
    quiet: bool,
) -> int:
    stack = DemoStack(
        workdir,
        media_dir,
        cameras=args.cameras,
        http_host=args.host,
        http_port=args.port,
        models_dir=args.models_dir,
        on_line=None if quiet else _print_line,
    )
    with stack:
        if not quiet:
            _print_banner(stack)
        try:
            exercise_channels(stack.central_url, DEMO_PASSWORD)
        except ChannelError as exc:  # the summary's counts show what is missing
            sys.stderr.write(f"demo: patrol/citizen channel: {exc}\n")
        stop.wait(args.seconds)
        if args.check and stack.central is not None:
            # A worker resolves a camera ticket: its camera looks again.
            resolve_one_camera_ticket(stack.central.context, wait_s=40.0)
        summary = summarise(stack)
    sys.stdout.write(json.dumps(summary) + "\n")
    if args.check:
        return 0 if channels_ok(summary) else 1
    return 0


def channels_ok(summary: dict[str, Any]) -> bool:
    """An AI ticket dispatched, a ticket from each channel, and a rating."""
    by_source = summary["tickets_by_source"]
    channels = (TicketSource.AI, TicketSource.PATROL, TicketSource.CITIZEN)
    return bool(
        summary["dispatched"]
        and all(by_source.get(source.value) for source in channels)
        and summary["rated"]
    )


def summarise(stack: DemoStack) -> dict[str, Any]:
    """The demo's figures: events published, AI tickets opened and dispatched."""
    assert stack.central is not None and stack.watcher is not None
    watcher = stack.watcher
    ai = Ticket.source == TicketSource.AI.value
    with stack.central.context.sessions() as session:

        def count(*where: ColumnElement[bool]) -> int:
            return int(session.scalar(select(func.count()).where(*where)) or 0)

        tickets = count(ai)
        dispatched = count(ai, Ticket.dispatched_at.is_not(None))
        waiting = count(ai, Ticket.review_reason.is_not(None))
        clips = count(Event.clip_sha256.is_not(None))
        by_source = dict(
            session.execute(
                select(Ticket.source, func.count()).group_by(Ticket.source)
            ).all()
        )
        rated = int(
            session.scalar(
                select(func.count()).where(CitizenReport.rated_at.is_not(None))
            )
            or 0
        )

    def since_start(at: float | None) -> float | None:
        return round(at - stack.started_at, 1) if at is not None else None

    return {
        "seconds": round(time.time() - stack.started_at, 1),
        "cameras": len(stack.cameras),
        "events": sum(watcher.event_counts.values()),
        "events_by_type_phase": dict(sorted(watcher.event_counts.items())),
        "tickets": tickets,
        "dispatched": dispatched,
        "awaiting_review": waiting,
        "worker_notices": watcher.notices,
        "clips": clips,
        "tickets_by_source": {
            source.value: int(by_source.get(source.value, 0)) for source in TicketSource
        },
        "rated": rated,
        "first_event_s": since_start(watcher.first_event_at),
        "first_ticket_s": since_start(watcher.first_notice_at),
        **extras_summary(stack.central.context),
    }


def _print_banner(stack: DemoStack) -> None:
    assert stack.broker is not None
    url = stack.central_url
    endpoint = stack.broker.endpoint
    first = stack.cameras[0].camera_id if stack.cameras else None
    lines = [
        "gridwatch demo running (Ctrl-C stops it)",
        f"  operator console  {url}/console/   login: operator / {DEMO_PASSWORD}",
        f"  worker terminal   {url}/worker/    login: w00006 / {DEMO_PASSWORD}"
        + (f" (grid of {first})" if first else ""),
        f"                    every worker w00001..w00020 uses {DEMO_PASSWORD}",
        f"  API docs          {url}/api/docs",
        f"  MQTT broker       mqtts://{endpoint.host}:{endpoint.port} (TLS, CA "
        f"{stack.broker.ca_file}; topics gw/v1/#; read-only login 'observer', "
        f"password in {stack.observer_secret})",
    ]
    if stack.node is not None:
        lines.append(f"  edge node         {stack.node.http_url}/healthz")
        lines.append(
            f"                    details and /metrics: -H 'Authorization: Bearer "
            f"$(cat {stack.monitor_token_file})'"
        )
    for camera, camera_url in zip(stack.cameras, stack.camera_urls, strict=True):
        lines.append(f"  camera {camera.camera_id:<10} {camera_url}")
    lines.append("events and tickets:")
    _print_line("\n".join(lines))

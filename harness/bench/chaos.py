"""`gridwatch bench chaos`: inject faults one at a time and count what they cost.

Starts a real PostgreSQL (fsync on) and a real Mosquitto (secured, persistence
as `MosquittoBroker` writes it: autosave every second), imports a city, runs two
central replicas (`gridwatch central run --no-api`, separate processes, one
database, one MQTT 5 shared-subscription group, stable client ids
`central-chaos-a`/`-b`) and an edge publisher (`harness.bench.chaos_edge`: the
edge's own outbox and MQTT publisher, its node login, QoS 1) sending a steady
load. Then, one fault at a time (`--faults`, in this order by default):

- replica_kill: kill -9 one replica under load, restart it after `--hold-s`
- replicas_kill_both: kill -9 both, restart both after `--hold-s`
- pg_freeze: SIGSTOP PostgreSQL (postmaster and backends) for `--freeze-s`
- pg_restart: restart PostgreSQL (fast shutdown, start)
- broker_kill: kill -9 Mosquitto, start it again on its persistence file
- edge_kill: kill -9 the edge publisher, restart it on the same outbox
- edge_disk_full: fill the outbox's disk (a tmpfs of its own) and pause the broker
  for `--hold-s` (events with snapshots, so the outbox must grow), free both
- poison: malformed messages (`harness.bench.poison`) mixed into the load
- broker_restart_central_late (only when named): broker_kill with both replicas
  frozen until 3 s after the broker is back (the edge reconnects first)
- edge_node_kill (only when named): kill -9 a real edge node (`gridwatch edge
  run`, yolox_nano, on a clip the RTSP simulator replays; `harness.bench.chaos_node`)
  mid-stream, restart it on the same outbox after `--hold-s`
- edge_node_kill_backlog (only when named): the broker paused (SIGSTOP) until that
  node's messages wait in its outbox, the node killed with kill -9 while they wait,
  the broker resumed and the node started again on the same outbox
- camera_dark (only when named): the simulator stops serving that node's camera
  until central has seen it offline (at least `--hold-s`), then serves it again

The real node runs only when one of its faults is named; its entries count its
event messages (start, updates, end): those the broker passed on or its outbox
committed, stored under a ticket or not, with the bench's own load alongside
(`load`) and the node's restart, reconnect and camera statuses (`node`); the
report's `node` covers its whole run from the warm-up on (all of it must be stored).

Each fault is a phase: load, fault, clear, load, then the load pauses until every
event published in the phase has a ticket (or 90 s, 240 s in the full run, pass).
Prints (JSON with --json) one entry per fault: published (events the edge's outbox
stored), tickets (those with a ticket in the database), lost, duplicates (distinct
ticket notices beyond one per event; a notice delivered twice byte for byte is
counted in notices_redelivered), recovery_s (fault cleared -> every event published
before that ticketed), notices_missing, refused/not_stored (events the edge could
not store); `poison` (sent, dead_lettered, good_after_bad, good_after_bad_ticketed)
and `ok`. A progress line per fault goes to stderr. Exit status 1 unless ok.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from gridwatch.contract import Topics
from harness.bench.chaos_count import (
    FaultResult,
    PhaseLog,
    PoisonResult,
    count_fault,
    count_node_fault,
    count_poison,
    grids_needed,
    report,
)
from harness.bench.chaos_edge import AUTO_TYPES, EdgeLoadConfig
from harness.bench.chaos_node import NodeRig
from harness.bench.chaos_node_faults import NODE_FAULTS, node_phase, node_totals
from harness.bench.chaos_stack import (
    EDGE_NODE,
    REPLICAS,
    EdgeChild,
    EdgeDisk,
    NoticeListener,
    Replica,
    TicketWatcher,
    freeze_tree,
    import_city_files,
    postmaster_pid,
    start_services,
    wait_for,
    write_city_files,
)
from harness.bench.fuzz import DeadLetterCounter
from harness.bench.poison import fuzz_messages
from harness.bench.report import write_figures
from harness.services import (
    MosquittoBroker,
    PostgresServer,
    find_mosquitto,
    find_postgres_bin,
)

log = logging.getLogger(__name__)
SNAPSHOT_BYTES = 48 << 10  # inline snapshot of the disk-full fault's events
LATE_S = 3.0  # how long the replicas stay away after the broker is back


@dataclass(frozen=True, slots=True)
class Timing:
    """How long each part of a phase lasts, and the load."""

    pre_s: float
    hold_s: float
    freeze_s: float
    post_s: float
    catch_up_s: float
    rate: float
    poison: int


SMALL = Timing(
    pre_s=1.0, hold_s=2.0, freeze_s=5.0, post_s=1.0, catch_up_s=90.0, rate=40.0,
    poison=65,
)  # fmt: skip
FULL = Timing(
    pre_s=5.0, hold_s=20.0, freeze_s=60.0, post_s=5.0, catch_up_s=240.0, rate=100.0,
    poison=1300,
)  # fmt: skip


@dataclass(slots=True)
class ChaosRun:
    """The running stack and what a fault needs to hurt it."""

    timing: Timing
    pg: PostgresServer
    broker: MosquittoBroker
    replicas: list[Replica]
    edge: EdgeChild
    disk: EdgeDisk
    watcher: TicketWatcher
    letters: DeadLetterCounter
    points: list[tuple[float, float]]
    rng: random.Random
    phase: PhaseLog = field(default_factory=lambda: PhaseLog("setup"))
    poison_sent: int = 0
    poison_letters: int = 0
    poison_done_at: float | None = None
    rig: NodeRig | None = None  # the real edge node, when one of its faults runs
    node_details: dict[str, Any] = field(default_factory=dict)

    def cleared(self, note: str) -> None:
        self.phase.cleared_at = time.monotonic()
        self.phase.note = note


# -- the faults -----------------------------------------------------------------------


def _replica_kill(run: ChaosRun) -> None:
    replica = run.replicas[0]
    replica.kill()
    time.sleep(run.timing.hold_s)
    replica.start()
    run.cleared(f"kill -9 {replica.client_id}; restarted after {run.timing.hold_s} s")
    replica.wait_ready()


def _replicas_kill_both(run: ChaosRun) -> None:
    for replica in run.replicas:
        replica.kill()
    time.sleep(run.timing.hold_s)
    for replica in run.replicas:
        replica.start()
    run.cleared(f"kill -9 both replicas; restarted after {run.timing.hold_s} s")
    for replica in run.replicas:
        replica.wait_ready()


def _pg_freeze(run: ChaosRun) -> None:
    run.watcher.held.set()
    pid = postmaster_pid(run.pg)
    frozen = freeze_tree(pid, signal.SIGSTOP)
    try:
        time.sleep(run.timing.freeze_s)
    finally:
        freeze_tree(pid, signal.SIGCONT)
        run.watcher.held.clear()
    run.cleared(f"SIGSTOP {frozen} PostgreSQL processes for {run.timing.freeze_s} s")


def _pg_restart(run: ChaosRun) -> None:
    run.watcher.held.set()
    started = time.monotonic()
    try:
        run.pg.restart()
    finally:
        run.watcher.held.clear()
    run.cleared(f"PostgreSQL restarted (took {time.monotonic() - started:.1f} s)")


def _broker_kill(run: ChaosRun) -> None:
    run.broker.kill()
    time.sleep(run.timing.hold_s)
    run.broker.start()
    run.cleared(
        f"kill -9 Mosquitto (autosave_interval 1 s); "
        f"started again after {run.timing.hold_s} s"
    )


def _broker_restart_central_late(run: ChaosRun) -> None:
    # The order broker_kill leaves to chance, made certain: the edge is back
    # on the restarted broker before either replica (their processes are
    # stopped meanwhile), as after a broker restart their back-off can make it.
    pids = [r.process.pid for r in run.replicas if r.process is not None]
    run.broker.kill()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(run.timing.hold_s)
        run.broker.start()
        time.sleep(LATE_S)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    run.cleared(
        f"kill -9 Mosquitto, started after {run.timing.hold_s} s; both replicas "
        f"frozen until {LATE_S} s after that (known gap, see docs/reliability.md)"
    )


def _edge_kill(run: ChaosRun) -> None:
    run.edge.kill()
    time.sleep(run.timing.hold_s)
    run.edge.start()
    run.cleared(
        f"kill -9 the edge; restarted on its outbox after {run.timing.hold_s} s"
    )


def _edge_disk_full(run: ChaosRun) -> None:
    if not run.disk.available:
        run.cleared(f"not run: no tmpfs could be mounted ({run.disk.why_not})")
        return
    # A full disk only matters once the outbox must grow past the space SQLite
    # already holds (its WAL keeps a few MiB): so events carry snapshots here,
    # as real ones do, and the broker is paused (SIGSTOP) while the disk is
    # full, so they pile up in the outbox.
    run.edge.stop()
    run.edge.start(snapshot_bytes=SNAPSHOT_BYTES)
    written = run.disk.fill()
    run.broker.pause()
    try:
        time.sleep(run.timing.hold_s)
    finally:
        run.broker.resume()
        run.disk.free()
    run.cleared(
        f"outbox disk (tmpfs {run.disk.size_bytes >> 20} MiB) filled with "
        f"{written >> 10} KiB and the broker paused for {run.timing.hold_s} s, "
        f"then both freed; events with {SNAPSHOT_BYTES >> 10} KiB snapshots"
    )
    time.sleep(run.timing.post_s)
    run.edge.stop()  # back to events without snapshots
    run.edge.start()


def _poison(run: ChaosRun) -> None:
    messages = [
        m
        for m in fuzz_messages(
            run.timing.poison, points=run.points, seed=run.rng.randrange(1 << 30),
            bad_share=1.0,
        )
        if not m.valid
    ]  # fmt: skip
    credentials = run.broker.simulator("chaos-poison")
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="chaos-poison",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.username_pw_set(credentials.username, credentials.password)
    client.connect(run.broker.host, run.broker.port)
    client.loop_start()
    run.poison_letters = run.letters.count
    try:
        infos = [client.publish(m.topic, m.payload, qos=1) for m in messages]
        for info in infos:
            info.wait_for_publish(30)
    finally:
        client.loop_stop()
        client.disconnect()
    run.poison_sent = len(messages)
    run.poison_done_at = time.monotonic()
    run.cleared(f"{len(messages)} malformed messages published among the events")


def _node_fault(name: str) -> Callable[[ChaosRun], None]:
    def inject(run: ChaosRun) -> None:
        assert run.rig is not None, "the real node starts when its faults are named"
        run.node_details = NODE_FAULTS[name](run.rig, run.timing.hold_s, run.cleared)

    return inject


FAULTS: dict[str, Callable[[ChaosRun], None]] = {
    "replica_kill": _replica_kill,
    "replicas_kill_both": _replicas_kill_both,
    "pg_freeze": _pg_freeze,
    "pg_restart": _pg_restart,
    "broker_kill": _broker_kill,
    "edge_kill": _edge_kill,
    "edge_disk_full": _edge_disk_full,
    "poison": _poison,
    # Not run by default: loses events until the edge handles "no matching
    # subscribers" (docs/reliability.md, "Fault injection").
    "broker_restart_central_late": _broker_restart_central_late,
    # Not run by default: they start a real edge node (a minute more in all).
    **{name: _node_fault(name) for name in NODE_FAULTS},
}
DEFAULT_FAULTS = [
    name
    for name in FAULTS
    if name != "broker_restart_central_late" and name not in NODE_FAULTS
]


# -- the command ----------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--small", action="store_true", help="CI-sized: seconds per fault"
    )
    parser.add_argument(
        "--faults",
        default=",".join(DEFAULT_FAULTS),
        help=f"comma-separated, in order; from {', '.join(FAULTS)} "
        f"(default: {', '.join(DEFAULT_FAULTS)})",
    )
    parser.add_argument("--hold-s", type=float, help="how long a fault lasts")
    parser.add_argument(
        "--freeze-s", type=float, help="how long PostgreSQL stays frozen"
    )
    parser.add_argument("--rate", type=float, help="events per second from the edge")
    parser.add_argument("--seed", type=int, default=1, help="seed (poison, timing)")
    parser.add_argument("--json", action="store_true", help="print JSON only")


def parse_faults(text: str) -> list[str]:
    """The fault names in `text` (comma-separated), checked.

    Raises:
        ValueError: an unknown name, or none at all.
    """
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FAULTS]
    if unknown or not names:
        raise ValueError(
            f"unknown faults {unknown or text!r}; choose from {', '.join(FAULTS)}"
        )
    return names


def timing_for(args: argparse.Namespace) -> Timing:
    base = SMALL if args.small else FULL
    changes = {
        "hold_s": args.hold_s,
        "freeze_s": args.freeze_s,
        "rate": args.rate,
    }
    return replace(base, **{k: v for k, v in changes.items() if v is not None})


def run_cli(args: argparse.Namespace) -> int:
    try:
        faults = parse_faults(args.faults)
        find_mosquitto()
        find_postgres_bin()
    except (ValueError, RuntimeError) as error:
        sys.stderr.write(f"gridwatch bench chaos: {error}\n")
        return 2
    with tempfile.TemporaryDirectory(prefix="gw-bench-chaos-") as tmp:
        figures = run_chaos(faults, timing_for(args), Path(tmp), seed=args.seed)
    figures["small"] = bool(args.small)
    write_figures(figures, as_json=args.json)
    return 0 if figures["ok"] else 1


def _phase_seconds(name: str, timing: Timing) -> float:
    hold = timing.freeze_s if name == "pg_freeze" else timing.hold_s
    restarts = 40.0 if name in NODE_FAULTS else 10.0
    return 2 * timing.pre_s + hold + timing.post_s + restarts


def run_chaos(
    faults: list[str], timing: Timing, work: Path, *, seed: int = 1
) -> dict[str, Any]:
    """Start the stack in `work`, run `faults` in order, return the report."""
    seconds = 5.0 + sum(_phase_seconds(name, timing) for name in faults)
    grids = grids_needed(int(seconds * timing.rate), len(AUTO_TYPES))
    with_node = any(name in NODE_FAULTS for name in faults)
    with ExitStack() as cleanup:
        run, notices = _start(
            cleanup, work, timing, grids=grids, seed=seed, with_node=with_node
        )
        counting_from = time.monotonic()
        _run_phase(run, "warm-up", None)
        phases = [_run_phase(run, name, FAULTS[name]) for name in faults]
        time.sleep(1.0)  # a late redelivery would be counted now
        ticketed, counts = run.watcher.snapshot(), notices.snapshot()
        results = [_count(run, p, ticketed, counts) for p in phases]
        node = None
        if run.rig is not None:
            node = node_totals(run.rig, timing.catch_up_s / 3, since=counting_from)
        settings = {
            "seed": seed,
            "rate": timing.rate,
            "hold_s": timing.hold_s,
            "freeze_s": timing.freeze_s,
            "grids": len(run.points),
            "replicas": len(run.replicas),
            "database": "postgresql",
            "edge_disk": f"tmpfs {run.disk.size_bytes >> 20} MiB"
            if run.disk.available
            else f"none ({run.disk.why_not})",
            "broker_autosave_interval_s": 1,
            "published_total": run.edge.published_total,
            "notices_redelivered": notices.redelivered,
            "node": node,
        }
        figures = report(
            results, _poison_figures(run, [p for p, _ in phases]), settings
        )
        # Every message the node sent from the warm-up on must be stored, in a
        # phase of its own faults or not.
        figures["ok"] = figures["ok"] and (node is None or node["never_stored"] == 0)
        return figures
    raise AssertionError("unreachable")  # ExitStack does not swallow


NodePhase = tuple[PhaseLog, dict[str, Any]]  # the node's messages, its figures


def _count(
    run: ChaosRun,
    phase: tuple[PhaseLog, NodePhase | None],
    ticketed: dict[str, float],
    notices: dict[str, int],
) -> FaultResult:
    load, node = phase
    result = count_fault(load, ticketed_at=ticketed, notices=notices)
    if node is None:
        return result
    assert run.rig is not None
    messages, details = node
    return count_node_fault(
        messages,
        stored_at=run.rig.watcher.stored(),
        notices=notices,
        load=result,
        details=details,
    )


def _start(
    cleanup: ExitStack,
    work: Path,
    timing: Timing,
    *,
    grids: int,
    seed: int,
    with_node: bool,
) -> tuple[ChaosRun, NoticeListener]:
    """PostgreSQL, Mosquitto, the city, two replicas, the edge, the real edge
    node when `with_node`, and the bench's watchers, each stopped by `cleanup`."""
    began = time.monotonic()
    pg, broker, url = start_services(work)
    cleanup.callback(pg.stop)
    cleanup.callback(broker.stop)
    grids_path, city_path, centres = write_city_files(work, grids + 1)
    # The last grid is the real node's camera's own: no load event merges there.
    *points, node_point = centres
    watcher = TicketWatcher(pg.dsn("central"))
    cleanup.callback(watcher.stop)
    rig = None
    if with_node:
        # Started first, so that its model loads while central starts; what it
        # sends before central first subscribes is counted nowhere (see
        # `node_totals`).
        rig = NodeRig.start(
            cleanup, broker, work / "node", point=node_point,
            dsn=pg.dsn("central"), held=watcher.held,
        )  # fmt: skip
    import_city_files(url, grids_path, city_path)
    replicas = [Replica(cid, url=url, broker=broker) for cid in REPLICAS]
    for replica in replicas:
        cleanup.callback(replica.stop)
        # One after the other: two first starts at once race on recording the
        # configuration (central/scheduler.py, `audit_configuration`).
        replica.start()
        replica.wait_ready()
    disk = EdgeDisk(work / "edge-disk")
    cleanup.callback(disk.release)
    edge = EdgeChild(_edge_config(broker, disk, points, timing), work)
    cleanup.callback(edge.stop)
    notices = NoticeListener(broker)
    cleanup.callback(notices.stop)
    letters = DeadLetterCounter(broker, Topics().deadletter())
    cleanup.callback(letters.stop)
    edge.start()
    node_note = ""
    if rig is not None:
        waited = time.monotonic()
        rig.wait_streaming()
        node_note = (
            f", a real edge node (streaming {time.monotonic() - waited:.1f} s "
            "after the rest was up)"
        )
    sys.stderr.write(
        f"chaos: stack up ({len(points)} grids, {len(replicas)} replicas, edge at "
        f"{timing.rate:g} events/s{node_note}) after "
        f"{time.monotonic() - began:.1f} s\n"
    )
    run = ChaosRun(
        timing, pg, broker, replicas, edge, disk, watcher, letters, points,
        random.Random(seed), rig=rig,
    )  # fmt: skip
    return run, notices


def _edge_config(
    broker: MosquittoBroker,
    disk: EdgeDisk,
    points: list[tuple[float, float]],
    timing: Timing,
) -> EdgeLoadConfig:
    credentials = broker.node(EDGE_NODE)
    return EdgeLoadConfig(
        node_id=EDGE_NODE,
        host=broker.host,
        port=broker.port,
        password_file=str(broker.secret_file(credentials)),
        outbox=str(disk.path / "outbox.sqlite"),
        points=points,
        rate=timing.rate,
        start_index=0,
        # Above the disk's size: in edge_disk_full the disk fills first.
        outbox_max_bytes=disk.size_bytes * 4 if disk.available else 64 << 20,
    )


def _poison_figures(run: ChaosRun, phases: list[PhaseLog]) -> PoisonResult | None:
    phase = next((p for p in phases if p.name == "poison"), None)
    if phase is None or run.poison_done_at is None:
        return None
    done = run.poison_done_at
    return count_poison(
        sent=run.poison_sent,
        dead_lettered=run.letters.count - run.poison_letters,
        good_after=[e for e, at in phase.published.items() if at > done],
        ticketed_at=run.watcher.snapshot(),
    )


def _run_phase(
    run: ChaosRun, name: str, fault: Callable[[ChaosRun], None] | None
) -> tuple[PhaseLog, NodePhase | None]:
    """Load, the fault, load, then wait (load paused; the real node goes on)
    until the phase's events have tickets; prints a progress line. Returns the
    load's log and, for a fault of the real node, its messages and figures."""
    timing = run.timing
    run.phase = PhaseLog(name)
    run.node_details = {}
    run.edge.begin(run.phase)
    run.edge.resume()
    started = time.monotonic()
    # A random moment, so a kill lands anywhere in a batch.
    time.sleep(timing.pre_s * (1.0 + run.rng.random()))
    run.phase.injected_at = time.monotonic()
    if fault is None:
        run.cleared("no fault")
    else:
        fault(run)
    time.sleep(timing.post_s)
    run.edge.pause()
    time.sleep(0.3)  # lines on their way
    node: NodePhase | None = None
    if run.rig is not None and name in NODE_FAULTS:
        messages = node_phase(run.rig, run.phase, start=started, end=time.monotonic())
        node = (messages, run.node_details)
    caught_up = wait_for(
        lambda: (
            run.edge.published().keys() <= run.watcher.snapshot().keys()
            and _node_caught_up(run, node)
        ),
        timing.catch_up_s,
    )
    published = run.edge.published()
    if name == "poison":
        wait_for(
            lambda: run.letters.count - run.poison_letters >= run.poison_sent, 10.0
        )
    ticketed = run.watcher.snapshot()
    sys.stderr.write(
        f"chaos: {name}: published {len(published)}, ticketed "
        f"{sum(1 for e in published if e in ticketed)}, "
        f"{_node_progress(run, node)}"
        f"{'caught up' if caught_up else 'NOT caught up'} after "
        f"{time.monotonic() - started:.1f} s; {run.phase.note}\n"
    )
    sys.stderr.flush()
    if node is not None and run.rig is not None:
        keys = set(node[0].published)
        node[1]["broker_repeats"] = run.rig.observer.repeats(keys)
    return run.phase, node


def _node_caught_up(run: ChaosRun, node: NodePhase | None) -> bool:
    if node is None or run.rig is None:
        return True
    return node[0].published.keys() <= run.rig.watcher.stored().keys()


def _node_progress(run: ChaosRun, node: NodePhase | None) -> str:
    if node is None or run.rig is None:
        return ""
    stored = run.rig.watcher.stored()
    keys = node[0].published
    return (
        f"real node: {len(keys)} messages, stored "
        f"{sum(1 for k in keys if k in stored)}, "
    )

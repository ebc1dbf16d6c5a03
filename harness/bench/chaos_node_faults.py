"""The faults `gridwatch bench chaos` injects into its real edge node, and how a
phase's node messages are gathered (see `harness.bench.chaos_node`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from harness.bench.chaos_count import (
    PhaseLog,
    health_changes,
    node_messages,
    open_events,
)
from harness.bench.chaos_node import NodeRig
from harness.bench.chaos_node_watch import read_outbox
from harness.bench.chaos_stack import wait_for

Cleared = Callable[[str], None]  # marks the fault cleared, with a note
NodeFault = Callable[[NodeRig, float, Cleared], dict[str, Any]]
MID_STREAM_S = 2.0  # a kill lands mid-stream: the node sent an event this recently
STREAMING_AGAIN = 3  # event messages that show the node detecting again
STREAMING_MAX_S = 60.0  # longest wait for them
BACKLOG_MIN = 3  # event messages waiting in the outbox before the kill
BACKLOG_MAX_S = 60.0  # longest wait for them to pile up
DRAINED_MAX_S = 90.0  # longest wait for the restarted node to empty its outbox
DARK_MAX_S = 60.0  # longest wait for central to see the dark camera offline
BACK_MAX_S = 60.0  # longest wait for central to see it online again


def _since(start: float, at: float | None) -> float | None:
    return None if at is None else round(at - start, 2)


def _streaming_again(
    rig: NodeRig, since: float, *, old: frozenset[str] = frozenset()
) -> float | None:
    """Wait until the broker passed on `STREAMING_AGAIN` event messages of the
    node after `since` (not counting the `old` ones: a backlog sent again);
    returns when the first came (None: none came)."""

    def after() -> list[float]:
        seen = rig.observer.seen().items()
        return sorted(at for key, at in seen if at > since and key not in old)

    wait_for(lambda: len(after()) >= STREAMING_AGAIN, STREAMING_MAX_S)
    return next(iter(after()), None)


def edge_node_kill(rig: NodeRig, hold_s: float, cleared: Cleared) -> dict[str, Any]:
    """`kill -9` the node while it is sending events, start it again on the same
    outbox after `hold_s` and wait until it sends events again; returns what the
    restart took (what it made in memory and lost cannot be known)."""
    mid_stream = wait_for(
        lambda: (rig.last_message_at() or 0.0) > time.monotonic() - MID_STREAM_S, 30.0
    )
    rig.node.kill()
    waiting = len(read_outbox(rig.node.outbox).pending)
    cut = open_events(rig.observer.seen(), time.monotonic())
    time.sleep(hold_s)
    started = time.monotonic()
    rig.node.start()
    cleared(f"kill -9 the edge node; started again on its outbox after {hold_s} s")
    running = rig.node.wait_ready()
    # The restarted node first ends the episodes it left open: not new events.
    first = _streaming_again(rig, started, old=frozenset(f"{e}:end" for e in cut))
    seen = rig.observer.seen()
    return {
        "mid_stream": mid_stream,
        "outbox_waiting_at_kill": waiting,
        # episodes in progress at the kill, and how many of them got their end
        "events_open_at_kill": len(cut),
        "ended_after_restart": sum(1 for e in cut if f"{e}:end" in seen),
        "restart_s": round(running - started, 2),
        "first_event_after_restart_s": _since(started, first),
    }


def edge_node_kill_backlog(
    rig: NodeRig, hold_s: float, cleared: Cleared
) -> dict[str, Any]:
    """Freeze the broker (SIGSTOP) until the node's messages wait in its outbox
    (at least `BACKLOG_MIN`, at least `hold_s`), `kill -9` the node while they
    wait, resume the broker and start the node again on the same outbox; the
    waiting messages must reach central once each (the phase counts them)."""
    mid_stream = wait_for(
        lambda: (rig.last_message_at() or 0.0) > time.monotonic() - MID_STREAM_S, 30.0
    )
    frozen = time.monotonic()
    rig.node.broker.pause()
    try:
        piled_up = wait_for(
            lambda: len(read_outbox(rig.node.outbox).pending) >= BACKLOG_MIN,
            BACKLOG_MAX_S,
        )
        rig.node.kill()
        backlog = frozenset(read_outbox(rig.node.outbox).pending)
        cut = open_events(rig.observer.seen(), time.monotonic())
        time.sleep(max(0.0, frozen + hold_s - time.monotonic()))
    finally:
        rig.node.broker.resume()
    started = time.monotonic()
    rig.node.start()
    cleared(
        f"broker paused until {len(backlog)} node messages waited in the outbox, the "
        f"node killed with kill -9 then, broker resumed after "
        f"{started - frozen:.1f} s and the node started again on its outbox"
    )
    running = rig.node.wait_ready()
    drained = wait_for(lambda: not read_outbox(rig.node.outbox).pending, DRAINED_MAX_S)
    drained_at = time.monotonic()
    left_open = frozenset(f"{e}:end" for e in cut)
    first = _streaming_again(rig, started, old=backlog | left_open)
    return {
        "mid_stream": mid_stream,
        "backlog_built": piled_up,
        "outbox_waiting_at_kill": len(backlog),
        "events_open_at_kill": len(cut),
        "ended_after_restart": len(left_open & rig.observer.seen().keys()),
        "restart_s": round(running - started, 2),
        "outbox_drained": drained,
        "outbox_drained_after_s": round(drained_at - started, 2) if drained else None,
        "first_event_after_restart_s": _since(started, first),
    }


def camera_dark(rig: NodeRig, hold_s: float, cleared: Cleared) -> dict[str, Any]:
    """Stop serving the node's camera until central has recorded it offline
    (at least `hold_s`), serve it again and wait until central has it online
    and the node sends events again; returns when each side saw what."""
    dark = time.monotonic()
    rig.node.camera_dark()

    def central_says(health: str, since: float) -> float | None:
        changes = rig.watcher.health_changes()
        return next((at for at, h in changes if at >= since and h == health), None)

    wait_for(lambda: central_says("offline", dark) is not None, DARK_MAX_S)
    time.sleep(max(0.0, dark + hold_s - time.monotonic()))
    back = time.monotonic()
    rig.node.camera_back()
    cleared(
        f"camera dark at the RTSP simulator for {back - dark:.1f} s "
        f"(until central had it offline, at least {hold_s} s), then served again"
    )
    wait_for(lambda: central_says("online", back) is not None, BACK_MAX_S)
    first = _streaming_again(rig, back)
    statuses = rig.observer.status_samples()
    node_offline = next(
        (s.at for s in statuses if s.at >= dark and s.health == "offline"), None
    )
    node_online = next(
        (s.at for s in statuses if s.at >= back and s.health == "online"), None
    )
    reconnects = [s.reconnects for s in statuses if s.at >= dark]
    before = [s.reconnects for s in statuses if s.at < dark]
    return {
        "dark_s": round(back - dark, 2),
        "node_offline_after_s": _since(dark, node_offline),
        "central_offline_after_s": _since(dark, central_says("offline", dark)),
        "node_reconnect_s": _since(back, node_online),
        "central_online_after_s": _since(back, central_says("online", back)),
        "first_event_after_back_s": _since(back, first),
        "node_reconnects": max(reconnects, default=0) - max(before, default=0),
        "camera_status_at_central": health_changes(
            rig.watcher.health_changes(), since=dark
        ),
    }


NODE_FAULTS: dict[str, NodeFault] = {
    "edge_node_kill": edge_node_kill,
    "edge_node_kill_backlog": edge_node_kill_backlog,
    "camera_dark": camera_dark,
}


def node_phase(rig: NodeRig, load: PhaseLog, *, start: float, end: float) -> PhaseLog:
    """The node's messages of the phase [start, end) (see `node_messages`), with
    the fault's times and note from the bench's own log of it (`load`)."""
    outbox = read_outbox(rig.node.outbox)
    published = node_messages(
        rig.observer.seen(),
        pending=outbox.pending,
        delivered=outbox.delivered,
        start=start,
        end=end,
        wall_offset=time.time() - time.monotonic(),
    )
    return PhaseLog(
        load.name,
        published=published,
        injected_at=load.injected_at,
        cleared_at=load.cleared_at,
        note=load.note,
    )


def node_totals(rig: NodeRig, catch_up_s: float, *, since: float) -> dict[str, Any]:
    """The whole run from `since` (the warm-up's start; before it central may not
    have subscribed yet): messages the broker passed on from the node, how many
    central stored (after waiting up to `catch_up_s` for the last ones), how
    many the broker got more than once, and what still waits in its outbox."""
    seen = {key: at for key, at in rig.observer.seen().items() if at >= since}
    wait_for(lambda: seen.keys() <= rig.watcher.stored().keys(), catch_up_s)
    stored = rig.watcher.stored()
    return {
        "messages_at_broker": len(seen),
        "stored": sum(1 for key in seen if key in stored),
        "never_stored": sum(1 for key in seen if key not in stored),
        "broker_repeats": rig.observer.repeats(set(seen)),
        "outbox_waiting": len(read_outbox(rig.node.outbox).pending),
        "events": len({key.split(":", 1)[0] for key in seen}),
    }

"""Counting for `gridwatch bench chaos`: what one fault cost, from published events,
ticketed events and ticket notices (pure functions, no services)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(slots=True)
class PhaseLog:
    """What happened while one fault ran (filled in as it runs).

    Attributes:
        name: The fault's name.
        published: event id -> when the edge's outbox stored it (monotonic s).
        refused: Events the edge's outbox refused (full), never published.
        not_stored: Events the edge could not write (disk error), never published.
        unrouted: PUBACKs to the edge saying "no matching subscribers" (the
            broker dropped the event: no consumer session was active).
        injected_at: When the fault began (monotonic s); None before.
        cleared_at: When the fault was cleared (monotonic s); None before.
        note: What the fault did, in words (for the report).
    """

    name: str
    published: dict[str, float] = field(default_factory=dict)
    refused: int = 0
    not_stored: int = 0
    unrouted: int = 0
    injected_at: float | None = None
    cleared_at: float | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class FaultResult:
    """End-to-end figures of one fault (see `count_fault`)."""

    name: str
    published: int
    tickets: int
    lost: int
    duplicates: int
    recovery_s: float | None
    notices_missing: int = 0
    refused: int = 0
    not_stored: int = 0
    note: str = ""
    lost_window_s: tuple[float, float] | None = None
    pending_at_clear: int = 0
    unrouted: int = 0
    node: Mapping[str, Any] | None = None
    load: FaultResult | None = None

    @property
    def is_clean(self) -> bool:
        """Nothing lost, nothing twice, and ingest caught up (the load alongside
        too, for a fault of the real node)."""
        clean = self.lost == 0 and self.duplicates == 0 and self.recovery_s is not None
        return clean and (self.load is None or self.load.is_clean)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "published": self.published,
            "tickets": self.tickets,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "recovery_s": self.recovery_s,
            "notices_missing": self.notices_missing,
            "pending_at_clear": self.pending_at_clear,
            "unrouted": self.unrouted,
            "refused": self.refused,
            "not_stored": self.not_stored,
            "note": self.note,
            "lost_window_s": None
            if self.lost_window_s is None
            else list(self.lost_window_s),
        } | self._node_json()

    def _node_json(self) -> dict[str, Any]:
        if self.node is None:
            return {}
        load = None
        if self.load is not None:
            load = {
                key: getattr(self.load, key)
                for key in ("published", "tickets", "lost", "duplicates", "recovery_s")
            }
        return {"node": dict(self.node), "load": load}


@dataclass(frozen=True, slots=True)
class PoisonResult:
    """The poison batch: sent, dead-lettered, and the good events behind it."""

    sent: int
    dead_lettered: int
    good_after_bad: int
    good_after_bad_ticketed: int

    @property
    def is_clean(self) -> bool:
        return (
            self.dead_lettered == self.sent
            and self.good_after_bad_ticketed == self.good_after_bad
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "dead_lettered": self.dead_lettered,
            "good_after_bad": self.good_after_bad,
            "good_after_bad_ticketed": self.good_after_bad_ticketed,
        }


def recovery_s(
    published: Mapping[str, float],
    ticketed_at: Mapping[str, float],
    cleared_at: float | None,
) -> float | None:
    """Seconds from `cleared_at` until every event published before it had a
    ticket (0.0 when they all had one already; None when one never did, or the
    fault was never cleared).

    Args:
        published: event id -> when it was published (monotonic s).
        ticketed_at: event id -> when its ticket was first seen (monotonic s).
        cleared_at: When the fault was cleared (monotonic s).
    """
    if cleared_at is None:
        return None
    latest = cleared_at
    for event_id, at in published.items():
        if at > cleared_at:
            continue
        seen = ticketed_at.get(event_id)
        if seen is None:
            return None
        latest = max(latest, seen)
    return round(latest - cleared_at, 2)


def count_fault(
    phase: PhaseLog,
    *,
    ticketed_at: Mapping[str, float],
    notices: Mapping[str, int],
) -> FaultResult:
    """Figures of one fault.

    Args:
        phase: What was published while the fault ran.
        ticketed_at: event id -> when a ticket in the database first named it.
        notices: event id -> ticket notices received that named it.

    Returns:
        lost: published events with no ticket; duplicates: ticket notices beyond
        the first, per published event; notices_missing: ticketed events whose
        notice never arrived (the ticket is there, its push is not);
        lost_window_s: when the first and the last lost event were published,
        in seconds from the fault's start; pending_at_clear: events published
        before the clear that had no ticket yet when it came (held up by the
        fault, e.g. queued in a dead replica's session).
    """
    ids = phase.published
    tickets = sum(1 for event_id in ids if event_id in ticketed_at)
    duplicates = sum(max(0, notices.get(event_id, 0) - 1) for event_id in ids)
    missing = sum(
        1 for event_id in ids if event_id in ticketed_at and not notices.get(event_id)
    )
    return FaultResult(
        name=phase.name,
        published=len(ids),
        tickets=tickets,
        lost=len(ids) - tickets,
        duplicates=duplicates,
        recovery_s=recovery_s(ids, ticketed_at, phase.cleared_at),
        notices_missing=missing,
        refused=phase.refused,
        not_stored=phase.not_stored,
        note=phase.note,
        lost_window_s=_lost_window(phase, ticketed_at),
        pending_at_clear=_pending_at(phase.cleared_at, ids, ticketed_at),
        unrouted=phase.unrouted,
    )


def _pending_at(
    at: float | None, published: Mapping[str, float], ticketed_at: Mapping[str, float]
) -> int:
    if at is None:
        return 0
    return sum(
        1
        for event_id, when in published.items()
        if when <= at and ticketed_at.get(event_id, math.inf) > at
    )


def _lost_window(
    phase: PhaseLog, ticketed_at: Mapping[str, float]
) -> tuple[float, float] | None:
    start = phase.injected_at
    lost = [at for e, at in phase.published.items() if e not in ticketed_at]
    if not lost or start is None:
        return None
    return round(min(lost) - start, 2), round(max(lost) - start, 2)


def count_poison(
    *,
    sent: int,
    dead_lettered: int,
    good_after: Sequence[str],
    ticketed_at: Mapping[str, float],
) -> PoisonResult:
    """Figures of the poison batch: `good_after` are the edge's events published
    after the last malformed message was acknowledged by the broker."""
    return PoisonResult(
        sent=sent,
        dead_lettered=dead_lettered,
        good_after_bad=len(good_after),
        good_after_bad_ticketed=sum(1 for e in good_after if e in ticketed_at),
    )


def node_messages(
    seen: Mapping[str, float],
    *,
    pending: Mapping[str, float],
    delivered: Mapping[str, float],
    start: float,
    end: float,
    wall_offset: float,
) -> dict[str, float]:
    """The real node's event messages of one phase, as far as they can be known
    (what a node made in memory and lost to `kill -9` cannot be).

    Args:
        seen: dedupe key -> when the broker first passed it on (monotonic s).
        pending: dedupe key -> when the node's outbox committed it (UNIX s),
            for rows still waiting there.
        delivered: dedupe key -> when the broker acknowledged it (UNIX s).
        start: The phase's start; end: its end (monotonic s).
        wall_offset: `time.time() - time.monotonic()` of the bench's clock.

    Returns:
        dedupe key -> when (monotonic s): the messages the broker first passed on
        in [start, end), and the ones the outbox committed or had acknowledged
        then that the broker never passed on (waiting, or lost on the way).
    """
    messages = {key: at for key, at in seen.items() if start <= at < end}
    for rows in (pending, delivered):
        for key, wall in rows.items():
            at = wall - wall_offset
            if key not in seen and start <= at < end:
                messages.setdefault(key, at)
    return messages


def count_node_fault(
    phase: PhaseLog,
    *,
    stored_at: Mapping[str, float],
    notices: Mapping[str, int],
    load: FaultResult,
    details: Mapping[str, Any],
) -> FaultResult:
    """Figures of a fault of the real node, counted per event message (a start,
    its updates and its end are separate messages, each must be stored).

    Args:
        phase: The node's messages of the phase (dedupe key -> when), from
            `node_messages`.
        stored_at: dedupe key -> when central held it under a ticket.
        notices: event id -> ticket notices that named it; duplicates are
            notices beyond one per event (an event joining an open ticket gets
            none, so missing notices are not counted here).
        load: The figures of the bench's own load in the same phase.
        details: The fault's own measurements (restart, reconnect, statuses).
    """
    base = count_fault(phase, ticketed_at=stored_at, notices={})
    events = {key.split(":", 1)[0] for key in phase.published}
    duplicates = sum(max(0, notices.get(event_id, 0) - 1) for event_id in events)
    node = {"events": len(events), **details}
    return replace(base, duplicates=duplicates, notices_missing=0, node=node, load=load)


def open_events(seen: Mapping[str, float], at: float) -> set[str]:
    """Events with a message passed on before `at` but not their end (dedupe keys
    `<event id>:start`, `<event id>:update:<time>`, `<event id>:end`)."""
    before = [key for key, when in seen.items() if when < at]
    ended = {key.split(":", 1)[0] for key in before if key.endswith(":end")}
    return {key.split(":", 1)[0] for key in before} - ended


def health_changes(samples: Sequence[tuple[float, str]], *, since: float) -> list[str]:
    """The camera healths recorded from `since` on, the one in force then first,
    repeats dropped: e.g. ["online", "offline", "online"]."""
    before = [health for at, health in samples if at < since]
    changes = before[-1:]
    for at, health in samples:
        if at >= since and (not changes or changes[-1] != health):
            changes.append(health)
    return changes


def grids_needed(events: int, types: int) -> int:
    """Grids a city needs so that `events` events, one per grid and type, never
    share a grid and a type (a quarter spare for the pace running ahead)."""
    if events < 0 or types < 1:
        raise ValueError(f"need events >= 0 and types >= 1, got {events}, {types}")
    return max(12, math.ceil(events * 1.25 / types))


def report(
    faults: Sequence[FaultResult],
    poison: PoisonResult | None,
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """The bench's JSON: one entry per fault, the poison figures, `ok` when
    every fault is clean and every malformed message was dead-lettered."""
    ok = bool(faults) and all(f.is_clean for f in faults)
    if poison is not None:
        ok = ok and poison.is_clean
    return {
        "faults": [f.to_json() for f in faults],
        "poison": None if poison is None else poison.to_json(),
        "ok": ok,
        **settings,
    }

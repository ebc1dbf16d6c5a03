"""One batch of event messages → events, tickets, history and worker notices.

The whole batch is one transaction of a few set-based statements (one per step
whatever the batch size: arrays through `unnest` on PostgreSQL, SQLAlchemy Core
elsewhere), which is what lets one central process keep up with thousands of
events a second. Idempotency comes from the database: a message whose dedupe key
is already stored is a duplicate, an event whose id is already stored is another
observation of it. New events are stored after the tickets they open or join
(so they are written once, complete); one that another replica stored in the
meantime rolls the transaction back and the batch is tried again. Nothing is
acknowledged to the broker before the commit.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from pydantic import ValidationError
from sqlalchemy import Connection, bindparam, case, func, or_, select, update

from central.context import CentralContext
from central.db.bulk import (
    RawJson,
    insert_many,
    insert_returning,
    is_postgresql,
    pg_array_type,
    pg_column,
    pg_execute,
)
from central.db.models import (
    Camera,
    Event,
    EventMessageRow,
    MediaObject,
    Ticket,
    TicketHistory,
    table_of,
)
from central.matters import Matter
from central.media import MediaRejected, MediaStore
from central.tickets.dispatch import choose_worker, open_ticket_counts
from central.tickets.merging import metres_between
from central.tickets.model import NewTicket, ticket_notice
from central.tickets.states import OPEN_STATES
from gridwatch.contract import DeadLetterMessage, EventMessage, TicketNotice, utc_now
from gridwatch.validation import describe_validation_error

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    topic: str
    payload: bytes
    token: int = 0  # the consumer's handle for acknowledging (MQTT mid)
    received_at: datetime | None = None
    queued_at: float = 0.0  # time.monotonic() when the consumer queued it


@dataclass
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    observations: int = 0
    tickets_created: int = 0
    merged: int = 0
    pending_review: int = 0
    notices: list[tuple[TicketNotice, list[str]]] = field(default_factory=list)
    deadletters: list[DeadLetterMessage] = field(default_factory=list)


@dataclass
class _Parsed:
    message: EventMessage
    payload: dict[str, Any] | RawJson  # the stored copy
    received_at: datetime
    key: str  # message.dedupe_key
    inbound: InboundMessage  # as received, for a dead letter


_NO_SNAPSHOT_BYTES: Any = {"media": {"snapshot": {"bytes_b64"}}}


class _StoredEvent(NamedTuple):
    ticket_id: int | None
    detected_at: datetime
    node_id: str


_RACE_ATTEMPTS = 5
_OPEN_STATE_VALUES = sorted(s.value for s in OPEN_STATES)


class _EventRace(Exception):
    """An event of the batch was stored by someone else after we looked."""


class _RecordingCounts(Mapping[str, int]):
    """Open-ticket counts that are all zero and remember which were asked for."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __getitem__(self, worker_id: str) -> int:
        self.seen.add(worker_id)
        raise KeyError(worker_id)  # Mapping.get answers the default

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass
class _OpenTicket:
    id: int
    lat: float
    lon: float
    last_observed_at: datetime


class EventProcessor:
    def __init__(
        self, context: CentralContext, media: MediaStore | None = None
    ) -> None:
        self.context = context
        self.media = media
        self.prefix = context.topics.prefix + "/edge/"

    # -- parsing -------------------------------------------------------------------

    def _parse(
        self, messages: Sequence[InboundMessage], now: datetime, result: BatchResult
    ) -> list[_Parsed]:
        parsed: list[_Parsed] = []
        # PostgreSQL takes the stored copy as JSON text straight from pydantic.
        as_text = self.context.engine.dialect.name == "postgresql"
        for inbound in messages:
            reason, event = self._validate(inbound)
            if event is None:
                result.deadletters.append(dead_letter_for(inbound, reason, now))
                continue
            # The stored copy leaves out inline snapshot bytes (media store).
            payload: dict[str, Any] | RawJson
            if as_text:
                payload = RawJson(
                    event.model_dump_json(
                        by_alias=True, exclude_none=True, exclude=_NO_SNAPSHOT_BYTES
                    )
                )
            else:
                payload = event.model_dump(
                    mode="json",
                    by_alias=True,
                    exclude_none=True,
                    exclude=_NO_SNAPSHOT_BYTES,
                )
            parsed.append(
                _Parsed(
                    event,
                    payload,
                    inbound.received_at or now,
                    event.dedupe_key,
                    inbound,
                )
            )
        return parsed

    def _validate(self, inbound: InboundMessage) -> tuple[str, EventMessage | None]:
        topic_node = _topic_node(inbound.topic, self.prefix)
        if topic_node is None:
            return f"not an event topic: {inbound.topic}", None
        limit = self.context.settings.ingest.max_message_bytes
        if len(inbound.payload) > limit:
            return (
                f"message of {len(inbound.payload)} bytes is over the {limit} byte "
                "limit"
            ), None
        try:
            event = EventMessage.model_validate_json(inbound.payload)
        except ValidationError as exc:
            problems = describe_validation_error(exc, limit=5, top="(body)")
            return f"invalid gw.event/1 message: {problems}", None
        if event.node_id != topic_node:
            return (
                f"node_id {event.node_id!r} does not match the topic's node "
                f"{topic_node!r}"
            ), None
        if self.context.matters.for_event_type(str(event.type)) is None:
            return f"no matter list entry for event type {str(event.type)!r}", None
        return "", event

    # -- the batch -------------------------------------------------------------------

    def process(self, messages: Sequence[InboundMessage]) -> BatchResult:
        """Store a batch in one transaction; raises if the database fails (retry)."""
        now = self.context.clock.now()
        parsed_result = BatchResult()
        parsed = self._parse(messages, now, parsed_result)
        # Keep the first copy of a message repeated inside the batch.
        unique: dict[str, _Parsed] = {}
        for item in parsed:
            if item.key in unique:
                parsed_result.duplicates += 1
            else:
                unique[item.key] = item
        if not unique:
            return parsed_result
        items = list(unique.values())
        for attempt in range(1, _RACE_ATTEMPTS + 1):
            result = BatchResult(
                duplicates=parsed_result.duplicates,
                deadletters=list(parsed_result.deadletters),
            )
            try:
                with self.context.engine.begin() as conn:
                    stored = self._known_events(
                        conn, sorted({p.message.event_id for p in items})
                    )
                    owned = self._refuse_foreign(items, stored, now, result)
                    fresh = self._store_messages(conn, owned) if owned else []
                    result.duplicates += len(owned) - len(fresh)
                    result.accepted = len(fresh)
                    if fresh:
                        self._apply(conn, fresh, stored, now, result)
                break
            except _EventRace as race:
                # Another replica stored one of these events meanwhile; the
                # transaction is rolled back, and the next try sees its event.
                if attempt == _RACE_ATTEMPTS:
                    raise RuntimeError(f"event race not settled: {race}") from race
                log.info("batch raced another replica (%s); trying again", race)
        if self.media is not None:
            self._store_snapshots(owned, now)
        return result

    @staticmethod
    def _refuse_foreign(
        items: list[_Parsed],
        stored: dict[str, _StoredEvent],
        now: datetime,
        result: BatchResult,
    ) -> list[_Parsed]:
        """The items whose event is new or was raised by the same node; the others
        (an update or end of another node's event, stored or earlier in this
        batch) are dead-lettered unstored."""
        owners = {event_id: event.node_id for event_id, event in stored.items()}
        owned = []
        for item in items:
            # A new event belongs to the node of its first message in the batch.
            owner = owners.setdefault(item.message.event_id, item.message.node_id)
            if owner == item.message.node_id:
                owned.append(item)
                continue
            reason = (
                f"event {item.message.event_id} was raised by node {owner!r}, "
                f"not {item.message.node_id!r}"
            )
            result.deadletters.append(dead_letter_for(item.inbound, reason, now))
        return owned

    def _store_messages(self, conn: Connection, items: list[_Parsed]) -> list[_Parsed]:
        rows = [
            {
                "dedupe_key": p.key,
                "event_id": p.message.event_id,
                "phase": p.message.phase.value,
                "detected_at": p.message.detected_at,
                "received_at": p.received_at,
                "payload": p.payload,
            }
            for p in items
        ]
        stored = set(
            insert_returning(
                conn,
                table_of(EventMessageRow),
                rows,
                "dedupe_key",
                ignore_conflicts=True,
            )
        )
        return [p for p in items if p.key in stored]

    def _apply(
        self,
        conn: Connection,
        fresh: list[_Parsed],
        stored: dict[str, _StoredEvent],
        now: datetime,
        result: BatchResult,
    ) -> None:
        by_event: dict[str, list[_Parsed]] = defaultdict(list)
        for item in fresh:
            by_event[item.message.event_id].append(item)
        known = {e: stored[e] for e in by_event if e in stored}
        if known:
            self._observe_existing(conn, {e: by_event[e] for e in known}, known, result)
        new = [items for eid, items in by_event.items() if eid not in known]
        if new:
            self._open_tickets(conn, new, now, result)
        self._touch_cameras(conn, fresh)

    @staticmethod
    def _touch_cameras(conn: Connection, fresh: list[_Parsed]) -> None:
        """Move each camera's `last_event_at` forward to its newest event.

        One statement per batch on PostgreSQL (an index probe per camera; a row
        is written only when its time moves forward), each camera once. Keys are
        sorted, which makes lock order across replicas likely but not certain
        (the plan decides); a deadlock fails the batch, which is retried.
        """
        latest: dict[tuple[str, str], datetime] = {}
        for item in fresh:
            key = (item.message.node_id, item.message.camera_id)
            at = _utc(item.message.detected_at)
            if key not in latest or latest[key] < at:
                latest[key] = at
        keys = sorted(latest)
        if is_postgresql(conn):
            c = table_of(Camera)
            pg_execute(
                conn,
                # OFFSET 0: one index probe per camera, not a join that scans
                # every camera. The outer guard is checked again on a row that
                # another replica moved meanwhile.
                "UPDATE cameras AS c SET last_event_at = k.at FROM ("
                "SELECT m.id, u.at FROM unnest(%b::text[], %b::text[], "
                f"%b::{pg_array_type(c, 'last_event_at')}) "
                "AS u(node_id, camera_id, at) "
                "CROSS JOIN LATERAL (SELECT id FROM cameras "
                "WHERE cameras.node_id = u.node_id "
                "AND cameras.camera_id = u.camera_id "
                "AND (cameras.last_event_at IS NULL OR cameras.last_event_at < u.at) "
                "OFFSET 0) AS m) AS k "
                "WHERE c.id = k.id "
                "AND (c.last_event_at IS NULL OR c.last_event_at < k.at)",
                [
                    [node for node, _ in keys],
                    [camera for _, camera in keys],
                    pg_column(c, "last_event_at", [latest[k] for k in keys]),
                ],
            )
            return
        statement = (
            update(Camera)
            .where(
                Camera.node_id == bindparam("node"),
                Camera.camera_id == bindparam("camera"),
                or_(
                    Camera.last_event_at.is_(None),
                    Camera.last_event_at < bindparam("at"),
                ),
            )
            .values(last_event_at=bindparam("at"))
        )
        conn.execute(
            statement,
            [{"node": n, "camera": c, "at": latest[(n, c)]} for n, c in keys],
        )

    def _known_events(
        self, conn: Connection, event_ids: list[str]
    ) -> dict[str, _StoredEvent]:
        """Events already stored, by event id."""
        if is_postgresql(conn):
            rows: Sequence[Any] = pg_execute(
                conn,
                # One index probe per id (OFFSET 0: not flattened into a join);
                # `event_id = ANY(...)` may scan every event with a linear search.
                "SELECT e.event_id, e.ticket_id, e.detected_at, e.node_id "
                "FROM unnest(%b::text[]) AS k(event_id) "
                "CROSS JOIN LATERAL (SELECT event_id, ticket_id, detected_at, node_id "
                "FROM events WHERE events.event_id = k.event_id OFFSET 0) AS e",
                [event_ids],
            )
        else:
            rows = conn.execute(
                select(
                    Event.event_id, Event.ticket_id, Event.detected_at, Event.node_id
                ).where(Event.event_id.in_(event_ids))
            ).all()
        return {e: _StoredEvent(t, _utc(d), n) for e, t, d, n in rows}

    @staticmethod
    def _event_row(
        first: _Parsed,
        items: list[_Parsed],
        grid: str | None,
        ticket_id: int | None,
    ) -> dict[str, Any]:
        m = first.message
        last = max(items, key=lambda p: p.message.detected_at).message
        ended = next((p.message.ended_at for p in items if p.message.ended_at), None)
        snapshot = m.media.snapshot
        clip = m.media.clip
        return {
            "event_id": m.event_id,
            "type": str(m.type),
            "node_id": m.node_id,
            "camera_id": m.camera_id,
            "phase": last.phase.value,
            "started_at": m.started_at,
            "detected_at": last.detected_at,
            "ended_at": ended,
            "received_at": first.received_at,
            "confidence": max(p.message.confidence for p in items),
            "lat": m.location.lat,
            "lon": m.location.lon,
            "location_source": m.location.source.value,
            "grid_code": grid,
            "zone_id": m.zone_id,
            "image_box": list(m.image_box) if m.image_box else None,
            "attributes": m.attributes,
            "model_name": m.model.name,
            "model_version": m.model.version,
            "snapshot_sha256": snapshot.sha256 if snapshot else None,
            "clip_sha256": clip.sha256 if clip else None,
            "observations": len(items),
            "ticket_id": ticket_id,
        }

    def _observe_existing(
        self,
        conn: Connection,
        by_event: dict[str, list[_Parsed]],
        known: dict[str, _StoredEvent],
        result: BatchResult,
    ) -> None:
        """More messages of events already stored: count them on event and ticket."""
        event_updates = []
        ticket_updates: dict[int, dict[str, Any]] = {}
        for event_id, items in by_event.items():
            ticket_id, detected_at, _ = known[event_id]
            latest = max(items, key=lambda p: p.message.detected_at).message
            ended = next(
                (p.message.ended_at for p in items if p.message.ended_at), None
            )
            newest = max(detected_at, latest.detected_at)
            event_updates.append(
                {
                    "b_event_id": event_id,
                    "b_count": len(items),
                    "b_detected_at": newest,
                    "b_phase": latest.phase.value
                    if newest == latest.detected_at
                    else None,
                    "b_ended_at": ended,
                    "b_confidence": max(p.message.confidence for p in items),
                }
            )
            result.observations += len(items)
            if ticket_id is not None:
                entry = ticket_updates.setdefault(
                    ticket_id, {"b_id": ticket_id, "b_count": 0, "b_seen": newest}
                )
                entry["b_count"] += len(items)
                entry["b_seen"] = max(entry["b_seen"], newest)
        self._update_events(conn, event_updates)
        self._touch_tickets(conn, list(ticket_updates.values()))

    @staticmethod
    def _update_events(conn: Connection, updates: list[dict[str, Any]]) -> None:
        if not updates:
            return
        t = table_of(Event)
        if is_postgresql(conn):
            pg_execute(
                conn,
                "UPDATE events AS e SET "
                "observations = e.observations + u.n, "
                "detected_at = u.detected_at, "
                "phase = coalesce(u.phase, e.phase), "
                "ended_at = coalesce(u.ended_at, e.ended_at), "
                "confidence = CASE WHEN e.confidence < u.confidence "
                "THEN u.confidence ELSE e.confidence END "
                f"FROM unnest(%b::text[], %b::integer[], "
                f"%b::{pg_array_type(t, 'detected_at')}, %b::text[], "
                f"%b::{pg_array_type(t, 'ended_at')}, "
                f"%b::{pg_array_type(t, 'confidence')}) "
                "AS u(event_id, n, detected_at, phase, ended_at, confidence) "
                "WHERE e.event_id = u.event_id",
                [
                    [u["b_event_id"] for u in updates],
                    [u["b_count"] for u in updates],
                    pg_column(t, "detected_at", [u["b_detected_at"] for u in updates]),
                    [u["b_phase"] for u in updates],
                    pg_column(t, "ended_at", [u["b_ended_at"] for u in updates]),
                    pg_column(t, "confidence", [u["b_confidence"] for u in updates]),
                ],
            )
            return
        conn.execute(
            update(t)
            .where(t.c.event_id == bindparam("b_event_id"))
            .values(
                observations=t.c.observations + bindparam("b_count"),
                detected_at=bindparam("b_detected_at"),
                phase=func.coalesce(bindparam("b_phase"), t.c.phase),
                ended_at=func.coalesce(bindparam("b_ended_at"), t.c.ended_at),
                confidence=case(
                    (
                        t.c.confidence < bindparam("b_confidence"),
                        bindparam("b_confidence"),
                    ),
                    else_=t.c.confidence,
                ),
            ),
            updates,
        )

    @staticmethod
    def _touch_tickets(conn: Connection, updates: list[dict[str, Any]]) -> None:
        if not updates:
            return
        t = table_of(Ticket)
        if is_postgresql(conn):
            pg_execute(
                conn,
                "UPDATE tickets AS t SET "
                "observations = t.observations + u.n, "
                "last_observed_at = u.seen, "
                "version = t.version + 1 "
                "FROM unnest(%b::integer[], %b::integer[], "
                f"%b::{pg_array_type(t, 'last_observed_at')}) AS u(id, n, seen) "
                "WHERE t.id = u.id",
                [
                    [u["b_id"] for u in updates],
                    [u["b_count"] for u in updates],
                    pg_column(t, "last_observed_at", [u["b_seen"] for u in updates]),
                ],
            )
            return
        conn.execute(
            update(t)
            .where(t.c.id == bindparam("b_id"))
            .values(
                observations=t.c.observations + bindparam("b_count"),
                last_observed_at=bindparam("b_seen"),
                version=t.c.version + 1,
            ),
            updates,
        )

    # -- new events: merge or open -------------------------------------------------

    def _open_tickets(
        self,
        conn: Connection,
        groups: list[list[_Parsed]],
        now: datetime,
        result: BatchResult,
    ) -> None:
        """Events not stored yet: merge each into an open ticket or open one.

        Tickets go in first, then the events that point at them. An event that
        another replica stored meanwhile raises `_EventRace`: the transaction is
        rolled back and the batch is tried again (it is an observation then).
        """
        firsts = [items[0] for items in groups]
        grids = self._grids_of(firsts)
        matters = self._matters_of(firsts)
        candidates = self._merge_candidates(conn, firsts, grids, matters, now)
        counts = self._open_counts(conn, firsts, grids, matters, now)

        new_tickets: list[NewTicket] = []
        new_ticket_events: list[list[str]] = []
        merges: dict[int, dict[str, Any]] = {}
        links: list[int] = []  # per event: a ticket id, or -(index + 1) of a new one
        for item, grid, items in zip(firsts, grids, groups, strict=True):
            m = item.message
            matter = matters[str(m.type)]
            observed = max(p.message.detected_at for p in items)
            target = self._find_merge(candidates, matter, item, grid, observed)
            if target is not None:
                if target.id < 0:  # a ticket this batch opens: count it there
                    opened = new_tickets[-target.id - 1]
                    opened.observations += len(items)
                    opened.last_observed_at = max(opened.last_observed_at, observed)
                    new_ticket_events[-target.id - 1].append(m.event_id)
                else:
                    entry = merges.setdefault(
                        target.id,
                        {"b_id": target.id, "b_count": 0, "b_seen": observed},
                    )
                    entry["b_count"] += len(items)
                    entry["b_seen"] = max(entry["b_seen"], observed)
                target.last_observed_at = max(target.last_observed_at, observed)
                links.append(target.id)
                result.merged += 1
                continue
            ticket = self._new_ticket(matter, item, grid, counts, now)
            ticket.observations = len(items)
            ticket.last_observed_at = observed
            new_tickets.append(ticket)
            new_ticket_events.append([m.event_id])
            candidates[(matter.key, grid)].append(
                _OpenTicket(-len(new_tickets), m.location.lat, m.location.lon, observed)
            )
            links.append(-len(new_tickets))

        ids: list[int] = []
        if new_tickets:
            ids = insert_returning(
                conn, table_of(Ticket), [t.to_row() for t in new_tickets], "id"
            )
        event_rows = [
            self._event_row(item, items, grid, link if link > 0 else ids[-link - 1])
            for item, items, grid, link in zip(
                firsts, groups, grids, links, strict=True
            )
        ]
        created = insert_returning(
            conn, table_of(Event), event_rows, "event_id", ignore_conflicts=True
        )
        if len(created) != len(event_rows):
            taken = {r["event_id"] for r in event_rows} - set(created)
            raise _EventRace(f"events stored meanwhile: {sorted(taken)[:5]}")
        if new_tickets:
            history = [
                entry.to_row()
                for ticket, ticket_id in zip(new_tickets, ids, strict=True)
                for entry in ticket.opening_history(ticket_id, at=now)
            ]
            insert_many(conn, table_of(TicketHistory), history)
        self._touch_tickets(conn, list(merges.values()))

        result.tickets_created += len(new_tickets)
        for ticket, ticket_id, event_ids in zip(
            new_tickets, ids, new_ticket_events, strict=True
        ):
            if not ticket.is_dispatched:
                result.pending_review += 1
            recipients = [ticket.assignee_id] if ticket.assignee_id else []
            notice = ticket_notice(
                ticket_id,
                ticket,
                action="dispatched" if ticket.assignee_id else "pending_review",
                event_ids=event_ids,
            )
            result.notices.append((notice, recipients))

    def _grids_of(self, firsts: list[_Parsed]) -> list[str | None]:
        """The grid of each event (None outside every grid, or without grids)."""
        index = self.context.grid_index
        if index is None:
            return [None] * len(firsts)
        matches = index.lookup_many(
            [p.message.location.lat for p in firsts],
            [p.message.location.lon for p in firsts],
        )
        return [m.code if m else None for m in matches]

    def _matters_of(self, firsts: list[_Parsed]) -> dict[str, Matter]:
        """The matter of each event type in the batch."""
        matters: dict[str, Matter] = {}
        for p in firsts:
            kind = str(p.message.type)
            if kind not in matters:
                matter = self.context.matters.for_event_type(kind)
                assert matter is not None  # validated in _parse
                matters[kind] = matter
        return matters

    def _new_ticket(
        self,
        matter: Matter,
        item: _Parsed,
        grid: str | None,
        counts: dict[str, int],
        now: datetime,
    ) -> NewTicket:
        """The ticket an event opens, dispatched to a worker or held for review."""
        ctx = self.context
        ticket = NewTicket.from_event(
            item.message,
            matter=matter,
            matters=ctx.matters,
            departments=ctx.departments,
            grid_code=grid,
            now=now,
        )

        def pick_worker(grid_code: str) -> str | None:
            chosen = choose_worker(ctx.directory, grid_code, now, counts)
            if chosen is not None:  # the next event of the batch weighs it
                counts[chosen] = counts.get(chosen, 0) + 1
            return chosen

        ticket.dispatch_or_hold(
            needs_review=matter.review.needs_review(item.message.confidence),
            pick_worker=pick_worker,
            now=now,
        )
        return ticket

    def _open_counts(
        self,
        conn: Connection,
        firsts: list[_Parsed],
        grids: list[str | None],
        matters: dict[str, Matter],
        now: datetime,
    ) -> dict[str, int]:
        """Open tickets of every worker `choose_worker` may weigh for these events.

        Which workers it weighs (the on-duty ones of the first level up the
        hierarchy that has any) does not depend on the counts, so a dry run that
        records the workers looked up names exactly the ones to count.
        """
        ctx = self.context
        recorder = _RecordingCounts()
        asked: set[str] = set()
        for item, grid in zip(firsts, grids, strict=True):
            if grid is None or grid in asked:
                continue
            if matters[str(item.message.type)].review.needs_review(
                item.message.confidence
            ):
                continue
            asked.add(grid)
            choose_worker(ctx.directory, grid, now, recorder)
        if not recorder.seen:
            return {}
        if not is_postgresql(conn):
            return open_ticket_counts(conn, recorder.seen)
        ids = sorted(recorder.seen)
        rows = pg_execute(
            conn,
            "SELECT w.id, (SELECT count(*) FROM tickets AS t "
            "WHERE t.assignee_id = w.id AND t.state = ANY(%b::text[])) "
            "FROM unnest(%b::text[]) AS w(id)",
            [_OPEN_STATE_VALUES, ids],
        )
        return {worker_id: int(n) for worker_id, n in rows}

    def _merge_candidates(
        self,
        conn: Connection,
        firsts: list[_Parsed],
        grids: list[str | None],
        matters: dict[str, Matter],
        now: datetime,
    ) -> dict[tuple[str, str | None], list[_OpenTicket]]:
        """Open tickets that new events may join, by (matter key, grid): whatever
        opened them (a camera, a patrol, a citizen), one ticket per problem."""
        ctx = self.context
        windows = [ctx.matters.merge_policy(m).window_min for m in matters.values()]
        cutoff = now - timedelta(minutes=max(windows, default=0))
        wanted = sorted(
            {
                (matters[str(p.message.type)].key, g)
                for p, g in zip(firsts, grids, strict=True)
                if g
            }
        )
        found: dict[tuple[str, str | None], list[_OpenTicket]] = defaultdict(list)
        if not wanted:
            return found
        rows: Any
        if is_postgresql(conn):
            # One index probe per (type, grid): OFFSET 0 keeps the subquery from
            # being flattened into a join that scans every open ticket.
            rows = pg_execute(
                conn,
                "SELECT t.id, t.matter_key, t.grid_code, t.lat, t.lon, "
                "t.last_observed_at "
                "FROM unnest(%b::text[], %b::text[]) AS k(matter_key, grid_code) "
                "CROSS JOIN LATERAL (SELECT id, matter_key, grid_code, lat, lon, "
                "last_observed_at FROM tickets "
                "WHERE tickets.grid_code = k.grid_code "
                "AND tickets.matter_key = k.matter_key "
                "AND tickets.state = ANY(%b::text[]) "
                "AND tickets.last_observed_at >= %b "
                "AND tickets.lat IS NOT NULL OFFSET 0) AS t",
                [
                    [k for k, _ in wanted],
                    [g for _, g in wanted],
                    _OPEN_STATE_VALUES,
                    cutoff,
                ],
            )
        else:
            t = table_of(Ticket)
            rows = conn.execute(
                select(
                    t.c.id,
                    t.c.matter_key,
                    t.c.grid_code,
                    t.c.lat,
                    t.c.lon,
                    t.c.last_observed_at,
                ).where(
                    t.c.state.in_(_OPEN_STATE_VALUES),
                    t.c.matter_key.in_(sorted({k for k, _ in wanted})),
                    t.c.grid_code.in_(sorted({g for _, g in wanted})),
                    t.c.last_observed_at >= cutoff,
                    t.c.lat.is_not(None),
                )
            )
        for ticket_id, matter_key, grid_code, lat, lon, seen in rows:
            found[(matter_key, grid_code)].append(
                _OpenTicket(ticket_id, lat, lon, _utc(seen))
            )
        return found

    def _find_merge(
        self,
        candidates: dict[tuple[str, str | None], list[_OpenTicket]],
        matter: Matter,
        item: _Parsed,
        grid: str | None,
        observed: datetime,
    ) -> _OpenTicket | None:
        policy = self.context.matters.merge_policy(matter)
        if grid is None or not policy.enabled:
            return None
        m = item.message
        window = timedelta(minutes=policy.window_min)
        best: tuple[float, _OpenTicket] | None = None
        # Same grid only: a case belongs to one grid (and its worker).
        for ticket in candidates.get((matter.key, grid), []):
            if abs(observed - ticket.last_observed_at) > window:
                continue
            distance = metres_between(
                m.location.lat, m.location.lon, ticket.lat, ticket.lon
            )
            if distance <= policy.distance_m and (best is None or distance < best[0]):
                best = (distance, ticket)
        return best[1] if best else None

    # -- media ---------------------------------------------------------------------

    def _store_snapshots(self, items: list[_Parsed], now: datetime) -> None:
        """Inline snapshots go to the media store (after the commit; idempotent)."""
        assert self.media is not None
        rows = []
        for item in items:
            snapshot = item.message.media.snapshot
            if snapshot is None or not snapshot.bytes_b64:
                continue
            try:
                data = base64.b64decode(snapshot.bytes_b64, validate=True)
            except (binascii.Error, ValueError):
                log.warning(
                    "event %s: snapshot is not base64; dropped", item.message.event_id
                )
                continue
            if hashlib.sha256(data).hexdigest() != snapshot.sha256:
                log.warning(
                    "event %s: snapshot sha256 mismatch; dropped", item.message.event_id
                )
                continue
            try:
                stored = self.media.save(data, "snapshot")
            except MediaRejected as exc:
                log.warning(
                    "event %s: snapshot refused: %s", item.message.event_id, exc
                )
                continue
            rows.append(
                {
                    "sha256": stored.sha256,
                    "kind": "snapshot",
                    "content_type": stored.content_type,
                    "size": stored.size,
                    "event_id": item.message.event_id,
                    "ticket_id": None,
                    "uploaded_by": item.message.node_id,
                    "created_at": now,
                }
            )
        if rows:
            with self.context.engine.begin() as conn:
                insert_many(conn, table_of(MediaObject), rows, ignore_conflicts=True)


def _topic_node(topic: str, prefix: str) -> str | None:
    if not topic.startswith(prefix) or not topic.endswith("/events"):
        return None
    node = topic[len(prefix) : -len("/events")]
    return node if node and "/" not in node else None


def dead_letter_for(
    inbound: InboundMessage, reason: str, now: datetime | None = None
) -> DeadLetterMessage:
    """The refused message as it goes to the dead-letter topic, with the reason."""
    now = now or utc_now()
    try:
        text = inbound.payload.decode("utf-8")[:64_000]
    except UnicodeDecodeError:
        raw = base64.b64encode(inbound.payload[:48_000]).decode("ascii")
        return DeadLetterMessage(
            topic=inbound.topic,
            reason=reason,
            payload=raw,
            payload_encoding="base64",
            at=now,
        )
    return DeadLetterMessage(topic=inbound.topic, reason=reason, payload=text, at=now)

"""One batch of event messages → events, tickets, history and worker notices.

The whole batch is one transaction of a few set-based statements (SQLAlchemy
Core), which is what lets one central process keep up with thousands of events a
second. Idempotency comes from the database: a message whose dedupe key is
already stored is a duplicate, an event whose id is already stored is another
observation of it. Nothing is acknowledged to the broker before the commit.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from central.context import CentralContext
from central.db.bulk import insert_returning
from central.db.models import (
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
from central.tickets.states import OPEN_STATES, TicketAction, TicketState
from gridwatch.contract import DeadLetterMessage, EventMessage, TicketNotice

log = logging.getLogger(__name__)

EVENT_TITLES = {
    "crowding": "Crowd gathering",
    "intrusion": "Intrusion into a restricted zone",
    "littering": "Littering / exposed rubbish",
    "abandoned_object": "Abandoned object",
    "fall": "Person fallen",
    "presence": "Watched object present",
    "illegal_parking": "Vehicle parked illegally",
}


@dataclass(frozen=True, slots=True)
class InboundMessage:
    topic: str
    payload: bytes
    token: int = 0  # the consumer's handle for acknowledging (MQTT mid)
    received_at: datetime | None = None


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
    payload: dict[str, Any]
    received_at: datetime


@dataclass
class _OpenTicket:
    id: int
    event_type: str
    lat: float
    lon: float
    last_observed_at: datetime
    assignee_id: str | None


def metres_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Equirectangular distance: exact enough at the metres-to-kilometres scale."""
    mean_lat = math.radians((lat1 + lat2) / 2)
    dx = math.radians(lon2 - lon1) * math.cos(mean_lat)
    dy = math.radians(lat2 - lat1)
    return 6_371_000.0 * math.hypot(dx, dy)


def _insert_ignoring_duplicates(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise RuntimeError(f"unsupported database dialect {conn.dialect.name}")


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
        for inbound in messages:
            reason, event = self._validate(inbound)
            if event is None:
                result.deadletters.append(_deadletter(inbound, reason, now))
                continue
            payload = event.model_dump(mode="json", by_alias=True, exclude_none=True)
            snapshot = payload.get("media", {}).get("snapshot")
            if snapshot and "bytes_b64" in snapshot:
                snapshot.pop("bytes_b64")
            parsed.append(_Parsed(event, payload, inbound.received_at or now))
        return parsed

    def _validate(self, inbound: InboundMessage) -> tuple[str, EventMessage | None]:
        topic_node = _topic_node(inbound.topic, self.prefix)
        if topic_node is None:
            return f"not an event topic: {inbound.topic}", None
        try:
            event = EventMessage.model_validate_json(inbound.payload)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}"
                for e in exc.errors()[:5]
            )
            return f"invalid gw.event/1 message: {problems}", None
        if event.node_id != topic_node:
            return (
                f"node_id {event.node_id!r} does not match the topic's node "
                f"{topic_node!r}"
            ), None
        if self.context.matters.for_event_type(event.type.value) is None:
            return f"no matter list entry for event type {event.type.value!r}", None
        return "", event

    # -- the batch -------------------------------------------------------------------

    def process(self, messages: Sequence[InboundMessage]) -> BatchResult:
        """Store a batch in one transaction; raises if the database fails (retry)."""
        now = self.context.clock.now()
        result = BatchResult()
        parsed = self._parse(messages, now, result)
        # Keep the first copy of a message repeated inside the batch.
        unique: dict[str, _Parsed] = {}
        for item in parsed:
            if item.message.dedupe_key in unique:
                result.duplicates += 1
            else:
                unique[item.message.dedupe_key] = item
        if not unique:
            return result
        with self.context.engine.begin() as conn:
            fresh = self._store_messages(conn, list(unique.values()))
            result.duplicates += len(unique) - len(fresh)
            result.accepted = len(fresh)
            if fresh:
                self._apply(conn, fresh, now, result)
        if self.media is not None:
            self._store_snapshots(list(unique.values()), now)
        return result

    def _store_messages(self, conn: Connection, items: list[_Parsed]) -> list[_Parsed]:
        rows = [
            {
                "dedupe_key": p.message.dedupe_key,
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
        return [p for p in items if p.message.dedupe_key in stored]

    def _apply(
        self, conn: Connection, fresh: list[_Parsed], now: datetime, result: BatchResult
    ) -> None:
        by_event: dict[str, list[_Parsed]] = defaultdict(list)
        for item in fresh:
            by_event[item.message.event_id].append(item)
        events_table = table_of(Event)
        first_of = {eid: items[0] for eid, items in by_event.items()}
        new_rows = [
            self._event_row(first_of[eid], items) for eid, items in by_event.items()
        ]
        created = set(
            insert_returning(
                conn, events_table, new_rows, "event_id", ignore_conflicts=True
            )
        )
        existing = [eid for eid in by_event if eid not in created]
        if existing:
            self._observe_existing(conn, {e: by_event[e] for e in existing}, result)
        if created:
            self._open_tickets(
                conn,
                [first_of[e] for e in by_event if e in created],
                {e: by_event[e] for e in created},
                now,
                result,
            )

    @staticmethod
    def _event_row(first: _Parsed, items: list[_Parsed]) -> dict[str, Any]:
        m = first.message
        last = max(items, key=lambda p: p.message.detected_at).message
        ended = next((p.message.ended_at for p in items if p.message.ended_at), None)
        snapshot = m.media.snapshot
        clip = m.media.clip
        return {
            "event_id": m.event_id,
            "type": m.type.value,
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
            "grid_code": None,
            "zone_id": m.zone_id,
            "image_box": list(m.image_box) if m.image_box else None,
            "attributes": m.attributes,
            "model_name": m.model.name,
            "model_version": m.model.version,
            "snapshot_sha256": snapshot.sha256 if snapshot else None,
            "clip_sha256": clip.sha256 if clip else None,
            "observations": len(items),
            "ticket_id": None,
        }

    def _observe_existing(
        self, conn: Connection, by_event: dict[str, list[_Parsed]], result: BatchResult
    ) -> None:
        """More messages of events already stored: count them on event and ticket."""
        rows = conn.execute(
            select(Event.event_id, Event.ticket_id, Event.detected_at).where(
                Event.event_id.in_(list(by_event))
            )
        ).all()
        event_updates = []
        ticket_updates: dict[int, dict[str, Any]] = {}
        for event_id, ticket_id, detected_at in rows:
            items = by_event[event_id]
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
        from sqlalchemy import case, func

        t = table_of(Event)
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
        firsts: list[_Parsed],
        by_event: dict[str, list[_Parsed]],
        now: datetime,
        result: BatchResult,
    ) -> None:
        ctx = self.context
        grids: list[str | None]
        if ctx.grid_index is not None:
            matches = ctx.grid_index.lookup_many(
                [p.message.location.lat for p in firsts],
                [p.message.location.lon for p in firsts],
            )
            grids = [m.code if m else None for m in matches]
        else:
            grids = [None] * len(firsts)
        candidates = self._merge_candidates(conn, firsts, grids, now)
        worker_ids = {
            w.id for g in set(grids) if g for w in ctx.directory.candidates(g)
        }
        counts = open_ticket_counts_conn(conn, worker_ids)

        new_tickets: list[dict[str, Any]] = []
        new_ticket_events: list[list[str]] = []
        merges: dict[int, dict[str, Any]] = {}
        event_links: list[dict[str, Any]] = []  # (event_id → grid, ticket index or id)
        for item, grid in zip(firsts, grids, strict=True):
            m = item.message
            matter = ctx.matters.for_event_type(m.type.value)
            assert matter is not None  # validated in _parse
            observed = max(p.message.detected_at for p in by_event[m.event_id])
            target = self._find_merge(candidates, matter, item, grid, observed)
            if target is not None:
                entry = merges.setdefault(
                    target.id, {"b_id": target.id, "b_count": 0, "b_seen": observed}
                )
                entry["b_count"] += len(by_event[m.event_id])
                entry["b_seen"] = max(entry["b_seen"], observed)
                target.last_observed_at = max(target.last_observed_at, observed)
                event_links.append(
                    {"b_event_id": m.event_id, "b_grid": grid, "b_ticket": target.id}
                )
                result.merged += 1
                continue
            row = self._ticket_row(matter, item, grid, now, observed)
            row["observations"] = len(by_event[m.event_id])
            if row["state"] == TicketState.DISPATCHED.value:
                assert grid is not None
                chosen = choose_worker(ctx.directory, grid, now, counts)
                if chosen is None:
                    row["state"] = TicketState.PENDING_REVIEW.value
                    row["review_reason"] = "no_worker"
                else:
                    counts[chosen] = counts.get(chosen, 0) + 1
                    row["assignee_id"] = chosen
                    row["dispatched_at"] = now
                    row["due_at"] = now + timedelta(minutes=matter.time_limit_min)
            new_tickets.append(row)
            new_ticket_events.append([m.event_id])
            candidates[(m.type.value, grid)].append(
                _OpenTicket(
                    -len(new_tickets),
                    m.type.value,
                    m.location.lat,
                    m.location.lon,
                    observed,
                    row.get("assignee_id"),
                )
            )
            event_links.append(
                {
                    "b_event_id": m.event_id,
                    "b_grid": grid,
                    "b_ticket": -len(new_tickets),
                }
            )

        ids: list[int] = []
        if new_tickets:
            ids = insert_returning(conn, table_of(Ticket), new_tickets, "id")
            self._history_for_new(conn, new_tickets, ids, now)
        for link in event_links:
            if link["b_ticket"] < 0:
                link["b_ticket"] = ids[-link["b_ticket"] - 1]
        ev = table_of(Event)
        conn.execute(
            update(ev)
            .where(ev.c.event_id == bindparam("b_event_id"))
            .values(grid_code=bindparam("b_grid"), ticket_id=bindparam("b_ticket")),
            event_links,
        )
        self._touch_tickets(conn, list(merges.values()))

        result.tickets_created += len(new_tickets)
        for row, ticket_id, event_ids in zip(
            new_tickets, ids, new_ticket_events, strict=True
        ):
            if row["state"] == TicketState.PENDING_REVIEW.value:
                result.pending_review += 1
            recipients = [row["assignee_id"]] if row.get("assignee_id") else []
            result.notices.append((_notice(ticket_id, row, event_ids), recipients))

    def _merge_candidates(
        self,
        conn: Connection,
        firsts: list[_Parsed],
        grids: list[str | None],
        now: datetime,
    ) -> dict[tuple[str, str | None], list[_OpenTicket]]:
        """Open tickets that new events may join, by (event type, grid)."""
        ctx = self.context
        types = {p.message.type.value for p in firsts}
        windows = [
            ctx.matters.merge_policy(m).window_min
            for t in types
            if (m := ctx.matters.for_event_type(t)) is not None
        ]
        cutoff = now - timedelta(minutes=max(windows, default=0))
        known_grids = sorted({g for g in grids if g})
        found: dict[tuple[str, str | None], list[_OpenTicket]] = defaultdict(list)
        if not known_grids:
            return found
        t = table_of(Ticket)
        rows = conn.execute(
            select(
                t.c.id,
                t.c.event_type,
                t.c.grid_code,
                t.c.lat,
                t.c.lon,
                t.c.last_observed_at,
                t.c.assignee_id,
            ).where(
                t.c.state.in_([s.value for s in OPEN_STATES]),
                t.c.event_type.in_(sorted(types)),
                t.c.grid_code.in_(known_grids),
                t.c.last_observed_at >= cutoff,
                t.c.lat.is_not(None),
            )
        )
        for row in rows:
            found[(row.event_type, row.grid_code)].append(
                _OpenTicket(
                    row.id,
                    row.event_type,
                    row.lat,
                    row.lon,
                    row.last_observed_at,
                    row.assignee_id,
                )
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
        if grid is None:
            return None
        policy = self.context.matters.merge_policy(matter)
        m = item.message
        window = timedelta(minutes=policy.window_min)
        best: tuple[float, _OpenTicket] | None = None
        # Same grid only: a case belongs to one grid (and its worker).
        for ticket in candidates.get((m.type.value, grid), []):
            if abs(observed - ticket.last_observed_at) > window:
                continue
            distance = metres_between(
                m.location.lat, m.location.lon, ticket.lat, ticket.lon
            )
            if distance <= policy.distance_m and (best is None or distance < best[0]):
                best = (distance, ticket)
        return best[1] if best else None

    def _ticket_row(
        self,
        matter: Matter,
        item: _Parsed,
        grid: str | None,
        now: datetime,
        observed: datetime,
    ) -> dict[str, Any]:
        m = item.message
        ctx = self.context
        if grid is None:
            state, reason = TicketState.PENDING_REVIEW, "unassigned_grid"
        elif matter.review.needs_review(m.confidence):
            state, reason = TicketState.PENDING_REVIEW, "review_policy"
        else:
            state, reason = TicketState.DISPATCHED, None
        title = EVENT_TITLES.get(m.type.value, m.type.value)
        return {
            "source": "ai",
            "event_type": m.type.value,
            "matter_key": matter.key,
            "matter_version": ctx.matters.version,
            "category_code": matter.category.code,
            "category_name": matter.category.name,
            "department_code": ctx.departments.get(matter.department),
            "priority": matter.priority.value,
            "state": state.value,
            "review_reason": reason,
            "title": f"{title} ({m.camera_id})",
            "description": _describe(m),
            "grid_code": grid,
            "lat": m.location.lat,
            "lon": m.location.lon,
            "confidence": m.confidence,
            "node_id": m.node_id,
            "camera_id": m.camera_id,
            "snapshot_sha256": m.media.snapshot.sha256 if m.media.snapshot else None,
            "assignee_id": None,
            "escalation_level": 0,
            "overdue": False,
            "time_limit_min": matter.time_limit_min,
            "observations": 1,
            "rework_count": 0,
            "found_at": m.started_at,
            "created_at": now,
            "dispatched_at": None,
            "due_at": None,
            "last_observed_at": observed,
            "version": 1,
        }

    @staticmethod
    def _history_for_new(
        conn: Connection, rows: list[dict[str, Any]], ids: list[int], now: datetime
    ) -> None:
        history = []
        for row, ticket_id in zip(rows, ids, strict=True):
            dispatched = row["state"] == TicketState.DISPATCHED.value
            history.append(
                {
                    "ticket_id": ticket_id,
                    "at": now,
                    "actor": "system",
                    "action": TicketAction.CREATE.value,
                    "from_state": None,
                    "to_state": TicketState.PENDING_REVIEW.value
                    if dispatched
                    else row["state"],
                    "note": f"AI event from {row['node_id']}/{row['camera_id']}"
                    + (
                        "" if dispatched else f"; awaits review: {row['review_reason']}"
                    ),
                    "assignee_id": None,
                    "escalation_level": 0,
                }
            )
            if dispatched:
                history.append(
                    {
                        "ticket_id": ticket_id,
                        "at": now,
                        "actor": "system",
                        "action": TicketAction.DISPATCH.value,
                        "from_state": TicketState.PENDING_REVIEW.value,
                        "to_state": TicketState.DISPATCHED.value,
                        "note": f"to {row['assignee_id']}",
                        "assignee_id": row["assignee_id"],
                        "escalation_level": 0,
                    }
                )
        conn.execute(insert(table_of(TicketHistory)), history)

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
                conn.execute(
                    _insert_ignoring_duplicates(conn, table_of(MediaObject)), rows
                )


def open_ticket_counts_conn(conn: Connection, worker_ids: set[str]) -> dict[str, int]:
    from sqlalchemy.orm import Session

    with Session(bind=conn) as session:
        return open_ticket_counts(session, worker_ids)


def _topic_node(topic: str, prefix: str) -> str | None:
    if not topic.startswith(prefix) or not topic.endswith("/events"):
        return None
    node = topic[len(prefix) : -len("/events")]
    return node if node and "/" not in node else None


def _describe(m: EventMessage) -> str:
    parts = [f"{m.type.value} seen by camera {m.camera_id} on {m.node_id}"]
    if m.zone_id:
        parts.append(f"zone {m.zone_id}")
    for key in ("count", "threshold", "dwell_s", "label"):
        if key in m.attributes:
            parts.append(f"{key} {m.attributes[key]}")
    parts.append(f"confidence {m.confidence:.2f}")
    return ", ".join(parts)


def _notice(ticket_id: int, row: dict[str, Any], event_ids: list[str]) -> TicketNotice:
    return TicketNotice(
        ticket_id=ticket_id,
        action="dispatched" if row.get("assignee_id") else "pending_review",
        state=row["state"],
        title=row["title"],
        category_code=row["category_code"],
        category_name=row["category_name"],
        priority=row["priority"],
        grid_code=row["grid_code"],
        lat=row["lat"],
        lon=row["lon"],
        assignee_id=row.get("assignee_id"),
        due_at=row.get("due_at"),
        found_at=row["found_at"],
        event_ids=event_ids,
    )


def _deadletter(
    inbound: InboundMessage, reason: str, now: datetime
) -> DeadLetterMessage:
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

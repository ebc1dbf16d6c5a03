"""Retention: delete each class of data once it is older than its setting.

Run by the scheduler every `retention.interval_h` (`RetentionJob.run_if_due`):

- event snapshots and clips (`event_media_days`) and workers' resolution photos
  (`resolution_photo_days`): the file is deleted, its `media` row stays, marked
  `expired_at`, so the API answers 410 "expired" and a ticket page still opens.
  Media of a ticket that is still open is kept until the ticket ends;
- raw event messages (`event_messages_days`): `event_messages` rows, the dedupe
  record of each accepted message;
- reporters' contact data (`citizen_contact_days`): `tickets.reporter` and
  `citizen_reports.contact` erased once the ticket has been closed or rejected
  that long;
- ticket actions' idempotency keys (`action_key_days`): `ticket_action_keys`
  rows, each the outcome a worker's phone gets back when it sends an action again;
- audit rows (`audit_days`, unset by default: kept for ever): `purge_audit`, the
  one path past the append-only triggers, in a single transaction that also
  writes an `audit_purged` row.

Dead letters are not stored by central (they are published to the dead-letter
topic and counted), so they have no setting.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, select, text, union, update
from sqlalchemy.orm import Session

from central.auth.audit import SYSTEM, AuditAction, record
from central.config import RetentionSettings
from central.context import CentralContext
from central.db.models import (
    AuditEntry,
    CitizenReport,
    Event,
    EventMessageRow,
    MediaObject,
    Ticket,
    TicketActionKey,
    table_of,
)
from central.media import MediaStore
from central.tickets.states import OPEN_STATES, TicketState

log = logging.getLogger(__name__)

BATCH = 500
EVENT_MEDIA_KINDS = ("snapshot", "clip")
PHOTO_KINDS = ("photo",)
ENDED_STATES = (TicketState.CLOSED.value, TicketState.REJECTED.value)

# The append-only protection of migration 0003, as `purge_audit` restores it.
_AUDIT_MESSAGE = "audit_log is append-only"
_SQLITE_TRIGGERS = {
    f"audit_log_no_{verb.lower()}": (
        f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
        f"BEGIN SELECT RAISE(ABORT, '{_AUDIT_MESSAGE}'); END"
    )
    for verb in ("UPDATE", "DELETE")
}
_POSTGRESQL_ROW_TRIGGER = "audit_log_no_update_or_delete"


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What one run removed."""

    media_expired: int = 0
    event_messages_deleted: int = 0
    reporters_erased: int = 0
    audit_rows_purged: int = 0
    action_keys_deleted: int = 0


def _open_ticket_media() -> Any:
    """SQL: the media ids open tickets show (their own, or their events').

    A set computed once per query (open tickets are few; `events.ticket_id` and
    `tickets.state` are indexed) rather than a lookup per media row, which would
    scan the unindexed media columns of `events` for each one."""
    is_open = Ticket.state.in_([state.value for state in OPEN_STATES])
    columns = (
        (Ticket.snapshot_sha256, None),
        (Ticket.resolution_photo_sha256, None),
        (Event.snapshot_sha256, Event.ticket_id == Ticket.id),
        (Event.clip_sha256, Event.ticket_id == Ticket.id),
    )
    selects = []
    for column, join in columns:
        query = select(column).where(is_open, column.is_not(None))
        selects.append(query.where(join) if join is not None else query)
    return union(*selects)


def expire_media(
    session: Session,
    media: MediaStore,
    *,
    kinds: tuple[str, ...],
    before: datetime,
    now: datetime,
) -> int:
    """Delete the files of `kinds` stored before `before` (none an open ticket
    shows) and mark their rows expired; commits per batch. Returns how many.

    The file goes first: a crash in between leaves a row that the next run
    marks (the file is already gone), never a row marked with its file kept."""
    done = 0
    while True:
        batch = list(
            session.scalars(
                select(MediaObject.sha256)
                .where(
                    MediaObject.kind.in_(kinds),
                    MediaObject.created_at < before,
                    MediaObject.expired_at.is_(None),
                    MediaObject.sha256.not_in(_open_ticket_media()),
                )
                .limit(BATCH)
            )
        )
        if not batch:
            return done
        for sha256 in batch:
            path = media.path_for(sha256)
            if path is not None:
                path.unlink(missing_ok=True)
        session.execute(
            update(MediaObject)
            .where(MediaObject.sha256.in_(batch))
            .values(expired_at=now)
        )
        session.commit()
        done += len(batch)


def delete_event_messages(session: Session, *, before: datetime) -> int:
    """Delete stored event messages received before `before`; commits per batch."""
    done = 0
    while True:
        keys = list(
            session.scalars(
                select(EventMessageRow.dedupe_key)
                .where(EventMessageRow.received_at < before)
                .limit(BATCH * 10)
            )
        )
        if not keys:
            return done
        session.execute(
            delete(EventMessageRow).where(EventMessageRow.dedupe_key.in_(keys))
        )
        session.commit()
        done += len(keys)


def delete_action_keys(session: Session, *, before: datetime) -> int:
    """Delete ticket actions' idempotency keys made before `before` (committed)."""
    result = session.execute(
        delete(TicketActionKey)
        .where(TicketActionKey.created_at < before)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def erase_reporters(session: Session, *, ended_before: datetime) -> int:
    """Erase the reporter of tickets closed or rejected before `ended_before`
    (committed). The version goes up, as for any change of the ticket."""
    ended_at = func.coalesce(Ticket.closed_at, Ticket.rejected_at)
    result = session.execute(
        update(Ticket)
        .where(
            Ticket.reporter.is_not(None),
            Ticket.state.in_(ENDED_STATES),
            ended_at < ended_before,
        )
        .values(reporter=None, version=Ticket.version + 1)
        .execution_options(synchronize_session=False)
    )
    # Citizens' and Open311 reporters' contacts (`citizen_reports.contact`).
    contacts = session.execute(
        update(CitizenReport)
        .where(
            CitizenReport.contact.is_not(None),
            CitizenReport.ticket_id.in_(
                select(Ticket.id).where(
                    Ticket.state.in_(ENDED_STATES), ended_at < ended_before
                )
            ),
        )
        .values(contact=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0) + int(
        getattr(contacts, "rowcount", 0) or 0
    )


def purge_audit(session: Session, *, before: datetime, by: str) -> int:
    """Delete audit rows older than `before`: the one path past the append-only
    triggers, deliberately narrow.

    In one transaction: write the `audit_purged` row (who, the cut-off, how
    many), lift the protection, delete, restore the protection, commit. On
    PostgreSQL the row trigger is disabled with `ALTER TABLE` (the table's owner
    only; it also locks the table, so nothing else writes meanwhile) and enabled
    again before the commit; on SQLite the triggers are dropped and recreated.
    Any failure rolls all of it back, protection included.

    Raises:
        NotImplementedError: a database other than SQLite or PostgreSQL.
    """
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"no audit purge for {dialect}")
    count = session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.at < before)
    )
    # Written first: on SQLite the first write opens the transaction, so that
    # the DDL below is part of it (pysqlite starts none for DDL).
    record(
        session,
        by,
        AuditAction.AUDIT_PURGED,
        "audit_log",
        detail={"before": before.isoformat(), "rows": int(count or 0)},
    )
    _lift_protection(connection, dialect)
    connection.execute(
        table_of(AuditEntry).delete().where(table_of(AuditEntry).c.at < before)
    )
    _restore_protection(connection, dialect)
    session.commit()
    log.warning(
        "audit rows before %s purged by %s: %d", before.isoformat(), by, count or 0
    )
    return int(count or 0)


def _lift_protection(connection: Connection, dialect: str) -> None:
    if dialect == "postgresql":
        connection.execute(
            text(f"ALTER TABLE audit_log DISABLE TRIGGER {_POSTGRESQL_ROW_TRIGGER}")
        )
        return
    for name in _SQLITE_TRIGGERS:
        connection.execute(text(f"DROP TRIGGER {name}"))


def _restore_protection(connection: Connection, dialect: str) -> None:
    if dialect == "postgresql":
        connection.execute(
            text(f"ALTER TABLE audit_log ENABLE TRIGGER {_POSTGRESQL_ROW_TRIGGER}")
        )
        return
    for statement in _SQLITE_TRIGGERS.values():
        connection.execute(text(statement))


def apply_retention(
    context: CentralContext, media: MediaStore, settings: RetentionSettings
) -> RetentionReport:
    """One retention run over every data class that has a setting."""
    now = context.clock.now()

    def cutoff(days: int) -> datetime:
        return now - timedelta(days=days)

    media_expired = messages = reporters = audit = action_keys = 0
    with context.sessions() as session:
        for days, kinds in (
            (settings.event_media_days, EVENT_MEDIA_KINDS),
            (settings.resolution_photo_days, PHOTO_KINDS),
        ):
            if days is not None:
                media_expired += expire_media(
                    session, media, kinds=kinds, before=cutoff(days), now=now
                )
        if settings.event_messages_days is not None:
            messages = delete_event_messages(
                session, before=cutoff(settings.event_messages_days)
            )
        if settings.citizen_contact_days is not None:
            reporters = erase_reporters(
                session, ended_before=cutoff(settings.citizen_contact_days)
            )
        if settings.action_key_days is not None:
            action_keys = delete_action_keys(
                session, before=cutoff(settings.action_key_days)
            )
        if settings.audit_days is not None:
            audit = purge_audit(session, before=cutoff(settings.audit_days), by=SYSTEM)
    report = RetentionReport(media_expired, messages, reporters, audit, action_keys)
    if report != RetentionReport():
        log.info("retention: %s", report)
    return report


class RetentionJob:
    """Runs `apply_retention` at most every `retention.interval_h` (the
    scheduler calls `run_if_due` on each of its rounds)."""

    def __init__(self, context: CentralContext, media: MediaStore | None = None):
        self.context = context
        self.media = media or MediaStore(context.settings.media.dir)
        self._next_run: datetime | None = None
        self._lock = threading.Lock()

    def run_if_due(self) -> RetentionReport | None:
        settings = self.context.settings.retention
        now = self.context.clock.now()
        with self._lock:
            if self._next_run is not None and now < self._next_run:
                return None
            self._next_run = now + timedelta(hours=settings.interval_h)
        return apply_retention(self.context, self.media, settings)

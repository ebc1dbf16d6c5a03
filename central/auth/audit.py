"""The audit log: who did what to whom, and from where (`audit_log`).

`record` adds one row in the caller's session and only flushes: the caller
commits, so that a row is kept exactly when the change it records is (a failed
login commits its row on its own). The table is append-only in the database
itself: migration 0003 makes it refuse UPDATE and DELETE, raw SQL included;
the one way past that is `central.retention.purge_audit` (only when
`retention.audit_days` is set), which audits itself.

Actors are usernames, `cli:<os user>` for the command line, `system`, or
`anonymous` (a failed login: the username tried is the target, not the actor).
"""

from __future__ import annotations

import getpass
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from central.db.models import AuditEntry, MetaValue

SYSTEM = "system"
ANONYMOUS = "anonymous"

ACTOR_MAX = 100
ACTION_MAX = 40
TARGET_MAX = 200
ADDRESS_MAX = 64


class AuditAction(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGIN_LOCKED = "login_locked"  # a login refused (429) during a lockout
    TOKEN_ISSUED = "token_issued"
    TOKEN_REVOKED = "token_revoked"
    USER_CREATED = "user_created"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_CHANGE_FAILED = "password_change_failed"
    PASSWORD_RESET = "password_reset"
    MEDIA_DOWNLOADED = "media_downloaded"
    BROKER_LOGIN_ADDED = "broker_login_added"
    BROKER_LOGIN_ROTATED = "broker_login_rotated"
    BROKER_LOGIN_REVOKED = "broker_login_revoked"
    GRIDS_IMPORTED = "grids_imported"
    CITY_IMPORTED = "city_imported"
    CONFIG_CHANGED = "config_changed"
    AUDIT_PURGED = "audit_purged"
    WARNING_ACKNOWLEDGED = "warning_acknowledged"  # a hotspot warning
    TICKET_SPLIT = "ticket_split"  # a wrongly merged report split off its ticket
    WORKER_CREATED = "worker_created"
    WORKER_UPDATED = "worker_updated"  # name, phone, role, department, grids, active
    WORKER_DUTY_SET = "worker_duty_set"  # a worker's duty roster replaced
    MATTER_LIST_APPLIED = "matter_list_applied"  # a new matter list version


def record(
    session: Session,
    actor: str,
    action: AuditAction | str,
    target: str | None,
    address: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add one audit row (flushed, not committed) and return it.

    Texts longer than their column are cut (a failed login's username is
    whatever the client sent). `detail` must be JSON-serialisable.
    """
    entry = AuditEntry(
        at=datetime.now(UTC),
        actor=actor[:ACTOR_MAX],
        action=str(action)[:ACTION_MAX],
        target=target[:TARGET_MAX] if target is not None else None,
        address=address[:ADDRESS_MAX] if address is not None else None,
        detail=dict(detail or {}),
    )
    session.add(entry)
    session.flush()
    return entry


def record_config(
    session: Session,
    key: str,
    value: Mapping[str, Any],
    *,
    by: str = SYSTEM,
) -> AuditEntry | None:
    """Audit a piece of configuration (`config_changed`, target `key`) when it
    differs from the one recorded last (its digest is kept in `meta` as
    `config:<key>`); None when unchanged. Flushed, not committed.

    `value` must be JSON-serialisable and hold no secret: it is stored in the
    audit row as the new value.
    """
    canonical = json.dumps(value, sort_keys=True, default=str)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    meta_key = f"config:{key}"
    stored = session.get(MetaValue, meta_key)
    previous = stored.value if stored is not None else None
    if previous == digest:
        return None
    if stored is None:
        session.add(MetaValue(key=meta_key, value=digest))
    else:
        stored.value = digest
    return record(
        session,
        by,
        AuditAction.CONFIG_CHANGED,
        key,
        detail={
            "value": json.loads(canonical),
            "digest": digest,
            "previous_digest": previous,
        },
    )


def file_sha256(path: Path) -> str | None:
    """SHA-256 of an imported file, for its audit row (None when unreadable)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def cli_actor() -> str:
    """`cli:<os user>`: who a command-line change is attributed to."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in the environment nor passwd
        return "cli:unknown"

"""The audit log: who did what to whom, and from where (`audit_log`).

`record` adds one row in the caller's session and only flushes: the caller
commits, so that a row is kept exactly when the change it records is (a failed
login commits its row on its own). The table is append-only in the database
itself: migration 0003 makes it refuse UPDATE and DELETE, raw SQL included.

Actors are usernames, `cli:<os user>` for the command line, `system`, or
`anonymous` (a failed login: the username tried is the target, not the actor).
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from central.db.models import AuditEntry

SYSTEM = "system"
ANONYMOUS = "anonymous"

ACTOR_MAX = 100
ACTION_MAX = 40
TARGET_MAX = 200
ADDRESS_MAX = 64


class AuditAction(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
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


def cli_actor() -> str:
    """`cli:<os user>`: who a command-line change is attributed to."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in the environment nor passwd
        return "cli:unknown"

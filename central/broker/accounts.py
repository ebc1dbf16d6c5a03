"""Central as the authority over broker logins: provision, rotate and revoke them in
the database, and write the broker's password and ACL files from it.

The broker (Mosquitto) reads those two files; after a change central rewrites them
and signals the broker to reload (SIGHUP), so nothing restarts and no connected
client other than the revoked one notices.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.broker.acl import BrokerIdentity, BrokerRole, render_acl, render_passwords
from central.broker.passwords import mosquitto_hash, new_secret
from central.db.models import BrokerAccount
from gridwatch.secrets import write_private

PASSWORD_FILE = "passwd"
ACL_FILE = "acl"


class BrokerAccountError(ValueError):
    """An account that cannot be made, rotated or revoked as asked."""


@dataclass(frozen=True, slots=True)
class IssuedSecret:
    """A password shown once: central keeps only its hash."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"IssuedSecret(username={self.username!r})"


def provision(
    session: Session, identity: BrokerIdentity, now: datetime
) -> IssuedSecret:
    """Create a login (or bring a revoked one back with a new password).

    Raises:
        BrokerAccountError: an active login of that name exists.
    """
    account = session.get(BrokerAccount, identity.username)
    if account is not None and account.revoked_at is None:
        raise BrokerAccountError(
            f"broker login {identity.username!r} exists; rotate or revoke it"
        )
    password = new_secret()
    if account is None:
        account = BrokerAccount(username=identity.username, created_at=now)
        session.add(account)
    account.role = identity.role.value
    account.subject = identity.subject
    account.password_hash = mosquitto_hash(password)
    account.revoked_at = None
    account.rotated_at = None
    return IssuedSecret(identity.username, password)


def rotate(session: Session, username: str, now: datetime) -> IssuedSecret:
    """A new password for an active login; the old one stops working.

    Raises:
        BrokerAccountError: no active login of that name.
    """
    account = _active(session, username)
    password = new_secret()
    account.password_hash = mosquitto_hash(password)
    account.rotated_at = now
    return IssuedSecret(username, password)


def revoke(session: Session, username: str, now: datetime) -> None:
    """Take a login away (kept, marked revoked, left out of the broker's files).

    Raises:
        BrokerAccountError: no active login of that name.
    """
    _active(session, username).revoked_at = now


def active_accounts(session: Session) -> list[tuple[BrokerIdentity, str]]:
    """Every active login with its password hash, by username."""
    rows = session.scalars(
        select(BrokerAccount)
        .where(BrokerAccount.revoked_at.is_(None))
        .order_by(BrokerAccount.username)
    )
    return [
        (
            BrokerIdentity(row.username, BrokerRole(row.role), row.subject),
            row.password_hash,
        )
        for row in rows
    ]


def write_broker_files(
    session: Session, folder: Path, prefix: str
) -> tuple[Path, Path]:
    """Write `passwd` and `acl` for the broker into `folder` (owner-only, atomic).

    Returns:
        The password file and the ACL file.
    """
    accounts = active_accounts(session)
    folder.mkdir(parents=True, exist_ok=True)
    passwords = folder / PASSWORD_FILE
    acl = folder / ACL_FILE
    write_private(passwords, render_passwords((i.username, h) for i, h in accounts))
    write_private(acl, render_acl((i for i, _ in accounts), prefix))
    return passwords, acl


def reload_broker(pid_file: Path) -> int:
    """Send SIGHUP to the broker named by its pid file; returns the pid.

    Raises:
        BrokerAccountError: the pid file is missing or names no running process.
    """
    try:
        pid = int(pid_file.read_text(encoding="utf-8").strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as error:
        raise BrokerAccountError(
            f"cannot signal the broker of {pid_file}: {error}"
        ) from None
    return pid


def is_active(session: Session, username: str) -> bool:
    """Whether `username` is a login the broker accepts now."""
    account = session.get(BrokerAccount, username)
    return account is not None and account.revoked_at is None


def _active(session: Session, username: str) -> BrokerAccount:
    account = session.get(BrokerAccount, username)
    if account is None or account.revoked_at is not None:
        raise BrokerAccountError(f"no active broker login {username!r}")
    return account

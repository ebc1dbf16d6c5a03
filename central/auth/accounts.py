"""Account lifecycle: disable and enable users, change and reset passwords, list
and revoke a user's tokens.

Every change names who made it (`by`: an admin's username, or `cli:<os user>`)
and is logged and written to the audit log (`central.auth.audit`, with the
client's `address` where there is one) with that name, so that no admin acts
unseen. Like
`central.auth.users`, these functions only flush; the caller commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from central.auth.audit import AuditAction, record
from central.auth.passwords import hash_password, verify_password
from central.auth.tokens import token_id
from central.db.models import ApiToken, User, UserRole

log = logging.getLogger(__name__)


class AccountError(ValueError):
    """The account change cannot be made as asked; the message says why."""


class UnknownUser(AccountError):
    """No user has this username."""


class UnknownToken(AccountError):
    """The user has no token with this id."""


class WrongPassword(AccountError):
    """The old password given for a password change is wrong."""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A stored token as lists show it: never the token or its digest."""

    id: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    is_current: bool


def find_user(session: Session, username: str) -> User:
    """The user with this username.

    Raises:
        UnknownUser: there is none.
    """
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UnknownUser(f"no user {username!r}")
    return user


def set_active(
    session: Session,
    user: User,
    *,
    active: bool,
    by: str,
    address: str | None = None,
) -> int:
    """Enable or disable `user` (flushed); the number of tokens revoked.

    Disabling revokes every token of the user, so that enabling it again does
    not bring back tokens that may have leaked meanwhile; a disabled user's
    requests and streams are refused at once either way (`central.api.deps`).

    Raises:
        AccountError: `by` disables themselves, or the last active admin.
    """
    revoked = 0
    if not active:
        if user.username == by:
            raise AccountError(f"{by} may not disable their own account")
        if (
            user.role == UserRole.ADMIN.value
            and _other_active_admins(session, user) == 0
        ):
            raise AccountError(f"{user.username!r} is the last active admin")
        revoked = revoke_all_tokens(session, user)
    user.active = active
    session.flush()
    record(
        session,
        by,
        AuditAction.USER_ENABLED if active else AuditAction.USER_DISABLED,
        user.username,
        address,
        {"tokens_revoked": revoked},
    )
    log.info(
        "user %s %s by %s (%d tokens revoked)",
        user.username,
        "enabled" if active else "disabled",
        by,
        revoked,
    )
    return revoked


def _other_active_admins(session: Session, user: User) -> int:
    return (
        session.scalar(
            select(func.count(User.id)).where(
                User.role == UserRole.ADMIN.value,
                User.active.is_(True),
                User.id != user.id,
            )
        )
        or 0
    )


def list_tokens(
    session: Session, user: User, *, current_digest: str | None = None
) -> list[TokenInfo]:
    """The user's tokens, newest first (expired ones too, until revoked);
    `is_current` marks the one whose digest is `current_digest`."""
    rows = session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user.id)
        .order_by(ApiToken.created_at.desc(), ApiToken.label)
    )
    return [
        TokenInfo(
            id=token_id(row.digest),
            label=row.label,
            created_at=row.created_at,
            expires_at=row.expires_at,
            is_current=row.digest == current_digest,
        )
        for row in rows
    ]


def revoke_token_by_id(
    session: Session,
    user: User,
    public_id: str,
    *,
    by: str,
    address: str | None = None,
) -> None:
    """Revoke the user's token with this public id (flushed).

    Raises:
        UnknownToken: the user has no such token.
    """
    digests = session.scalars(
        select(ApiToken.digest).where(ApiToken.user_id == user.id)
    )
    digest = next((d for d in digests if token_id(d) == public_id), None)
    if digest is None:
        raise UnknownToken(f"user {user.username!r} has no token {public_id!r}")
    session.execute(delete(ApiToken).where(ApiToken.digest == digest))
    session.flush()
    record(
        session,
        by,
        AuditAction.TOKEN_REVOKED,
        user.username,
        address,
        {"token_id": public_id},
    )
    log.info("token %s of user %s revoked by %s", public_id, user.username, by)


def revoke_all_tokens(
    session: Session, user: User, *, keep_digest: str | None = None
) -> int:
    """Revoke the user's tokens but the one with `keep_digest` (flushed); how many."""
    query = delete(ApiToken).where(ApiToken.user_id == user.id)
    if keep_digest is not None:
        query = query.where(ApiToken.digest != keep_digest)
    result = session.execute(query)
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


def change_password(
    session: Session,
    user: User,
    *,
    old_password: str,
    new_password: str,
    keep_digest: str | None,
    address: str | None = None,
) -> int:
    """The user's own password change (flushed); the number of their other
    tokens revoked (all but `keep_digest`, the one making the change).

    Raises:
        AccountError: the user has no password (an edge node).
        WrongPassword: `old_password` is wrong.
        WeakPasswordError: `new_password` breaks the strength rule.
    """
    if user.password_hash is None:
        raise AccountError(f"{user.username!r} has no password: it uses tokens only")
    if not verify_password(user.password_hash, old_password):
        raise WrongPassword("the old password is wrong")
    user.password_hash = hash_password(new_password)
    revoked = revoke_all_tokens(session, user, keep_digest=keep_digest)
    record(
        session,
        user.username,
        AuditAction.PASSWORD_CHANGED,
        user.username,
        address,
        {"tokens_revoked": revoked},
    )
    log.info(
        "user %s changed their password (%d other tokens revoked)",
        user.username,
        revoked,
    )
    return revoked


def reset_password(
    session: Session,
    user: User,
    *,
    new_password: str,
    by: str,
    address: str | None = None,
) -> int:
    """Set another user's password (flushed) and revoke all their tokens; how
    many were revoked.

    Raises:
        AccountError: `by` resets their own password (that needs the old one).
        WeakPasswordError: `new_password` breaks the strength rule.
    """
    if user.username == by:
        raise AccountError(
            f"{by} may not reset their own password: change it with the old one "
            "(POST /api/v1/me/password)"
        )
    user.password_hash = hash_password(new_password)
    revoked = revoke_all_tokens(session, user)
    record(
        session,
        by,
        AuditAction.PASSWORD_RESET,
        user.username,
        address,
        {"tokens_revoked": revoked},
    )
    log.info(
        "password of user %s reset by %s (%d tokens revoked)",
        user.username,
        by,
        revoked,
    )
    return revoked

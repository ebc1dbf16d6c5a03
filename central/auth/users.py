"""Users and their API tokens: create, log in, issue and revoke bearer tokens.

These functions work inside the caller's session and only flush; the caller
commits (the API per request, the CLI per command).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from central.auth.audit import SYSTEM, AuditAction, record
from central.auth.passwords import (
    WeakPasswordError,
    hash_password,
    needs_rehash,
    verify_password,
)
from central.auth.tokens import (
    DEFAULT_MAX_TOKEN_TTL_H,
    new_token,
    token_digest,
    token_id,
)
from central.db.models import ApiToken, User, UserRole, Worker

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")

# Verified against when the username is unknown, so that a login for a missing
# user takes as long as one with a wrong password (no user enumeration by timing).
_DUMMY_HASH: str | None = None


class UserError(ValueError):
    """A user cannot be created as asked; the message says why."""


class UserExists(UserError):
    """The username is taken."""


class TokenLifetimeError(ValueError):
    """A token's lifetime breaks the rule for its user (the message says which)."""


def create_user(
    session: Session,
    username: str,
    password: str | None,
    role: UserRole | str,
    *,
    worker_id: str | None = None,
    node_id: str | None = None,
    display_name: str = "",
    now: datetime | None = None,
    by: str = SYSTEM,
) -> User:
    """Add a user (flushed, not committed) and return it; audited as made by `by`.

    `password` None makes a user that cannot log in with a password and only
    uses tokens issued for it (edge nodes).

    Raises:
        UserExists: the username is taken.
        UserError: a bad username or role, a worker without `worker_id` (or an
            unknown one), an edge node without `node_id`.
        WeakPasswordError: the password breaks the strength rule.
    """
    if not USERNAME_PATTERN.fullmatch(username):
        raise UserError(
            f"invalid username {username!r}: 1-64 characters of letters, digits "
            "and . _ @ -, starting with a letter or digit"
        )
    try:
        user_role = UserRole(role)
    except ValueError:
        raise UserError(
            f"unknown role {role!r} (one of {', '.join(r.value for r in UserRole)})"
        ) from None
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserExists(f"user {username!r} already exists")
    if user_role is UserRole.WORKER:
        if not worker_id:
            raise UserError(f"user {username!r} has role worker: give its worker_id")
        if session.get(Worker, worker_id) is None:
            raise UserError(f"no worker {worker_id!r} for user {username!r}")
    elif worker_id is not None:
        raise UserError(
            f"only a worker user has a worker_id; {username!r} is {user_role.value}"
        )
    if user_role is UserRole.EDGE_NODE:
        if not node_id:
            raise UserError(f"user {username!r} has role edge_node: give its node_id")
    elif node_id is not None:
        raise UserError(
            f"only an edge_node user has a node_id; {username!r} is {user_role.value}"
        )
    user = User(
        username=username,
        password_hash=hash_password(password) if password is not None else None,
        role=user_role.value,
        worker_id=worker_id,
        node_id=node_id,
        display_name=display_name,
        active=True,
        created_at=now or datetime.now(UTC),
    )
    session.add(user)
    session.flush()
    record(session, by, AuditAction.USER_CREATED, username, detail={"role": user.role})
    return user


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("not-a-real-password")
    return _DUMMY_HASH


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, else None.

    A hash made with older parameters is replaced (flushed) on success.
    """
    user = session.scalar(select(User).where(User.username == username))
    if user is None or user.password_hash is None:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password) or not user.active:
        return None
    if needs_rehash(user.password_hash):
        try:
            user.password_hash = hash_password(password)
        except WeakPasswordError:
            pass  # set before today's rule; keep the old hash until it is changed
        else:
            session.flush()
    return user


def issue_token(
    session: Session,
    user: User,
    *,
    now: datetime,
    ttl: timedelta | None,
    label: str = "",
    max_person_ttl: timedelta = timedelta(hours=DEFAULT_MAX_TOKEN_TTL_H),
    by: str | None = None,
    address: str | None = None,
) -> str:
    """A new bearer token for `user` (only its digest is stored; flushed),
    audited as issued by `by` (default: the user) from `address`.

    Args:
        ttl: how long it works; None: never expires (edge nodes only), until
            revoked.
        max_person_ttl: the longest `ttl` for a person (every role but
            edge_node): `http.max_token_ttl_h`.

    Raises:
        TokenLifetimeError: `ttl` is not positive, or a person's token would
            never expire or outlive `max_person_ttl`.
        UserError: the user is disabled.
    """
    if ttl is not None and ttl <= timedelta(0):
        raise TokenLifetimeError(f"token lifetime must be positive, got {ttl}")
    if user.id is None:
        session.flush()
    if not user.active:
        raise UserError(f"user {user.username!r} is disabled: enable it first")
    if user.role != UserRole.EDGE_NODE.value:
        _check_person_ttl(user, ttl=ttl, max_ttl=max_person_ttl)
    token, digest = new_token()
    session.add(
        ApiToken(
            digest=digest,
            user_id=user.id,
            label=label[:100],
            created_at=now,
            expires_at=now + ttl if ttl is not None else None,
        )
    )
    session.flush()
    record(
        session,
        by or user.username,
        AuditAction.TOKEN_ISSUED,
        user.username,
        address,
        {
            "token_id": token_id(digest),
            "label": label[:100],
            "expires_at": (now + ttl).isoformat() if ttl is not None else None,
        },
    )
    return token


def _check_person_ttl(user: User, *, ttl: timedelta | None, max_ttl: timedelta) -> None:
    max_h = max_ttl / timedelta(hours=1)
    if ttl is None:
        raise TokenLifetimeError(
            f"a token for {user.username!r} ({user.role}) must expire: only edge "
            f"nodes may have tokens that never do (at most {max_h:g} h)"
        )
    if ttl > max_ttl:
        raise TokenLifetimeError(
            f"token lifetime {ttl / timedelta(hours=1):g} h for {user.username!r} "
            f"is over the maximum for a person, {max_h:g} h (http.max_token_ttl_h)"
        )


def revoke_token(session: Session, token: str, *, address: str | None = None) -> bool:
    """Forget the token (flushed; audited as revoked by its user); whether it
    existed."""
    digest = token_digest(token)
    username = session.scalar(
        select(User.username)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.digest == digest)
    )
    result = session.execute(delete(ApiToken).where(ApiToken.digest == digest))
    session.flush()
    revoked = bool(getattr(result, "rowcount", 0))
    if revoked and username is not None:
        record(
            session,
            username,
            AuditAction.TOKEN_REVOKED,
            username,
            address,
            {"token_id": token_id(digest), "how": "logout"},
        )
    return revoked

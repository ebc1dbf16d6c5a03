"""central.auth.users: creating users, logging in (with rehash), tokens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from central.auth.passwords import WeakPasswordError, verify_password
from central.auth.tokens import token_digest
from central.auth.users import (
    TokenLifetimeError,
    UserError,
    UserExists,
    authenticate,
    create_user,
    issue_token,
    revoke_token,
)
from central.config import CentralSettings, MediaSettings
from central.context import build_context
from central.db.models import ApiToken, User, UserRole, Worker
from tests.central.api.conftest import PASSWORD, START


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    context = build_context(
        CentralSettings(
            database_url=f"sqlite:///{tmp_path}/u.db",
            media=MediaSettings(dir=tmp_path / "media"),
        )
    )
    with context.sessions() as s:
        s.add(Worker(id="w1", name="Li Wei", role="full_time", duty=[]))
        s.flush()
        yield s
    context.engine.dispose()


def test_create_user_should_hash_the_password(session: Session) -> None:
    user = create_user(
        session, "op", PASSWORD, UserRole.OPERATOR, display_name="Op", now=START
    )
    assert user.id is not None
    assert user.role == "operator"
    assert user.password_hash is not None and PASSWORD not in user.password_hash
    assert verify_password(user.password_hash, PASSWORD)
    assert user.created_at == START


def test_create_user_should_refuse_bad_requests_clearly(session: Session) -> None:
    create_user(session, "op", PASSWORD, "operator")
    with pytest.raises(UserExists, match="user 'op' already exists"):
        create_user(session, "op", PASSWORD, "admin")
    with pytest.raises(UserError, match="role worker: give its worker_id"):
        create_user(session, "w", PASSWORD, UserRole.WORKER)
    with pytest.raises(UserError, match="no worker 'w9'"):
        create_user(session, "w", PASSWORD, UserRole.WORKER, worker_id="w9")
    with pytest.raises(UserError, match="role edge_node: give its node_id"):
        create_user(session, "n", None, UserRole.EDGE_NODE)
    with pytest.raises(UserError, match="only a worker user has a worker_id"):
        create_user(session, "x", PASSWORD, UserRole.ADMIN, worker_id="w1")
    with pytest.raises(UserError, match="unknown role 'boss'"):
        create_user(session, "x", PASSWORD, "boss")
    with pytest.raises(UserError, match="invalid username"):
        create_user(session, "has space", PASSWORD, "admin")
    with pytest.raises(WeakPasswordError):
        create_user(session, "x", "short", "admin")
    # all ValueErrors, for callers that do not care which
    assert issubclass(UserExists, ValueError) and issubclass(UserError, ValueError)


def test_authenticate(session: Session) -> None:
    create_user(session, "w", PASSWORD, UserRole.WORKER, worker_id="w1")
    node = create_user(session, "n1", None, UserRole.EDGE_NODE, node_id="node-01")
    user = authenticate(session, "w", PASSWORD)
    assert user is not None and user.worker_id == "w1"
    assert authenticate(session, "w", PASSWORD + "x") is None
    assert authenticate(session, "nobody", PASSWORD) is None
    assert authenticate(session, "n1", "") is None  # no password: tokens only
    assert node.password_hash is None
    user.active = False
    assert authenticate(session, "w", PASSWORD) is None


def test_authenticate_should_rehash_an_old_hash(session: Session) -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    session.add(User(username="old", password_hash=old, role="admin", created_at=START))
    session.flush()
    user = authenticate(session, "old", PASSWORD)
    assert user is not None
    assert user.password_hash != old
    assert user.password_hash is not None
    assert verify_password(user.password_hash, PASSWORD)
    assert "m=65536" in user.password_hash


def test_issue_and_revoke_tokens(session: Session) -> None:
    user = create_user(session, "n1", None, UserRole.EDGE_NODE, node_id="node-01")
    forever = issue_token(session, user, now=START, ttl=None, label="outbox")
    hour = issue_token(session, user, now=START, ttl=timedelta(hours=1))
    rows = {t.digest: t for t in session.query(ApiToken)}
    assert forever not in rows and token_digest(forever) in rows
    assert rows[token_digest(forever)].expires_at is None
    assert rows[token_digest(forever)].label == "outbox"
    assert rows[token_digest(hour)].expires_at == START + timedelta(hours=1)
    with pytest.raises(ValueError, match="positive"):
        issue_token(session, user, now=START, ttl=timedelta(0))
    assert revoke_token(session, forever) is True
    assert revoke_token(session, forever) is False
    assert {t.digest for t in session.query(ApiToken)} == {token_digest(hour)}


@pytest.mark.parametrize(
    ("role", "ttl", "error"),
    [
        (UserRole.OPERATOR, None, "must expire"),
        (UserRole.OPERATOR, timedelta(hours=49), "over the maximum for a person, 48 h"),
        (UserRole.ADMIN, timedelta(hours=48), None),
        (UserRole.EDGE_NODE, None, None),
        (UserRole.EDGE_NODE, timedelta(days=3650), None),
    ],
)
def test_issue_token_given_a_person_should_cap_its_lifetime(
    session: Session, role: UserRole, ttl: timedelta | None, error: str | None
) -> None:
    node_id = "node-01" if role is UserRole.EDGE_NODE else None
    user = create_user(session, "u", PASSWORD, role, node_id=node_id)
    max_ttl = timedelta(hours=48)
    if error is None:
        issue_token(session, user, now=START, ttl=ttl, max_person_ttl=max_ttl)
        return
    with pytest.raises(TokenLifetimeError, match=error):
        issue_token(session, user, now=START, ttl=ttl, max_person_ttl=max_ttl)


def test_issue_token_given_a_disabled_user_should_refuse(session: Session) -> None:
    user = create_user(session, "n1", None, UserRole.EDGE_NODE, node_id="node-01")
    user.active = False
    with pytest.raises(UserError, match="'n1' is disabled"):
        issue_token(session, user, now=START, ttl=None)

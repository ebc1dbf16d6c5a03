"""Central's own PostgreSQL role: read and write, but the audit log only read
and appended; migrations run as the owner role (`gridwatch central migrate
--grant-app-role`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, func, make_url, select, text
from sqlalchemy.exc import ProgrammingError

from central.api.login_throttle import LoginThrottle
from central.auth.audit import SYSTEM, AuditAction, record
from central.config import CentralSettings, LoginLimitSettings, MediaSettings
from central.context import build_context
from central.db.models import AuditEntry
from central.db.roles import RoleError, app_role_grants, grant_app_role
from harness.cli import main


@dataclass(frozen=True)
class Roles:
    owner_url: str
    app_url: str
    app_role: str


@pytest.fixture
def roles(postgres_url: str) -> Iterator[Roles]:
    """An owner role that may create tables, and central's role, both new."""
    suffix = uuid.uuid4().hex[:8]
    owner, app = f"gw_owner_{suffix}", f"gw_app_{suffix}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE ROLE {owner} LOGIN"))
        connection.execute(text(f"CREATE ROLE {app} LOGIN"))
        connection.execute(text(f"GRANT CREATE, USAGE ON SCHEMA public TO {owner}"))
    admin.dispose()
    url = make_url(postgres_url)
    yield Roles(
        owner_url=url.set(username=owner).render_as_string(hide_password=False),
        app_url=url.set(username=app).render_as_string(hide_password=False),
        app_role=app,
    )


def _migrate_as_owner(roles: Roles) -> None:
    code = main(
        [
            "central",
            "migrate",
            "--database-url",
            roles.owner_url,
            "--grant-app-role",
            roles.app_role,
        ]
    )
    assert code == 0


ATTEMPTS = [
    "UPDATE audit_log SET actor = 'nobody'",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log",
    "ALTER TABLE audit_log DISABLE TRIGGER USER",
    "DROP TRIGGER audit_log_no_update_or_delete ON audit_log",
    "DROP TABLE audit_log",
    "UPDATE alembic_version SET version_num = '0001'",
]


@pytest.mark.parametrize("statement", ATTEMPTS)
def test_central_role_should_not_be_able_to_undo_the_audit_log(
    roles: Roles, statement: str
) -> None:
    _migrate_as_owner(roles)
    app = create_engine(roles.app_url)
    try:
        with app.begin() as connection:
            connection.execute(
                AuditEntry.__table__.insert().values(  # type: ignore[attr-defined]
                    at=func.now(), actor=SYSTEM, action="test", detail={}
                )
            )
        with app.connect() as connection, pytest.raises(ProgrammingError) as raised:
            connection.execute(text(statement))
        # Refused for want of privilege (not by a trigger the owner could drop).
        assert isinstance(raised.value.orig, psycopg.errors.InsufficientPrivilege)
        with app.connect() as connection:
            count = connection.scalar(select(func.count()).select_from(AuditEntry))
        assert count == 1
    finally:
        app.dispose()


def test_central_should_run_as_its_role_on_a_migrated_database(
    roles: Roles, tmp_path: Path
) -> None:
    _migrate_as_owner(roles)
    settings = CentralSettings(
        database_url=roles.app_url, media=MediaSettings(dir=tmp_path / "media")
    )
    context = build_context(settings)  # at head: the start-up migration only reads
    try:
        with context.sessions.begin() as session:
            record(session, SYSTEM, AuditAction.CONFIG_CHANGED, "test")
        throttle = LoginThrottle(
            LoginLimitSettings(max_failures_per_user=1), sessions=context.sessions
        )
        assert throttle.record_failure(address="10.0.0.1", username="u") == 60
        throttle.record_success(username="u")  # DELETE on an ordinary table
    finally:
        context.engine.dispose()
    # A table a later migration adds (created by the owner) is usable too.
    owner = create_engine(roles.owner_url)
    with owner.begin() as connection:
        connection.execute(text("CREATE TABLE later_table (id serial PRIMARY KEY)"))
    owner.dispose()
    app = create_engine(roles.app_url)
    with app.begin() as connection:
        connection.execute(text("INSERT INTO later_table DEFAULT VALUES"))
    app.dispose()


@pytest.mark.parametrize(
    "role", ["", "App", "gw-app", 'x"; DROP TABLE t; --', "a" * 64]
)
def test_app_role_grants_given_a_bad_name_should_raise(role: str) -> None:
    with pytest.raises(RoleError, match="lower-case"):
        app_role_grants(role)


def test_grant_app_role_given_sqlite_should_raise(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/c.db")
    with engine.connect() as connection, pytest.raises(RoleError, match="PostgreSQL"):
        grant_app_role(connection, app_role="gridwatch_app")
    engine.dispose()

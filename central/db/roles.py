"""PostgreSQL privileges for central's own role, which must not own `audit_log`.

The owner role runs the migrations and owns every table (and so the audit log's
append-only triggers); central runs as another role that may read and write the
tables but, on `audit_log`, only SELECT and INSERT. Not owning the table, it
cannot drop or disable the triggers, alter or drop the table, or TRUNCATE it:
a compromised central cannot rewrite its own audit trail. Run `grant_app_role`
as the owner after each migration (`gridwatch central migrate --grant-app-role`);
default privileges give the app role the tables later migrations create.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, text

from central.db.models import AuditEntry

_ROLE_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
AUDIT_TABLE = AuditEntry.__tablename__
VERSION_TABLE = "alembic_version"


class RoleError(ValueError):
    """A role name that is not a plain lower-case identifier, or not PostgreSQL."""


def app_role_grants(app_role: str) -> list[str]:
    """The statements `grant_app_role` runs, in order (the recipe in
    docs/security.md).

    Raises:
        RoleError: `app_role` is not a plain lower-case identifier.
    """
    if not _ROLE_PATTERN.match(app_role):
        raise RoleError(
            f"app role {app_role!r}: use lower-case letters, digits and _ "
            "(a plain PostgreSQL identifier)"
        )
    role = f'"{app_role}"'
    return [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public "
        f"TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        # Later migrations' tables and sequences (created by this owner role).
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, "
        f"DELETE ON TABLES TO {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON "
        f"SEQUENCES TO {role}",
        # The audit log: read and append, nothing else.
        f"REVOKE ALL ON {AUDIT_TABLE} FROM {role}",
        f"GRANT SELECT, INSERT ON {AUDIT_TABLE} TO {role}",
        # The schema version: central reads it at start; only the owner moves it.
        f"REVOKE ALL ON {VERSION_TABLE} FROM {role}",
        f"GRANT SELECT ON {VERSION_TABLE} TO {role}",
    ]


def grant_app_role(connection: Connection, *, app_role: str) -> None:
    """Give `app_role` central's privileges on a migrated database; run it as the
    tables' owner (the caller commits). Idempotent.

    Raises:
        RoleError: a bad role name, or a database other than PostgreSQL.
    """
    if connection.dialect.name != "postgresql":
        raise RoleError(
            f"database roles need PostgreSQL, not {connection.dialect.name} "
            "(on SQLite protect the file instead: see docs/security.md)"
        )
    for statement in app_role_grants(app_role):
        connection.execute(text(statement))

"""The audit log: append-only in the database itself (SQLite and PostgreSQL),
rows for logins, failed logins, disables and media downloads, and the admin view
GET /api/v1/admin/audit (JSON and CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from central.auth.audit import AuditAction, record
from central.db.migrate import upgrade
from central.db.models import AuditEntry
from central.db.session import make_engine
from tests.central.api.conftest import PASSWORD, Api
from tests.central.api.test_media_links import link_of, stored_snapshot

TOKEN_URL = "/api/v1/auth/token"
AUDIT_URL = "/api/v1/admin/audit"


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database brought to the newest schema."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/audit.db"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def test_the_database_should_refuse_update_and_delete_of_audit_rows(
    migrated: Engine,
) -> None:
    with Session(migrated) as session:
        record(session, "admin", AuditAction.LOGIN, "admin", "10.0.0.1", {"n": 1})
        session.commit()
    statements = [
        "UPDATE audit_log SET actor = 'someone-else'",
        "DELETE FROM audit_log",
    ]
    if migrated.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_log")
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), migrated.begin() as conn:
            conn.execute(text(statement))
    with migrated.begin() as conn:  # appending still works
        conn.execute(
            text(
                "INSERT INTO audit_log (at, actor, action, detail) "
                "VALUES (CURRENT_TIMESTAMP, 'system', 'test', '{}')"
            )
        )
        actors = conn.execute(text("SELECT actor FROM audit_log ORDER BY id")).all()
    assert [a for (a,) in actors] == ["admin", "system"]


def test_the_orm_should_refuse_to_change_or_delete_an_audit_row(
    migrated: Engine,
) -> None:
    with Session(migrated) as session:
        entry = record(session, "admin", AuditAction.LOGIN, "admin")
        session.commit()
        entry.actor = "someone-else"
        with pytest.raises(PermissionError, match="append-only"):
            session.commit()
        session.rollback()
        session.delete(entry)
        with pytest.raises(PermissionError, match="append-only"):
            session.commit()


def entries(api: Api, action: str) -> list[AuditEntry]:
    with api.context.sessions() as session:
        return list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == action)
                .order_by(AuditEntry.id)
            )
        )


def login(api: Api, username: str, password: str) -> int:
    response: httpx.Response = api.client.post(
        TOKEN_URL, data={"username": username, "password": password}
    )
    return response.status_code


def test_a_login_and_a_failed_login_should_be_audited(api: Api) -> None:
    assert login(api, "worker1", PASSWORD) == 200
    assert login(api, "worker1", "not-the-password") == 401
    (ok,) = entries(api, "login")
    assert (ok.actor, ok.target, ok.address) == ("worker1", "worker1", "testclient")
    issued = [e for e in entries(api, "token_issued") if e.detail["label"] == "login"]
    assert [(e.actor, e.target, e.address) for e in issued] == [
        ("worker1", "worker1", "testclient")
    ]
    assert issued[0].detail["token_id"]
    (failed,) = entries(api, "login_failed")
    assert (failed.actor, failed.target) == ("anonymous", "worker1")
    assert "not-the-password" not in str(failed.detail)


def test_a_disable_should_be_audited_with_the_admin_and_the_tokens_revoked(
    api: Api,
) -> None:
    response = api.post("admin", "/api/v1/admin/users/worker2/disable")
    assert response.status_code == 200, response.text
    (row,) = entries(api, "user_disabled")
    assert (row.actor, row.target, row.address) == ("admin", "worker2", "testclient")
    assert row.detail == {"tokens_revoked": 1}
    assert api.post("admin", "/api/v1/admin/users/worker2/enable").status_code == 200
    assert [e.target for e in entries(api, "user_enabled")] == ["worker2"]


def test_a_media_download_should_be_audited_by_bearer_and_by_link(api: Api) -> None:
    sha = stored_snapshot(api)
    assert api.get("operator", f"/api/v1/media/{sha}").status_code == 200
    assert api.client.get(link_of(api, "worker1", sha)).status_code == 200
    rows = entries(api, "media_downloaded")
    assert [(r.actor, r.target, r.detail["via"]) for r in rows] == [
        ("operator", sha, "bearer"),
        ("worker1", sha, "signed_link"),
    ]
    assert api.client.get(f"/api/v1/media/{sha}").status_code == 401
    assert len(entries(api, "media_downloaded")) == 2  # refused: no row


def audit(api: Api, **params: Any) -> Any:
    response = api.get("admin", AUDIT_URL, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_admin_view_should_filter_by_action_actor_since_and_limit(
    api: Api,
) -> None:
    assert login(api, "worker1", PASSWORD) == 200
    assert login(api, "worker2", "wrong-password-1") == 401
    assert api.post("admin", "/api/v1/admin/users/worker2/disable").status_code == 200

    failed = audit(api, action="login_failed")
    assert failed["count"] == 1 and failed["data"][0]["target"] == "worker2"
    by_admin = audit(api, actor="admin", action="user_disabled")
    assert [e["target"] for e in by_admin["data"]] == ["worker2"]
    assert audit(api, actor="worker1", action="login")["count"] == 1
    everything = audit(api)
    ids = [e["id"] for e in everything["data"]]
    assert ids == sorted(ids, reverse=True)  # newest first
    assert audit(api, limit=1)["count"] == 1
    assert audit(api, since="2999-01-01T00:00:00+00:00")["count"] == 0
    assert audit(api, since="2000-01-01T00:00:00Z")["count"] == everything["count"]

    for params in ({"limit": 1001}, {"limit": 0}, {"since": "2026-12-01T08:00:00"}):
        assert api.get("admin", AUDIT_URL, params=params).status_code == 422


def test_the_csv_export_should_neutralise_formula_cells(api: Api) -> None:
    assert login(api, '=HYPERLINK("http://x")', "whatever-password") == 401
    response = api.get("admin", AUDIT_URL, params={"format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == [
        "id",
        "at",
        "actor",
        "action",
        "target",
        "address",
        "detail",
    ]
    (failed,) = [r for r in rows if r["action"] == "login_failed"]
    assert failed["target"] == '\'=HYPERLINK("http://x")'
    assert failed["actor"] == "anonymous"


@pytest.mark.parametrize(
    ("user", "expected"),
    [("operator", 403), ("worker1", 403), ("node01", 403), (None, 401)],
)
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_the_audit_view_given_a_non_admin_should_refuse(
    api: Api, user: str | None, expected: int, fmt: str
) -> None:
    headers = api.auth(user) if user is not None else {}
    response = api.client.get(AUDIT_URL, params={"format": fmt}, headers=headers)
    assert response.status_code == expected

"""Configuration and role changes made from the command line leave audit rows:
grid and city imports (who, which file, its digest, what changed); a role is
never changed in place. Matter-list and retention changes are audited at start
(`tests/central/test_retention.py`)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.db.models import AuditEntry, User
from central.db.session import make_engine
from harness.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def audit_rows(db_url: str) -> list[AuditEntry]:
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    finally:
        engine.dispose()


def test_grid_and_city_imports_should_be_audited_as_the_cli_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    db = ["--database-url", url]
    assert (
        run(["sim", "city", "--scale", "demo", "--out", str(tmp_path)], capsys)[0] == 0
    )
    grids, city = tmp_path / "grids.geojson", tmp_path / "city.json"
    assert run(["central", "import-grids", str(grids), *db], capsys)[0] == 0
    code, out, _ = run(["central", "import-city", str(city), *db], capsys)
    assert code == 0

    rows = {row.action: row for row in audit_rows(url)}
    grid_row, city_row = rows["grids_imported"], rows["city_imported"]
    for row, path in ((grid_row, grids), (city_row, city)):
        assert row.actor.startswith("cli:")
        assert row.target == str(path)
        assert row.detail["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert grid_row.detail["created"]["grid"] == 12
    assert city_row.detail["created"] == json.loads(out)["created"]


def test_a_role_should_never_be_changed_in_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    db = ["--database-url", url]

    def user(*argv: str) -> tuple[int, str, str]:
        return run(["central", "user", *argv, *db], capsys)

    assert user("op", "--role", "operator", "--password", "op-pass-123")[0] == 0
    code, _, err = user("op", "--role", "admin")
    assert code == 2 and "roles are not changed" in err
    code, out, _ = user("op", "--role", "operator", "--token")  # same role: fine
    assert code == 0 and json.loads(out)["role"] == "operator"

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            role = session.scalars(select(User.role).where(User.username == "op")).one()
    finally:
        engine.dispose()
    assert role == "operator"
    assert [row.action for row in audit_rows(url)] == ["user_created", "token_issued"]

"""`gridwatch central ...` and `gridwatch sim city`, run as a user would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.db.models import AuditEntry
from central.db.session import make_engine
from harness.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_city_import_and_user_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--database-url", f"sqlite:///{tmp_path}/c.db"]
    code, out, _ = run(
        ["sim", "city", "--scale", "demo", "--out", str(tmp_path / "city")], capsys
    )
    assert code == 0
    code, out, _ = run(
        ["central", "import-grids", str(tmp_path / "city/grids.geojson"), *db], capsys
    )
    assert code == 0 and json.loads(out)["created"]["grid"] == 12
    again = run(
        ["central", "import-grids", str(tmp_path / "city/grids.geojson"), *db], capsys
    )
    assert json.loads(again[1])["updated"]["grid"] == 12  # idempotent
    code, out, _ = run(
        [
            "central",
            "import-city",
            str(tmp_path / "city/city.json"),
            "--worker-password",
            "demo-pass-1",
            *db,
        ],
        capsys,
    )
    report = json.loads(out)
    assert code == 0 and report["created"]["workers"] == 20
    assert report["created"]["users"] == 20
    code, out, _ = run(
        [
            "central",
            "user",
            "op",
            "--role",
            "operator",
            "--password",
            "op-pass-123",
            "--token",
            *db,
        ],
        capsys,
    )
    assert code == 0 and json.loads(out)["token"].startswith("gw_")
    code, _, err = run(
        ["central", "user", "w", "--role", "operator", "--password", "short", *db],
        capsys,
    )
    assert code == 2 and "8" in err


def test_broken_files_are_refused_naming_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--database-url", f"sqlite:///{tmp_path}/c.db"]
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [')
    code, _, err = run(["central", "import-grids", str(broken), *db], capsys)
    assert code == 2 and "broken.geojson" in err
    bowtie = tmp_path / "bowtie.geojson"
    bowtie.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"code": "440106001001001", "name": "g"},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [
                                [
                                    [113.0, 23.0],
                                    [113.01, 23.01],
                                    [113.01, 23.0],
                                    [113.0, 23.01],
                                    [113.0, 23.0],
                                ]
                            ],
                        },
                    }
                ],
            }
        )
    )
    code, _, err = run(["central", "import-grids", str(bowtie), *db], capsys)
    assert code == 2 and "440106001001001" in err and "Self-intersection" in err
    city = tmp_path / "city.json"
    city.write_text(
        json.dumps(
            {
                "schema": "gw.city/1",
                "name": "x",
                "city_code": "440100",
                "workers": [
                    {
                        "id": "w1",
                        "name": "A",
                        "role": "full_time",
                        "areas": ["440106009009009"],
                    }
                ],
            }
        )
    )
    code, _, err = run(["central", "import-city", str(city), *db], capsys)
    assert code == 2 and "worker w1" in err and "440106009009009" in err
    code, _, err = run(
        ["central", "migrate", "--config", str(tmp_path / "missing.yaml")], capsys
    )
    assert code == 2 and "missing.yaml" in err


def test_user_command_should_manage_the_account_lifecycle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--database-url", f"sqlite:///{tmp_path}/c.db"]

    def user(*argv: str) -> tuple[int, str, str]:
        return run(["central", "user", *argv, *db], capsys)

    code, out, _ = user("boss", "--role", "admin", "--password", "boss-pass-1")
    assert code == 0 and json.loads(out) == {"username": "boss", "role": "admin"}
    code, out, _ = user("op", "--role", "operator", "--password", "op-pass-123")
    assert code == 0
    code, out, _ = user("op", "--token")  # an existing user needs no --role
    token = json.loads(out)["token"]
    code, _, err = user("op", "--token", "--token-ttl-h", "100000")
    assert code == 2 and "over the maximum for a person" in err
    code, out, _ = user("node", "--role", "edge_node", "--node-id", "n1", "--token")
    assert code == 0 and json.loads(out)["token"].startswith("gw_")

    code, out, _ = user("op", "--list-tokens")
    (listed,) = json.loads(out)["tokens"]
    assert code == 0 and token not in out
    assert listed["label"].startswith("cli (cli:") and listed["expires_at"]
    code, out, _ = user("node", "--list-tokens")
    assert json.loads(out)["tokens"][0]["expires_at"] is None  # nodes may keep one

    code, out, _ = user("op", "--revoke-token", listed["id"])
    assert code == 0 and json.loads(out)["revoked"] == listed["id"]
    code, _, err = user("op", "--revoke-token", listed["id"])
    assert code == 2 and "has no token" in err

    user("op", "--token")
    code, out, _ = user("op", "--disable")
    assert code == 0 and json.loads(out) == {
        "username": "op",
        "active": False,
        "revoked_tokens": 1,
    }
    code, _, err = user("op", "--token")
    assert code == 2 and "disabled" in err
    code, out, _ = user("op", "--enable")
    assert code == 0 and json.loads(out)["active"] is True

    code, _, err = user("boss", "--disable")
    assert code == 2 and "last active admin" in err
    code, out, _ = user("op", "--reset-password", "--password", "op-pass-456")
    assert code == 0 and json.loads(out)["password_reset"] is True
    code, _, err = user("op", "--reset-password", "--password", "short")
    assert code == 2 and "8" in err
    code, _, err = user("ghost", "--disable")
    assert code == 2 and "no user 'ghost'" in err
    code, _, err = user("ghost")
    assert code == 2 and "give --role" in err
    code, _, err = user("op", "--disable", "--token")
    assert code == 2 and "--token" in err

    # every change is in the audit log, made by cli:<os user>; refused ones not
    engine = make_engine(db[1])
    with Session(engine) as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.target == "op").order_by(AuditEntry.id)
        ).all()
    engine.dispose()
    changes = [r.action for r in rows if r.actor.startswith("cli:")]
    assert changes == [
        "user_created",
        "token_issued",
        "token_revoked",
        "token_issued",
        "user_disabled",
        "user_enabled",
        "password_reset",
    ]

"""`gridwatch central ...` and `gridwatch sim city`, run as a user would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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

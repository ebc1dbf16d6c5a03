"""City generator: exact counts, worker coverage, cameras in grids, valid GeoJSON."""

from __future__ import annotations

import argparse
import itertools
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import shapely

from central.grids.codes import ancestors, parse_grid_code
from central.grids.geojson import GridFeature, load_grid_file
from central.grids.index import GridIndex
from simulators.city import (
    DEPARTMENTS,
    SCALES,
    CityError,
    add_arguments,
    default_clips_dir,
    find_clips,
    generate_city,
    main,
    run_cli,
    spec_for,
)


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return run_cli(parser.parse_args(argv))


def read_city(out: Path) -> tuple[list[GridFeature], dict[str, Any]]:
    grids = load_grid_file(out / "grids.geojson")
    city = json.loads((out / "city.json").read_text(encoding="utf-8"))
    return grids, city


def covers(worker: dict[str, Any], grid_code: str) -> bool:
    return any(grid_code.startswith(area) for area in worker["areas"])


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, videos_dir: Path
) -> tuple[list[GridFeature], dict[str, Any]]:
    out = tmp_path_factory.mktemp("demo")
    assert run(["--out", str(out), "--clips-dir", str(videos_dir)]) == 0
    return read_city(out)


def test_demo_counts(demo: tuple[list[GridFeature], dict[str, Any]]) -> None:
    grids, city = demo

    assert len(grids) == 12
    assert len(city["workers"]) == 20
    kinds = Counter(c["kind"] for c in city["cameras"])
    assert kinds == {"camera": 6, "checkpoint": 1}
    assert city["schema"] == "gw.city/1"
    assert city["city_code"] == "440100"
    assert city["timezone"] == "Asia/Shanghai"
    assert [d["code"] for d in city["departments"]] == [d.code for d in DEPARTMENTS]
    assert {d["kind"] for d in city["departments"]} >= {
        "urban_management",
        "sanitation",
        "public_security",
        "emergency",
        "traffic",
        "housing",
    }


def test_demo_codes_and_names_are_consistent(
    demo: tuple[list[GridFeature], dict[str, Any]],
) -> None:
    grids, _ = demo
    codes = [g.code for g in grids]

    assert codes == sorted(codes) and len(set(codes)) == 12
    assert {parse_grid_code(c).district for c in codes} == {"440106"}
    assert {parse_grid_code(c).street for c in codes} == {"440106001"}
    communities = Counter(parse_grid_code(c).community for c in codes)
    assert communities == {f"440106001{n:03d}": 3 for n in range(1, 5)}
    assert [c[-3:] for c in codes] == ["001", "002", "003"] * 4
    for grid in grids:
        assert ancestors(grid.code)[-1] == "440100"
        assert grid.district_name == "天河区" and grid.city_name == "广州市"
        assert grid.community_name and grid.name.startswith(grid.community_name)
    by_community: dict[str, set[str | None]] = {}
    for grid in grids:
        by_community.setdefault(grid.code[:12], set()).add(grid.community_name)
    assert all(len(names) == 1 for names in by_community.values())


def test_demo_grids_tile_without_overlap_and_number_nw_to_se(
    demo: tuple[list[GridFeature], dict[str, Any]],
) -> None:
    grids, _ = demo
    geometries = [g.geometry for g in grids]

    union = shapely.union_all(geometries)
    assert sum(g.area for g in geometries) == pytest.approx(union.area, rel=1e-9)
    assert union.geom_type == "Polygon"  # no gaps inside the city
    assert bool(shapely.coverage_is_valid(geometries))
    west, south, east, north = union.bounds
    assert south < 23.13 < north and west < 113.32 < east
    # Children of each street (communities) and community (grids), in code order.
    for child_len in (12, 15):
        children: dict[str, list[float]] = {}  # code → [west, south, east, north]
        for grid in grids:
            w, s, e, n = grid.geometry.bounds
            box = children.setdefault(grid.code[:child_len], [w, s, e, n])
            box[:] = [min(box[0], w), min(box[1], s), max(box[2], e), max(box[3], n)]
        codes = sorted(children)
        for a, b in itertools.pairwise(codes):
            if a[: child_len - 3] != b[: child_len - 3]:
                continue
            _, a_south, a_east, a_north = children[a]
            b_west, _, _, b_north = children[b]
            east_in_row = b_north == pytest.approx(a_north) and b_west >= a_east - 1e-9
            assert east_in_row or b_north <= a_south + 1e-9, (a, b)


def test_demo_workers_cover_every_grid(
    demo: tuple[list[GridFeature], dict[str, Any]],
) -> None:
    grids, city = demo
    workers = city["workers"]
    by_role: dict[str, list[dict[str, Any]]] = {}
    for worker in workers:
        by_role.setdefault(worker["role"], []).append(worker)

    for grid in grids:
        assert sum(covers(w, grid.code) for w in by_role["full_time"]) == 1
        assert 1 <= sum(covers(w, grid.code) for w in by_role["part_time"]) <= 2
    leader_areas = Counter(a for w in by_role["grid_leader"] for a in w["areas"])
    communities = {g.code[:12] for g in grids}
    assert leader_areas == Counter(communities | {"440106001"})
    staff = by_role["department_staff"]
    assert staff and all(
        w["department"] in {d.code for d in DEPARTMENTS} for w in staff
    )
    assert all(
        w["department"] is None for w in workers if w["role"] != "department_staff"
    )
    assert [w["id"] for w in workers] == [f"w{n:05d}" for n in range(1, 21)]
    for worker in workers:
        assert worker["name"] and worker["phone"].isdigit() and worker["duty"]
        for slot in worker["duty"]:
            assert set(slot["days"]) <= set(range(1, 8))
            assert slot["start"] < slot["end"]


def test_demo_cameras_lie_in_grids_with_clips(
    demo: tuple[list[GridFeature], dict[str, Any]], videos_dir: Path
) -> None:
    grids, city = demo
    cameras = city["cameras"]
    index = GridIndex.from_features(grids)

    matches = index.lookup_many(
        [c["lat"] for c in cameras], [c["lon"] for c in cameras]
    )

    assert all(m is not None and m.inside for m in matches)
    clips = sorted(p.name for p in videos_dir.iterdir() if p.suffix in {".mp4", ".gif"})
    assert [c["clip"] for c in cameras] == clips[: len(cameras)]
    assert {c["node_id"] for c in cameras} == {"node-01"}
    assert [c["camera_id"] for c in cameras] == [f"cam-00{n}" for n in range(1, 7)] + [
        "chk-001"
    ]


def test_missing_clips_dir_leaves_clip_null_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="simulators.city"):
        code = run(["--out", str(tmp_path), "--clips-dir", str(tmp_path / "none")])

    assert code == 0
    _, city = read_city(tmp_path)
    assert all(c["clip"] is None for c in city["cameras"])
    assert "cameras get no clip" in caplog.text


def test_default_clips_dir_is_the_videos_folder(
    videos_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDWATCH_VIDEOS_DIR", str(videos_dir))

    assert default_clips_dir() == videos_dir
    assert find_clips(None) == find_clips(videos_dir) != []


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    def files(name: str, seed: int) -> tuple[bytes, bytes]:
        out = tmp_path / name
        assert run(["--out", str(out), "--seed", str(seed)]) == 0
        return (out / "grids.geojson").read_bytes(), (out / "city.json").read_bytes()

    first = files("a", 5)
    assert files("b", 5) == first
    other = files("c", 6)
    assert other[0] != first[0] and other[1] != first[1]


def test_summary_line_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--out", str(tmp_path / "a")]) == 0
    line = capsys.readouterr().out
    assert "12 grids" in line and "20 workers" in line and "6 cameras" in line

    assert run(["--out", str(tmp_path / "b"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["grids"] == 12 and summary["workers"] == 20
    assert summary["files"] == [
        str(tmp_path / "b" / "grids.geojson"),
        str(tmp_path / "b" / "city.json"),
    ]


def test_bad_counts_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--out", str(tmp_path), "--workers", "10"]) == 2
    assert "workers (10) fewer than" in capsys.readouterr().err
    assert not (tmp_path / "city.json").exists()
    assert run(["--out", str(tmp_path), "--communities", "20"]) == 2
    assert "grids (12) fewer than communities (20)" in capsys.readouterr().err


def test_counts_follow_grids_when_levels_are_not_given() -> None:
    spec = spec_for("demo", grids=40)
    assert (spec.grids, spec.communities, spec.streets) == (40, 13, 3)
    assert spec.workers >= 40 + 13 + 3

    city = generate_city(spec_for("demo", grids=40, workers=80, cameras=50))
    assert len(city.workers) == 80 and len(city.cameras) == 51
    with pytest.raises(CityError, match="unknown scale"):
        spec_for("atlantis")
    with pytest.raises(CityError, match="at most 11 districts"):
        spec_for("guangzhou", districts=12)


def test_guangzhou_scale_counts(tmp_path: Path) -> None:
    assert (
        run(
            [
                "--scale",
                "guangzhou",
                "--out",
                str(tmp_path),
                "--clips-dir",
                str(tmp_path / "no-clips"),
            ]
        )
        == 0
    )
    grids, city = read_city(tmp_path)

    preset = SCALES["guangzhou"]
    assert len(grids) == preset.grids == 20_031
    assert len(city["workers"]) == preset.workers == 22_367
    kinds = Counter(c["kind"] for c in city["cameras"])
    assert kinds == {"camera": 4_061, "checkpoint": 160}
    assert len({g.code[:6] for g in grids}) == 11
    assert len({g.code[:9] for g in grids}) == preset.streets
    assert len({g.code[:12] for g in grids}) == preset.communities
    roles = Counter(w["role"] for w in city["workers"])
    assert roles["full_time"] == 20_031
    assert roles["grid_leader"] == preset.streets + preset.communities
    assert roles["part_time"] > 0 and roles["department_staff"] > 0
    full_time = Counter(
        a for w in city["workers"] if w["role"] == "full_time" for a in w["areas"]
    )
    assert set(full_time) == {g.code for g in grids} and set(full_time.values()) == {1}
    nodes = Counter(c["node_id"] for c in city["cameras"])
    assert 15 <= len(nodes) <= 30 and max(nodes.values()) <= 200
    index = GridIndex.from_features(grids)
    cameras = city["cameras"]
    matches = index.lookup_many(
        [c["lat"] for c in cameras], [c["lon"] for c in cameras]
    )
    assert all(m is not None and m.inside for m in matches)

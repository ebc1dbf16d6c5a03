"""Grids GeoJSON: a valid file loads; each kind of problem names feature and reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import MultiPolygon, Polygon

from central.grids.geojson import (
    MAX_PROBLEMS,
    GridFeature,
    GridFileError,
    load_grid_file,
    parse_grid_collection,
)

LON, LAT = 113.32, 23.13
D = 0.002  # about 200 m


def square(
    lon: float = LON, lat: float = LAT, size: float = D
) -> list[list[list[float]]]:
    return [
        [
            [lon, lat],
            [lon + size, lat],
            [lon + size, lat + size],
            [lon, lat + size],
            [lon, lat],
        ]
    ]


def feature(
    code: object = "440106001001001",
    *,
    name: object = "第1网格",
    geometry: object = None,
    **extra: object,
) -> dict[str, Any]:
    props: dict[str, Any] = {"code": code, "name": name, **extra}
    if geometry is None:
        geometry = {"type": "Polygon", "coordinates": square()}
    return {"type": "Feature", "properties": props, "geometry": geometry}


def collection(*features: object) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def problems_of(obj: object) -> list[str]:
    with pytest.raises(GridFileError) as caught:
        parse_grid_collection(obj)
    return caught.value.problems


def test_valid_collection_gives_grid_features() -> None:
    multi = {
        "type": "MultiPolygon",
        "coordinates": [square(LON + D, LAT), square(LON + 3 * D, LAT)],
    }
    grids = parse_grid_collection(
        collection(
            feature(
                name=" 第1网格 ",
                community_name="石牌社区",
                street_name="石牌街道",
                district_name="天河区",
                city_name="广州市",
            ),
            feature("440106001001002", name="第2网格", geometry=multi),
        )
    )

    first, second = grids
    assert first == GridFeature(
        code="440106001001001",
        name="第1网格",
        geometry=first.geometry,
        community_name="石牌社区",
        street_name="石牌街道",
        district_name="天河区",
        city_name="广州市",
    )
    assert isinstance(first.geometry, Polygon)
    assert first.geometry.bounds == pytest.approx((LON, LAT, LON + D, LAT + D))
    assert isinstance(second.geometry, MultiPolygon)
    assert second.community_name is None and second.city_name is None


def test_load_grid_file_reads_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "grids.geojson"
    text = json.dumps(collection(feature()), ensure_ascii=False)
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())

    [grid] = load_grid_file(path)

    assert grid.name == "第1网格"


def test_broken_json_is_rejected_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "grids.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")

    with pytest.raises(GridFileError) as caught:
        load_grid_file(path)

    assert caught.value.source == str(path)
    assert caught.value.problems[0].startswith("not valid JSON: ")
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_missing_file_is_a_grid_file_error(tmp_path: Path) -> None:
    with pytest.raises(GridFileError, match="cannot read file"):
        load_grid_file(tmp_path / "nope.geojson")


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ([feature()], "top level is a JSON array, expected a FeatureCollection"),
        (feature(), "type is 'Feature', expected 'FeatureCollection'"),
        ({"type": "FeatureCollection"}, "'features' is missing or not a list"),
        ({"type": "FeatureCollection", "features": []}, "'features' is empty"),
    ],
)
def test_not_a_feature_collection(obj: object, reason: str) -> None:
    assert any(reason in p for p in problems_of(obj))


def test_bowtie_polygon_is_invalid_with_the_reason() -> None:
    bowtie = [
        [[LON, LAT], [LON + D, LAT + D], [LON + D, LAT], [LON, LAT + D], [LON, LAT]]
    ]
    problems = problems_of(
        collection(
            feature(),
            feature(
                "440106001001002", geometry={"type": "Polygon", "coordinates": bowtie}
            ),
        )
    )

    assert len(problems) == 1
    assert problems[0].startswith(
        "features[1] (code 440106001001002): invalid polygon: Self-intersection"
    )


def test_duplicate_code_names_both_features() -> None:
    no_geometry = feature()
    no_geometry["geometry"] = None
    problems = problems_of(
        collection(
            no_geometry,
            feature("440106001001002", geometry=None),
            feature(geometry={"type": "Polygon", "coordinates": square(LON + D)}),
        )
    )

    assert problems == [
        "features[0] (code 440106001001001): geometry missing",
        "features[2] (code 440106001001001): duplicate code, also used by features[0]",
    ]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("4401060010010", "grid code must be 15 digits, got '4401060010010'"),
        ("44010600100100x", "grid code must be 15 digits"),
        (440106001001001, "code must be a string of 15 digits, got 440106001001001"),
    ],
)
def test_bad_code(code: object, reason: str) -> None:
    [problem] = problems_of(collection(feature(code)))

    assert problem.startswith(f"features[0] (code {code}): ")
    assert reason in problem


def test_missing_code_and_properties() -> None:
    no_props = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": square()},
    }

    assert problems_of(collection(feature(None), no_props)) == [
        "features[0]: code missing",
        "features[1]: properties missing",
    ]


def test_missing_or_bad_name() -> None:
    problems = problems_of(
        collection(
            feature(name=None),
            feature("440106001001002", name="  "),
            feature("440106001001003", street_name=7),
        )
    )

    assert problems == [
        "features[0] (code 440106001001001): name missing",
        "features[1] (code 440106001001002): bad name '  '",
        "features[2] (code 440106001001003): street_name must be a string, got 7",
    ]


def test_missing_geometry_and_wrong_geometry_type() -> None:
    no_geometry = feature()
    no_geometry["geometry"] = None
    point = feature(
        "440106001001002", geometry={"type": "Point", "coordinates": [LON, LAT]}
    )

    assert problems_of(collection(no_geometry, point)) == [
        "features[0] (code 440106001001001): geometry missing",
        "features[1] (code 440106001001002): geometry type 'Point', "
        "expected Polygon or MultiPolygon",
    ]


def test_out_of_range_coordinates_name_the_position() -> None:
    # lat/lon swapped: latitude 113 is out of range.
    swapped = [[[lat, lon] for lon, lat in square()[0]]]

    [problem] = problems_of(
        collection(feature(geometry={"type": "Polygon", "coordinates": swapped}))
    )

    assert problem.startswith("features[0] (code 440106001001001): ring 0 position 0: ")
    assert "coordinates out of range: lon 23.13 lat 113.32" in problem


@pytest.mark.parametrize(
    ("coordinates", "reason"),
    [
        ([[[LON, LAT], [LON + D, LAT], [LON, LAT + D]]], "at least 4 positions"),
        ([[*square()[0][:-1], [LON + D / 2, LAT]]], "not closed"),
        ([[[LON, LAT], [LON + D, "x"], [LON, LAT + D], [LON, LAT]]], "position 1"),
        (
            [[[LON, LAT], [LON + D, LAT], [LON, LAT + D], [LON, float("nan")]]],
            "lon, lat",
        ),
        ([], "non-empty list of rings"),
    ],
)
def test_malformed_coordinates(coordinates: object, reason: str) -> None:
    geometry = {"type": "Polygon", "coordinates": coordinates}

    [problem] = problems_of(collection(feature(geometry=geometry)))

    assert problem.startswith("features[0] (code 440106001001001): ")
    assert reason in problem


def test_all_problems_are_collected_and_capped() -> None:
    bad = [feature(f"{n:015d}", name=None) for n in range(MAX_PROBLEMS + 10)]

    with pytest.raises(GridFileError) as caught:
        parse_grid_collection(collection(*bad), source="big.geojson")

    error = caught.value
    assert error.count == MAX_PROBLEMS + 10
    assert len(error.problems) == MAX_PROBLEMS + 1
    assert error.problems[-1] == "... and 10 more problems"
    assert str(error).startswith(
        f"invalid grid file big.geojson: {MAX_PROBLEMS + 10} problems"
    )


def test_projected_crs_is_rejected_and_lonlat_accepted() -> None:
    def named(name: str) -> dict[str, Any]:
        return {
            **collection(feature()),
            "crs": {"type": "name", "properties": {"name": name}},
        }

    [problem] = problems_of(named("urn:ogc:def:crs:EPSG::3857"))
    assert "must be WGS84 lon/lat" in problem
    assert len(parse_grid_collection(named("urn:ogc:def:crs:OGC:1.3:CRS84"))) == 1

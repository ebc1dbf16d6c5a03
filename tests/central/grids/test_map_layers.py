"""Map layers: the hierarchy dissolved from the grids, simplified per zoom, by view."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pytest
import shapely
from shapely.geometry import Polygon, box

from central.grids.codes import Level
from central.grids.map_layers import (
    MAX_ZOOM,
    MIN_ZOOM,
    WARM_LAYERS,
    MapLayers,
    clamp_zoom,
    decimals_for,
    tolerance_deg,
)

COMMUNITY_A = "440106001001"
COMMUNITY_B = "440106001002"
STREET_2 = "440106002001"


def tiled(codes: list[str], *, size: float = 0.01) -> list[tuple[str, Polygon]]:
    """Grids side by side west→east along lat 23.1 (a valid coverage)."""
    return [
        (code, box(113.0 + i * size, 23.1, 113.0 + (i + 1) * size, 23.1 + size))
        for i, code in enumerate(codes)
    ]


def city() -> MapLayers:
    codes = [
        f"{COMMUNITY_A}001",
        f"{COMMUNITY_A}002",
        f"{COMMUNITY_B}001",
        f"{STREET_2}001",
    ]
    names = {"440106": "天河区", COMMUNITY_A: "Gangding", f"{COMMUNITY_A}001": "G1"}
    return MapLayers(tiled(codes), names)


def parsed(text: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(text)
    return value


@pytest.mark.parametrize(
    ("level", "codes", "grids"),
    [
        (Level.GRID, 4, [1, 1, 1, 1]),
        (Level.COMMUNITY, 3, [2, 1, 1]),
        (Level.STREET, 2, [3, 1]),
        (Level.DISTRICT, 1, [4]),
    ],
)
def test_layer_given_a_level_should_dissolve_the_grids_by_code_prefix(
    level: Level, codes: int, grids: list[int]
) -> None:
    layer = city().layer(level, 12)
    features = [parsed(text) for text in layer.features]
    assert len(layer.codes) == codes
    assert [f["properties"]["grids"] for f in features] == grids
    assert {f["properties"]["level"] for f in features} == {level.value}
    assert all(f["geometry"]["type"] == "Polygon" for f in features)


def test_dissolved_community_should_be_one_rectangle_without_inner_border() -> None:
    layer = city().layer(Level.COMMUNITY, 12)
    community = parsed(layer.features[0])
    assert community["properties"] == {
        "code": COMMUNITY_A,
        "name": "Gangding",
        "level": "community",
        "grids": 2,
    }
    ring = community["geometry"]["coordinates"][0]
    # Two 0.01° squares make one 0.02 × 0.01 rectangle: 4 corners + closing point.
    assert len(ring) == 5
    assert shapely.equals(Polygon(ring), box(113.0, 23.1, 113.02, 23.11))


def test_names_should_default_to_the_code() -> None:
    district = parsed(city().layer(Level.DISTRICT, 10).features[0])
    assert district["properties"]["name"] == "天河区"
    street = parsed(city().layer(Level.STREET, 10).features[1])
    assert street["properties"]["name"] == "440106002"


def test_simplify_should_drop_collinear_vertices_and_keep_a_coverage() -> None:
    # A 10 × 1 row of grids in one community: its union has 22 border vertices,
    # 18 of them collinear.
    codes = [f"{COMMUNITY_A}{i:03d}" for i in range(1, 11)]
    layers = MapLayers(tiled(codes, size=0.001), {})
    ring = parsed(layers.layer(Level.COMMUNITY, 14).features[0])["geometry"]
    assert len(ring["coordinates"][0]) == 5
    assert layers.is_coverage


def test_overlapping_grids_should_fall_back_to_plain_union() -> None:
    grids = [
        (f"{COMMUNITY_A}001", box(113.0, 23.1, 113.02, 23.11)),
        (f"{COMMUNITY_A}002", box(113.01, 23.1, 113.03, 23.11)),
    ]
    layers = MapLayers(grids, {})
    assert not layers.is_coverage
    ring = parsed(layers.layer(Level.COMMUNITY, 12).features[0])["geometry"]
    assert shapely.equals(
        Polygon(ring["coordinates"][0]), box(113.0, 23.1, 113.03, 23.11)
    )


def test_disjoint_grids_of_one_community_should_make_a_multipolygon() -> None:
    grids = [
        (f"{COMMUNITY_A}001", box(113.0, 23.1, 113.01, 23.11)),
        (f"{COMMUNITY_A}002", box(113.05, 23.1, 113.06, 23.11)),
    ]
    feature = parsed(MapLayers(grids, {}).layer(Level.COMMUNITY, 12).features[0])
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert len(feature["geometry"]["coordinates"]) == 2


@pytest.mark.parametrize(
    ("bbox", "expected"),
    [
        (None, 4),
        ((113.0, 23.1, 113.005, 23.105), 1),  # inside the first grid
        ((113.015, 23.0, 113.025, 23.2), 2),  # across the 2nd/3rd border
        ((112.0, 22.0, 112.5, 22.5), 0),  # far away
    ],
)
def test_features_in_given_a_view_should_return_the_grids_it_meets(
    bbox: tuple[float, float, float, float] | None, expected: int
) -> None:
    assert len(city().layer(Level.GRID, 14).features_in(bbox)) == expected


def test_layer_should_be_computed_once_per_level_and_clamped_zoom() -> None:
    layers = city()
    assert layers.layer(Level.GRID, 14) is layers.layer(Level.GRID, 14)
    assert layers.layer(Level.GRID, 0) is layers.layer(Level.GRID, MIN_ZOOM)
    assert layers.layer(Level.GRID, 22).zoom == MAX_ZOOM
    assert layers.layer(Level.GRID, 13) is layers.layer(Level.GRID, 14)


def test_empty_city_should_have_no_bounds_and_empty_layers() -> None:
    layers = MapLayers([], {})
    assert layers.grid_count == 0
    assert layers.bounds is None
    assert layers.layer(Level.DISTRICT, 10).features_in(None) == []


def test_city_bounds_should_cover_every_grid() -> None:
    assert city().bounds == pytest.approx((113.0, 23.1, 113.04, 23.11))


@pytest.mark.parametrize(
    ("grids", "raises"),
    [
        ([(f"{COMMUNITY_A}001", box(0, 0, 1, 1))], nullcontext()),
        ([("4401", box(0, 0, 1, 1))], pytest.raises(ValueError, match="15 digits")),
        (
            [(f"{COMMUNITY_A}001", box(0, 0, 1, 1))] * 2,
            pytest.raises(ValueError, match="duplicate grid codes"),
        ),
    ],
)
def test_map_layers_given_bad_codes_should_raise(
    grids: list[tuple[str, Polygon]], raises: AbstractContextManager[object]
) -> None:
    with raises:
        MapLayers(grids, {})


def test_layer_given_the_city_level_should_raise() -> None:
    with pytest.raises(ValueError, match="no map layer for level"):
        city().layer(Level.CITY, 10)


@pytest.mark.parametrize(
    ("zoom", "clamped", "decimals"),
    [
        (0, MIN_ZOOM, 5),
        (10, 10, 5),
        (11, 12, 5),
        (13, 14, 6),
        (14, 14, 6),
        (17, 18, 7),
        (25, MAX_ZOOM, 7),
    ],
)
def test_zoom_helpers(zoom: int, clamped: int, decimals: int) -> None:
    assert clamp_zoom(zoom) == clamped
    assert decimals_for(clamped) == decimals
    # Half a pixel: 256 px span 360° at zoom 0.
    assert tolerance_deg(0) == pytest.approx(0.5 * 360 / 256)


def test_layer_cache_should_keep_only_the_recently_used_layers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("central.grids.map_layers.MAX_CACHED_LAYERS", 2)
    layers = city()
    first = layers.layer(Level.GRID, 10)
    second = layers.layer(Level.GRID, 12)
    assert layers.layer(Level.GRID, 10) is first  # used again: kept
    layers.layer(Level.GRID, 14)  # evicts zoom 12, the least recently used
    assert layers.layer(Level.GRID, 10) is first
    assert layers.layer(Level.GRID, 12) is not second  # built again


def test_float_noise_at_a_shared_border_should_not_split_a_community() -> None:
    # 113.32 + 0.005 == 113.32499999999999: a hairline gap before snapping.
    grids = [
        (f"{COMMUNITY_A}001", box(113.32, 23.12, 113.32 + 0.005, 23.125)),
        (f"{COMMUNITY_A}002", box(113.325, 23.12, 113.33, 23.125)),
    ]
    feature = parsed(MapLayers(grids, {}).layer(Level.COMMUNITY, 14).features[0])
    assert feature["geometry"]["type"] == "Polygon"
    assert len(feature["geometry"]["coordinates"][0]) == 5


@pytest.mark.parametrize(
    ("prefix", "bbox", "expected"),
    [
        ("", None, 4),
        (COMMUNITY_A, None, 2),
        (f"{COMMUNITY_A}002", None, 1),
        ("440106001", None, 3),
        ("440107", None, 0),
        (COMMUNITY_A, (113.015, 23.0, 113.025, 23.2), 1),  # 2nd grid only
        ("440106001", (113.035, 23.0, 113.045, 23.2), 0),  # the 4th is elsewhere
    ],
)
def test_features_in_given_a_prefix_should_keep_its_codes(
    prefix: str, bbox: tuple[float, float, float, float] | None, expected: int
) -> None:
    assert len(city().layer(Level.GRID, 14).features_in(bbox, prefix)) == expected


def test_warm_up_should_build_the_first_asked_layers() -> None:
    layers = city()
    assert layers.built == ()
    layers.warm_up()
    assert layers.built == WARM_LAYERS

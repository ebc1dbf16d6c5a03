"""GridIndex: inside, nearest within a distance, border ties, vectorised lookups."""

from __future__ import annotations

import math

import numpy as np
import pytest
from shapely.geometry import box

from central.grids.geojson import GridFeature, load_grid_file
from central.grids.index import GridIndex, GridMatch
from simulators.city import SCALES, generate_city, write_city

LAT0 = 23.13
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))


@pytest.fixture(scope="module")
def demo_grids(tmp_path_factory: pytest.TempPathFactory) -> list[GridFeature]:
    out = tmp_path_factory.mktemp("city")
    grids_path, _ = write_city(generate_city(SCALES["demo"]), out)
    return load_grid_file(grids_path)


@pytest.fixture(scope="module")
def demo_index(demo_grids: list[GridFeature]) -> GridIndex:
    return GridIndex.from_features(demo_grids)


def test_point_inside_each_grid_maps_to_it(
    demo_grids: list[GridFeature], demo_index: GridIndex
) -> None:
    assert len(demo_index) == 12
    for grid in demo_grids:
        inner = grid.geometry.representative_point()
        assert demo_index.lookup(inner.y, inner.x) == GridMatch(grid.code, 0.0)


def test_codes_sorted_and_bounds(
    demo_grids: list[GridFeature], demo_index: GridIndex
) -> None:
    assert demo_index.codes == tuple(sorted(g.code for g in demo_grids))
    west, south, east, north = demo_index.bounds_lonlat()
    assert west < 113.32 < east and south < LAT0 < north


def test_point_on_a_shared_border_maps_to_the_lowest_code() -> None:
    index = GridIndex(
        [
            ("440106001001002", box(1.0, 0.0, 2.0, 1.0)),
            ("440106001001001", box(0, 0, 1, 1)),
        ]
    )

    match = index.lookup(0.5, 1.0)

    assert match == GridMatch("440106001001001", 0.0)
    assert match.inside


def test_point_in_nothing_is_none(demo_index: GridIndex) -> None:
    assert demo_index.lookup(0.0, 0.0) is None
    assert demo_index.lookup(LAT0 + 1.0, 113.32) is None


def _west_edge_point(index: GridIndex, metres: float) -> tuple[float, float]:
    """A point `metres` west of the city's west edge, halfway up."""
    west, south, _, north = index.bounds_lonlat()
    return (south + north) / 2, west - metres / M_PER_DEG_LON


def test_point_30_m_outside_gets_the_nearest_grid(demo_index: GridIndex) -> None:
    lat, lon = _west_edge_point(demo_index, 30.0)

    match = demo_index.lookup(lat, lon)

    assert match is not None
    assert not match.inside
    assert match.distance_m == pytest.approx(30.0, abs=2.0)
    inner = demo_index.lookup(lat, lon + 60.0 / M_PER_DEG_LON)
    assert inner is not None and inner.inside and inner.code == match.code


def test_point_80_m_outside_is_beyond_nearest_m(demo_grids: list[GridFeature]) -> None:
    index = GridIndex.from_features(demo_grids, nearest_m=50.0)
    lat, lon = _west_edge_point(index, 80.0)

    assert index.lookup(lat, lon) is None
    wider = GridIndex.from_features(demo_grids, nearest_m=100.0).lookup(lat, lon)
    assert wider is not None and wider.distance_m == pytest.approx(80.0, abs=2.0)
    assert GridIndex.from_features(demo_grids, nearest_m=0.0).lookup(lat, lon) is None


def test_distance_north_south_is_in_metres(demo_index: GridIndex) -> None:
    west, _, east, north = demo_index.bounds_lonlat()

    match = demo_index.lookup(north + 40.0 / M_PER_DEG_LAT, (west + east) / 2)

    assert match is not None and match.distance_m == pytest.approx(40.0, abs=2.0)


def test_lookup_many_agrees_with_lookup(demo_index: GridIndex) -> None:
    west, south, east, north = demo_index.bounds_lonlat()
    margin = 100.0 / M_PER_DEG_LAT  # some points outside, some near, some far
    rng = np.random.default_rng(7)
    lats = rng.uniform(south - margin, north + margin, 400)
    lons = rng.uniform(west - margin, east + margin, 400)

    many = demo_index.lookup_many(lats, lons)

    assert many == [demo_index.lookup(a, o) for a, o in zip(lats, lons, strict=True)]
    kinds = {m is None or m.inside for m in many}, {m is None for m in many}
    assert kinds == ({True, False}, {True, False})  # inside, near and none all seen
    assert demo_index.lookup_many(list(lats[:3]), list(lons[:3])) == many[:3]


def test_lookup_many_edge_cases(demo_index: GridIndex) -> None:
    assert demo_index.lookup_many([], []) == []
    assert demo_index.lookup_many([math.nan, LAT0], [113.32, math.inf]) == [None, None]
    with pytest.raises(ValueError, match="2 latitudes but 1 longitudes"):
        demo_index.lookup_many([LAT0, LAT0], [113.32])


def test_bad_construction() -> None:
    square = box(0, 0, 1, 1)
    with pytest.raises(ValueError, match="duplicate grid codes: 440106001001001"):
        GridIndex([("440106001001001", square), ("440106001001001", square)])
    with pytest.raises(ValueError, match="nearest_m"):
        GridIndex([("440106001001001", square)], nearest_m=-1.0)


def test_empty_index_finds_nothing() -> None:
    index = GridIndex([])

    assert len(index) == 0
    assert index.lookup(LAT0, 113.32) is None
    with pytest.raises(ValueError, match="empty"):
        index.bounds_lonlat()

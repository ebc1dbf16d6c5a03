"""Point-to-grid lookup: which grid holds a lat/lon, or which one is nearest.

Polygons are projected to a local metric plane, equirectangular about the
centre (mean latitude and longitude of the polygons' centroids):
``x = (lon - lon0) * cos(lat0) * 111_320``, ``y = (lat - lat0) * 110_574``
metres. Against the WGS84 ellipsoid, east-west distances are off by
``|cos(lat) / cos(lat0) - 1|``, about ``tan(lat0) * |lat - lat0|`` in radians
(0.37 % half a degree, ~55 km, north or south of lat0 = 23°, Guangzhou), plus
0.05 % for the sphere; north-south ones are short by the fixed 110,574 m per
degree (the equator's: 0.15 % at 23°, 0.5 % at 45°). Within a city that is
well under 1 %, plenty for "within 50 m of a grid".
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from central.grids.geojson import GridFeature

METRES_PER_DEGREE_LON_AT_EQUATOR = 111_320.0
METRES_PER_DEGREE_LAT = 110_574.0
DEFAULT_NEAREST_M = 50.0

_FloatArray = npt.NDArray[np.float64]
_IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class GridMatch:
    """The grid found for a point.

    Attributes:
        code: Grid code.
        distance_m: Metres from the point to the grid; 0.0 when inside (or
            on its border).
    """

    code: str
    distance_m: float

    @property
    def inside(self) -> bool:
        """Whether the point lies in the grid (or on its border)."""
        return self.distance_m == 0.0


class GridIndex:
    """Spatial index of grid polygons answering point lookups.

    A point inside (or on the border of) a grid maps to that grid; on a
    border shared by several grids, to the lowest code. A point in no grid
    maps to the nearest grid within `nearest_m` metres (lowest code on a
    tie), else to None.

    Args:
        grids: ``(code, polygon)`` pairs; polygons in WGS84 lon/lat.
        nearest_m: Farthest distance, in metres, at which a point outside
            every grid is still given the nearest grid.

    Raises:
        ValueError: a code appears twice, or `nearest_m` is negative.
    """

    def __init__(
        self,
        grids: Sequence[tuple[str, BaseGeometry]],
        *,
        nearest_m: float = DEFAULT_NEAREST_M,
    ) -> None:
        if not nearest_m >= 0:
            raise ValueError(f"nearest_m must be >= 0, got {nearest_m}")
        # Sorted by code, so the lowest tree index among hits is the lowest code.
        ordered = sorted(grids, key=lambda item: item[0])
        codes = [code for code, _ in ordered]
        duplicates = sorted({a for a, b in itertools.pairwise(codes) if a == b})
        if duplicates:
            raise ValueError(f"duplicate grid codes: {', '.join(duplicates[:10])}")
        self.nearest_m = float(nearest_m)
        self._codes = tuple(codes)
        # Matches are immutable: one shared "inside" match per grid saves an
        # allocation per point, most of the cost of a large lookup_many.
        self._inside = tuple(GridMatch(code, 0.0) for code in codes)
        lonlat = np.array([geometry for _, geometry in ordered], dtype=object)
        self._bounds = _total_bounds(lonlat)
        self._lon0, self._lat0 = _centre(lonlat)
        self._kx = math.cos(math.radians(self._lat0)) * METRES_PER_DEGREE_LON_AT_EQUATOR
        self._polygons = shapely.transform(lonlat, self._project_xy)
        shapely.prepare(self._polygons)
        self._tree = shapely.STRtree(self._polygons)

    @classmethod
    def from_features(
        cls, features: Iterable[GridFeature], *, nearest_m: float = DEFAULT_NEAREST_M
    ) -> GridIndex:
        """Build an index from validated grid features."""
        return cls([(f.code, f.geometry) for f in features], nearest_m=nearest_m)

    def __len__(self) -> int:
        return len(self._codes)

    @property
    def codes(self) -> tuple[str, ...]:
        """Grid codes, sorted."""
        return self._codes

    def bounds_lonlat(self) -> tuple[float, float, float, float]:
        """Return ``(min_lon, min_lat, max_lon, max_lat)`` of all grids.

        Raises:
            ValueError: the index is empty.
        """
        if self._bounds is None:
            raise ValueError("empty grid index has no bounds")
        return self._bounds

    def lookup(self, lat: float, lon: float) -> GridMatch | None:
        """Return the grid of the point at `lat`, `lon` (degrees), or None."""
        return self.lookup_many([lat], [lon])[0]

    def lookup_many(
        self,
        lats: npt.ArrayLike,
        lons: npt.ArrayLike,
    ) -> list[GridMatch | None]:
        """Return the grid of each point, vectorised.

        Args:
            lats: Latitudes in degrees.
            lons: Longitudes in degrees, as many as `lats`. A point with a
                non-finite coordinate gets None.

        Returns:
            One match (or None) per point, in input order.

        Raises:
            ValueError: `lats` and `lons` differ in length.
        """
        lat = np.asarray(lats, dtype=np.float64).reshape(-1)
        lon = np.asarray(lons, dtype=np.float64).reshape(-1)
        if lat.shape != lon.shape:
            raise ValueError(f"{lat.size} latitudes but {lon.size} longitudes")
        grid = np.full(lat.size, -1, dtype=np.intp)
        distance = np.zeros(lat.size, dtype=np.float64)
        usable = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))
        if usable.size and self._codes:
            x, y = self._project(lon[usable], lat[usable])
            points: npt.NDArray[np.object_] = np.asarray(shapely.points(x, y))
            inside = self._containing(points)
            grid[usable] = inside
            missed = np.flatnonzero(inside < 0)
            if missed.size and self.nearest_m > 0:
                near, near_m = self._nearest(points[missed])
                grid[usable[missed]] = near
                distance[usable[missed]] = near_m
        shared, codes = self._inside, self._codes
        return [
            (shared[g] if d == 0.0 else GridMatch(codes[g], d)) if g >= 0 else None
            for g, d in zip(grid.tolist(), distance.tolist(), strict=True)
        ]

    def _containing(self, points: npt.NDArray[np.object_]) -> _IntArray:
        """Lowest tree index of a polygon covering each point, or -1."""
        point_idx, poly_idx = self._tree.query(points)
        # The tree query is by bounding box; the exact test runs on the
        # prepared polygons, which shapely uses when they are the first argument.
        hit = shapely.covers(self._polygons[poly_idx], points[point_idx])
        return _lowest_per_point(points.size, point_idx[hit], poly_idx[hit])

    def _nearest(
        self, points: npt.NDArray[np.object_]
    ) -> tuple[_IntArray, _FloatArray]:
        """Lowest index of the nearest polygon within `nearest_m` (or -1), metres."""
        (point_idx, poly_idx), dist = self._tree.query_nearest(
            points, max_distance=self.nearest_m, return_distance=True, all_matches=True
        )
        best = _lowest_per_point(points.size, point_idx, poly_idx)
        metres = np.zeros(points.size, dtype=np.float64)
        metres[point_idx] = dist  # equidistant matches share a distance
        return best, metres

    def _project(
        self, lon: _FloatArray, lat: _FloatArray
    ) -> tuple[_FloatArray, _FloatArray]:
        x = (lon - self._lon0) * self._kx
        y = (lat - self._lat0) * METRES_PER_DEGREE_LAT
        return x, y

    def _project_xy(self, coords: _FloatArray) -> _FloatArray:
        x, y = self._project(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])


def _lowest_per_point(n: int, point_idx: _IntArray, poly_idx: _IntArray) -> _IntArray:
    best = np.full(n, np.iinfo(np.intp).max, dtype=np.intp)
    np.minimum.at(best, point_idx, poly_idx)
    best[best == np.iinfo(np.intp).max] = -1
    return best


def _total_bounds(
    geometries: npt.NDArray[np.object_],
) -> tuple[float, float, float, float] | None:
    if geometries.size == 0:
        return None
    min_lon, min_lat, max_lon, max_lat = shapely.total_bounds(geometries).tolist()
    return min_lon, min_lat, max_lon, max_lat


def _centre(geometries: npt.NDArray[np.object_]) -> tuple[float, float]:
    if geometries.size == 0:
        return 0.0, 0.0
    centroids = shapely.get_coordinates(shapely.centroid(geometries))
    lon0, lat0 = centroids.mean(axis=0).tolist()
    return float(lon0), float(lat0)

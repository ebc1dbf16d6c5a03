"""The grid hierarchy as map layers: grids, and the communities, streets and
districts dissolved from them, simplified for each zoom and kept as GeoJSON text.

A city of 20,031 grids is too much to send and draw whole: the console draws
the coarse levels when zoomed out and the grids in view when zoomed in. Each
(level, zoom) layer is computed once with shapely and then only sliced by
bounding box. When the grids form a valid polygon coverage (shared borders
with identical vertices, as `simulators.city` writes them) the coverage
operations dissolve and simplify them without gaps or overlaps between
neighbours; otherwise a plain union and per-polygon simplification are used.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from central.grids.codes import Level

MAP_LEVELS: tuple[Level, ...] = (
    Level.DISTRICT,
    Level.STREET,
    Level.COMMUNITY,
    Level.GRID,
)
CODE_DIGITS = {Level.DISTRICT: 6, Level.STREET: 9, Level.COMMUNITY: 12, Level.GRID: 15}
MIN_ZOOM = 8
MAX_ZOOM = 18  # even: see `clamp_zoom`
# Simplify to half a screen pixel: invisible, yet it drops the collinear
# vertices a dissolve leaves along every straight border.
TOLERANCE_PX = 0.5
TILE_PX = 256
# A 20,000-grid level is ~7 MB of text per zoom; keep the recently used ones.
MAX_CACHED_LAYERS = 24
PRECISION_DEG = 1e-7
# What the console's map (map-city.js) asks for from the whole city down to the
# grids: streets under districts, communities, then grids under the rest.
WARM_LAYERS: tuple[tuple[Level, int], ...] = (
    (Level.STREET, 10),
    (Level.DISTRICT, 10),
    (Level.COMMUNITY, 12),
    (Level.STREET, 12),
    (Level.DISTRICT, 12),
    (Level.GRID, 14),
    (Level.COMMUNITY, 14),
    (Level.STREET, 14),
    (Level.DISTRICT, 14),
    (Level.GRID, 16),
    (Level.COMMUNITY, 16),
)

_Bounds = tuple[float, float, float, float]
_FloatArray = npt.NDArray[np.float64]


def tolerance_deg(zoom: int) -> float:
    """Degrees of longitude in `TOLERANCE_PX` pixels at `zoom` (Web Mercator)."""
    return TOLERANCE_PX * 360.0 / (TILE_PX * 2.0**zoom)


def clamp_zoom(zoom: int) -> int:
    """The zoom whose layer serves `zoom`: within [MIN_ZOOM, MAX_ZOOM] (coarser or
    finer layers add nothing), rounded up to an even zoom (a layer simplified for
    the next zoom is at most half a pixel finer than needed, and one layer
    serves two zooms)."""
    within = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
    return within + within % 2


def decimals_for(zoom: int) -> int:
    """Decimal places that keep a coordinate well under a pixel at `zoom`."""
    return max(5, min(7, math.ceil(-math.log10(tolerance_deg(zoom) / 10))))


@dataclass(frozen=True, slots=True)
class MapLayer:
    """One level at one zoom: features as GeoJSON text with their bounds.

    Attributes:
        level: The hierarchy level.
        zoom: The zoom it was simplified for (already clamped).
        codes: Area codes, sorted.
        bounds: (N, 4) float64 ``west, south, east, north`` degrees per feature.
        features: GeoJSON Feature text per feature, in `codes` order.
    """

    level: Level
    zoom: int
    codes: tuple[str, ...]
    bounds: _FloatArray
    features: tuple[str, ...]

    def features_in(self, bbox: _Bounds | None, prefix: str = "") -> list[str]:
        """The features whose bounds meet `bbox` (``west, south, east, north``;
        None: anywhere) and whose code starts with `prefix`."""
        # Codes are sorted: a prefix is one contiguous run of them.
        start = bisect.bisect_left(self.codes, prefix)
        stop = bisect.bisect_left(self.codes, prefix + "\x7f") if prefix else None
        run = range(len(self.codes))[start:stop]
        if bbox is None:
            return [self.features[i] for i in run]
        west, south, east, north = bbox
        b = self.bounds[run.start : run.stop]
        meets = (b[:, 0] <= east) & (b[:, 2] >= west)
        meets &= (b[:, 1] <= north) & (b[:, 3] >= south)
        return [self.features[run.start + i] for i in np.flatnonzero(meets)]


@dataclass(frozen=True, slots=True)
class _Shapes:
    codes: tuple[str, ...]
    geometries: npt.NDArray[np.object_]
    grid_counts: tuple[int, ...]


class MapLayers:
    """Every level of a city's grid hierarchy, simplified on demand per zoom.

    Args:
        grids: ``(code, polygon)`` pairs, polygons in WGS84 lon/lat.
        names: Area code → name, for any level (missing: the code).

    Raises:
        ValueError: a grid code is not 15 digits or appears twice.
    """

    def __init__(
        self, grids: Sequence[tuple[str, BaseGeometry]], names: Mapping[str, str]
    ) -> None:
        ordered = sorted(grids, key=lambda item: item[0])
        codes = tuple(code for code, _ in ordered)
        bad = [c for c in codes if len(c) != 15 or not c.isdigit()]
        if bad:
            raise ValueError(f"grid codes must be 15 digits: {', '.join(bad[:5])}")
        repeated = sorted({a for a, b in itertools.pairwise(codes) if a == b})
        if repeated:
            raise ValueError(f"duplicate grid codes: {', '.join(repeated[:5])}")
        # Snapped to ~1 cm first: float noise at a shared border (113.32 + 0.005
        # is 113.32499999999999) would otherwise leave hairline gaps in a dissolve.
        geometries = shapely.set_precision(
            np.array([g for _, g in ordered], dtype=object), PRECISION_DEG
        )
        self._names = dict(names)
        self._is_coverage = bool(len(codes)) and bool(
            shapely.coverage_is_valid(geometries)
        )
        self._shapes: dict[Level, _Shapes] = {
            Level.GRID: _Shapes(codes, geometries, (1,) * len(codes))
        }
        for finer, coarser in itertools.pairwise(MAP_LEVELS[::-1]):
            self._shapes[coarser] = self._dissolve(self._shapes[finer], coarser)
        self._layers: dict[tuple[Level, int], MapLayer] = {}
        self._lock = threading.Lock()
        self.grid_count = len(codes)
        self.bounds: _Bounds | None = None
        if len(codes):
            west, south, east, north = shapely.total_bounds(geometries).tolist()
            self.bounds = (west, south, east, north)

    def warm_up(self) -> None:
        """Build the layers the console asks for first (`WARM_LAYERS`)."""
        for level, zoom in WARM_LAYERS:
            self.layer(level, zoom)

    @property
    def built(self) -> tuple[tuple[Level, int], ...]:
        """The (level, zoom) layers held now, least recently used first."""
        with self._lock:
            return tuple(self._layers)

    @property
    def is_coverage(self) -> bool:
        """Whether the grids tile without gaps or overlaps (coverage operations)."""
        return self._is_coverage

    def layer(self, level: Level, zoom: int) -> MapLayer:
        """The `level` simplified for `zoom` (clamped), computed once.

        Raises:
            ValueError: `level` is not one of `MAP_LEVELS`.
        """
        if level not in CODE_DIGITS:
            raise ValueError(f"no map layer for level {level!r}")
        key = (level, clamp_zoom(zoom))
        with self._lock:
            found = self._layers.pop(key, None)
            if found is None:
                found = self._build(level, key[1])
            self._layers[key] = found  # most recently used last
            while len(self._layers) > MAX_CACHED_LAYERS:
                del self._layers[next(iter(self._layers))]
        return found

    def _dissolve(self, finer: _Shapes, level: Level) -> _Shapes:
        digits = CODE_DIGITS[level]
        codes: list[str] = []
        shapes: list[BaseGeometry] = []
        counts: list[int] = []
        union = shapely.coverage_union_all if self._is_coverage else shapely.union_all
        groups = itertools.groupby(
            range(len(finer.codes)), key=lambda i: finer.codes[i][:digits]
        )
        for code, members in groups:
            index = list(members)
            codes.append(code)
            shapes.append(union(finer.geometries[index]))
            counts.append(sum(finer.grid_counts[i] for i in index))
        return _Shapes(tuple(codes), np.array(shapes, dtype=object), tuple(counts))

    def _build(self, level: Level, zoom: int) -> MapLayer:
        shapes = self._shapes[level]
        tolerance = tolerance_deg(zoom)
        if not len(shapes.codes):
            simple = shapes.geometries
        elif self._is_coverage:
            simple = shapely.coverage_simplify(shapes.geometries, tolerance)
        else:
            simple = shapely.simplify(
                shapes.geometries, tolerance, preserve_topology=True
            )
        decimals = decimals_for(zoom)
        features = tuple(
            _feature_text(
                code=code,
                name=self._names.get(code, code),
                level=level,
                grids=count,
                geometry=geometry,
                decimals=decimals,
            )
            for code, count, geometry in zip(
                shapes.codes, shapes.grid_counts, simple, strict=True
            )
        )
        bounds = (
            shapely.bounds(simple).astype(np.float64)
            if len(shapes.codes)
            else np.zeros((0, 4), dtype=np.float64)
        )
        return MapLayer(level, zoom, shapes.codes, bounds, features)


def _feature_text(
    *,
    code: str,
    name: str,
    level: Level,
    grids: int,
    geometry: BaseGeometry,
    decimals: int,
) -> str:
    properties = {"code": code, "name": name, "level": level.value, "grids": grids}
    return json.dumps(
        {
            "type": "Feature",
            "id": code,
            "properties": properties,
            "geometry": _rounded_geojson(geometry, decimals),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _rounded_geojson(geometry: BaseGeometry, decimals: int) -> dict[str, object]:
    polygons = shapely.get_parts(geometry)
    rings = [
        [
            np.round(shapely.get_coordinates(ring), decimals).tolist()
            for ring in (polygon.exterior, *polygon.interiors)
        ]
        for polygon in polygons
        if not polygon.is_empty
    ]
    if len(rings) == 1:
        return {"type": "Polygon", "coordinates": rings[0]}
    return {"type": "MultiPolygon", "coordinates": rings}

"""Parse and validate a grids GeoJSON FeatureCollection (WGS84 lon/lat).

Each feature is one grid: a Polygon or MultiPolygon geometry and properties
``code`` (15 digits), ``name`` and, optionally, the names of the levels above
it (``community_name``, ``street_name``, ``district_name``, ``city_name``).
A bad file is rejected as a whole with every problem found (up to
`MAX_PROBLEMS`), each naming the feature and the reason; nothing is returned
for a file with any problem.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon

from central.grids.codes import GridCodeError, parse_grid_code

MAX_PROBLEMS = 50
PARENT_NAME_KEYS = ("community_name", "street_name", "district_name", "city_name")
_GEOMETRY_TYPES = ("Polygon", "MultiPolygon")
# Only lon/lat on the WGS84 datum is accepted; CGCS2000 (EPSG:4490, the Chinese
# national datum) differs from WGS84 by centimetres, so it is taken as is.
_LONLAT_CRS_SUFFIXES = ("CRS84", "4326", "4490")

_Ring = list[tuple[float, float]]
_JSON_KINDS = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


class GridFileError(ValueError):
    """A grids file is unusable.

    Attributes:
        problems: Reasons, each naming the feature (``features[i]`` and its
            code when it has one); at most `MAX_PROBLEMS`, then one
            ``"... and N more problems"`` entry.
        count: Number of problems found in all.
        source: The file, when one was read.
    """

    def __init__(self, problems: Sequence[str], *, source: str | None = None) -> None:
        self.count = len(problems)
        self.problems = list(problems[:MAX_PROBLEMS])
        if self.count > MAX_PROBLEMS:
            self.problems.append(f"... and {self.count - MAX_PROBLEMS} more problems")
        self.source = source
        where = f" {source}" if source else ""
        noun = "problem" if self.count == 1 else "problems"
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"invalid grid file{where}: {self.count} {noun}\n{lines}")


@dataclass(frozen=True, slots=True)
class GridFeature:
    """One validated grid of a grids file.

    Attributes:
        code: 15-digit grid code.
        name: Grid name.
        geometry: Valid lon/lat polygon(s), 2D.
        community_name: Name of the community/village, if given.
        street_name: Name of the street/town, if given.
        district_name: Name of the district, if given.
        city_name: Name of the city, if given.
    """

    code: str
    name: str
    geometry: Polygon | MultiPolygon
    community_name: str | None = None
    street_name: str | None = None
    district_name: str | None = None
    city_name: str | None = None


class _Invalid(ValueError):
    """One problem with one feature (internal)."""


def load_grid_file(path: str | os.PathLike[str]) -> list[GridFeature]:
    """Read and validate a grids GeoJSON file.

    Args:
        path: The file, UTF-8 (a byte-order mark is allowed).

    Returns:
        The grids, in file order.

    Raises:
        GridFileError: the file cannot be read, is not JSON, or has a problem.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise GridFileError([f"cannot read file: {exc}"], source=source) from exc
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GridFileError([f"not valid JSON: {exc}"], source=source) from exc
    return parse_grid_collection(obj, source=source)


def parse_grid_collection(
    obj: object, *, source: str | None = None
) -> list[GridFeature]:
    """Validate a decoded GeoJSON FeatureCollection of grids.

    Args:
        obj: The decoded JSON document.
        source: Where it came from, for the error message.

    Returns:
        The grids, in document order.

    Raises:
        GridFileError: the document is not a FeatureCollection or any feature
            has a problem.
    """
    features = _features_of(obj, source)
    problems: list[str] = []
    parsed: list[tuple[int, GridFeature]] = []
    first_index: dict[str, int] = {}
    for index, feature in enumerate(features):
        code = _code_of(feature)
        label = (
            f"features[{index}]" if code is None else f"features[{index}] (code {code})"
        )
        if isinstance(code, str):
            first = first_index.setdefault(code, index)
            if first != index:
                problems.append(
                    f"{label}: duplicate code, also used by features[{first}]"
                )
        try:
            parsed.append((index, _parse_feature(feature)))
        except _Invalid as exc:
            problems.append(f"{label}: {exc}")
    problems.extend(_validity_problems(parsed))
    if problems:
        raise GridFileError(problems, source=source)
    return [grid for _, grid in parsed]


def _features_of(obj: object, source: str | None) -> list[Any]:
    if not isinstance(obj, dict):
        kind = _JSON_KINDS.get(type(obj), type(obj).__name__)
        raise GridFileError(
            [f"top level is a JSON {kind}, expected a FeatureCollection object"],
            source=source,
        )
    problems: list[str] = []
    if obj.get("type") != "FeatureCollection":
        problems.append(f"type is {obj.get('type')!r}, expected 'FeatureCollection'")
    crs_problem = _crs_problem(obj.get("crs"))
    if crs_problem:
        problems.append(crs_problem)
    features = obj.get("features")
    if not isinstance(features, list):
        problems.append("'features' is missing or not a list")
        features = []
    elif not features:
        problems.append("'features' is empty: no grids")
    if problems:
        raise GridFileError(problems, source=source)
    return features


def _crs_problem(crs: object) -> str | None:
    # RFC 7946 dropped "crs"; older (2008) files name one, and a projected
    # one (e.g. EPSG:3857 metres) must not be read as degrees.
    if crs is None:
        return None
    name = crs.get("properties", {}).get("name") if isinstance(crs, dict) else None
    if isinstance(name, str) and name.upper().endswith(_LONLAT_CRS_SUFFIXES):
        return None
    shown = json.dumps(crs, ensure_ascii=False)
    return f"crs {shown} is not supported: coordinates must be WGS84 lon/lat"


def _code_of(feature: object) -> str | int | float | None:
    """The feature's code as given, if it is a string or a number."""
    props = feature.get("properties") if isinstance(feature, dict) else None
    code = props.get("code") if isinstance(props, dict) else None
    return code if isinstance(code, str | int | float) else None


def _parse_feature(feature: object) -> GridFeature:
    if not isinstance(feature, dict):
        raise _Invalid("not a JSON object")
    if feature.get("type") != "Feature":
        raise _Invalid(f"type is {feature.get('type')!r}, expected 'Feature'")
    props = feature.get("properties")
    if not isinstance(props, dict):
        raise _Invalid("properties missing")
    code = props.get("code")
    if code is None:
        raise _Invalid("code missing")
    if not isinstance(code, str):
        raise _Invalid(f"code must be a string of 15 digits, got {code!r}")
    try:
        parse_grid_code(code)
    except GridCodeError as exc:
        raise _Invalid(str(exc)) from exc
    name = props.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _Invalid("name missing" if name is None else f"bad name {name!r}")
    parents = {key: _optional_name(props, key) for key in PARENT_NAME_KEYS}
    return GridFeature(
        code=code,
        name=name.strip(),
        geometry=_geometry(feature.get("geometry")),
        **parents,
    )


def _optional_name(props: dict[str, Any], key: str) -> str | None:
    value = props.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{key} must be a string, got {value!r}")
    return value.strip() or None


def _geometry(geometry: object) -> Polygon | MultiPolygon:
    if geometry is None:
        raise _Invalid("geometry missing")
    if not isinstance(geometry, dict):
        raise _Invalid("geometry is not a JSON object")
    kind = geometry.get("type")
    if kind not in _GEOMETRY_TYPES:
        raise _Invalid(f"geometry type {kind!r}, expected Polygon or MultiPolygon")
    coordinates = geometry.get("coordinates")
    if kind == "Polygon":
        return _polygon(coordinates, "")
    if not isinstance(coordinates, list) or not coordinates:
        raise _Invalid("MultiPolygon coordinates must be a non-empty list of polygons")
    return MultiPolygon(
        [_polygon(part, f"polygon {i}: ") for i, part in enumerate(coordinates)]
    )


def _polygon(rings: object, where: str) -> Polygon:
    if not isinstance(rings, list) or not rings:
        raise _Invalid(f"{where}Polygon coordinates must be a non-empty list of rings")
    parsed = [_ring(ring, f"{where}ring {i}") for i, ring in enumerate(rings)]
    return Polygon(parsed[0], parsed[1:])


def _ring(ring: object, where: str) -> _Ring:
    if not isinstance(ring, list) or len(ring) < 4:
        raise _Invalid(f"{where}: a ring needs a list of at least 4 positions")
    points = [_position(p, f"{where} position {i}") for i, p in enumerate(ring)]
    if points[0] != points[-1]:
        raise _Invalid(f"{where}: not closed (first and last positions differ)")
    return points


def _position(position: object, where: str) -> tuple[float, float]:
    if (
        not isinstance(position, list)
        or len(position) not in (2, 3)
        or not all(_is_number(v) for v in position)
    ):
        raise _Invalid(f"{where}: expected [lon, lat] numbers, got {position!r}")
    lon, lat = float(position[0]), float(position[1])
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise _Invalid(
            f"{where}: coordinates out of range: lon {lon} lat {lat} "
            "(expected WGS84 lon -180..180, lat -90..90)"
        )
    return lon, lat


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _validity_problems(parsed: Sequence[tuple[int, GridFeature]]) -> list[str]:
    if not parsed:
        return []
    geometries = [grid.geometry for _, grid in parsed]
    valid = shapely.is_valid(geometries)
    return [
        f"features[{index}] (code {grid.code}): invalid polygon: "
        f"{shapely.is_valid_reason(grid.geometry)}"
        for k, (index, grid) in enumerate(parsed)
        if not valid[k]
    ]

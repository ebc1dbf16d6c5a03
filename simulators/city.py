"""City generator: a synthetic but plausible city of grids, workers and cameras.

``python -m simulators.city --scale demo|guangzhou --out DIR`` writes
``DIR/grids.geojson`` (one Polygon feature per grid, see
`central.grids.geojson`) and ``DIR/city.json`` (schema ``gw.city/1``:
departments, workers, cameras) and prints a one-line summary (``--json``: a
JSON object). Output is deterministic for a given ``--seed``.

Layout. The city (``440100`` 广州市) is a rectangle around Guangzhou cut into
districts (real GB/T 2260 codes, 天河区 ``440106`` first), streets,
communities and grids. Each parent is cut into rows and each row into cells,
so children tile their parent exactly with no gap or overlap; cell areas
follow the number of grids inside, each grid's scaled by 0.8–1.25.
Children are numbered 001, 002, … west→east within a row, rows north→south.

Workers. Roles, in this order of ids:

- ``grid_leader``: one per street (area: the street code; the street
  supervisor) and one per community (area: the community code);
- ``full_time``: exactly one per grid (area: the grid code);
- ``part_time``: evening and weekend duty. They split the communities into
  runs in code order (areas: community codes), so every grid has one; any
  beyond the number of communities add a second one to single grids;
- ``department_staff``: a third of what is left after the above (at least
  one when two or more are left), with a department and a district as area.

The worker count is exact, so it must cover the leaders and full-time
workers. Guangzhou's 22,367 workers for 20,031 grids leave 2,336: 176
streets and 1,800 communities (about 11 grids each; fewer than Guangzhou's
~2,800 villages and communities, which would not fit) take 1,976 leaders,
and the remaining 360 make 240 part-time workers (every grid has one, but
each covers about 7.5 communities, ~83 grids) and 120 department staff.
The demo city (12 grids, 4 communities, 1 street, 20 workers) has 5 leaders,
12 full-time workers, 2 part-time workers (2 communities each: every grid has
exactly one) and 1 department staff member.

Duty: ``days`` are ISO weekdays (1 = Monday … 7 = Sunday), ``start`` and
``end`` local ``HH:MM`` times (Asia/Shanghai) with start < end; ``24:00`` is
the end of the day. Phone numbers are synthetic (``100`` + 8 digits, not a
Chinese mobile prefix).

Cameras lie inside random grids (distinct grids while there are enough),
away from grid borders. Each gets a clip from ``--clips-dir`` (default: the
shared videos folder): its video files, sorted, reused in turn; none when no
folder is found. They are spread over edge nodes of at most
``--cameras-per-node`` devices each, a node never spanning two districts.
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import itertools
import json
import logging
import math
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from central.grids.codes import Level
from models.manifest import search_dirs
from simulators.city_devices import make_devices
from simulators.cli import run_module_cli
from simulators.clips import MediaFolderError, discover_clips

logger = logging.getLogger(__name__)

SCHEMA = "gw.city/1"
TIMEZONE = "Asia/Shanghai"
CITY_CODE = "440100"
CITY_NAME = "广州市"
GRIDS_FILE = "grids.geojson"
CITY_FILE = "city.json"
MAX_CHILDREN = 999  # a 3-digit code part

# GB/T 2260 district codes of Guangzhou; 天河区 first so the demo uses it.
DISTRICTS: tuple[tuple[str, str], ...] = (
    ("440106", "天河区"),
    ("440103", "荔湾区"),
    ("440104", "越秀区"),
    ("440105", "海珠区"),
    ("440111", "白云区"),
    ("440112", "黄埔区"),
    ("440113", "番禺区"),
    ("440114", "花都区"),
    ("440115", "南沙区"),
    ("440117", "从化区"),
    ("440118", "增城区"),
)

_OFFICE = {"days": [1, 2, 3, 4, 5], "start": "08:30", "end": "17:30"}
_ALWAYS = {"days": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "24:00"}
FULL_TIME_DUTY = ({"days": [1, 2, 3, 4, 5], "start": "08:00", "end": "18:00"},)
PART_TIME_DUTY = (
    {"days": [1, 2, 3, 4, 5], "start": "18:00", "end": "22:00"},
    {"days": [6, 7], "start": "08:00", "end": "22:00"},
)
COMMUNITY_LEADER_DUTY = (
    {"days": [1, 2, 3, 4, 5, 6], "start": "08:30", "end": "17:30"},
)
STREET_LEADER_DUTY = (_OFFICE,)


@dataclass(frozen=True, slots=True)
class Department:
    """A handling department; `kind` is what the matter list refers to."""

    code: str
    name: str
    kind: str
    duty: tuple[dict[str, Any], ...] = (_OFFICE,)


DEPARTMENTS = (
    Department("D01", "城市管理局 Urban management", "urban_management"),
    Department("D02", "环境卫生管理处 Sanitation", "sanitation"),
    Department("D03", "公安局 Public security", "public_security", (_ALWAYS,)),
    Department("D04", "应急管理局 Emergency management", "emergency", (_ALWAYS,)),
    Department("D05", "交通运输局 Traffic", "traffic"),
    Department("D06", "住房和城乡建设局 Housing", "housing"),
)

_PLACE_FIRST = "东西南北新华龙凤石沙江海云花金银白黄青长平安康富永太和兴盛明光福泰嘉"
_PLACE_SECOND = "山湖港桥园村岭洲塘岗涌埔田湾河苑庄坊岸"
_PLACE_NAMES = tuple(a + b for a in _PLACE_FIRST for b in _PLACE_SECOND)
_SURNAMES = "陈李黄张梁林刘吴何罗郭王周郑谢邓冯曾彭杨麦叶钟潘欧卢蔡朱许"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玲辉健斌志红嘉欣晓雪"


_OVERRIDABLE = (
    "grids",
    "workers",
    "cameras",
    "checkpoints",
    "districts",
    "streets",
    "communities",
    "cameras_per_node",
    "seed",
)
_POSITIVE_COUNTS = ("grids", "districts", "streets", "communities", "cameras_per_node")


class CityError(ValueError):
    """The requested city cannot be generated; the message says why."""


@dataclass(frozen=True, slots=True)
class CitySpec:
    """What to generate.

    Attributes:
        scale: Preset name the spec came from.
        grids: Number of grids.
        workers: Number of workers (exact).
        cameras: Number of cameras (kind ``camera``).
        checkpoints: Number of face checkpoints (kind ``checkpoint``).
        districts: Number of districts, 1..11.
        streets: Number of streets/towns.
        communities: Number of communities/villages.
        cameras_per_node: Most devices on one edge node.
        seed: Random seed.
        grid_size_m: Side of an average grid in metres.
        count_spread: Relative spread of children per parent (0: even).
        centre_lat: Latitude of the city centre.
        centre_lon: Longitude of the city centre.
    """

    scale: str
    grids: int
    workers: int
    cameras: int
    checkpoints: int
    districts: int
    streets: int
    communities: int
    cameras_per_node: int = 200
    seed: int = 1
    grid_size_m: float = 250.0
    count_spread: float = 0.0
    centre_lat: float = 23.13
    centre_lon: float = 113.32

    def check(self) -> None:
        """Raise `CityError` unless the counts make a city."""
        problems = [
            f"{name} must be >= 1, got {getattr(self, name)}"
            for name in _POSITIVE_COUNTS
            if getattr(self, name) < 1
        ]
        problems += [
            f"{name} must be >= 0, got {getattr(self, name)}"
            for name in ("cameras", "checkpoints")
            if getattr(self, name) < 0
        ]
        if not 0.0 <= self.count_spread < 1.0:
            problems.append(f"count_spread must be in [0, 1), got {self.count_spread}")
        if not self.grid_size_m > 0:
            problems.append(f"grid_size_m must be > 0, got {self.grid_size_m}")
        if self.districts > len(DISTRICTS):
            problems.append(f"at most {len(DISTRICTS)} districts, got {self.districts}")
        chain = [
            ("districts", self.districts),
            ("streets", self.streets),
            ("communities", self.communities),
            ("grids", self.grids),
        ]
        for (upper, n_upper), (lower, n_lower) in itertools.pairwise(chain):
            if n_lower < n_upper:
                problems.append(f"{lower} ({n_lower}) fewer than {upper} ({n_upper})")
        if self.workers < minimum_workers(self):
            problems.append(
                f"workers ({self.workers}) fewer than one full-time worker per grid "
                f"plus a leader per community and per street ({minimum_workers(self)})"
            )
        if problems:
            raise CityError("; ".join(problems))


def minimum_workers(spec: CitySpec) -> int:
    """Fewest workers for `spec`: full-time per grid, leaders per community/street."""
    return spec.grids + spec.communities + spec.streets


SCALES: dict[str, CitySpec] = {
    "demo": CitySpec(
        scale="demo",
        grids=12,
        workers=20,
        cameras=6,
        checkpoints=1,
        districts=1,
        streets=1,
        communities=4,
    ),
    "guangzhou": CitySpec(
        scale="guangzhou",
        grids=20_031,
        workers=22_367,
        cameras=4_061,
        checkpoints=160,
        districts=11,
        streets=176,
        communities=1_800,
        grid_size_m=600.0,
        count_spread=0.5,
        centre_lat=23.25,
        centre_lon=113.45,
    ),
}


def spec_for(scale: str, **overrides: int | None) -> CitySpec:
    """Return a preset with some counts replaced.

    When `grids` changes and the counts of the levels above (or workers) are
    not given, they follow it in the preset's proportions.

    Args:
        scale: ``demo`` or ``guangzhou``.
        overrides: Any of `_OVERRIDABLE` (counts and seed); None keeps the
            preset's value.

    Raises:
        CityError: unknown scale or field, or the counts make no city.
    """
    try:
        preset = SCALES[scale]
    except KeyError:
        raise CityError(
            f"unknown scale {scale!r}; choose {', '.join(SCALES)}"
        ) from None
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(given) - set(_OVERRIDABLE))
    if unknown:
        raise CityError(f"unknown city settings: {', '.join(unknown)}")
    grids = given.get("grids", preset.grids)
    communities = given.get(
        "communities", _follow(preset.communities, grids, preset.grids)
    )
    streets = given.get(
        "streets", _follow(preset.streets, communities, preset.communities)
    )
    derived: dict[str, Any] = {
        "communities": communities,
        "streets": streets,
        "districts": given.get("districts", min(preset.districts, streets)),
    }
    spec = dataclasses.replace(preset, **{**derived, **given})
    if "workers" not in given:
        wanted = _follow(preset.workers, spec.grids, preset.grids, cap=False)
        spec = dataclasses.replace(spec, workers=max(wanted, minimum_workers(spec)))
    spec.check()
    return spec


def _follow(value: int, new_base: int, old_base: int, *, cap: bool = True) -> int:
    """`value` scaled by new_base / old_base, at least 1 (and ≤ new_base if `cap`)."""
    scaled = max(1, round(value * new_base / old_base))
    return min(scaled, max(1, new_base)) if cap else scaled


@dataclass(eq=False)
class Area:
    """A unit of the hierarchy (district, street, community or grid).

    Attributes:
        code: Its code (6, 9, 12 or 15 digits).
        name: Its name.
        level: Its level.
        parent: The area above it; None for a district.
        children: The areas below it, in number order.
        weight: Relative area (sum of its grids' weights).
        bounds: ``(west, south, east, north)`` in degrees, once laid out.
    """

    code: str
    name: str
    level: Level
    parent: Area | None = None
    children: list[Area] = field(default_factory=list)
    weight: float = 0.0
    bounds: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    def name_at(self, level: Level) -> str | None:
        """Name of this area or the ancestor at `level`."""
        area: Area | None = self
        while area is not None and area.level != level:
            area = area.parent
        return area.name if area is not None else None


@dataclass(frozen=True, slots=True)
class City:
    """A generated city.

    Attributes:
        spec: What was asked for.
        districts: The hierarchy, laid out.
        workers: Worker records as written to ``city.json``.
        cameras: Camera and checkpoint records as written to ``city.json``.
        devices: IoT sensor records as written to ``city.json``
            (``simulators/city_devices.py``).
    """

    spec: CitySpec
    districts: list[Area]
    workers: list[dict[str, Any]]
    cameras: list[dict[str, Any]]
    devices: list[dict[str, Any]] = field(default_factory=list)

    def areas(self, level: Level) -> list[Area]:
        """All areas of a level (district and below), in code order."""
        return _walk(self.districts, level)

    def city_document(self) -> dict[str, Any]:
        """The ``city.json`` content."""
        return {
            "schema": SCHEMA,
            "name": CITY_NAME,
            "city_code": CITY_CODE,
            "timezone": TIMEZONE,
            "scale": self.spec.scale,
            "seed": self.spec.seed,
            "departments": [
                {"code": d.code, "name": d.name, "kind": d.kind} for d in DEPARTMENTS
            ],
            "workers": self.workers,
            "cameras": self.cameras,
            "devices": self.devices,
        }

    def grid_features(self) -> list[dict[str, Any]]:
        """One GeoJSON Feature per grid, in code order."""
        grids = self.areas(Level.GRID)
        corners = _Corners([grid.bounds for grid in grids])
        return [_grid_feature(grid, corners.ring(grid.bounds)) for grid in grids]


_DEPTH = {Level.DISTRICT: 0, Level.STREET: 1, Level.COMMUNITY: 2, Level.GRID: 3}


class _Corners:
    """Rectangle corners by line, to put neighbours' corners into a ring.

    Where a neighbour's corner lies on a grid's edge (a T-junction), the
    grid's ring gets that vertex too, so that shared edges have the same
    vertices on both sides: a valid polygon coverage (`shapely.coverage_is_valid`).
    """

    def __init__(self, rects: Sequence[tuple[float, float, float, float]]) -> None:
        lats_at: dict[float, set[float]] = {}
        lons_at: dict[float, set[float]] = {}
        for west, south, east, north in rects:
            for lon, lat in (
                (west, south),
                (east, south),
                (east, north),
                (west, north),
            ):
                lats_at.setdefault(lon, set()).add(lat)
                lons_at.setdefault(lat, set()).add(lon)
        self._lats_at = {k: sorted(v) for k, v in lats_at.items()}
        self._lons_at = {k: sorted(v) for k, v in lons_at.items()}

    def ring(self, rect: tuple[float, float, float, float]) -> list[list[float]]:
        """Counter-clockwise closed ring of `rect` with the corners on its edges."""
        west, south, east, north = rect
        bottom = _between(self._lons_at[south], west, east)
        right = _between(self._lats_at[east], south, north)
        top = _between(self._lons_at[north], west, east)[::-1]
        left = _between(self._lats_at[west], south, north)[::-1]
        return [
            [west, south],
            *([lon, south] for lon in bottom),
            [east, south],
            *([east, lat] for lat in right),
            [east, north],
            *([lon, north] for lon in top),
            [west, north],
            *([west, lat] for lat in left),
            [west, south],
        ]


def _between(values: list[float], low: float, high: float) -> list[float]:
    """The sorted `values` strictly between `low` and `high`."""
    return values[bisect.bisect_right(values, low) : bisect.bisect_left(values, high)]


def _grid_feature(grid: Area, ring: list[list[float]]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": grid.code,
        "properties": {
            "code": grid.code,
            "name": grid.name,
            "community_name": grid.name_at(Level.COMMUNITY),
            "street_name": grid.name_at(Level.STREET),
            "district_name": grid.name_at(Level.DISTRICT),
            "city_name": CITY_NAME,
        },
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


# -- generation ---------------------------------------------------------------


def generate_city(spec: CitySpec, *, clips: Sequence[str] = ()) -> City:
    """Generate a city.

    Args:
        spec: Counts and seed; checked first.
        clips: Clip file names handed to cameras in turn; none: ``clip`` null.

    Raises:
        CityError: the counts make no city.
    """
    spec.check()
    rng = random.Random(spec.seed)
    districts = _build_hierarchy(spec, rng)
    _lay_out(spec, districts)
    workers = _make_workers(spec, districts, rng)
    grids = _walk(districts, Level.GRID)
    cameras = _make_cameras(spec, grids, rng, clips)
    return City(spec, districts, workers, cameras, make_devices(grids, spec.seed))


def even_split(total: int, parts: int) -> list[int]:
    """Split `total` into `parts` counts differing by at most one, larger first."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def split_count(total: int, parts: int, rng: random.Random, spread: float) -> list[int]:
    """Split `total` into `parts` counts of at least 1, randomly uneven.

    Each part's share of what is above 1 is weighted by ``1 ± spread``
    (uniform); ``spread == 0`` is `even_split`.
    """
    if spread == 0:
        return even_split(total, parts)
    weights = [1.0 + spread * rng.uniform(-1.0, 1.0) for _ in range(parts)]
    spare = total - parts
    scale = spare / sum(weights)
    shares = [w * scale for w in weights]
    counts = [1 + math.floor(s) for s in shares]
    by_remainder = sorted(
        range(parts), key=lambda i: (-(shares[i] - math.floor(shares[i])), i)
    )
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _names(count: int, rng: random.Random, suffix: str) -> list[str]:
    if count > len(_PLACE_NAMES):
        return [f"第{n}{suffix}" for n in range(1, count + 1)]
    return [name + suffix for name in rng.sample(_PLACE_NAMES, count)]


def _children(parent: Area, level: Level, names: Sequence[str]) -> list[Area]:
    if len(names) > MAX_CHILDREN:
        raise CityError(
            f"{parent.name} ({parent.code}) would get {len(names)} "
            f"{level}s; a code holds at most {MAX_CHILDREN}"
        )
    parent.children = [
        Area(f"{parent.code}{n:03d}", name, level, parent)
        for n, name in enumerate(names, start=1)
    ]
    return parent.children


def _build_hierarchy(spec: CitySpec, rng: random.Random) -> list[Area]:
    chosen = sorted(DISTRICTS[: spec.districts])
    districts = [Area(code, name, Level.DISTRICT) for code, name in chosen]
    streets_per = split_count(spec.streets, spec.districts, rng, spec.count_spread)
    street_names = iter(_names(spec.streets, rng, "街道"))
    streets = [
        street
        for district, n in zip(districts, streets_per, strict=True)
        for street in _children(
            district, Level.STREET, [next(street_names) for _ in range(n)]
        )
    ]
    communities_per = split_count(
        spec.communities, spec.streets, rng, spec.count_spread
    )
    communities = [
        community
        for street, n in zip(streets, communities_per, strict=True)
        for community in _children(street, Level.COMMUNITY, _names(n, rng, "社区"))
    ]
    grids_per = split_count(spec.grids, spec.communities, rng, spec.count_spread)
    for community, n in zip(communities, grids_per, strict=True):
        names = [f"{community.name}第{k}网格" for k in range(1, n + 1)]
        for grid in _children(community, Level.GRID, names):
            grid.weight = rng.uniform(0.8, 1.25)
    for level in (Level.COMMUNITY, Level.STREET, Level.DISTRICT):
        for area in _walk(districts, level):
            area.weight = sum(child.weight for child in area.children)
    return districts


def _walk(districts: Sequence[Area], level: Level) -> list[Area]:
    found = list(districts)
    for _ in range(_DEPTH[level]):
        found = [child for area in found for child in area.children]
    return found


# -- layout ---------------------------------------------------------------------


class _Frame:
    """Local plane (metres, equirectangular) to degrees about the city centre.

    Degrees are rounded to 7 decimals (about 1 cm); the same metre value
    always gives the same degree value, so shared edges stay shared.
    """

    def __init__(self, lat0: float, lon0: float) -> None:
        self._lat0 = lat0
        self._lon0 = lon0
        self._kx = math.cos(math.radians(lat0)) * 111_320.0

    def lon(self, x: float) -> float:
        return round(self._lon0 + x / self._kx, 7)

    def lat(self, y: float) -> float:
        return round(self._lat0 + y / 110_574.0, 7)


def _lay_out(spec: CitySpec, districts: list[Area]) -> None:
    total = sum(d.weight for d in districts)
    half = math.sqrt(total) * spec.grid_size_m / 2
    frame = _Frame(spec.centre_lat, spec.centre_lon)
    _cut(districts, (-half, -half, half, half), frame)


def _cut(
    children: Sequence[Area],
    rect: tuple[float, float, float, float],
    frame: _Frame,
) -> None:
    """Tile `rect` (metres, west/south/east/north) with `children` by weight.

    Rows run north→south and cells west→east; the last cut of each row and
    column is the rect's own edge, so neighbours share exact coordinates.
    """
    west, south, east, north = rect
    n = len(children)
    # Rows for near-square cells: n/rows cells of width W/(n/rows) ≈ H/rows.
    rows = max(1, min(n, round(math.sqrt(n * (north - south) / (east - west)))))
    per_row = even_split(n, rows)
    total = sum(c.weight for c in children)
    start = 0
    top = north
    for r, count in enumerate(per_row):
        row = children[start : start + count]
        start += count
        row_weight = sum(c.weight for c in row)
        share = row_weight / total
        bottom = south if r == rows - 1 else top - (north - south) * share
        left = west
        for k, child in enumerate(row):
            right = (
                east
                if k == count - 1
                else left + (east - west) * child.weight / row_weight
            )
            child.bounds = (
                frame.lon(left),
                frame.lat(bottom),
                frame.lon(right),
                frame.lat(top),
            )
            if child.children:
                _cut(child.children, (left, bottom, right, top), frame)
            left = right
        top = bottom


# -- workers --------------------------------------------------------------------


def _make_workers(
    spec: CitySpec, districts: Sequence[Area], rng: random.Random
) -> list[dict[str, Any]]:
    streets = _walk(districts, Level.STREET)
    communities = _walk(districts, Level.COMMUNITY)
    grids = _walk(districts, Level.GRID)
    rest = spec.workers - minimum_workers(spec)
    staff = max(1, rest // 3) if rest >= 2 else 0
    part_time = min(rest - staff, len(communities) + len(grids))
    staff = rest - part_time
    plan: list[tuple[str, list[str], str | None, tuple[dict[str, Any], ...]]] = []
    plan += [("grid_leader", [s.code], None, STREET_LEADER_DUTY) for s in streets]
    plan += [
        ("grid_leader", [c.code], None, COMMUNITY_LEADER_DUTY) for c in communities
    ]
    plan += [("full_time", [g.code], None, FULL_TIME_DUTY) for g in grids]
    plan += [
        ("part_time", areas, None, PART_TIME_DUTY)
        for areas in _part_time_areas(part_time, communities, grids, rng)
    ]
    for j in range(staff):
        department = DEPARTMENTS[j % len(DEPARTMENTS)]
        district = districts[(j // len(DEPARTMENTS)) % len(districts)]
        plan.append(
            ("department_staff", [district.code], department.code, department.duty)
        )
    width = max(5, len(str(len(plan))))
    return [
        {
            "id": f"w{i:0{width}d}",
            "name": _person_name(rng),
            "role": role,
            "areas": areas,
            "department": department,
            "duty": [dict(d) for d in duty],
            "phone": f"100{i:08d}",
        }
        for i, (role, areas, department, duty) in enumerate(plan, start=1)
    ]


def _part_time_areas(
    count: int, communities: Sequence[Area], grids: Sequence[Area], rng: random.Random
) -> list[list[str]]:
    """Areas of `count` part-time workers: runs of communities, then single grids."""
    runs = min(count, len(communities))
    areas: list[list[str]] = []
    start = 0
    if runs:
        for size in even_split(len(communities), runs):
            areas.append([c.code for c in communities[start : start + size]])
            start += size
    areas += [[g.code] for g in grids[: count - runs]]
    return areas


def _person_name(rng: random.Random) -> str:
    given = "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(_SURNAMES) + given


# -- cameras --------------------------------------------------------------------


def _make_cameras(
    spec: CitySpec, grids: Sequence[Area], rng: random.Random, clips: Sequence[str]
) -> list[dict[str, Any]]:
    placed: list[tuple[str, dict[str, Any]]] = []  # (grid code, device)
    for kind, count, prefix, label in (
        ("camera", spec.cameras, "cam", "摄像机"),
        ("checkpoint", spec.checkpoints, "chk", "人脸卡口"),
    ):
        width = max(3, len(str(count)))
        per_grid: dict[str, int] = {}
        for n, grid in enumerate(_pick_grids(grids, count, rng), start=1):
            per_grid[grid.code] = per_grid.get(grid.code, 0) + 1
            lat, lon = _inner_point(grid, rng)
            device = {
                "node_id": None,
                "camera_id": f"{prefix}-{n:0{width}d}",
                "name": f"{grid.name}{per_grid[grid.code]}号{label}",
                "kind": kind,
                "lat": lat,
                "lon": lon,
                "clip": clips[len(placed) % len(clips)] if clips else None,
            }
            placed.append((grid.code, device))
    _assign_nodes(placed, spec.cameras_per_node)
    return [device for _, device in placed]


def _pick_grids(grids: Sequence[Area], count: int, rng: random.Random) -> list[Area]:
    """`count` random grids, distinct while there are enough, in code order."""
    if count <= len(grids):
        picked = rng.sample(range(len(grids)), count)
    else:
        picked = rng.choices(range(len(grids)), k=count)
    return [grids[i] for i in sorted(picked)]


def _inner_point(grid: Area, rng: random.Random) -> tuple[float, float]:
    """A point of the grid's middle 70 % each way, clear of its border."""
    west, south, east, north = grid.bounds
    lon = west + (east - west) * rng.uniform(0.15, 0.85)
    lat = south + (north - south) * rng.uniform(0.15, 0.85)
    return round(lat, 6), round(lon, 6)


def _assign_nodes(placed: Sequence[tuple[str, dict[str, Any]]], per_node: int) -> None:
    """Set ``node_id``: per district, in grid order, at most `per_node` a node."""
    by_district: dict[str, list[dict[str, Any]]] = {}
    for grid_code, device in sorted(placed, key=lambda p: (p[0], p[1]["camera_id"])):
        by_district.setdefault(grid_code[:6], []).append(device)
    groups: list[list[dict[str, Any]]] = []
    for district in sorted(by_district):
        members = by_district[district]
        start = 0
        for size in even_split(len(members), math.ceil(len(members) / per_node)):
            groups.append(members[start : start + size])
            start += size
    width = max(2, len(str(len(groups))))
    for n, group in enumerate(groups, start=1):
        for device in group:
            device["node_id"] = f"node-{n:0{width}d}"


# -- output ---------------------------------------------------------------------


def default_clips_dir() -> Path | None:
    """The first videos folder that exists, searched as for the video manifest.

    That is $GRIDWATCH_VIDEOS_DIR, $GRIDWATCH_DATA_DIR/videos,
    ``../shared/data/videos`` beside the repository, then the user cache.
    """
    return next((d for d in search_dirs("videos") if d.is_dir()), None)


def find_clips(clips_dir: Path | None) -> list[str]:
    """File names of the clips in `clips_dir`, sorted; [] (and a warning) if none.

    Args:
        clips_dir: The folder; None searches `default_clips_dir`.
    """
    if clips_dir is None:
        clips_dir = default_clips_dir()
        if clips_dir is None:
            logger.warning("cameras get no clip: no videos folder found")
            return []
    try:
        return [path.name for path in discover_clips(clips_dir)]
    except MediaFolderError as exc:
        logger.warning("cameras get no clip: %s", exc)
        return []


def write_city(city: City, out_dir: Path) -> tuple[Path, Path]:
    """Write ``grids.geojson`` and ``city.json`` into `out_dir` (created if missing).

    Returns:
        The paths of the grids file and the city file.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    grids_path = out_dir / GRIDS_FILE
    city_path = out_dir / CITY_FILE
    # One feature per line: compact, yet a diff or grep shows single grids.
    features = ",\n".join(
        json.dumps(f, ensure_ascii=False, separators=(",", ":"))
        for f in city.grid_features()
    )
    _write_atomic(
        grids_path,
        '{"type":"FeatureCollection","features":[\n' + features + "\n]}\n",
    )
    _write_atomic(
        city_path, json.dumps(city.city_document(), ensure_ascii=False, indent=1) + "\n"
    )
    return grids_path, city_path


def _write_atomic(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def summarize(city: City, paths: Sequence[Path], elapsed_s: float) -> dict[str, Any]:
    """Counts and paths of a written city, as printed by the command."""
    roles: dict[str, int] = {}
    for worker in city.workers:
        roles[worker["role"]] = roles.get(worker["role"], 0) + 1
    kinds = [device["kind"] for device in city.cameras]
    return {
        "scale": city.spec.scale,
        "seed": city.spec.seed,
        "city_code": CITY_CODE,
        "districts": len(city.districts),
        "streets": len(city.areas(Level.STREET)),
        "communities": len(city.areas(Level.COMMUNITY)),
        "grids": len(city.areas(Level.GRID)),
        "workers": len(city.workers),
        "workers_by_role": roles,
        "cameras": kinds.count("camera"),
        "checkpoints": kinds.count("checkpoint"),
        "nodes": len({device["node_id"] for device in city.cameras}),
        "with_clip": sum(1 for device in city.cameras if device["clip"]),
        "devices": len(city.devices),
        "gateways": len({device["gateway_id"] for device in city.devices}),
        "files": [str(p) for p in paths],
        "elapsed_s": round(elapsed_s, 3),
    }


# -- command line -------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the city generator's options to a parser (``gridwatch sim city``)."""
    parser.add_argument(
        "--scale", choices=sorted(SCALES), default="demo", help="preset (default demo)"
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    for name, text in (
        ("grids", "grids"),
        ("workers", "workers (exact)"),
        ("cameras", "cameras"),
        ("checkpoints", "face checkpoints"),
        ("districts", "districts (1..11)"),
        ("streets", "streets/towns"),
        ("communities", "communities/villages"),
        ("cameras-per-node", "most cameras and checkpoints per edge node"),
    ):
        parser.add_argument(
            f"--{name}", type=int, default=None, help=f"number of {text} (preset)"
        )
    parser.add_argument(
        "--clips-dir",
        type=Path,
        default=None,
        help="folder of clips handed to cameras in turn "
        "(default: $GRIDWATCH_VIDEOS_DIR, ../shared/data/videos beside the repo, ...)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run_cli(args: argparse.Namespace) -> int:
    """Generate and write a city, then print a summary.

    Returns:
        0 on success, 2 for counts that make no city or an unwritable folder.
    """
    started = time.perf_counter()
    try:
        spec = spec_for(
            args.scale,
            seed=args.seed,
            grids=args.grids,
            workers=args.workers,
            cameras=args.cameras,
            checkpoints=args.checkpoints,
            districts=args.districts,
            streets=args.streets,
            communities=args.communities,
            cameras_per_node=args.cameras_per_node,
        )
        city = generate_city(spec, clips=find_clips(args.clips_dir))
        paths = write_city(city, args.out)
    except (CityError, OSError) as exc:
        logger.error("city: %s", exc)
        sys.stderr.write(f"error: {exc}\n")
        return 2
    summary = summarize(city, paths, time.perf_counter() - started)
    if args.json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(
            f"city {CITY_NAME} ({summary['scale']}, seed {summary['seed']}): "
            f"{summary['grids']} grids in {summary['districts']} districts / "
            f"{summary['streets']} streets / {summary['communities']} communities, "
            f"{summary['workers']} workers, {summary['cameras']} cameras + "
            f"{summary['checkpoints']} checkpoints on {summary['nodes']} nodes "
            f"-> {', '.join(summary['files'])} ({summary['elapsed_s']:.1f} s)\n"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m simulators.city``."""
    return run_module_cli(
        argv,
        prog="python -m simulators.city",
        description=__doc__,
        add_arguments=add_arguments,
        run_cli=run_cli,
    )


if __name__ == "__main__":
    sys.exit(main())

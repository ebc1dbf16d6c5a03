"""IoT sensors of a generated city, at the densities a city grid has.

Per grid (about 300-500 households): rubbish bins with fill sensors, manhole
covers with tilt sensors, smoke alarms in public buildings (a school, a market,
a residents' committee), a door contact on a gate; fewer water-level gauges (at
low points, one in four grids), noise meters (one in five) and PM2.5 stations
(one in ten). One gateway per community (an NB-IoT/LoRa concentrator) carries
every device of its grids, which is how a city buys them: by district, by lot.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Final, Protocol

from gridwatch.readings import DeviceType

# (type, id prefix, Chinese label, mean devices per grid)
DENSITY: Final[tuple[tuple[DeviceType, str, str, float], ...]] = (
    (DeviceType.BIN_FILL, "bin", "垃圾桶满溢", 3.0),
    (DeviceType.MANHOLE_COVER, "mh", "井盖", 2.0),
    (DeviceType.SMOKE_ALARM, "smk", "烟感", 2.0),
    (DeviceType.DOOR_CONTACT, "door", "门磁", 1.0),
    (DeviceType.WATER_LEVEL, "wl", "积水监测", 0.25),
    (DeviceType.NOISE, "noise", "噪声监测", 0.2),
    (DeviceType.AIR_QUALITY, "aq", "PM2.5监测", 0.1),
)


class GridLike(Protocol):
    """What the placement needs of a grid."""

    @property
    def code(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def bounds(self) -> tuple[float, float, float, float]: ...


def gateway_for(grid_code: str) -> str:
    """The gateway of a grid's community (its first 12 digits)."""
    return f"gw-{grid_code[:12]}"


def make_devices(grids: Sequence[GridLike], seed: int) -> list[dict[str, Any]]:
    """The device records of `city.json`'s `devices:` (the importer's `DeviceEntry`).

    Counts per grid are Poisson-like around `DENSITY` (a whole part plus a
    chance of one more), so most grids have none of a rare type; the city has
    at least one of each type.
    Its own random stream (from `seed`): adding devices changes nothing else.
    """
    rng = random.Random(seed * 7919 + 17)
    devices: list[dict[str, Any]] = []
    for device_type, prefix, label, mean in DENSITY:
        counts = [int(mean) + (rng.random() < mean - int(mean)) for _ in grids]
        if grids and not any(counts):  # a small city still has one of each type
            counts[rng.randrange(len(grids))] = 1
        n = 0
        for grid, count in zip(grids, counts, strict=True):
            for k in range(1, count + 1):
                n += 1
                lat, lon = _inner_point(grid.bounds, rng)
                devices.append(
                    {
                        "id": f"{prefix}-{n:05d}",
                        "type": device_type.value,
                        "gateway_id": gateway_for(grid.code),
                        "name": f"{grid.name}{k}号{label}",
                        "lat": lat,
                        "lon": lon,
                    }
                )
    return devices


def _inner_point(
    bounds: tuple[float, float, float, float], rng: random.Random
) -> tuple[float, float]:
    west, south, east, north = bounds
    lon = west + (east - west) * rng.uniform(0.15, 0.85)
    lat = south + (north - south) * rng.uniform(0.15, 0.85)
    return round(lat, 6), round(lon, 6)

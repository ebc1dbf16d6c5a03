"""A running central with a whole city's grids and a day of events, for the map.

`MapCityStack` generates a city with `simulators.city` (Guangzhou scale by
default: 20,031 grids), imports its grids into central on SQLite, adds a day
of AI events at the city's cameras (as if ingested: rows in the events table)
and one operator login, and runs central with its broker (ingest off: nothing
else writes). Used by `gridwatch bench map` and tests/browser/test_map_scale.py.
"""

from __future__ import annotations

import logging
import random
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from central.auth.users import create_user
from central.config import CentralSettings, HttpSettings, MediaSettings, MqttSettings
from central.db.models import Event, UserRole
from central.grids.geojson import load_grid_file
from central.importer import import_grids
from central.server import CentralService
from harness.services import MosquittoBroker
from simulators.city import City, generate_city, spec_for, write_city

log = logging.getLogger(__name__)

OPERATOR = "operator"
EVENT_TYPES = ("littering", "crowding", "abandoned_object", "fall", "intrusion")
# A camera's events land within about this many degrees (~30 m) of it.
JITTER_DEG = 0.0003


@dataclass(frozen=True, slots=True)
class MapCitySpec:
    """What to build.

    Attributes:
        grids: Grids of the city (Guangzhou: 20,031).
        events: AI events in the last 24 hours.
        seed: Seed of the city and of the events.
    """

    grids: int = 20_031
    events: int = 20_000
    seed: int = 1


@dataclass(frozen=True, slots=True)
class SeedTimes:
    """Seconds spent building the stack (reported beside the browser figures)."""

    generate_s: float
    import_s: float
    events_s: float


class MapCityStack:
    """Broker + central (API, no ingest) serving a generated city's map.

    Args:
        workdir: Where the city files, database and broker live.
        spec: What to build.
        password: The operator's password.
    """

    def __init__(self, workdir: Path, spec: MapCitySpec, *, password: str) -> None:
        if spec.grids < 1 or spec.events < 0:
            raise ValueError(
                f"a city needs grids >= 1 and events >= 0, got {spec.grids}, "
                f"{spec.events}"
            )
        self.workdir = workdir
        self.spec = spec
        self.password = password
        self.central: CentralService | None = None
        self.times: SeedTimes | None = None
        self.city: City | None = None
        self._stack = ExitStack()

    def wait_until_warm(self, timeout_s: float = 120.0) -> None:
        """Wait for central's background build of the map layers (it starts with
        central), as an operator opening the map after a restart would find it.

        Raises:
            TimeoutError: not built within `timeout_s`.
        """
        assert self.central is not None, "start() first"
        if not self.central.context.map_layers.warmed.wait(timeout_s):
            raise TimeoutError(f"map layers not built in {timeout_s:.0f} s")

    def layers_build_s(self) -> float | None:
        """Seconds central took to build its map layers (None: not yet built)."""
        assert self.central is not None, "start() first"
        return self.central.context.map_layers.last_build_s

    @property
    def central_url(self) -> str:
        assert self.central is not None, "start() first"
        return f"http://127.0.0.1:{self.central.http_port}"

    def __enter__(self) -> MapCityStack:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        started = time.perf_counter()
        city = generate_city(
            spec_for("guangzhou", grids=self.spec.grids, seed=self.spec.seed)
        )
        grids_path, _ = write_city(city, self.workdir / "city")
        generated = time.perf_counter()
        broker = self._stack.enter_context(
            MosquittoBroker(self.workdir / "broker", tls=True, plaintext=False)
        )
        self.central = CentralService(
            CentralSettings(
                database_url=f"sqlite:///{self.workdir / 'central.db'}",
                media=MediaSettings(dir=self.workdir / "media"),
                mqtt=MqttSettings.model_validate(
                    {**broker.central_config("central-map"), "client_id": "central-map"}
                ),
                http=HttpSettings(host="127.0.0.1", port=0),
            ),
            ingest=False,
            scheduler=False,
        )
        context = self.central.context
        now = context.clock.now()
        with context.sessions.begin() as session:
            import_grids(session, load_grid_file(grids_path))
            create_user(session, OPERATOR, self.password, UserRole.OPERATOR, now=now)
        context.reload_reference_data()
        imported = time.perf_counter()
        rows = day_of_events(city, self.spec.events, now=now, seed=self.spec.seed)
        index = context.grid_index
        if index is not None and rows:
            matches = index.lookup_many(
                [r["lat"] for r in rows], [r["lon"] for r in rows]
            )
            for row, match in zip(rows, matches, strict=True):
                row["grid_code"] = match.code if match else None
        with context.sessions.begin() as session:
            for start in range(0, len(rows), 5000):
                session.execute(insert(Event), rows[start : start + 5000])
        self.times = SeedTimes(
            generate_s=round(generated - started, 2),
            import_s=round(imported - generated, 2),
            events_s=round(time.perf_counter() - imported, 2),
        )
        self.city = city
        self.central.start()
        self._stack.callback(self.central.stop)
        log.info(
            "map city: %d grids, %d events, %s", self.spec.grids, len(rows), self.times
        )


def day_of_events(
    city: City, count: int, *, now: Any, seed: int
) -> list[dict[str, Any]]:
    """`count` events at the city's cameras, spread over the last 24 hours."""
    rng = random.Random(seed)
    cameras = [c for c in city.cameras if c.get("lat") is not None]
    if not cameras and count:
        raise ValueError("the city has no cameras to place events at")
    rows = []
    for number in range(count):
        camera = rng.choice(cameras)
        at = now - timedelta(seconds=rng.uniform(60, 86_000))
        rows.append(
            {
                "event_id": f"map-{number:07d}",
                "type": rng.choice(EVENT_TYPES),
                "node_id": camera["node_id"],
                "camera_id": camera["camera_id"],
                "phase": "start",
                "started_at": at,
                "detected_at": at,
                "received_at": at,
                "confidence": round(rng.uniform(0.4, 0.95), 2),
                "lat": camera["lat"] + rng.uniform(-JITTER_DEG, JITTER_DEG),
                "lon": camera["lon"] + rng.uniform(-JITTER_DEG, JITTER_DEG),
                "location_source": "camera",
                "grid_code": None,
                "model_name": "yolox_nano",
                "model_version": "bench",
            }
        )
    return rows

"""The map layers of the stored grids, built once per loaded grid set."""

from __future__ import annotations

import logging
import threading
import time

from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from central.db.models import Area, AreaLevel
from central.grids.map_layers import MapLayers

log = logging.getLogger(__name__)


def load_map_layers(session: Session) -> MapLayers:
    """The stored grids (with polygons) and every area's name as map layers."""
    grids = [
        (code, shape(geometry))
        for code, geometry in session.execute(
            select(Area.code, Area.geometry).where(
                Area.level == AreaLevel.GRID.value, Area.geometry.is_not(None)
            )
        )
        if geometry
    ]
    names = {code: name for code, name in session.execute(select(Area.code, Area.name))}
    return MapLayers(grids, names)


class MapLayerCache:
    """Holds the `MapLayers` of one grid set; rebuilt when the set changes.

    Central reloads its grid index after an import (`reload_reference_data`);
    the layers follow that same object, so the map and the point-to-grid lookup
    always agree on which grids exist.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._source: object | None = None
        self._layers: MapLayers | None = None
        self.last_build_s: float | None = None  # for benchmarks and logs
        self.warmed = threading.Event()  # set once `warm` has built its layers

    def get(self, source: object, sessions: sessionmaker[Session]) -> MapLayers:
        """The layers for the grid set `source` stands for (its identity is the key)."""
        with self._lock:
            if self._layers is None or self._source is not source:
                started = time.perf_counter()
                with sessions() as session:
                    self._layers = load_map_layers(session)
                self._source = source
                self.last_build_s = time.perf_counter() - started
                log.info(
                    "map layers of %d grids built in %.2f s (coverage: %s)",
                    self._layers.grid_count,
                    self.last_build_s,
                    self._layers.is_coverage,
                )
            return self._layers

    def warm(self, source: object, sessions: sessionmaker[Session]) -> None:
        """Build the layers for `source` and the ones asked for first (run it in
        a thread at start: a big city takes seconds)."""
        started = time.perf_counter()
        self.get(source, sessions).warm_up()
        self.warmed.set()
        log.info("map layers warmed in %.2f s", time.perf_counter() - started)

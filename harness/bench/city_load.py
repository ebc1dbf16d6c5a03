"""Bulk-load a city-year of cases into PostgreSQL with COPY.

The secondary indexes of the loaded tables are dropped first and built again
afterwards (one sort each instead of millions of insertions), and the loading
session skips the foreign-key triggers (`session_replication_role = replica`:
the generator writes consistent ids), so loading costs what COPY costs.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import psycopg
from psycopg import sql
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.db.models import Area, AreaLevel, Camera, Department, Worker, WorkerArea
from central.matters import MatterList
from harness.bench.city_data import TABLE_COLUMNS, CityRefs, CopyChunk

__all__ = ["LoadFigures", "as_figures", "city_refs", "load_year"]

log = logging.getLogger(__name__)

TABLES = tuple(TABLE_COLUMNS)
_SEQUENCES = {"tickets": "id", "ticket_history": "id", "citizen_reports": "id"}


@dataclass(frozen=True, slots=True)
class LoadFigures:
    rows: dict[str, int]
    copy_s: float
    index_s: float
    analyze_s: float


def city_refs(session: Session, matters: MatterList) -> CityRefs:
    """Grids, their full-time workers, cameras and departments of the imported
    city, as the generator needs them."""
    grids = session.execute(
        select(Area.code, Area.centroid_lat, Area.centroid_lon)
        .where(Area.level == AreaLevel.GRID.value)
        .order_by(Area.code)
    ).all()
    index = {code: i for i, (code, _, _) in enumerate(grids)}
    worker_of: dict[str, str] = {}
    for worker_id, area in session.execute(
        select(Worker.id, WorkerArea.area_code)
        .join(WorkerArea, WorkerArea.worker_id == Worker.id)
        .where(Worker.role == "full_time")
        .order_by(Worker.id)
    ):
        worker_of.setdefault(area, worker_id)
    cameras = [
        (node, camera, index[grid])
        for node, camera, grid in session.execute(
            select(Camera.node_id, Camera.camera_id, Camera.grid_code).order_by(
                Camera.id
            )
        )
        if grid in index
    ]
    departments: dict[str, str] = {}
    for code, kind in session.execute(
        select(Department.code, Department.kind).order_by(Department.code)
    ):
        departments.setdefault(kind, code)
    return CityRefs(
        grid_codes=[code for code, _, _ in grids],
        grid_lat=np.array([lat or 0.0 for _, lat, _ in grids]),
        grid_lon=np.array([lon or 0.0 for _, _, lon in grids]),
        grid_workers=[worker_of.get(code, "") for code, _, _ in grids],
        cameras=cameras,
        departments=departments,
        matters=matters.matters,
        matter_version=matters.version,
    )


def _secondary_indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the loaded tables' indexes that back no
    constraint."""
    rows = conn.execute(
        """
        SELECT i.indexname, i.indexdef
        FROM pg_indexes i
        WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)
          AND NOT EXISTS (
            SELECT 1 FROM pg_constraint c
            WHERE c.conindid = to_regclass(quote_ident(i.indexname))
          )
        ORDER BY i.indexname
        """,
        (list(TABLES),),
    ).fetchall()
    return [(str(name), str(definition)) for name, definition in rows]


def load_year(
    dsn: str, chunks: Iterable[CopyChunk], *, total: int, progress: bool = True
) -> LoadFigures:
    """COPY every chunk into the tables, then rebuild the indexes and ANALYZE."""
    rows = dict.fromkeys(TABLES, 0)
    with psycopg.connect(dsn, autocommit=True) as conn:
        indexes = _secondary_indexes(conn)
        for name, _ in indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        started = time.perf_counter()
        conn.execute("SET session_replication_role = replica")
        done = 0
        for chunk in chunks:
            with conn.transaction():
                for table in TABLES:
                    text = chunk.text[table]
                    if not text:
                        continue
                    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                        sql.Identifier(table),
                        sql.SQL(", ").join(map(sql.Identifier, TABLE_COLUMNS[table])),
                    )
                    with conn.cursor().copy(statement) as copy:
                        copy.write(text)
                    rows[table] += chunk.rows[table]
            done += chunk.tickets
            if progress:
                elapsed = time.perf_counter() - started
                sys.stderr.write(
                    f"\rbench city: loaded {done:,}/{total:,} tickets "
                    f"({done / max(elapsed, 1e-9):,.0f}/s)"
                )
        conn.execute("SET session_replication_role = DEFAULT")
        copy_s = time.perf_counter() - started
        if progress:
            sys.stderr.write("\n")
        for table, column in _SEQUENCES.items():
            conn.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({t}, {c}), "
                    "(SELECT coalesce(max({ci}), 0) + 1 FROM {ti}), false)"
                ).format(
                    t=sql.Literal(table),
                    c=sql.Literal(column),
                    ci=sql.Identifier(column),
                    ti=sql.Identifier(table),
                )
            )
        started = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '512MB'")
        for name, definition in indexes:
            if progress:
                sys.stderr.write(f"bench city: building {name}\n")
            conn.execute(sql.SQL(definition))
        index_s = time.perf_counter() - started
        started = time.perf_counter()
        for table in TABLES:
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))
        analyze_s = time.perf_counter() - started
    log.info("loaded %s", rows)
    return LoadFigures(rows=rows, copy_s=copy_s, index_s=index_s, analyze_s=analyze_s)


def as_figures(figures: LoadFigures, history_end: datetime) -> dict[str, object]:
    """The load figures as JSON fields (`history_end`: the year's "now")."""
    per_s = sum(figures.rows.values()) / max(figures.copy_s, 1e-9)
    return {
        "loaded_rows": figures.rows,
        "load_copy_s": round(figures.copy_s, 1),
        "load_rows_per_s": round(per_s),
        "load_index_s": round(figures.index_s, 1),
        "load_vacuum_analyze_s": round(figures.analyze_s, 1),
        "history_end": history_end.isoformat(),
    }

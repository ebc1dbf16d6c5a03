"""Fast multi-row INSERT ... RETURNING for the ingest path.

On PostgreSQL, SQLAlchemy's "insertmanyvalues" renders one huge statement per page
whose placeholders psycopg re-parses every time (a third of the ingest CPU in a
profile). psycopg's own `executemany(..., returning=True)` sends one small cached
statement per row in pipeline mode instead. SQLite keeps SQLAlchemy's path.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert
from sqlalchemy.dialects import postgresql, sqlite


def insert_returning(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    column: str,
    *,
    ignore_conflicts: bool = False,
) -> list[Any]:
    """Insert `rows`; return `column` of the rows inserted, in input order.

    With `ignore_conflicts`, rows that hit a unique constraint are skipped and
    missing from the result.
    """
    if not rows:
        return []
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return _pg_insert_returning(conn, table, rows, column, ignore_conflicts)
    stmt: Any
    if ignore_conflicts:
        if dialect != "sqlite":
            raise RuntimeError(f"unsupported database dialect {dialect}")
        stmt = sqlite.insert(table).on_conflict_do_nothing()
    else:
        stmt = insert(table)
    result = conn.execute(
        stmt.returning(table.c[column], sort_by_parameter_order=not ignore_conflicts),
        list(rows),
    )
    return list(result.scalars())


def _pg_insert_returning(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    column: str,
    ignore_conflicts: bool,
) -> list[Any]:
    names = list(rows[0])
    stmt = postgresql.insert(table).values({n: bindparam(n) for n in names})
    if ignore_conflicts:
        stmt = stmt.on_conflict_do_nothing()
    sql = str(stmt.returning(table.c[column]).compile(dialect=conn.dialect))
    params = [{n: _adapt(row[n]) for n in names} for row in rows]
    raw: Any = conn.connection.dbapi_connection  # a psycopg Connection
    out: list[Any] = []
    cursor = raw.cursor()
    try:
        cursor.executemany(sql, params, returning=True)
        while True:
            out.extend(r[0] for r in cursor.fetchall())
            if not cursor.nextset():
                break
    finally:
        cursor.close()
    return out


def _adapt(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: central stores aware UTC")
    return value

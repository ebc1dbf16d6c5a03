"""Fast set-based statements for the ingest path.

On PostgreSQL a batch of rows travels as one array per column and becomes one
statement (`INSERT ... SELECT ... FROM unnest(...)`, `UPDATE ... FROM unnest(...)`,
`... WHERE key = ANY(...)`), with binary parameters. That is one small cached
(and, after a few runs, server-prepared) statement per batch instead of one
statement per row: far less work for psycopg and for the server than
`executemany`, and far less than SQLAlchemy's "insertmanyvalues" pages whose
placeholders psycopg re-parses every time. Other dialects (SQLite) keep
SQLAlchemy's portable path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Float,
    Integer,
    Table,
    insert,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeDecorator, TypeEngine

_PG = postgresql.dialect()  # type: ignore[no-untyped-call]
_SQL_CACHE: dict[tuple[Any, ...], str] = {}


class RawJson(str):
    """JSON text already encoded, for a JSON column on the PostgreSQL path only
    (SQLAlchemy's JSON type would encode it once more)."""

    __slots__ = ()


def is_postgresql(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def insert_returning(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    column: str,
    *,
    ignore_conflicts: bool = False,
) -> list[Any]:
    """Insert `rows`; return `column` of the rows inserted, in input order.

    With `ignore_conflicts`, rows that hit a unique constraint are skipped and
    missing from the result (whose order is then unspecified). Without it, on
    PostgreSQL `column` must be an autoincrement primary key (input order is
    restored from the ascending sequence values).
    """
    if not rows:
        return []
    if is_postgresql(conn):
        return _pg_insert(conn, table, rows, column, ignore_conflicts)
    stmt = _insert(conn, table, ignore_conflicts).returning(
        table.c[column], sort_by_parameter_order=not ignore_conflicts
    )
    return list(conn.execute(stmt, list(rows)).scalars())


def insert_many(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    ignore_conflicts: bool = False,
) -> None:
    """Insert `rows` (no RETURNING); with `ignore_conflicts`, skip duplicates."""
    if not rows:
        return
    if is_postgresql(conn):
        _pg_insert(conn, table, rows, None, ignore_conflicts)
        return
    conn.execute(_insert(conn, table, ignore_conflicts), list(rows))


def _insert(conn: Connection, table: Table, ignore_conflicts: bool) -> Any:
    """SQLAlchemy's portable INSERT (the non-PostgreSQL path)."""
    if not ignore_conflicts:
        return insert(table)
    if conn.dialect.name != "sqlite":
        raise RuntimeError(f"unsupported database dialect {conn.dialect.name}")
    return sqlite.insert(table).on_conflict_do_nothing()


def pg_execute(
    conn: Connection, sql: str, params: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    """Run `sql` (psycopg placeholders: `%b` binary, `%s`) on the connection's
    psycopg connection inside its transaction; return the rows (if any)."""
    raw: Any = conn.connection.dbapi_connection  # a psycopg Connection
    with raw.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.description is None:
            return []
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows


def pg_array_type(table: Table, column: str) -> str:
    """The PostgreSQL array type of `column`, for casting an unnest parameter."""
    return f"{table.c[column].type.compile(dialect=_PG)}[]"


def pg_column(table: Table, column: str, values: Sequence[Any]) -> list[Any]:
    """`values` of `column` as psycopg dumps them into a typed array."""
    kind = _base_type(table.c[column].type)
    if isinstance(kind, JSON):
        return [
            v
            if v is None or isinstance(v, RawJson)
            else json.dumps(v, ensure_ascii=False)
            for v in values
        ]
    if isinstance(kind, Float):
        return [None if v is None else float(v) for v in values]
    if isinstance(kind, Boolean):
        return [None if v is None else bool(v) for v in values]
    if isinstance(kind, Integer):
        return [None if v is None else int(v) for v in values]
    out = list(values)
    for v in out:
        if isinstance(v, datetime) and v.tzinfo is None:
            raise ValueError(f"naive datetime {v!r}: central stores aware UTC")
    return out


def _base_type(kind: TypeEngine[Any]) -> TypeEngine[Any]:
    while isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    return kind


def _pg_insert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    column: str | None,
    ignore_conflicts: bool,
) -> list[Any]:
    in_order = column is not None and not ignore_conflicts
    if (
        column is not None
        and in_order
        and table.autoincrement_column is not table.c[column]
    ):
        raise ValueError(f"{table.name}.{column} is not an autoincrement key")
    names = list(rows[0])
    key = ("insert", table.name, tuple(names), column, ignore_conflicts)
    sql = _SQL_CACHE.get(key)
    if sql is None:
        quote = _PG.identifier_preparer.quote
        arrays = ", ".join(f"%b::{pg_array_type(table, n)}" for n in names)
        columns = ", ".join(quote(n) for n in names)
        # ORDER BY the ordinality: rows are inserted (and serial values drawn)
        # in input order.
        sql = (
            f"INSERT INTO {quote(table.name)} ({columns}) "
            f"SELECT {', '.join(f'u.c{i}' for i in range(len(names)))} "
            f"FROM unnest({arrays}) WITH ORDINALITY "
            f"AS u({', '.join(f'c{i}' for i in range(len(names)))}, ord) "
            "ORDER BY u.ord"
        )
        if ignore_conflicts:
            sql += " ON CONFLICT DO NOTHING"
        if column is not None:
            sql += f" RETURNING {quote(column)}"
        _SQL_CACHE[key] = sql
    params = [pg_column(table, n, [row[n] for row in rows]) for n in names]
    out = [r[0] for r in pg_execute(conn, sql, params)]
    if in_order:
        if len(out) != len(rows):
            raise RuntimeError(f"{table.name}: {len(out)} of {len(rows)} rows stored")
        out.sort()  # serial values were drawn in input order
    return out

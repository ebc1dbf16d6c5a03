"""Unit tests of the SQLite plumbing shared by the outbox and the upload queue."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from edge.publish.sqlite_queue import LockedConnection, count_rows


class _ClosedError(RuntimeError):
    pass


def _open(path: Path, table: str = "items") -> LockedConnection:
    return LockedConnection(
        path,
        schema=(f"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY)",),
        label="test queue",
        closed_error=_ClosedError,
        busy_timeout_s=1.0,
        node_id="n1",
    )


def test_locked_connection_given_new_path_should_create_a_fsynced_wal_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sub" / "q.sqlite"
    db = _open(path)

    with db.locked() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        with conn:
            conn.executemany("INSERT INTO items (id) VALUES (?)", [(1,), (2,)])
        assert count_rows(conn, table="items") == 2
    db.close()


def test_locked_connection_given_two_tables_should_share_one_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "q.sqlite"
    first, second = _open(path, "first"), _open(path, "second")

    with first.locked() as conn, conn:
        conn.execute("INSERT INTO first (id) VALUES (1)")
    with second.locked() as conn:
        assert count_rows(conn, table="first") == 1
        assert count_rows(conn, table="second") == 0
    first.close()
    second.close()


def test_locked_connection_given_close_should_refuse_use_with_its_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "q.sqlite"
    db = _open(path)

    assert db.close() is True
    assert db.close() is False, "closing twice is harmless"
    closed = re.escape(f"test queue {path} is closed")
    with pytest.raises(_ClosedError, match=closed), db.locked():
        pass
    assert not db.lock.locked(), "a refused use must release the lock"


def test_locked_connection_given_bad_schema_should_raise(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.Error):
        LockedConnection(
            tmp_path / "q.sqlite",
            schema=("CREATE TABLE broken (",),
            label="test queue",
            closed_error=_ClosedError,
            busy_timeout_s=1.0,
            node_id="n1",
        )

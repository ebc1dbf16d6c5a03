"""SQLite plumbing shared by the durable queues: one fsynced WAL file, one lock."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)


class LockedConnection:
    """One SQLite connection in WAL mode, shared by all threads behind one lock.

    `synchronous=FULL`: every commit is fsynced before it returns. Edge nodes sit
    in street cabinets where power cuts are the common failure; in WAL mode
    `NORMAL` keeps the file consistent but may lose the last committed rows on
    power loss, which breaks "nothing is lost". Writes are rare (far below 100/s
    per node), so an fsync per commit is affordable.

    Several queues may share one file (one table each): SQLite serialises the
    connections' short write transactions, `busy_timeout_s` bounding the wait.

    Args:
        path: SQLite file; parent folders are created.
        schema: `CREATE ... IF NOT EXISTS` statements, run in one transaction.
        label: What the file holds, for messages, e.g. "outbox".
        closed_error: Raised with "<label> <path> is closed" once closed.
        busy_timeout_s: How long a statement waits for another connection's lock.
        node_id: Node id for log lines.

    Raises:
        sqlite3.Error: the file cannot be opened or the schema not created.
    """

    def __init__(
        self,
        path: Path,
        *,
        schema: Sequence[str],
        label: str,
        closed_error: type[Exception],
        busy_timeout_s: float,
        node_id: str,
    ) -> None:
        self._path = path
        self._label = label
        self._closed_error = closed_error
        self.lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn: sqlite3.Connection | None = _open(
            path,
            schema=schema,
            label=label,
            busy_timeout_s=busy_timeout_s,
            node_id=node_id,
        )

    @contextmanager
    def locked(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and yield the open connection.

        Raises:
            closed_error: `close()` was called.
        """
        with self.lock:
            if self._conn is None:
                raise self._closed_error(f"{self._label} {self._path} is closed")
            yield self._conn

    def close(self) -> bool:
        """Close the connection; True when this call closed it (False: already)."""
        with self.lock:
            if self._conn is None:
                return False
            self._conn.close()
            self._conn = None
            return True


def count_rows(conn: sqlite3.Connection, *, table: str) -> int:
    """Rows in `table` (a trusted, fixed table name)."""
    count: int = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    return count


def _open(
    path: Path,
    *,
    schema: Sequence[str],
    label: str,
    busy_timeout_s: float,
    node_id: str,
) -> sqlite3.Connection:
    # check_same_thread=False: all use is serialised by LockedConnection.lock. Each
    # write runs in one `with conn:` transaction, committed before the caller returns.
    conn = sqlite3.connect(path, check_same_thread=False, timeout=busy_timeout_s)
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            logger.warning(
                "node %s: %s %s cannot use WAL (journal_mode=%s)",
                node_id,
                label,
                path,
                mode,
            )
        conn.execute("PRAGMA synchronous=FULL")
        with conn:
            for statement in schema:
                conn.execute(statement)
    except sqlite3.Error:
        conn.close()
        raise
    return conn

"""Durable queue of media uploads to central (SQLite, beside the event outbox).

A row names a file on disk (a clip), the event it belongs to and when to try
next. Rows are deleted only when central has the file or refused it for good,
so a node restart resumes every pending upload.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge.publish.sqlite_queue import LockedConnection, count_rows

logger = logging.getLogger(__name__)

UploadKind = Literal["snapshot", "clip"]

_SCHEMA = """
    CREATE TABLE IF NOT EXISTS uploads (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('snapshot', 'clip')),
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        next_attempt_at REAL NOT NULL,
        last_error TEXT,
        UNIQUE (event_id, kind)
    )
"""
_COLUMNS = (
    "id, event_id, kind, path, sha256, size, content_type, attempts, created_at,"
    " next_attempt_at, last_error"
)


class UploadQueueFullError(RuntimeError):
    """The queue holds `max_rows` uploads; the new one was NOT stored."""


@dataclass(frozen=True, slots=True)
class PendingUpload:
    """One file waiting to reach central.

    Attributes:
        upload_id: Row id (never reused).
        event_id: The event the file belongs to.
        kind: "clip" or "snapshot" (the URL's last segment).
        path: The file on disk.
        sha256: SHA-256 of the file when it was queued.
        size: Bytes.
        content_type: e.g. "video/mp4".
        attempts: Tries so far.
        created_at: When it was queued, UNIX seconds.
        next_attempt_at: When to try next, UNIX seconds.
        last_error: Why the last try failed, if it did.
    """

    upload_id: int
    event_id: str
    kind: UploadKind
    path: Path
    sha256: str
    size: int
    content_type: str
    attempts: int
    created_at: float
    next_attempt_at: float
    last_error: str | None = None


class UploadQueue:
    """Thread-safe durable upload queue in one SQLite file (WAL, fsync per commit).

    The file may be the event outbox's: the table differs and SQLite serialises
    the two connections' short write transactions.

    Args:
        path: SQLite file; parent folders are created.
        max_rows: Most uploads held; `put` beyond it raises `UploadQueueFullError`.
        node_id: Node id for log lines.

    Raises:
        ValueError: `max_rows` below 1.
        sqlite3.Error: the file cannot be opened.
    """

    def __init__(self, path: Path, max_rows: int, *, node_id: str = "-") -> None:
        if max_rows < 1:
            raise ValueError(f"upload queue max_rows must be >= 1, got {max_rows}")
        self.path = path
        self.max_rows = max_rows
        self._node_id = node_id
        self._db = LockedConnection(
            path,
            schema=(_SCHEMA,),
            label="upload queue",
            closed_error=sqlite3.ProgrammingError,
            busy_timeout_s=10.0,
            node_id=node_id,
        )
        logger.info(
            "node %s: upload queue %s opened with %d pending",
            node_id,
            path,
            self.depth(),
        )

    def put(
        self,
        *,
        event_id: str,
        kind: UploadKind,
        path: Path,
        sha256: str,
        size: int,
        content_type: str,
        now: float | None = None,
    ) -> bool:
        """Queue a file for upload, due at once (committed when this returns).

        Returns:
            True when queued, False when this event's `kind` is already queued.

        Raises:
            UploadQueueFullError: `max_rows` uploads are pending.
        """
        at = float(time.time() if now is None else now)
        with self._db.locked() as conn:
            count = count_rows(conn, table="uploads")
            if count >= self.max_rows:
                raise UploadQueueFullError(
                    f"upload queue {self.path} is full ({count} of {self.max_rows});"
                    f" {kind} of event {event_id} not queued"
                )
            with conn:
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO uploads (event_id, kind, path, sha256,"
                    " size, content_type, created_at, next_attempt_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (event_id, kind, str(path), sha256, size, content_type, at, at),
                )
            return cursor.rowcount == 1

    def next_due(self, now: float) -> PendingUpload | None:
        """The upload due first, if one is due at `now`."""
        with self._db.locked() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM uploads WHERE next_attempt_at <= ?"
                " ORDER BY next_attempt_at, id LIMIT 1",
                (now,),
            ).fetchone()
        return None if row is None else _to_upload(row)

    def next_due_at(self) -> float | None:
        """When the earliest pending upload is due, or None when none is pending."""
        with self._db.locked() as conn:
            row = conn.execute("SELECT MIN(next_attempt_at) FROM uploads").fetchone()
        return None if row[0] is None else float(row[0])

    def retry_at(self, upload_id: int, *, at: float, error: str) -> None:
        """Count a failed try and schedule the next one."""
        with self._db.locked() as conn, conn:
            conn.execute(
                "UPDATE uploads SET attempts = attempts + 1,"
                " next_attempt_at = ?, last_error = ? WHERE id = ?",
                (float(at), error[:500], upload_id),
            )

    def remove(self, upload_id: int) -> bool:
        """Delete an upload (done or refused for good); True if it existed."""
        with self._db.locked() as conn:
            with conn:
                cursor = conn.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
            return cursor.rowcount == 1

    def pending(self) -> list[PendingUpload]:
        """Every pending upload, due first."""
        with self._db.locked() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM uploads ORDER BY next_attempt_at, id"
            ).fetchall()
        return [_to_upload(row) for row in rows]

    def pending_paths(self) -> set[Path]:
        """Files some pending upload still needs."""
        with self._db.locked() as conn:
            rows = conn.execute("SELECT path FROM uploads").fetchall()
        return {Path(row[0]) for row in rows}

    def depth(self) -> int:
        """Pending uploads."""
        with self._db.locked() as conn:
            return count_rows(conn, table="uploads")

    def close(self) -> None:
        """Close the database; rows stay on disk. Closing twice is harmless."""
        self._db.close()


def _to_upload(values: tuple[object, ...]) -> PendingUpload:
    (upload_id, event_id, kind, path, sha256, size, content_type, attempts,
     created_at, next_attempt_at, last_error) = values  # fmt: skip
    assert isinstance(upload_id, int) and isinstance(event_id, str)
    assert isinstance(path, str)
    if kind not in ("snapshot", "clip"):
        raise ValueError(f"upload {upload_id}: unknown kind {kind!r}")
    upload_kind: UploadKind = "clip" if kind == "clip" else "snapshot"
    assert isinstance(sha256, str) and isinstance(size, int)
    assert isinstance(content_type, str) and isinstance(attempts, int)
    assert isinstance(created_at, float) and isinstance(next_attempt_at, float)
    assert last_error is None or isinstance(last_error, str)
    return PendingUpload(
        upload_id=upload_id,
        event_id=event_id,
        kind=upload_kind,
        path=Path(path),
        sha256=sha256,
        size=size,
        content_type=content_type,
        attempts=attempts,
        created_at=created_at,
        next_attempt_at=next_attempt_at,
        last_error=last_error,
    )

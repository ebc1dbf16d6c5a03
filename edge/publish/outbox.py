"""Durable on-disk outbox (SQLite) holding messages until the broker acks them."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from edge.config import OutboxConfig
from edge.publish.sqlite_queue import LockedConnection, count_rows

logger = logging.getLogger(__name__)

# Rows ids come from AUTOINCREMENT so an id is never reused after its row is acked:
# a late PUBACK for an old row can never delete a newer row that got the same id.
_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        qos INTEGER NOT NULL CHECK (qos IN (0, 1, 2)),
        retain INTEGER NOT NULL,
        dedupe_key TEXT UNIQUE,
        attempts INTEGER NOT NULL DEFAULT 0,
        enqueued_at REAL NOT NULL
    )
    """,
    # Keys of acked rows, kept (bounded) so re-enqueueing an event phase that was
    # already delivered stays a no-op instead of sending it a second time.
    """
    CREATE TABLE IF NOT EXISTS delivered (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        dedupe_key TEXT NOT NULL UNIQUE,
        acked_at REAL NOT NULL
    )
    """,
    # The newest message of each event that started and has not ended yet, so
    # that a node killed mid-episode can end it when it starts again.
    """
    CREATE TABLE IF NOT EXISTS open_events (
        event_id TEXT PRIMARY KEY,
        payload BLOB NOT NULL
    )
    """,
)


@dataclass(frozen=True, slots=True)
class EpisodeMark:
    """What a stored event message says of its event: still in progress (`newest`:
    the message to keep) or ended (`newest` None)."""

    event_id: str
    newest: bytes | None


class OutboxFullError(RuntimeError):
    """The outbox is full (rows or bytes); the new row was NOT stored.

    The outbox refuses rather than dropping its oldest row: an event must never
    vanish silently, so the caller decides (count it, log it, retry later).
    """


class OutboxClosedError(RuntimeError):
    """The outbox was used after `close()`."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One stored message waiting for its PUBACK.

    Attributes:
        row_id: Unique, increasing id (never reused); pass it to `Outbox.ack`.
        topic: MQTT topic.
        payload: Message body.
        qos: MQTT QoS (0, 1 or 2).
        retain: MQTT retain flag.
        attempts: How many times the row has been handed to the broker so far.
        enqueued_at: When the row was stored, Unix time in seconds.
        dedupe_key: The idempotency key given to `put`, if any.
    """

    row_id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    attempts: int
    enqueued_at: float
    dedupe_key: str | None = None


class Outbox:
    """Thread-safe FIFO of outbound messages in one SQLite file (WAL journal).

    Every commit (put or ack) is fsynced before it returns (see
    `LockedConnection` for why).

    A new `Outbox` on the same path sees every row not yet acked, so messages
    survive process restarts. One connection is shared by all threads behind
    one lock; every method is safe to call from any thread.

    Args:
        path: SQLite file; parent folders are created.
        max_rows: Most rows held; `put` beyond it raises `OutboxFullError`.
        max_bytes: Most payload bytes held (events carry JPEGs), likewise.
        reserve_fraction: Share of both limits only `put(..., reserved=True)`
            may use: room kept so that the end of an event already started can
            still be stored when new events no longer can.
        node_id: Node id used in log lines.

    Raises:
        ValueError: `max_rows` or `max_bytes` is below 1, or the reserve is
            not within [0, 1).
        sqlite3.Error: the file cannot be opened or is not an outbox database.
    """

    def __init__(
        self,
        path: Path,
        max_rows: int,
        *,
        max_bytes: int = 1 << 30,
        reserve_fraction: float = 0.0,
        node_id: str = "-",
    ) -> None:
        if max_rows < 1:
            raise ValueError(f"outbox max_rows must be >= 1, got {max_rows}")
        if max_bytes < 1:
            raise ValueError(f"outbox max_bytes must be >= 1, got {max_bytes}")
        if not 0.0 <= reserve_fraction < 1.0:
            raise ValueError(
                f"outbox reserve must be in [0, 1), got {reserve_fraction}"
            )
        self._path = path
        self._max_rows = max_rows
        self._max_bytes = max_bytes
        self._open_rows = max(1, int(max_rows * (1.0 - reserve_fraction)))
        self._open_bytes = max(1, int(max_bytes * (1.0 - reserve_fraction)))
        self._node_id = node_id
        self._db = LockedConnection(
            path,
            schema=_SCHEMA,
            label="outbox",
            closed_error=OutboxClosedError,
            busy_timeout_s=5.0,
            node_id=node_id,
        )
        with self._db.locked() as conn:
            self._depth = count_rows(conn, table="outbox")
            self._bytes = int(
                conn.execute(
                    "SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM outbox"
                ).fetchone()[0]
            )
        logger.info(
            "node %s: outbox %s opened with %s pending rows, %s bytes (max %s, %s)",
            node_id,
            path,
            self._depth,
            self._bytes,
            max_rows,
            max_bytes,
        )

    @classmethod
    def from_config(cls, config: OutboxConfig, *, node_id: str) -> Outbox:
        """Open the outbox described by a node's `outbox` config section."""
        return cls(
            config.path,
            config.max_rows,
            max_bytes=config.max_bytes,
            reserve_fraction=config.reserve_fraction,
            node_id=node_id,
        )

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self._path

    @property
    def max_rows(self) -> int:
        """Most rows the outbox holds before `put` refuses."""
        return self._max_rows

    def put(
        self,
        topic: str,
        *,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        dedupe_key: str | None = None,
        reserved: bool = False,
        episode: EpisodeMark | None = None,
    ) -> bool:
        """Store a message durably (committed and fsynced when this returns).

        Args:
            topic: MQTT topic.
            payload: Message body.
            qos: MQTT QoS, 0, 1 or 2.
            retain: MQTT retain flag.
            dedupe_key: Idempotency key; a key already pending, or acked recently
                (the last `max_rows` acked keys are remembered), is not stored
                again. `None` never dedupes.
            reserved: May use the room kept in reserve (the end of an event).
            episode: Note the event as in progress or ended in the same commit
                (see `open_events`).

        Returns:
            True when a new row was stored, False when `dedupe_key` was known.

        Raises:
            ValueError: `qos` is not 0, 1 or 2.
            OutboxFullError: the outbox is full (rows or bytes, the reserve
                counted only for `reserved` rows); nothing was stored.
            OutboxClosedError: the outbox was closed.
        """
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, got {qos}")
        with self._db.locked() as conn:
            if dedupe_key is not None and _is_known_key(conn, dedupe_key):
                logger.debug(
                    "node %s: outbox already has %s", self._node_id, dedupe_key
                )
                return False
            row_limit = self._max_rows if reserved else self._open_rows
            byte_limit = self._max_bytes if reserved else self._open_bytes
            if self._depth >= row_limit or self._bytes + len(payload) > byte_limit:
                logger.error(
                    "node %s: outbox %s full (%s rows, %s bytes), refusing message "
                    "for %s",
                    self._node_id,
                    self._path,
                    self._depth,
                    self._bytes,
                    topic,
                )
                raise OutboxFullError(
                    f"outbox {self._path} is full ({self._depth} of {row_limit} rows, "
                    f"{self._bytes} + {len(payload)} of {byte_limit} bytes); "
                    f"message for {topic!r} not stored"
                )
            with conn:
                conn.execute(
                    "INSERT INTO outbox (topic, payload, qos, retain, dedupe_key,"
                    " enqueued_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (topic, payload, qos, int(retain), dedupe_key, time.time()),
                )
                if episode is not None:
                    _mark_episode(conn, episode)
            self._depth += 1
            self._bytes += len(payload)
            return True

    def forget_open(self, event_id: str) -> None:
        """Event `event_id` ended (or cannot be ended): no longer in progress."""
        with self._db.locked() as conn, conn:
            conn.execute("DELETE FROM open_events WHERE event_id = ?", (event_id,))

    def open_events(self) -> list[tuple[str, bytes]]:
        """(event id, newest message) of every event in progress; read at start,
        these are the events the previous process left open."""
        with self._db.locked() as conn:
            rows = conn.execute(
                "SELECT event_id, payload FROM open_events ORDER BY event_id"
            ).fetchall()
        return [(str(event_id), bytes(payload)) for event_id, payload in rows]

    def peek(self, limit: int) -> list[OutboxRow]:
        """The oldest `limit` rows, oldest first, without removing them.

        Raises:
            ValueError: `limit` is negative.
            OutboxClosedError: the outbox was closed.
        """
        if limit < 0:
            raise ValueError(f"peek limit must be >= 0, got {limit}")
        with self._db.locked() as conn:
            rows = conn.execute(
                "SELECT id, topic, payload, qos, retain, attempts, enqueued_at,"
                " dedupe_key FROM outbox ORDER BY id LIMIT ?",
                (limit,),
            )
            return [_to_row(values) for values in rows.fetchall()]

    def ack(self, row_id: int) -> bool:
        """Delete a row once the broker acknowledged it.

        Returns:
            True when the row existed (False: unknown or already acked).

        Raises:
            OutboxClosedError: the outbox was closed.
        """
        return self.ack_many([row_id]) == 1

    def ack_many(self, row_ids: Iterable[int]) -> int:
        """Delete several acknowledged rows in one transaction.

        Returns:
            How many of the rows existed and were deleted.

        Raises:
            OutboxClosedError: the outbox was closed.
        """
        ids = list(row_ids)
        if not ids:
            return 0
        with self._db.locked() as conn:
            with conn:
                freed = [_delete_row(conn, row_id) for row_id in ids]
                _prune_delivered(conn, keep=self._max_rows)
            deleted = sum(1 for size in freed if size is not None)
            self._depth -= deleted
            self._bytes -= sum(size for size in freed if size is not None)
            return deleted

    def mark_attempted(self, row_ids: Iterable[int]) -> None:
        """Count one more delivery attempt for each row (diagnostics only).

        Raises:
            OutboxClosedError: the outbox was closed.
        """
        params = [(row_id,) for row_id in row_ids]
        if not params:
            return
        with self._db.locked() as conn, conn:
            conn.executemany(
                "UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", params
            )

    def depth(self) -> int:
        """Rows waiting for an ack."""
        with self._db.lock:
            return self._depth

    def size_bytes(self) -> int:
        """Payload bytes waiting for an ack."""
        with self._db.lock:
            return self._bytes

    def close(self) -> None:
        """Close the database; rows stay on disk. Closing twice is harmless."""
        if self._db.close():
            logger.info("node %s: outbox %s closed", self._node_id, self._path)

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _mark_episode(conn: sqlite3.Connection, episode: EpisodeMark) -> None:
    if episode.newest is None:
        conn.execute("DELETE FROM open_events WHERE event_id = ?", (episode.event_id,))
        return
    conn.execute(
        "INSERT INTO open_events (event_id, payload) VALUES (?, ?) "
        "ON CONFLICT (event_id) DO UPDATE SET payload = excluded.payload",
        (episode.event_id, episode.newest),
    )


def _is_known_key(conn: sqlite3.Connection, dedupe_key: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM outbox WHERE dedupe_key = ?"
        " UNION ALL SELECT 1 FROM delivered WHERE dedupe_key = ? LIMIT 1",
        (dedupe_key, dedupe_key),
    ).fetchone()
    return found is not None


def _delete_row(conn: sqlite3.Connection, row_id: int) -> int | None:
    """Delete a row; its payload size, or None when there was no such row."""
    found = conn.execute(
        "SELECT dedupe_key, LENGTH(payload) FROM outbox WHERE id = ?", (row_id,)
    ).fetchone()
    if found is None:
        return None
    conn.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
    if found[0] is not None:
        conn.execute(
            "INSERT OR IGNORE INTO delivered (dedupe_key, acked_at) VALUES (?, ?)",
            (found[0], time.time()),
        )
    return int(found[1])


def _prune_delivered(conn: sqlite3.Connection, *, keep: int) -> None:
    conn.execute(
        "DELETE FROM delivered WHERE seq <= (SELECT MAX(seq) FROM delivered) - ?",
        (keep,),
    )


def _to_row(values: tuple[object, ...]) -> OutboxRow:
    row_id, topic, payload, qos, retain, attempts, enqueued_at, key = values
    assert isinstance(row_id, int) and isinstance(topic, str)
    assert isinstance(payload, bytes) and isinstance(qos, int)
    assert isinstance(attempts, int) and isinstance(enqueued_at, float)
    assert key is None or isinstance(key, str)
    return OutboxRow(
        row_id=row_id,
        topic=topic,
        payload=payload,
        qos=qos,
        retain=bool(retain),
        attempts=attempts,
        enqueued_at=enqueued_at,
        dedupe_key=key,
    )

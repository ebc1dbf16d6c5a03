"""Upload queue: durable, deduplicated per event and kind, bounded, due-ordered."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.publish.outbox import Outbox
from edge.publish.uploads import UploadQueue, UploadQueueFullError

SHA = "a" * 64


def _put(queue: UploadQueue, event_id: str, now: float = 100.0) -> bool:
    return queue.put(
        event_id=event_id,
        kind="clip",
        path=Path(f"/clips/{event_id}.mp4"),
        sha256=SHA,
        size=10,
        content_type="video/mp4",
        now=now,
    )


def test_upload_queue_given_rows_should_survive_reopen_beside_the_outbox(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.sqlite"
    with Outbox(path, 100) as outbox:
        outbox.put("t", payload=b"event", dedupe_key="k")
        queue = UploadQueue(path, 10)
        assert _put(queue, "ev-1", now=100.0)
        assert _put(queue, "ev-2", now=50.0)
        assert not _put(queue, "ev-1"), "one clip per event"
        queue.retry_at(1, at=200.0, error="HTTP 503: busy")
        queue.close()
        queue.close()
        assert outbox.depth() == 1
    reopened = UploadQueue(path, 10)
    pending = reopened.pending()
    assert [(u.event_id, u.attempts, u.last_error) for u in pending] == [
        ("ev-2", 0, None),
        ("ev-1", 1, "HTTP 503: busy"),
    ]
    assert pending[1].next_attempt_at == 200.0
    assert reopened.pending_paths() == {
        Path("/clips/ev-1.mp4"),
        Path("/clips/ev-2.mp4"),
    }
    reopened.close()


def test_upload_queue_given_times_should_hand_out_due_rows_first(
    tmp_path: Path,
) -> None:
    queue = UploadQueue(tmp_path / "q.sqlite", 10)
    assert queue.next_due(0.0) is None and queue.next_due_at() is None
    _put(queue, "ev-1", now=10.0)
    _put(queue, "ev-2", now=5.0)
    assert queue.next_due(4.0) is None
    assert queue.next_due_at() == 5.0
    due = queue.next_due(10.0)
    assert due is not None and due.event_id == "ev-2"
    assert queue.remove(due.upload_id)
    assert not queue.remove(due.upload_id)
    assert queue.depth() == 1


def test_upload_queue_given_full_should_refuse(tmp_path: Path) -> None:
    queue = UploadQueue(tmp_path / "q.sqlite", 1)
    _put(queue, "ev-1")
    with pytest.raises(UploadQueueFullError, match="full"):
        _put(queue, "ev-2")
    assert queue.depth() == 1


def test_upload_queue_given_bad_use_should_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_rows"):
        UploadQueue(tmp_path / "q.sqlite", 0)
    queue = UploadQueue(tmp_path / "q.sqlite", 1)
    queue.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        queue.depth()

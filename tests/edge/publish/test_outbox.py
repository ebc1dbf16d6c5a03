"""Unit tests of the SQLite outbox."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pytest

from edge.publish.outbox import Outbox, OutboxClosedError, OutboxFullError

TOPIC = "gw/v1/edge/n1/events"


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "outbox.sqlite", max_rows=100, node_id="n1")
    yield box
    box.close()


def test_outbox_given_puts_should_peek_them_oldest_first(outbox: Outbox) -> None:
    for n in range(3):
        outbox.put(TOPIC, payload=f"m{n}".encode(), qos=1, retain=n == 2)

    rows = outbox.peek(10)

    assert [r.payload for r in rows] == [b"m0", b"m1", b"m2"]
    assert [r.retain for r in rows] == [False, False, True]
    assert all(r.topic == TOPIC and r.qos == 1 and r.attempts == 0 for r in rows)
    assert rows[0].row_id < rows[1].row_id < rows[2].row_id
    assert rows[0].enqueued_at <= rows[2].enqueued_at
    assert outbox.depth() == 3
    assert [r.payload for r in outbox.peek(2)] == [b"m0", b"m1"]


def test_outbox_given_empty_should_peek_nothing(outbox: Outbox) -> None:
    assert outbox.peek(10) == []
    assert outbox.depth() == 0


def test_outbox_given_ack_should_remove_only_that_row(outbox: Outbox) -> None:
    for n in range(3):
        outbox.put(TOPIC, payload=f"m{n}".encode())
    middle = outbox.peek(3)[1].row_id

    assert outbox.ack(middle) is True
    assert outbox.ack(middle) is False
    assert outbox.ack(999_999) is False
    assert [r.payload for r in outbox.peek(10)] == [b"m0", b"m2"]
    assert outbox.depth() == 2


@pytest.mark.parametrize("ack_first", [False, True], ids=["pending", "delivered"])
def test_outbox_given_same_dedupe_key_should_store_once(
    outbox: Outbox, ack_first: bool
) -> None:
    assert outbox.put(TOPIC, payload=b"first", dedupe_key="ev-1:start") is True
    if ack_first:
        outbox.ack(outbox.peek(1)[0].row_id)

    assert outbox.put(TOPIC, payload=b"again", dedupe_key="ev-1:start") is False
    assert outbox.put(TOPIC, payload=b"end", dedupe_key="ev-1:end") is True
    assert [r.payload for r in outbox.peek(10)] == (
        [b"end"] if ack_first else [b"first", b"end"]
    )


def test_outbox_given_no_dedupe_key_should_store_every_put(outbox: Outbox) -> None:
    outbox.put(TOPIC, payload=b"same")
    outbox.put(TOPIC, payload=b"same")

    assert outbox.depth() == 2


def test_outbox_given_more_acks_than_max_rows_should_forget_oldest_keys(
    tmp_path: Path,
) -> None:
    with Outbox(tmp_path / "o.sqlite", max_rows=2) as box:
        for n in range(3):
            box.put(TOPIC, payload=b"x", dedupe_key=f"k{n}")
            box.ack(box.peek(1)[0].row_id)

        assert box.put(TOPIC, payload=b"x", dedupe_key="k0") is True
        assert box.put(TOPIC, payload=b"x", dedupe_key="k2") is False


def test_outbox_given_reopen_should_keep_unacked_rows(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "outbox.sqlite"
    with Outbox(path, max_rows=10) as first:
        for n in range(3):
            first.put(TOPIC, payload=f"m{n}".encode(), dedupe_key=f"k{n}")
        first.ack(first.peek(1)[0].row_id)
        first.mark_attempted([r.row_id for r in first.peek(10)])

    with Outbox(path, max_rows=10) as second:
        rows = second.peek(10)
        assert [r.payload for r in rows] == [b"m1", b"m2"]
        assert [r.attempts for r in rows] == [1, 1]
        assert [r.dedupe_key for r in rows] == ["k1", "k2"]
        assert second.depth() == 2
        assert second.put(TOPIC, payload=b"m0", dedupe_key="k0") is False


def test_outbox_given_new_file_should_use_wal_journal(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    Outbox(path, max_rows=10).close()

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_outbox_given_full_should_refuse_and_keep_rows(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", max_rows=2) as box:
        box.put(TOPIC, payload=b"a", dedupe_key="a")
        box.put(TOPIC, payload=b"b")

        with pytest.raises(OutboxFullError, match="full"):
            box.put(TOPIC, payload=b"c")
        assert box.put(TOPIC, payload=b"a", dedupe_key="a") is False
        assert [r.payload for r in box.peek(10)] == [b"a", b"b"]

        box.ack(box.peek(1)[0].row_id)
        assert box.put(TOPIC, payload=b"c") is True


def test_outbox_given_concurrent_puts_should_store_all_once(tmp_path: Path) -> None:
    threads_n, puts_n = 8, 25
    with Outbox(tmp_path / "o.sqlite", max_rows=1000) as box:

        def put_many(t: int) -> None:
            for n in range(puts_n):
                box.put(TOPIC, payload=f"{t}-{n}".encode(), dedupe_key=f"{t}-{n}")
                box.put(TOPIC, payload=b"dup", dedupe_key=f"{t}-{n}")

        threads = [threading.Thread(target=put_many, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        rows = box.peek(1000)
        assert box.depth() == len(rows) == threads_n * puts_n
        assert len({r.row_id for r in rows}) == len(rows)
        assert b"dup" not in {r.payload for r in rows}


@pytest.mark.parametrize(
    ("max_rows", "qos", "limit", "expectation"),
    [
        (1, 1, 0, nullcontext()),
        (0, 1, 0, pytest.raises(ValueError, match="max_rows")),
        (1, 3, 0, pytest.raises(ValueError, match="qos")),
        (1, 1, -1, pytest.raises(ValueError, match="limit")),
    ],
)
def test_outbox_given_arguments_should_validate_them(
    tmp_path: Path,
    max_rows: int,
    qos: int,
    limit: int,
    expectation: AbstractContextManager[object],
) -> None:
    with (
        expectation,
        Outbox(tmp_path / "o.sqlite", max_rows=max_rows) as box,
    ):
        box.put(TOPIC, payload=b"x", qos=qos)
        box.peek(limit)


def test_outbox_given_closed_should_raise_closed(outbox: Outbox) -> None:
    outbox.close()
    outbox.close()

    with pytest.raises(OutboxClosedError):
        outbox.put(TOPIC, payload=b"x")
    with pytest.raises(OutboxClosedError):
        outbox.peek(1)


def test_outbox_given_bytes_over_the_limit_should_refuse_and_free_on_ack(
    tmp_path: Path,
) -> None:
    with Outbox(tmp_path / "o.sqlite", max_rows=100, max_bytes=1000) as box:
        box.put(TOPIC, payload=b"x" * 600)
        with pytest.raises(OutboxFullError, match="bytes"):
            box.put(TOPIC, payload=b"y" * 500)
        assert box.size_bytes() == 600
        box.put(TOPIC, payload=b"z" * 400)
        assert box.size_bytes() == 1000
        box.ack(box.peek(1)[0].row_id)
        assert box.size_bytes() == 400
        box.put(TOPIC, payload=b"y" * 500)


def test_outbox_given_reserve_should_keep_room_for_event_ends(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    with Outbox(path, max_rows=100, max_bytes=1000, reserve_fraction=0.2) as box:
        box.put(TOPIC, payload=b"s" * 700, dedupe_key="e1:start")
        with pytest.raises(OutboxFullError):
            box.put(TOPIC, payload=b"s" * 200, dedupe_key="e2:start")  # 900 > 800
        assert box.put(TOPIC, payload=b"e" * 200, dedupe_key="e1:end", reserved=True)
        with pytest.raises(OutboxFullError):
            box.put(TOPIC, payload=b"e" * 200, dedupe_key="e3:end", reserved=True)
    with Outbox(path, max_rows=100, max_bytes=1000, reserve_fraction=0.2) as again:
        assert again.size_bytes() == 900 and again.depth() == 2  # counted on reopen


def test_outbox_given_row_reserve_should_keep_rows_for_event_ends(
    tmp_path: Path,
) -> None:
    with Outbox(tmp_path / "o.sqlite", max_rows=10, reserve_fraction=0.2) as box:
        for i in range(8):
            box.put(TOPIC, payload=b"s", dedupe_key=f"e{i}:start")
        with pytest.raises(OutboxFullError, match="rows"):
            box.put(TOPIC, payload=b"s", dedupe_key="e8:start")
        assert box.put(TOPIC, payload=b"e", dedupe_key="e0:end", reserved=True)

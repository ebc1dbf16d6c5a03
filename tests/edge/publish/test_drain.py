"""Unit tests of the outbox drain with a recording sender instead of a broker."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.publish.drain import OutboxDrain, SendError
from edge.publish.outbox import Outbox, OutboxRow

TOPIC = "gw/v1/edge/n1/events"


class RecordingSender:
    """Stands in for the MQTT client: records rows, hands out message ids."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, OutboxRow]] = []
        self.refuse_payloads: set[bytes] = set()
        self._mids = itertools.count(1)
        self._lock = threading.Lock()

    def __call__(self, row: OutboxRow) -> int:
        if row.payload in self.refuse_payloads:
            raise SendError("refused by test")
        with self._lock:
            mid = next(self._mids)
            self.sent.append((mid, row))
            return mid

    def payloads(self) -> list[bytes]:
        with self._lock:
            return [row.payload for _, row in self.sent]

    def mids(self) -> list[int]:
        with self._lock:
            return [mid for mid, _ in self.sent]


class DrainHarness:
    def __init__(self, outbox: Outbox, window: int) -> None:
        self.outbox = outbox
        self.sender = RecordingSender()
        self.connected = threading.Event()
        self.drain = OutboxDrain(
            outbox=outbox,
            send=self.sender,
            connected=self.connected,
            node_id="n1",
            window=window,
            poll_s=0.02,
            no_subscriber_retry_s=0.2,
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.drain.run, args=(self.stop,))

    def put(self, *payloads: bytes) -> None:
        for payload in payloads:
            self.outbox.put(TOPIC, payload=payload)
        self.drain.wake()


def wait_until(condition: Callable[[], bool], timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.005)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[DrainHarness]:
    outbox = Outbox(tmp_path / "outbox.sqlite", max_rows=100, node_id="n1")
    h = DrainHarness(outbox, window=3)
    h.thread.start()
    yield h
    h.stop.set()
    h.thread.join()
    outbox.close()


def test_drain_given_disconnected_should_send_nothing(harness: DrainHarness) -> None:
    harness.put(b"a", b"b")
    time.sleep(0.1)

    assert harness.sender.sent == []
    assert harness.outbox.depth() == 2


def test_drain_given_more_rows_than_window_should_keep_window_in_flight(
    harness: DrainHarness,
) -> None:
    harness.put(b"a", b"b", b"c", b"d", b"e")
    harness.connected.set()
    harness.drain.wake()

    wait_until(lambda: len(harness.sender.sent) == 3)
    time.sleep(0.05)
    assert harness.sender.payloads() == [b"a", b"b", b"c"]
    assert harness.drain.in_flight == 3
    assert harness.outbox.depth() == 5

    harness.drain.notify_ack(harness.sender.mids()[1])
    wait_until(lambda: len(harness.sender.sent) == 4)
    assert harness.sender.payloads()[3] == b"d"
    assert [r.payload for r in harness.outbox.peek(10)] == [b"a", b"c", b"d", b"e"]
    assert harness.outbox.peek(1)[0].attempts == 1


def test_drain_given_reconnect_should_not_resend_in_flight_rows(
    harness: DrainHarness,
) -> None:
    harness.connected.set()
    harness.put(b"a", b"b")
    wait_until(lambda: harness.drain.in_flight == 2)

    harness.connected.clear()
    harness.put(b"c")
    time.sleep(0.05)
    harness.connected.set()
    harness.drain.notify_connected()
    wait_until(lambda: len(harness.sender.sent) == 3)
    time.sleep(0.05)

    assert harness.sender.payloads() == [b"a", b"b", b"c"]
    for mid in harness.sender.mids():
        harness.drain.notify_ack(mid)
    wait_until(lambda: harness.outbox.depth() == 0)
    assert harness.drain.acked == 3
    assert harness.drain.wait_for_in_flight(1.0)


def test_drain_given_resent_message_should_ack_row_under_new_mid(
    harness: DrainHarness,
) -> None:
    harness.connected.set()
    harness.put(b"a")
    wait_until(lambda: harness.drain.in_flight == 1)
    old_mid = harness.sender.mids()[0]

    harness.drain.notify_resent(old_mid, 500)
    harness.drain.notify_ack(old_mid)
    time.sleep(0.05)
    assert harness.outbox.depth() == 1
    assert harness.drain.in_flight == 1

    harness.drain.notify_ack(500)
    wait_until(lambda: harness.outbox.depth() == 0)
    assert len(harness.sender.sent) == 1


def test_drain_given_failed_puback_should_keep_row_and_retry_on_reconnect(
    harness: DrainHarness,
) -> None:
    harness.connected.set()
    harness.put(b"a")
    wait_until(lambda: harness.drain.in_flight == 1)

    harness.drain.notify_ack(harness.sender.mids()[0], is_failure=True, reason="x")
    wait_until(lambda: harness.drain.failed == 1)
    time.sleep(0.05)
    assert len(harness.sender.sent) == 1
    assert harness.outbox.depth() == 1

    harness.drain.notify_connected()
    wait_until(lambda: len(harness.sender.sent) == 2)
    harness.drain.notify_ack(harness.sender.mids()[1])
    wait_until(lambda: harness.outbox.depth() == 0)


def test_drain_given_no_subscriber_should_keep_the_row_and_send_it_again_later(
    harness: DrainHarness,
) -> None:
    # After a broker restart Mosquitto answers 0x10 until central resubscribes.
    harness.connected.set()
    harness.put(b"a")
    wait_until(lambda: harness.drain.in_flight == 1)

    harness.drain.notify_ack(harness.sender.mids()[0], no_subscribers=True)
    wait_until(lambda: harness.drain.unheard == 1)
    assert harness.outbox.depth() == 1
    assert len(harness.sender.sent) == 1  # not at once: after the retry pause

    wait_until(lambda: len(harness.sender.sent) == 2)
    harness.drain.notify_ack(harness.sender.mids()[1])
    wait_until(lambda: harness.outbox.depth() == 0)
    assert harness.drain.acked == 1


def test_drain_given_no_subscriber_for_a_retained_row_should_ack_it(
    harness: DrainHarness,
) -> None:
    harness.connected.set()
    harness.outbox.put(TOPIC, payload=b"state", retain=True)
    harness.drain.wake()
    wait_until(lambda: harness.drain.in_flight == 1)

    harness.drain.notify_ack(harness.sender.mids()[0], no_subscribers=True)
    wait_until(lambda: harness.outbox.depth() == 0)
    assert harness.drain.unheard == 0


def test_drain_given_send_error_should_hold_row_and_send_the_rest(
    harness: DrainHarness,
) -> None:
    harness.sender.refuse_payloads.add(b"bad")
    harness.connected.set()
    harness.put(b"bad", b"good")

    wait_until(lambda: harness.sender.payloads() == [b"good"])
    assert harness.drain.failed == 1
    assert [r.payload for r in harness.outbox.peek(10)] == [b"bad", b"good"]


def test_drain_given_unknown_mid_should_ignore_it(harness: DrainHarness) -> None:
    harness.connected.set()
    harness.put(b"a")
    wait_until(lambda: harness.drain.in_flight == 1)

    harness.drain.notify_ack(12345)
    time.sleep(0.05)

    assert harness.drain.in_flight == 1
    assert harness.outbox.depth() == 1


def test_drain_given_paused_should_send_no_new_rows(harness: DrainHarness) -> None:
    harness.drain.pause()
    harness.connected.set()
    harness.put(b"a")
    time.sleep(0.1)

    assert harness.sender.sent == []


@pytest.mark.parametrize(
    ("window", "poll_s", "message"),
    [(0, 0.1, "window"), (1, 0.0, "poll_s")],
)
def test_drain_given_bad_settings_should_raise(
    tmp_path: Path, window: int, poll_s: float, message: str
) -> None:
    with (
        Outbox(tmp_path / "o.sqlite", max_rows=10) as box,
        pytest.raises(ValueError, match=message),
    ):
        OutboxDrain(
            outbox=box,
            send=RecordingSender(),
            connected=threading.Event(),
            node_id="n1",
            window=window,
            poll_s=poll_s,
        )

"""Moves outbox rows to the broker through a bounded in-flight window, acking on PUBACK.

Why a broker outage causes no duplicates: a row is "in flight" from the moment the
MQTT client accepts it until its PUBACK arrives, across any number of disconnects,
and the drain never sends an in-flight row again. The client keeps such messages
over a disconnect; on reconnect the publisher takes them back
(`drop_out_messages`) and re-sends them itself, first, reporting each old -> new
message id here (`notify_resent`). So paho's own retransmission never runs and an
unacknowledged row is re-sent once per reconnect, by one party only. A new client
(a node restart) starts with nothing in flight and sends what is still in the
outbox: delivery is at least once when the process dies between the broker
receiving a row and the ack reaching the disk, or when a PUBACK is lost in the
cut; central dedupes on `EventMessage.dedupe_key` (`event_id` + phase).

A PUBACK that says "no matching subscribers" (MQTT 5 reason 0x10) is a success to
the broker but means nobody took the event: after a broker restart, persistent
sessions match nothing until their clients reconnect (eclipse/mosquitto#769), so
central would never see it. Such a row stays in the outbox and is sent again after
`no_subscriber_retry_s` (retained state rows excepted: the broker keeps those).

All bookkeeping lives in the drain thread; other threads only post notices to its
queue, so paho's network thread never waits on the drain or on the disk, and a
notice posted from a paho callback is always applied after the send it refers to.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.publish.outbox import Outbox, OutboxRow

logger = logging.getLogger(__name__)


class SendError(RuntimeError):
    """The client refused a row (bad topic, queue full); the row stays stored."""


# Hands a row to the MQTT client and returns its message id; raises SendError.
Sender = Callable[[OutboxRow], int]


@dataclass(frozen=True, slots=True)
class _Ack:
    mid: int
    is_failure: bool
    reason: str
    no_subscribers: bool = False


@dataclass(frozen=True, slots=True)
class _Resent:
    old_mid: int
    new_mid: int


@dataclass(frozen=True, slots=True)
class _Connected:
    pass


@dataclass(frozen=True, slots=True)
class _Wake:
    pass


_Notice = _Ack | _Resent | _Connected | _Wake


class OutboxDrain:
    """Sends outbox rows while connected, keeping at most `window` unacked.

    Call `run` in its own thread. `notify_ack` (from on_publish), `notify_resent`
    and `notify_connected` (from on_connect) and `wake` (after a put) may be
    called from any thread and never block.

    Args:
        outbox: Where rows wait; rows are deleted only after their PUBACK.
        send: Hands a row to the client and returns its MQTT message id.
        connected: Set while the client is connected; nothing is sent otherwise.
        node_id: Node id for log lines.
        window: Most rows sent and not yet acknowledged.
        poll_s: Longest sleep between looks at the outbox.
        no_subscriber_retry_s: Wait before re-sending a row nobody subscribed to.

    Raises:
        ValueError: `window` below 1 or `poll_s` not positive.
    """

    def __init__(
        self,
        *,
        outbox: Outbox,
        send: Sender,
        connected: threading.Event,
        node_id: str,
        window: int = 16,
        poll_s: float = 0.5,
        no_subscriber_retry_s: float = 5.0,
    ) -> None:
        if window < 1:
            raise ValueError(f"in-flight window must be >= 1, got {window}")
        if poll_s <= 0:
            raise ValueError(f"poll_s must be > 0, got {poll_s}")
        self._outbox = outbox
        self._send = send
        self._connected = connected
        self._node_id = node_id
        self._window = window
        self._poll_s = poll_s
        self._notices: queue.SimpleQueue[_Notice] = queue.SimpleQueue()
        self._in_flight: dict[int, int] = {}  # MQTT mid -> outbox row id
        self._held: set[int] = set()  # rows refused this connection
        self._retained: set[int] = set()  # in-flight rows sent with retain
        self._deferred: dict[int, float] = {}  # row id -> monotonic time to retry
        self._no_subscriber_retry_s = no_subscriber_retry_s
        self._is_paused = False
        self.acked = 0
        self.failed = 0
        self.unheard = 0  # PUBACKs saying no subscriber took the row

    @property
    def in_flight(self) -> int:
        """Rows sent and waiting for their PUBACK."""
        return len(self._in_flight)

    def notify_ack(
        self,
        mid: int,
        *,
        is_failure: bool = False,
        reason: str = "",
        no_subscribers: bool = False,
    ) -> None:
        """Report a PUBACK (any message id; unknown ids are ignored)."""
        self._notices.put(
            _Ack(
                mid=mid,
                is_failure=is_failure,
                reason=reason,
                no_subscribers=no_subscribers,
            )
        )

    def notify_resent(self, old_mid: int, new_mid: int) -> None:
        """Report that the message `old_mid` was sent again as `new_mid`."""
        self._notices.put(_Resent(old_mid=old_mid, new_mid=new_mid))

    def notify_connected(self) -> None:
        """Report a new connection: rows refused before are tried again."""
        self._notices.put(_Connected())

    def wake(self) -> None:
        """Look at the outbox now (new rows were stored)."""
        self._notices.put(_Wake())

    def pause(self) -> None:
        """Send no new rows; acks are still processed (used while stopping)."""
        self._is_paused = True
        self.wake()

    def wait_for_in_flight(self, timeout_s: float) -> bool:
        """Wait until no row is in flight.

        Returns:
            True when nothing is in flight, False on timeout.
        """
        deadline = time.monotonic() + timeout_s
        while self._in_flight:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def run(self, stop: threading.Event) -> None:
        """Loop until `stop` is set: apply notices, then fill the window."""
        logger.info(
            "node %s: outbox drain started (window %s)", self._node_id, self._window
        )
        while not stop.is_set():
            try:
                notices = [self._notices.get(timeout=self._poll_s)]
            except queue.Empty:
                notices = []
            notices.extend(self._take_pending())
            try:
                self._apply(notices)
                if self._connected.is_set() and not self._is_paused:
                    self._fill_window()
            except Exception:
                # A disk error must not kill delivery for good: log and retry.
                logger.exception("node %s: outbox drain step failed", self._node_id)
                stop.wait(self._poll_s)
        logger.info("node %s: outbox drain stopped", self._node_id)

    def _take_pending(self) -> list[_Notice]:
        pending: list[_Notice] = []
        while True:
            try:
                pending.append(self._notices.get_nowait())
            except queue.Empty:
                return pending

    def _apply(self, notices: list[_Notice]) -> None:
        acked_rows: list[int] = []
        for notice in notices:
            if isinstance(notice, _Connected):
                self._held.clear()
            elif isinstance(notice, _Resent):
                row_id = self._in_flight.pop(notice.old_mid, None)
                if row_id is not None:
                    self._in_flight[notice.new_mid] = row_id
            elif isinstance(notice, _Ack):
                row_id = self._in_flight.pop(notice.mid, None)
                if row_id is None:
                    continue  # a state/transient message, not an outbox row
                retained = row_id in self._retained
                self._retained.discard(row_id)
                if notice.is_failure:
                    self._hold(row_id, reason=notice.reason)
                elif notice.no_subscribers and not retained:
                    self._defer(row_id)
                else:
                    acked_rows.append(row_id)
        if acked_rows:
            self.acked += self._outbox.ack_many(acked_rows)

    def _hold(self, row_id: int, *, reason: str) -> None:
        self._held.add(row_id)
        self.failed += 1
        logger.error(
            "node %s: broker refused outbox row %s (%s); kept, retried on reconnect",
            self._node_id,
            row_id,
            reason,
        )

    def _defer(self, row_id: int) -> None:
        if not self._deferred:
            logger.warning(
                "node %s: broker has no subscriber for outbox row %s (central not "
                "subscribed yet?); kept, sent again in %.0f s",
                self._node_id,
                row_id,
                self._no_subscriber_retry_s,
            )
        self.unheard += 1
        self._deferred[row_id] = time.monotonic() + self._no_subscriber_retry_s

    def _fill_window(self) -> None:
        free = self._window - len(self._in_flight)
        if free <= 0:
            return
        now = time.monotonic()
        self._deferred = {r: t for r, t in self._deferred.items() if t > now}
        busy = set(self._in_flight.values()) | self._held | set(self._deferred)
        # In-flight and held rows are all still in the outbox, so this many
        # oldest rows contain every candidate that can fill the window.
        rows = self._outbox.peek(len(busy) + free)
        sent: list[int] = []
        for row in [r for r in rows if r.row_id not in busy][:free]:
            try:
                mid = self._send(row)
            except SendError as error:
                self._hold(row.row_id, reason=str(error))
                continue
            self._in_flight[mid] = row.row_id
            if row.retain:
                self._retained.add(row.row_id)
            sent.append(row.row_id)
        self._outbox.mark_attempted(sent)

"""In-process fan-out of ticket notices to Server-Sent-Event listeners.

Fed from MQTT (`{prefix}/workers/+/tickets` and `{prefix}/central/tickets`) so a
terminal connected to any central replica hears tickets dispatched by any other.
Publishing is thread-safe; each listener is an asyncio queue on the API's loop.
Staff listeners also hear hotspot warnings (`warning_changed`, told by each
replica's `central.warnings.job.WarningFeed`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gridwatch.contract import DeadLetterMessage, TicketNotice

if TYPE_CHECKING:
    from central.warnings.notice import WarningNotice

log = logging.getLogger(__name__)

ALL = "*"  # listeners keyed by ALL hear every notice (operator consoles)


@dataclass(eq=False)
class Listener:
    key: str
    queue: asyncio.Queue[TicketNotice | WarningNotice]
    loop: asyncio.AbstractEventLoop


class TicketStream:
    def __init__(self, max_queue: int = 256) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self.max_queue = max_queue

    def subscribe(self, key: str) -> Listener:
        """Listen for notices to worker `key` (or ALL); call on the event loop."""
        listener = Listener(
            key, asyncio.Queue(self.max_queue), asyncio.get_running_loop()
        )
        with self._lock:
            self._listeners.append(listener)
        return listener

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def ticket_changed(self, notice: TicketNotice, recipients: Sequence[str]) -> None:
        """Deliver to the recipients' listeners and to every staff (ALL) listener."""
        self.deliver(notice, recipients, staff=True)

    def deliver(
        self, notice: TicketNotice, workers: Sequence[str], *, staff: bool
    ) -> None:
        wanted = set(workers)
        with self._lock:
            targets = [
                lst
                for lst in self._listeners
                if (staff and lst.key == ALL) or lst.key in wanted
            ]
        for listener in targets:
            listener.loop.call_soon_threadsafe(self._offer, listener, notice)

    def warning_changed(self, notice: WarningNotice) -> None:
        """Deliver a hotspot warning change to every staff (ALL) listener."""
        with self._lock:
            targets = [lst for lst in self._listeners if lst.key == ALL]
        for listener in targets:
            listener.loop.call_soon_threadsafe(self._offer, listener, notice)

    def deadletter(self, message: DeadLetterMessage) -> None:
        """Dead letters are not streamed."""

    @staticmethod
    def _offer(listener: Listener, notice: TicketNotice | WarningNotice) -> None:
        try:
            listener.queue.put_nowait(notice)
        except asyncio.QueueFull:
            log.warning("SSE listener %s is not reading; notice dropped", listener.key)

    def listener_count(self) -> int:
        with self._lock:
            return len(self._listeners)

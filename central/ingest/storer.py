"""Stores a batch of events whatever one message of it does.

Two kinds of failure are told apart. When the database itself fails (down, locked,
disk full, a time-out) nothing is wrong with the messages: the same messages are
tried again, with back-off, until they are stored; nothing is dead-lettered and
nothing is acknowledged meanwhile. When storing fails for any other reason, a
message is to blame: the batch is split in halves until the culprit stands alone,
every other message is stored, and the culprit is dead-lettered with the error
after `tries_per_message` tries. One bad message thus costs itself, never the
city's ticketing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from central.ingest.processor import BatchResult, InboundMessage, dead_letter_for
from central.ingest.stats import IngestStats
from gridwatch.contract import DeadLetterMessage

log = logging.getLogger(__name__)

ProcessBatch = Callable[[Sequence[InboundMessage]], BatchResult]

MAX_RETRY_S = 30.0
_STORAGE_ERRORS = (
    OperationalError,  # server gone, locked, disk full, statement time-out
    DisconnectionError,
    InterfaceError,
    PoolTimeoutError,
    OSError,
)


def is_storage_failure(error: BaseException) -> bool:
    """Whether the database (not a message) failed: worth retrying as it is."""
    return isinstance(error, _STORAGE_ERRORS)


class BatchStorer:
    """Stores batches through `process`, retrying storage failures and isolating
    messages that cannot be stored."""

    def __init__(
        self,
        process: ProcessBatch,
        *,
        stats: IngestStats,
        stop: threading.Event,
        retry_s: float = 1.0,
        tries_per_message: int = 3,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._process = process
        self._stats = stats
        self._stop = stop
        self._retry_s = retry_s
        self._tries_per_message = tries_per_message
        self._now = now

    def store(self, batch: Sequence[InboundMessage]) -> BatchResult | None:
        """The batch's result (stored messages, dead letters for the rest), or
        None when asked to stop first (then nothing of it should be acknowledged:
        the broker redelivers and the dedupe key makes that harmless)."""
        result = BatchResult()
        pending: list[Sequence[InboundMessage]] = [batch]
        failures: dict[int, int] = {}  # id of a lone message → failed tries
        delay = self._retry_s
        while pending:
            if self._stop.is_set():
                return None
            part = pending.pop()
            try:
                _merge(result, self._process(part))
            except Exception as error:
                self._stats.failed_batches += 1
                self._stats.last_error = f"{type(error).__name__}: {error}"[:300]
                if is_storage_failure(error):
                    pending.append(part)
                    self._wait_for_storage(len(part), delay)
                    delay = min(delay * 2, MAX_RETRY_S)
                elif len(part) > 1:
                    self._stats.split_batches += 1
                    middle = len(part) // 2
                    # Popped from the end: the first half goes first.
                    pending += [part[middle:], part[:middle]]
                else:
                    message = part[0]
                    tries = failures.get(id(message), 0) + 1
                    failures[id(message)] = tries
                    if tries < self._tries_per_message:
                        pending.append(part)
                    else:
                        result.deadletters.append(self._unstorable(message, error))
                continue
            self._stats.retrying_since = None
            delay = self._retry_s
        return result

    def _wait_for_storage(self, size: int, delay: float) -> None:
        if self._stats.retrying_since is None:
            self._stats.retrying_since = self._now()
        self._stats.storage_retries += 1
        log.error(
            "central: database failed storing %d events (%s); retrying in %.1f s",
            size,
            self._stats.last_error,
            delay,
        )
        self._stop.wait(delay)

    def _unstorable(
        self, message: InboundMessage, error: Exception
    ) -> DeadLetterMessage:
        self._stats.unstorable += 1
        reason = (
            f"not storable after {self._tries_per_message} tries: "
            f"{type(error).__name__}: {error}"
        )[:1000]
        log.warning(
            "central: dead-lettering a message of %s: %s", message.topic, reason
        )
        return dead_letter_for(message, reason)


def _merge(into: BatchResult, part: BatchResult) -> None:
    into.accepted += part.accepted
    into.duplicates += part.duplicates
    into.observations += part.observations
    into.tickets_created += part.tickets_created
    into.merged += part.merged
    into.pending_review += part.pending_review
    into.notices += part.notices
    into.deadletters += part.deadletters

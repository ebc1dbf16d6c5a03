"""The IoT ingest thread: reading batches, heartbeat sweeps, acknowledgements.

Readings have their own bounded queue and thread beside camera events, so a
burst of sensor readings never delays an event batch (nor the other way round);
like events, a reading message is acknowledged only after its batch committed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from central.context import CentralContext
from central.ingest.processor import BatchResult, EventProcessor, InboundMessage
from central.ingest.storer import BatchStorer
from central.iot.ingest import ReadingProcessor
from gridwatch.readings import all_readings_topic

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 30.0
BATCH_MAX = 500


class ReadingWorker:
    """Owns the reading queue and the thread applying it.

    Args:
        context: The central context.
        events: The event processor the rules' events go through.
        publish: Sends a batch's notices and dead letters (the consumer's).
        ack: Acknowledges one MQTT message by its token.
    """

    def __init__(
        self,
        context: CentralContext,
        events: EventProcessor,
        *,
        publish: Callable[[BatchResult], None],
        ack: Callable[[int], object],
    ) -> None:
        ingest = context.settings.ingest
        self.context = context
        self.processor = ReadingProcessor(context, events)
        self._publish = publish
        self._ack = ack
        self._queue: queue.Queue[InboundMessage] = queue.Queue(ingest.max_inflight)
        self._unfinished = 0
        self._stop = threading.Event()
        self._storer = BatchStorer(
            self.processor.process,
            stats=context.ingest_stats,
            stop=self._stop,
            retry_s=ingest.retry_s,
            tries_per_message=ingest.tries_per_message,
        )
        self._thread: threading.Thread | None = None
        # Seconds between heartbeat sweeps (tests shorten it).
        self.sweep_every_s = SWEEP_EVERY_S
        self._last_sweep = time.monotonic()

    def subscription_filter(self, shared_group: str | None) -> str:
        topic = all_readings_topic(self.context.topics.prefix)
        return f"$share/{shared_group}/{topic}" if shared_group else topic

    def submit(self, message: InboundMessage) -> None:
        """Queue one reading message (blocks when full: back-pressure)."""
        self._queue.put(message)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="central-iot", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sweep_when_due()
            batch = self._next_batch()
            if not batch:
                continue
            self._unfinished = len(batch)
            result = self._storer.store(batch)
            if result is None:
                return  # stopping: unacknowledged readings will be redelivered
            self._publish(result)
            for message in batch:
                self._ack(message.token)
            self._unfinished = 0

    def pending(self) -> int:
        """Readings taken from the broker and not yet stored and acknowledged."""
        return self._queue.qsize() + self._unfinished

    def _next_batch(self) -> list[InboundMessage]:
        try:
            batch = [self._queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        while len(batch) < BATCH_MAX:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _sweep_when_due(self) -> None:
        if time.monotonic() - self._last_sweep < self.sweep_every_s:
            return
        self._last_sweep = time.monotonic()
        try:
            result = self.processor.sweep()
        except Exception:
            # The next sweep tries again; a dead sensor is reported late, not lost.
            log.exception("central: heartbeat sweep failed")
            return
        self._publish(result)

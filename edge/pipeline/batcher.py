"""Dynamic batcher: gathers due frames across cameras (max batch, max wait)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from edge.ingest.slot import FreshestFrameSlot
from edge.types import Frame


class FrameBatcher:
    """Builds inference batches from per-camera freshest-frame slots.

    A camera's frame is due when its analysis interval has passed since its last
    analysed frame and none of its frames is still being inferred (so several
    inference workers never reorder one camera's frames). The first due frame opens
    a batch; the batcher then waits at most `max_wait_ms` for more cameras, up to
    `max_batch` frames. Cameras are visited round-robin so a fast camera cannot
    starve the others. Safe to call from several inference threads.
    """

    def __init__(
        self,
        *,
        slots: Mapping[str, FreshestFrameSlot],
        analysis_interval_s: Mapping[str, float],
        notify: threading.Condition,
        max_batch: int,
        max_wait_ms: float,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        missing = set(slots) - set(analysis_interval_s)
        if missing:
            raise ValueError(f"no analysis interval for cameras {sorted(missing)}")
        self._slots = dict(slots)
        self._interval_s = dict(analysis_interval_s)
        self._notify = notify
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000.0
        self._next_due: dict[str, float] = dict.fromkeys(slots, 0.0)
        self._order = list(slots)
        self._cursor = 0
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()

    def _take_due(self, now: float, limit: int) -> list[Frame]:
        taken: list[Frame] = []
        n = len(self._order)
        for step in range(n):
            if len(taken) >= limit:
                break
            camera_id = self._order[(self._cursor + step) % n]
            if now < self._next_due[camera_id] or camera_id in self._in_flight:
                continue
            frame = self._slots[camera_id].take()
            if frame is None:
                continue
            interval = self._interval_s[camera_id]
            # Schedule from the ideal tick, not from `now`, so jitter does not
            # erode the analysis rate; a schedule more than one interval behind
            # (start, outage) restarts from now instead of bursting to catch up.
            tick = self._next_due[camera_id]
            self._next_due[camera_id] = (
                tick if tick > now - interval else now
            ) + interval
            taken.append(frame)
            self._in_flight.add(camera_id)
        self._cursor = (self._cursor + 1) % max(n, 1)
        return taken

    def release(self, frames: list[Frame]) -> None:
        """The frames' detections are handed on: their cameras may be batched again."""
        with self._lock:
            self._in_flight.difference_update(f.camera_id for f in frames)
        with self._notify:
            self._notify.notify_all()

    def _earliest_pending_due(self, now: float) -> float | None:
        dues = [
            self._next_due[c]
            for c, slot in self._slots.items()
            if slot.peek_time() is not None and c not in self._in_flight
        ]
        return max(min(dues), now) if dues else None

    def next_batch(
        self, stop: threading.Event, idle_wait_s: float = 0.2
    ) -> list[Frame]:
        """Block until a batch is ready or `stop` is set (then returns [])."""
        batch: list[Frame] = []
        deadline: float | None = None
        while not stop.is_set():
            now = time.monotonic()
            with self._lock:
                batch.extend(self._take_due(now, self.max_batch - len(batch)))
            if batch and deadline is None:
                deadline = now + self.max_wait_s
            if len(batch) >= self.max_batch or (
                deadline is not None and now >= deadline
            ):
                return batch
            self._wait(now, deadline, idle_wait_s)
        return batch

    def _wait(self, now: float, deadline: float | None, idle_wait_s: float) -> None:
        with self._lock:
            wake = self._earliest_pending_due(now)
        if deadline is not None:
            wake = deadline if wake is None else min(wake, deadline)
        timeout = idle_wait_s if wake is None else max(0.0, wake - now)
        if timeout <= 0:
            return
        with self._notify:
            self._notify.wait(min(timeout, idle_wait_s))

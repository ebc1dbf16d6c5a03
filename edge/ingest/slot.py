"""Per-camera freshest-frame slot: a new frame replaces an unconsumed one."""

from __future__ import annotations

import threading

from edge.types import Frame


class FreshestFrameSlot:
    """Holds only the newest decoded frame of one camera (never a queue).

    A frame that is replaced before the analyser took it counts as dropped.
    `notify` is signalled on every put so a batcher can wait on several slots.
    """

    def __init__(self, camera_id: str, notify: threading.Condition) -> None:
        self.camera_id = camera_id
        self._notify = notify
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self.frames_in = 0
        self.frames_dropped = 0

    def put(self, frame: Frame) -> None:
        with self._lock:
            if self._frame is not None:
                self.frames_dropped += 1
            self._frame = frame
            self.frames_in += 1
        with self._notify:
            self._notify.notify()

    def peek_time(self) -> float | None:
        """Capture time of the waiting frame, or None if the slot is empty."""
        with self._lock:
            return None if self._frame is None else self._frame.captured_at

    def take(self) -> Frame | None:
        with self._lock:
            frame, self._frame = self._frame, None
            return frame

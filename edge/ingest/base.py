"""Common machinery of frame sources: health, rates, reconnect with back-off."""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.config import CameraConfig
from edge.ingest.motion import MotionGate
from edge.ingest.slot import FreshestFrameSlot
from edge.types import Frame
from gridwatch.contract import CameraHealth

logger = logging.getLogger(__name__)


class RateMeter:
    """Events per second over a sliding window."""

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def tick(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            self._times.append(now)
            self._trim(now)

    def rate(self, now: float | None = None) -> float:
        now = time.time() if now is None else now
        with self._lock:
            self._trim(now)
            if len(self._times) < 2:
                return 0.0
            span = max(now - self._times[0], 1e-6)
            return len(self._times) / max(span, self.window_s / 5)

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()


@dataclass(frozen=True, slots=True)
class SourceState:
    """A camera source's health at one instant."""

    health: CameraHealth
    fps_in: float
    last_frame_at: float | None
    reconnects: int
    error: str | None


class FrameSource(ABC):
    """Reads one camera in its own thread into a freshest-frame slot."""

    def __init__(self, camera: CameraConfig, slot: FreshestFrameSlot) -> None:
        self.camera = camera
        self.slot = slot
        self.fps_in = RateMeter()
        self.reconnects = 0
        self.frames_decoded = 0
        self.last_frame_at: float | None = None
        self.error: str | None = None
        self._connected = False
        self._frame_index = 0
        self.motion = MotionGate(camera.motion) if camera.motion.enabled else None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"source-{self.camera.id}", daemon=True
        )
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the reader to end; it does within one read time-out."""
        # The reader thread releases its capture itself: releasing it here while
        # the thread sits in a blocking read can crash the FFmpeg back-end.
        self._stop.set()

    def join(self, timeout_s: float) -> None:
        if self._thread is not None:
            self._thread.join(max(0.0, timeout_s))

    def state(self, now: float | None = None) -> SourceState:
        now = time.time() if now is None else now
        last = self.last_frame_at
        if not self._connected:
            health = CameraHealth.OFFLINE
        elif last is None or now - last > self.camera.stall_after_s:
            health = CameraHealth.STALLED
        else:
            health = CameraHealth.ONLINE
        return SourceState(
            health=health,
            fps_in=self.fps_in.rate(now),
            last_frame_at=last,
            reconnects=self.reconnects,
            error=self.error,
        )

    def _count_frame(self, now: float) -> None:
        """Record one decoded frame (analysed or not)."""
        self.frames_decoded += 1
        self._count_arrival(now)

    def _count_arrival(self, now: float) -> None:
        """Record that the stream delivered a frame (decoded or skipped)."""
        self.last_frame_at = now
        self.fps_in.tick(now)

    def _emit(
        self, image: npt.NDArray[np.uint8], captured_at: float | None = None
    ) -> None:
        """Count a decoded frame and offer it to analysis (time: now by default)."""
        now = time.time() if captured_at is None else captured_at
        self._count_frame(now)
        self._offer(image, now)

    @property
    def frames_gated(self) -> int:
        """Due frames kept from the detector because nothing moved."""
        return self.motion.frames_gated if self.motion is not None else 0

    def _offer(self, image: npt.NDArray[np.uint8], captured_at: float) -> None:
        """Offer a frame, already counted, to analysis (unless motion gating
        keeps it from the detector)."""
        if self.motion is not None and not self.motion.admits(image, captured_at):
            return
        self._frame_index += 1
        self.slot.put(
            Frame(
                camera_id=self.camera.id,
                index=self._frame_index,
                captured_at=captured_at,
                image=image,
            )
        )

    def _run(self) -> None:
        backoff = self.camera.reconnect_min_s
        while not self._stop.is_set():
            if self.motion is not None:
                self.motion.reset()
            try:
                had_frames = self._read_until_failure()
            except Exception as error:  # a source must never take the node down
                logger.exception("camera %s: source crashed", self.camera.id)
                self.error = f"source crashed: {error}"
                had_frames = False
            self._connected = False
            self._close()
            if self._stop.is_set():
                break
            backoff = (
                self.camera.reconnect_min_s
                if had_frames
                else min(backoff * 2, self.camera.reconnect_max_s)
            )
            self.reconnects += 1
            logger.warning(
                "camera %s: disconnected (%s); reconnecting in %.1f s",
                self.camera.id,
                self.error,
                backoff,
            )
            self._stop.wait(backoff)

    @abstractmethod
    def _read_until_failure(self) -> bool:
        """Open the source and emit frames until it fails or stop is set.

        Returns:
            True if at least one frame was read (resets the back-off).
        """

    def _close(self) -> None:  # noqa: B027 - optional hook, most sources hold nothing
        """Release the underlying capture (called by the reader thread)."""

"""Per-camera ring buffer of recent analysed frames, bounded by seconds and bytes."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.types import Frame


@dataclass(frozen=True, slots=True)
class BufferedFrame:
    """One downscaled frame kept for clips, as planar YUV 4:2:0 (I420).

    I420 takes half the memory of BGR and is what H.264 encodes; its width and
    height are even, as yuv420p needs.

    Attributes:
        captured_at: When the frame was read, UNIX seconds.
        i420: uint8 array of shape (H * 3 // 2, W): the Y plane, then U and V.
    """

    captured_at: float
    i420: npt.NDArray[np.uint8]

    def __post_init__(self) -> None:
        rows, width = self.i420.shape if self.i420.ndim == 2 else (0, 0)
        if rows == 0 or rows % 3 or width == 0 or width % 2:
            raise ValueError(
                f"i420 must have shape (H * 3 / 2, W) with H and W even, "
                f"got {self.i420.shape}"
            )

    @classmethod
    def from_frame(cls, frame: Frame, *, max_side_px: int) -> BufferedFrame:
        """Downscale (longest side at most `max_side_px`, even sides) and convert.

        Always copies: the buffer never shares pixels with the decoder.
        """
        h, w = frame.image.shape[:2]
        scale = min(1.0, max_side_px / max(h, w))
        size = (_even(w * scale), _even(h * scale))
        image = frame.image
        if size != (w, h):
            image = np.asarray(
                cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8
            )
        i420 = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)
        return cls(captured_at=frame.captured_at, i420=np.asarray(i420, np.uint8))

    @property
    def resolution_wh(self) -> tuple[int, int]:
        return int(self.i420.shape[1]), int(self.i420.shape[0] * 2 // 3)

    @property
    def nbytes(self) -> int:
        return int(self.i420.nbytes)

    def to_bgr(self) -> npt.NDArray[np.uint8]:
        """A new BGR image, shape (H, W, 3)."""
        return np.asarray(
            cv2.cvtColor(self.i420, cv2.COLOR_YUV2BGR_I420), dtype=np.uint8
        )


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


class FrameRing:
    """The most recent frames of one camera; thread-safe.

    Frames older than `max_age_s` before the newest one, and the oldest frames
    beyond `max_bytes`, are dropped on every push. Frames are immutable, so a
    clip may keep references to frames the ring has already dropped.

    Args:
        max_age_s: Seconds of video kept, measured between capture times.
        max_bytes: Most pixel bytes kept; the newest frame is always kept.

    Raises:
        ValueError: a bound is not positive.
    """

    def __init__(self, *, max_age_s: float, max_bytes: int) -> None:
        if max_age_s <= 0:
            raise ValueError(f"max_age_s must be > 0, got {max_age_s}")
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be > 0, got {max_bytes}")
        self.max_age_s = max_age_s
        self.max_bytes = max_bytes
        self._frames: deque[BufferedFrame] = deque()
        self._bytes = 0
        self._lock = threading.Lock()

    def push(self, frame: BufferedFrame) -> None:
        """Add the newest frame and drop what falls outside the bounds."""
        with self._lock:
            self._frames.append(frame)
            self._bytes += frame.nbytes
            oldest_kept = frame.captured_at - self.max_age_s
            while len(self._frames) > 1 and (
                self._frames[0].captured_at < oldest_kept
                or self._bytes > self.max_bytes
            ):
                self._bytes -= self._frames.popleft().nbytes

    def since(self, start: float) -> list[BufferedFrame]:
        """Frames captured at or after `start`, oldest first."""
        with self._lock:
            return [f for f in self._frames if f.captured_at >= start]

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._bytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def span_s(self) -> float:
        """Seconds between the oldest and the newest frame kept."""
        with self._lock:
            if not self._frames:
                return 0.0
            return self._frames[-1].captured_at - self._frames[0].captured_at

"""Motion gating: a camera where nothing moves need not run the detector on
every due frame (Frigate's approach), yet still gets a periodic look."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from edge.config import MotionConfig

# Long side of the grey thumbnail compared between frames: small enough to cost
# a fraction of a millisecond, large enough that a person far away still
# changes a few of its pixels.
THUMBNAIL_LONG_SIDE_PX = 160


class MotionGate:
    """Decides per due frame whether the detector should see it.

    The reference is the last admitted frame, so slow changes add up until
    they count. Not thread-safe: one per source, used by its reader thread.
    """

    def __init__(self, config: MotionConfig) -> None:
        self.config = config
        self._reference: npt.NDArray[np.uint8] | None = None
        self._admitted_at: float | None = None
        self.frames_gated = 0

    def reset(self) -> None:
        """Forget the scene (a new connection): the next frame is admitted."""
        self._reference = None
        self._admitted_at = None

    def admits(self, image: npt.NDArray[np.uint8], at_s: float) -> bool:
        """Whether the frame goes to the detector; counts it when it does not.

        Args:
            image: The frame, (H, W, 3) BGR uint8.
            at_s: Its time in seconds (any clock, increasing).
        """
        thumbnail = _thumbnail(image)
        is_due_anyway = (
            self._reference is None
            or self._admitted_at is None
            or self._reference.shape != thumbnail.shape
            or at_s - self._admitted_at >= self.config.max_gap_s
        )
        if is_due_anyway or self.changed_share(thumbnail) >= (
            self.config.min_changed_share
        ):
            self._reference = thumbnail
            self._admitted_at = at_s
            return True
        self.frames_gated += 1
        return False

    def changed_share(self, thumbnail: npt.NDArray[np.uint8]) -> float:
        """Share of the thumbnail's pixels that differ from the reference."""
        if self._reference is None:
            return 1.0
        difference = cv2.absdiff(thumbnail, self._reference)
        changed = np.count_nonzero(difference > self.config.pixel_threshold)
        return changed / difference.size


def _thumbnail(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """A small grey copy, blurred so that sensor noise does not count as motion."""
    height, width = image.shape[:2]
    scale = THUMBNAIL_LONG_SIDE_PX / max(height, width)
    size_wh = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(image, size_wh, interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    return np.asarray(cv2.GaussianBlur(grey, (5, 5), 0), dtype=np.uint8)

"""Small frames and zone masks for the rules that model pixels."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from edge.rules.base import FramePixels
from edge.types import Detections
from edge.zones import Zone

# Wide enough for a bottle at 20 m on a 1080p street camera (a few pixels),
# small enough that a background model costs well under a millisecond a frame.
PIXELS_WIDTH_PX = 320


def small_bgr(
    image: npt.NDArray[np.uint8], *, width_px: int = PIXELS_WIDTH_PX
) -> tuple[npt.NDArray[np.uint8], float]:
    """The BGR `image` downscaled to at most `width_px` wide.

    Args:
        image: BGR frame, shape (H, W, 3), uint8.
        width_px: Largest width of the result.

    Returns:
        The small image, shape (h, w, 3), uint8, and its scale (small px per
        frame px).

    Raises:
        ValueError: `image` is not (H, W, 3) or `width_px` is not positive.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3), got {image.shape}")
    if width_px <= 0:
        raise ValueError(f"width_px must be > 0, got {width_px}")
    height, width = image.shape[:2]
    scale = min(1.0, width_px / width)
    if scale == 1.0:
        return image, scale
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return np.asarray(small, dtype=np.uint8), scale


def zone_mask(zone: Zone, shape_hw: tuple[int, int]) -> npt.NDArray[np.bool_]:
    """Pixels of an image of `shape_hw` inside the zone's polygon, (h, w) bool."""
    height, width = shape_hw
    points = zone.polygon_norm * np.array([width, height], dtype=np.float64)
    raster = np.zeros((height, width), dtype=np.uint8)
    cv2.fillPoly(raster, [np.round(points).astype(np.int32)], color=1)
    return raster.astype(np.bool_)


class PixelsCache:
    """Builds each zone's `FramePixels` of a frame, reusing zone masks.

    Not thread-safe: one per camera, fed from one thread.
    """

    def __init__(self, *, width_px: int = PIXELS_WIDTH_PX) -> None:
        self._width_px = width_px
        self._masks: dict[tuple[str, tuple[int, int]], npt.NDArray[np.bool_]] = {}
        self._small: tuple[npt.NDArray[np.uint8], float] | None = None

    def start_frame(self, image: npt.NDArray[np.uint8]) -> None:
        """Downscale the frame once for all zones."""
        self._small = small_bgr(image, width_px=self._width_px)

    def for_zone(self, zone: Zone, detections: Detections) -> FramePixels:
        """The current frame's pixels as seen by `zone`.

        Raises:
            RuntimeError: `start_frame` was not called.
        """
        if self._small is None:
            raise RuntimeError("start_frame must be called before for_zone")
        small, scale = self._small
        key = (zone.zone_id, (int(small.shape[0]), int(small.shape[1])))
        mask = self._masks.get(key)
        if mask is None:
            mask = zone_mask(zone, key[1])
            self._masks[key] = mask
        return FramePixels(
            bgr=small, scale=scale, zone_mask=mask, detections=detections
        )

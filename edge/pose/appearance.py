"""Appearance templates: is a held person's region still what it was?"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

TEMPLATE_PX = 24
_MIN_STD = 4.0  # grey levels: flatter regions (a bare wall) say nothing


def appearance(
    image: npt.NDArray[np.uint8], xyxy: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32] | None:
    """A small normalised grey template of the box's region.

    Args:
        image: BGR uint8 frame, (H, W, 3).
        xyxy: (4,) box in pixels; clipped to the frame.

    Returns:
        (24 * 24,) float32 with zero mean and unit norm, or None when the
        clipped region is under 4 px a side or nearly flat.
    """
    height, width = image.shape[:2]
    x1, y1 = max(0, int(xyxy[0])), max(0, int(xyxy[1]))
    x2, y2 = min(width, int(np.ceil(xyxy[2]))), min(height, int(np.ceil(xyxy[3])))
    if x2 - x1 < 4 or y2 - y1 < 4:
        return None
    grey = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
    small = cv2.resize(
        grey, (TEMPLATE_PX, TEMPLATE_PX), interpolation=cv2.INTER_AREA
    ).astype(np.float32)
    centred = small.ravel() - small.mean()
    std = float(centred.std())
    if std < _MIN_STD:
        return None
    template: npt.NDArray[np.float32] = centred / (std * np.sqrt(centred.size))
    return template


def similarity(
    a: npt.NDArray[np.float32] | None, b: npt.NDArray[np.float32] | None
) -> float:
    """Normalised cross-correlation of two templates in [-1, 1]; -1 if either
    is missing."""
    if a is None or b is None:
        return -1.0
    return float(np.dot(a, b))

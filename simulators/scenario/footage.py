"""Background footage: decoding frames, the empty plate, and where people are."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]

# A person differs from the empty plate by more than this in some channel;
# lower picks up the camera's exposure drift, higher loses dark clothes on the
# dark floor.
_PERSON_DIFF = 40.0
_MIN_PERSON_FRAC = 0.004  # of the frame area
_PLATE_FRAMES = 24  # enough for a median; more only costs time


def read_frame(path: Path, index: int) -> Image:
    """Frame `index` of a clip, BGR uint8.

    Raises:
        FileNotFoundError: The clip is missing.
        ValueError: The frame cannot be read.
    """
    frames = read_frames(path, [index])
    return frames[index]


def read_frames(path: Path, indices: Iterable[int]) -> dict[int, Image]:
    """The given frames of a clip, decoded in one pass.

    Raises:
        FileNotFoundError: The clip is missing.
        ValueError: A frame cannot be read (past the end, or a broken file).
    """
    if not path.is_file():
        raise FileNotFoundError(f"clip not found: {path}")
    wanted = sorted(set(indices))
    capture = cv2.VideoCapture(str(path))
    frames: dict[int, Image] = {}
    try:
        index = 0
        for target in wanted:
            while index <= target:
                ok, image = capture.read()
                if not ok:
                    raise ValueError(f"{path}: cannot read frame {target}")
                if index == target:
                    frames[target] = np.asarray(image, dtype=np.uint8)
                index += 1
    finally:
        capture.release()
    return frames


def empty_plate(frames: list[Image]) -> npt.NDArray[np.float32]:
    """The scene without its people: a median of the frames, twice.

    The first median still holds a person who stood still for most of the
    frames; the second leaves out, per frame, the box of the largest region
    that differs from the first, so each pixel is the median of the frames in
    which nobody covered it.

    Raises:
        ValueError: No frames.
    """
    if not frames:
        raise ValueError("empty_plate needs at least one frame")
    step = max(1, len(frames) // _PLATE_FRAMES)
    stack = np.stack(frames[::step]).astype(np.float32)
    first = np.asarray(np.median(stack, axis=0), dtype=np.float32)
    pad = 10
    for index, image in enumerate(frames[::step]):
        blobs = people_in(image, first)
        if blobs:
            x1, y1, x2, y2 = blobs[0].box
            stack[index, max(0, y1 - pad) : y2 + pad, max(0, x1 - pad) : x2 + pad] = (
                np.nan
            )
    second = np.nanmedian(stack, axis=0)
    return np.asarray(np.where(np.isnan(second), first, second), dtype=np.float32)


@dataclass(frozen=True, slots=True, eq=False)
class Blob:
    """A person-sized region that differs from the plate.

    Attributes:
        box: Pixel box (x1, y1, x2, y2), x2/y2 exclusive.
        mask: The region, shape (H, W), bool, for the whole frame.
    """

    box: tuple[int, int, int, int]
    mask: Mask

    @property
    def feet(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, float(self.box[3]))

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


def people_in(image: Image, plate: npt.NDArray[np.float32]) -> list[Blob]:
    """Regions of `image` that differ from the empty plate, largest first.

    Args:
        image: Frame, BGR uint8.
        plate: The empty scene, same shape, float32.
    """
    diff = np.abs(image.astype(np.float32) - plate).max(axis=2)
    raw = (diff > _PERSON_DIFF).astype(np.uint8)
    raw = cv2.morphologyEx(raw, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    raw = cv2.morphologyEx(raw, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    _, labels, stats, _ = cv2.connectedComponentsWithStats(raw, connectivity=8)
    min_area = _MIN_PERSON_FRAC * image.shape[0] * image.shape[1]
    blobs = []
    for index in np.argsort(-stats[1:, cv2.CC_STAT_AREA]) + 1:
        x, y, w, h, area = (int(v) for v in stats[index])
        if area < min_area:
            break
        blobs.append(Blob(box=(x, y, x + w, y + h), mask=labels == index))
    return blobs


def follow(
    blobs_by_frame: list[list[Blob]], *, start: int, near_xy: tuple[float, float]
) -> list[Blob | None]:
    """One person's region per frame, from the one nearest `near_xy` at `start`.

    The person is followed forwards and backwards from `start` by the nearest
    feet; None where they are out of view.
    """
    track: list[Blob | None] = [None] * len(blobs_by_frame)
    first = _nearest(blobs_by_frame[start], near_xy, limit=math.inf)
    if first is None:
        return track
    track[start] = first
    for step in (1, -1):
        last = first
        index = start + step
        while 0 <= index < len(blobs_by_frame):
            limit = 0.6 * max(last.height, 40)
            found = _nearest(blobs_by_frame[index], last.feet, limit=limit)
            if found is None:
                break
            track[index] = found
            last = found
            index += step
    return track


def _nearest(
    blobs: list[Blob], xy: tuple[float, float], *, limit: float
) -> Blob | None:
    best, best_d = None, limit
    for blob in blobs:
        d = math.dist(blob.feet, xy)
        if d <= best_d:
            best, best_d = blob, d
    return best

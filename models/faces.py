"""Faces found with YuNet and obscured: the one home of the face blur, used by
the edge node (snapshots, clips) and by central (worker photos, re-checking
uploaded media). Neither imports the other; both import this floor.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

FACE_MODEL: Final = "yunet_face"
"""The face model's name in the manifest (`models/manifest.yaml`)."""


@dataclass(frozen=True, slots=True)
class FaceBlurSettings:
    """How faces are found and obscured.

    Attributes:
        score_threshold: YuNet score to blur a face, applied when the detector
            is loaded. Low on purpose: a blurred non-face costs nothing, a missed
            face leaks identity. Measured on the shared clips: at 0.3, no face
            is found again at 0.5 after JPEG (quality 40 to 85) or H.264
            compression; at 0.4 a few were.
        margin: Each face box grows by this fraction of its size per side.
        max_passes: Blur-and-look-again rounds; a frame with faces still found
            after the last one is obscured whole.
    """

    score_threshold: float = 0.3
    margin: float = 0.4
    max_passes: int = 4

    def __post_init__(self) -> None:
        if not 0.0 < self.score_threshold < 1.0:
            raise ValueError(
                f"score_threshold must be in (0, 1), got {self.score_threshold}"
            )
        if self.margin < 0:
            raise ValueError(f"margin must be >= 0, got {self.margin}")
        if self.max_passes < 1:
            raise ValueError(f"max_passes must be >= 1, got {self.max_passes}")


FACE_BLUR_DEFAULTS: Final = FaceBlurSettings()


# Pixelation cells across an obscured region (4 or more stay face-like).
BLOCKS_ACROSS: Final = 3
_NMS_THRESHOLD: Final = 0.3


class FaceModelError(ValueError):
    """The face model cannot be found or loaded, so no media may be made or kept
    unchecked; the message names the file and what to do."""


def obscure(image: npt.NDArray[np.uint8], xyxy: npt.NDArray[np.floating]) -> bool:
    """Pixelate and blur one region of `image` in place.

    Args:
        image: BGR uint8 image, shape (H, W, 3); modified.
        xyxy: Region (x1, y1, x2, y2) in pixels; clipped to the image.

    Returns:
        False when the region lies outside the image.
    """
    h, w = image.shape[:2]
    x1, y1 = max(0, int(np.floor(xyxy[0]))), max(0, int(np.floor(xyxy[1])))
    x2, y2 = min(w, int(np.ceil(xyxy[2]))), min(h, int(np.ceil(xyxy[3])))
    if x2 - x1 < 1 or y2 - y1 < 1:
        return False
    roi = image[y1:y2, x1:x2]
    cells = (min(BLOCKS_ACROSS, x2 - x1), min(BLOCKS_ACROSS, y2 - y1))
    small = cv2.resize(roi, cells, interpolation=cv2.INTER_AREA)
    blocky = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)
    kernel = max(3, (min(x2 - x1, y2 - y1) // 2) | 1)
    image[y1:y2, x1:x2] = cv2.GaussianBlur(blocky, (kernel, kernel), 0)
    return True


def expand_boxes(
    xyxy: npt.NDArray[np.floating], margin: float
) -> npt.NDArray[np.float32]:
    """Grow (N, 4) boxes by `margin` of their width/height on every side."""
    boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    wh = boxes[:, 2:] - boxes[:, :2]
    return np.concatenate(
        [boxes[:, :2] - wh * margin, boxes[:, 2:] + wh * margin], axis=1
    )


def load_face_detector(path: Path, *, score_threshold: float) -> Any:
    """A YuNet `cv2.FaceDetectorYN` (not thread-safe: one per thread or a lock).

    Raises:
        FaceModelError: the file is missing or OpenCV cannot load it.
    """
    if not path.is_file():
        raise FaceModelError(
            f"face model {path} not found: refusing to make snapshots or clips, "
            "no face may leave the node unblurred (get it with "
            "`gridwatch models fetch` or set models_dir)"
        )
    try:
        return cv2.FaceDetectorYN.create(
            str(path), "", (320, 320), score_threshold, _NMS_THRESHOLD
        )
    except cv2.error as error:
        raise FaceModelError(
            f"face model {path} cannot be loaded ({str(error).strip()}): refusing "
            "to make snapshots or clips, no face may leave the node unblurred"
        ) from None


class FaceDetector:
    """YuNet over whole images; safe to share between threads (one lock)."""

    def __init__(self, detector: Any, *, max_side_px: int | None = None) -> None:
        """Args:
        detector: A loaded `cv2.FaceDetectorYN`.
        max_side_px: Images with a longer side are looked at scaled down to it
            (boxes come back in the image's pixels): a 12-megapixel photo at
            full size costs seconds and YuNet's anchors miss faces filling it.
            None: always at full size (video frames).
        """
        if max_side_px is not None and max_side_px < 32:
            raise ValueError(f"max_side_px must be >= 32, got {max_side_px}")
        self._detector = detector
        self._max_side_px = max_side_px
        # cv2.FaceDetectorYN keeps per-call state (input size, blobs) and is not
        # thread-safe; the node's one instance serves the events and clips threads.
        self._lock = threading.Lock()
        self._input_wh = (0, 0)

    @classmethod
    def from_model(
        cls, path: Path, *, score_threshold: float, max_side_px: int | None = None
    ) -> FaceDetector:
        """Load YuNet (raises `FaceModelError`)."""
        return cls(
            load_face_detector(path, score_threshold=score_threshold),
            max_side_px=max_side_px,
        )

    @property
    def score_threshold(self) -> float:
        """The YuNet score a face needs to be found (set at load)."""
        with self._lock:
            return float(self._detector.getScoreThreshold())

    def detect(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Face boxes of a BGR image.

        Args:
            image: BGR uint8 image, shape (H, W, 3).

        Returns:
            (N, 4) float32 boxes (x1, y1, x2, y2) in pixels.

        Raises:
            cv2.error: the network failed on this image.
        """
        h, w = image.shape[:2]
        scale = 1.0
        if self._max_side_px is not None and max(h, w) > self._max_side_px:
            scale = self._max_side_px / max(h, w)
            w, h = max(1, round(w * scale)), max(1, round(h * scale))
            image = np.asarray(
                cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA), np.uint8
            )
        with self._lock:
            if self._input_wh != (w, h):  # resizing re-plans the network: slow
                self._detector.setInputSize((w, h))
                self._input_wh = (w, h)
            _, faces = self._detector.detect(image)
        if faces is None:
            return np.zeros((0, 4), dtype=np.float32)
        xywh = np.asarray(faces[:, :4], dtype=np.float32) / np.float32(scale)
        return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)


class FaceBlur:
    """Obscures every face in a frame and checks that none is left.

    Each pass runs YuNet and obscures what it found (boxes grown by the margin);
    the next pass looks at the result, because pixelating one face can leave a
    face-like patch beside it. A frame still holding a face after `max_passes`
    is obscured whole, and so is a frame the detector fails on: media with a
    face never leaves the node.

    A node loads one (`from_model`) and shares its detector between the clip
    recorder and every camera's snapshots (`with_label`, for their log lines).
    """

    def __init__(
        self, *, detector: FaceDetector, settings: FaceBlurSettings, label: str = "-"
    ) -> None:
        self._detector = detector
        self.settings = settings
        self._label = label

    @classmethod
    def from_model(
        cls, path: Path, settings: FaceBlurSettings, *, label: str = "-"
    ) -> FaceBlur:
        """Load YuNet from `path` at the settings' score (raises `FaceModelError`)."""
        detector = FaceDetector.from_model(
            path, score_threshold=settings.score_threshold
        )
        return cls(detector=detector, settings=settings, label=label)

    @property
    def detector(self) -> FaceDetector:
        return self._detector

    def with_label(self, label: str) -> FaceBlur:
        """The same detector and settings, naming `label` in its log lines."""
        return FaceBlur(detector=self._detector, settings=self.settings, label=label)

    def detect(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """(N, 4) face boxes in pixels (raises cv2.error on a failure)."""
        return self._detector.detect(image)

    def find(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Face boxes for checking media before it leaves; a detector failure
        counts as a face filling the frame.

        Returns:
            (N, 4) float32 boxes (x1, y1, x2, y2) in pixels.
        """
        try:
            return self._detector.detect(image)
        except cv2.error as error:
            logger.warning(
                "%s: face check failed (%s); counting the whole frame as a face",
                self._label,
                str(error).strip(),
            )
            h, w = image.shape[:2]
            return np.array([[0.0, 0.0, w, h]], dtype=np.float32)

    def cover(
        self, image: npt.NDArray[np.uint8], faces_xyxy: npt.NDArray[np.floating]
    ) -> int:
        """Obscure the given face boxes (grown by the margin) in place; how many."""
        return sum(
            obscure(image, box)
            for box in expand_boxes(faces_xyxy, self.settings.margin)
        )

    def cover_all(self, image: npt.NDArray[np.uint8]) -> int:
        """Obscure the whole image in place (the last resort)."""
        return self._obscure_all(image)

    def blur(self, image: npt.NDArray[np.uint8]) -> int:
        """Obscure all faces of a BGR image in place.

        Args:
            image: BGR uint8 image, shape (H, W, 3); modified.

        Returns:
            Regions obscured (the whole frame counts as one).
        """
        obscured = 0
        for done in range(self.settings.max_passes + 1):
            try:
                faces = self._detector.detect(image)
            except cv2.error as error:
                logger.warning(
                    "%s: face detection failed (%s); obscuring the whole frame",
                    self._label,
                    str(error).strip(),
                )
                return obscured + self._obscure_all(image)
            if len(faces) == 0:
                return obscured
            if done == self.settings.max_passes:
                break
            for box in expand_boxes(faces, self.settings.margin):
                obscured += obscure(image, box)
        logger.warning(
            "%s: faces still found after %d passes; obscuring the whole frame",
            self._label,
            self.settings.max_passes,
        )
        return obscured + self._obscure_all(image)

    @staticmethod
    def _obscure_all(image: npt.NDArray[np.uint8]) -> int:
        h, w = image.shape[:2]
        return int(obscure(image, np.array([0.0, 0.0, w, h], dtype=np.float32)))

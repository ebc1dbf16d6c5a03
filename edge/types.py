"""Typed containers that cross edge stage boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame of one camera.

    Attributes:
        camera_id: Camera the frame came from.
        index: Per-camera frame counter since the source opened.
        captured_at: Wall-clock time (UNIX seconds) the frame was read.
        image: BGR uint8 image, shape (H, W, 3).
    """

    camera_id: str
    index: int
    captured_at: float
    image: npt.NDArray[np.uint8]

    @property
    def resolution_wh(self) -> tuple[int, int]:
        return int(self.image.shape[1]), int(self.image.shape[0])


def _check_len(name: str, array: npt.NDArray[np.generic], n: int) -> None:
    if array.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {array.shape}")


@dataclass(frozen=True, slots=True)
class Detections:
    """Detections of one frame as parallel arrays.

    Attributes:
        xyxy: Boxes in pixels, shape (N, 4), float32, (x1, y1, x2, y2).
        confidence: Scores in [0, 1], shape (N,), float32.
        class_id: Class index of the model, shape (N,), int64.
        tracker_id: Track id per box or -1 for untracked, shape (N,), int64.
    """

    xyxy: npt.NDArray[np.float32]
    confidence: npt.NDArray[np.float32]
    class_id: npt.NDArray[np.int64]
    tracker_id: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.zeros(0, dtype=np.int64)
    )

    def __post_init__(self) -> None:
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must have shape (N, 4), got {self.xyxy.shape}")
        n = self.xyxy.shape[0]
        _check_len("confidence", self.confidence, n)
        _check_len("class_id", self.class_id, n)
        if self.tracker_id.shape == (0,) and n:
            object.__setattr__(self, "tracker_id", np.full(n, -1, dtype=np.int64))
        _check_len("tracker_id", self.tracker_id, n)

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            xyxy=np.zeros((0, 4), dtype=np.float32),
            confidence=np.zeros(0, dtype=np.float32),
            class_id=np.zeros(0, dtype=np.int64),
        )

    @classmethod
    def from_lists(
        cls,
        xyxy: list[list[float]],
        confidence: list[float] | None = None,
        class_id: list[int] | None = None,
        tracker_id: list[int] | None = None,
    ) -> Detections:
        """Build from plain lists (tests, fakes)."""
        n = len(xyxy)
        return cls(
            xyxy=np.asarray(xyxy, dtype=np.float32).reshape(n, 4),
            confidence=np.asarray(
                confidence if confidence is not None else [1.0] * n, dtype=np.float32
            ),
            class_id=np.asarray(
                class_id if class_id is not None else [0] * n, dtype=np.int64
            ),
            tracker_id=np.asarray(
                tracker_id if tracker_id is not None else [-1] * n, dtype=np.int64
            ),
        )

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def filter(self, mask: npt.NDArray[np.bool_]) -> Detections:
        """Keep the rows where `mask` is true."""
        if mask.shape != (len(self),):
            raise ValueError(f"mask must have shape ({len(self)},), got {mask.shape}")
        return Detections(
            xyxy=self.xyxy[mask],
            confidence=self.confidence[mask],
            class_id=self.class_id[mask],
            tracker_id=self.tracker_id[mask],
        )

    def with_tracker_id(self, tracker_id: npt.NDArray[np.int64]) -> Detections:
        return replace(self, tracker_id=tracker_id.astype(np.int64))

    def bottom_centers_norm(
        self, resolution_wh: tuple[int, int]
    ) -> npt.NDArray[np.float32]:
        """Bottom-centre anchor of each box, normalised to [0, 1], shape (N, 2)."""
        w, h = resolution_wh
        x = (self.xyxy[:, 0] + self.xyxy[:, 2]) / 2.0 / w
        y = self.xyxy[:, 3] / h
        return np.stack([x, y], axis=1).astype(np.float32)

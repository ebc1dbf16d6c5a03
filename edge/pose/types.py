"""Pose containers (COCO keypoint indices, per-frame person poses) and box IoU."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from edge.types import Detections

KEYPOINT_COUNT = 17


class Keypoint(IntEnum):
    """COCO-17 keypoint order, as MoveNet and most pose models emit it."""

    NOSE = 0
    LEFT_EYE = 1
    RIGHT_EYE = 2
    LEFT_EAR = 3
    RIGHT_EAR = 4
    LEFT_SHOULDER = 5
    RIGHT_SHOULDER = 6
    LEFT_ELBOW = 7
    RIGHT_ELBOW = 8
    LEFT_WRIST = 9
    RIGHT_WRIST = 10
    LEFT_HIP = 11
    RIGHT_HIP = 12
    LEFT_KNEE = 13
    RIGHT_KNEE = 14
    LEFT_ANKLE = 15
    RIGHT_ANKLE = 16


def empty_keypoints(n: int) -> npt.NDArray[np.float32]:
    """All-zero keypoints, shape (n, 17, 3): no position, score 0."""
    return np.zeros((n, KEYPOINT_COUNT, 3), dtype=np.float32)


def _check_rows(
    name: str, array: npt.NDArray[np.generic], shape: tuple[int, ...]
) -> None:
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")


@dataclass(frozen=True, slots=True, eq=False)
class PersonPoses:
    """The persons a pose stage follows on one analysed frame.

    Rows are parallel: row i of every array is the same person.

    Attributes:
        persons: Person boxes in pixels with their track ids, (N). A tracked
            person has its detector box; a held person (see `is_held`) has the
            box spanned by its keypoints, its old track id and the mean score of
            its confident keypoints as confidence.
        keypoints: (N, 17, 3) float32: x and y in frame pixels, score in [0, 1],
            COCO order (`Keypoint`); all zero in rows without `has_pose`.
        has_pose: (N,) bool: the pose was estimated on this frame.
        is_held: (N,) bool: the detector lost this person and the stage
            follows them by pose alone (people lying on the floor are often
            missed by detectors trained on upright people); `has_pose` is false
            on a frame where the pose run missed them.
    """

    persons: Detections
    keypoints: npt.NDArray[np.float32]
    has_pose: npt.NDArray[np.bool_]
    is_held: npt.NDArray[np.bool_]

    def __post_init__(self) -> None:
        n = len(self.persons)
        _check_rows("keypoints", self.keypoints, (n, KEYPOINT_COUNT, 3))
        _check_rows("has_pose", self.has_pose, (n,))
        _check_rows("is_held", self.is_held, (n,))

    @classmethod
    def empty(cls) -> PersonPoses:
        return cls(
            persons=Detections.empty(),
            keypoints=empty_keypoints(0),
            has_pose=np.zeros(0, dtype=np.bool_),
            is_held=np.zeros(0, dtype=np.bool_),
        )

    def __len__(self) -> int:
        return len(self.persons)

    def filter(self, mask: npt.NDArray[np.bool_]) -> PersonPoses:
        """Keep the rows where `mask`, shape (N,), is true."""
        return PersonPoses(
            persons=self.persons.filter(mask),
            keypoints=self.keypoints[mask],
            has_pose=self.has_pose[mask],
            is_held=self.is_held[mask],
        )


def box_ious(
    box: npt.NDArray[np.float32], others: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """IoU of one (4,) pixel box with each of (N, 4) boxes, shape (N,)."""
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    ious: npt.NDArray[np.float32] = (
        inter / np.maximum(area + areas - inter, 1e-6)
    ).astype(np.float32)
    return ious

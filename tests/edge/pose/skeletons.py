"""Synthetic people for the pose and fall tests: a box and 17 keypoints per posture.

Each posture is drawn from proportions of an adult seen from the side, standing
with the feet at (`x`, `ground`) and `height` pixels tall; every keypoint scores
0.9. The numbers are rough anatomy, not a model's output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.pose.types import Keypoint

# (x, y) of each keypoint in heights, x forward from the feet, y up from the ground.
_POSTURES: dict[str, dict[Keypoint, tuple[float, float]]] = {
    "standing": {
        Keypoint.NOSE: (0.04, 0.93), Keypoint.LEFT_EYE: (0.03, 0.95),
        Keypoint.RIGHT_EYE: (0.03, 0.95), Keypoint.LEFT_EAR: (-0.02, 0.94),
        Keypoint.RIGHT_EAR: (-0.02, 0.94), Keypoint.LEFT_SHOULDER: (0.0, 0.82),
        Keypoint.RIGHT_SHOULDER: (0.0, 0.82), Keypoint.LEFT_ELBOW: (0.01, 0.63),
        Keypoint.RIGHT_ELBOW: (0.01, 0.63), Keypoint.LEFT_WRIST: (0.02, 0.48),
        Keypoint.RIGHT_WRIST: (0.02, 0.48), Keypoint.LEFT_HIP: (0.0, 0.52),
        Keypoint.RIGHT_HIP: (0.0, 0.52), Keypoint.LEFT_KNEE: (0.01, 0.28),
        Keypoint.RIGHT_KNEE: (0.01, 0.28), Keypoint.LEFT_ANKLE: (0.0, 0.04),
        Keypoint.RIGHT_ANKLE: (0.0, 0.04),
    },
    "sitting_chair": {
        Keypoint.NOSE: (0.04, 0.68), Keypoint.LEFT_EYE: (0.03, 0.70),
        Keypoint.RIGHT_EYE: (0.03, 0.70), Keypoint.LEFT_EAR: (-0.02, 0.69),
        Keypoint.RIGHT_EAR: (-0.02, 0.69), Keypoint.LEFT_SHOULDER: (0.0, 0.57),
        Keypoint.RIGHT_SHOULDER: (0.0, 0.57), Keypoint.LEFT_ELBOW: (0.05, 0.40),
        Keypoint.RIGHT_ELBOW: (0.05, 0.40), Keypoint.LEFT_WRIST: (0.15, 0.33),
        Keypoint.RIGHT_WRIST: (0.15, 0.33), Keypoint.LEFT_HIP: (0.0, 0.27),
        Keypoint.RIGHT_HIP: (0.0, 0.27), Keypoint.LEFT_KNEE: (0.24, 0.28),
        Keypoint.RIGHT_KNEE: (0.24, 0.28), Keypoint.LEFT_ANKLE: (0.24, 0.04),
        Keypoint.RIGHT_ANKLE: (0.24, 0.04),
    },
    "sitting_floor": {
        Keypoint.NOSE: (0.04, 0.46), Keypoint.LEFT_EYE: (0.03, 0.48),
        Keypoint.RIGHT_EYE: (0.03, 0.48), Keypoint.LEFT_EAR: (-0.02, 0.47),
        Keypoint.RIGHT_EAR: (-0.02, 0.47), Keypoint.LEFT_SHOULDER: (0.0, 0.35),
        Keypoint.RIGHT_SHOULDER: (0.0, 0.35), Keypoint.LEFT_ELBOW: (0.05, 0.2),
        Keypoint.RIGHT_ELBOW: (0.05, 0.2), Keypoint.LEFT_WRIST: (0.15, 0.1),
        Keypoint.RIGHT_WRIST: (0.15, 0.1), Keypoint.LEFT_HIP: (0.0, 0.05),
        Keypoint.RIGHT_HIP: (0.0, 0.05), Keypoint.LEFT_KNEE: (0.25, 0.06),
        Keypoint.RIGHT_KNEE: (0.25, 0.06), Keypoint.LEFT_ANKLE: (0.48, 0.04),
        Keypoint.RIGHT_ANKLE: (0.48, 0.04),
    },
    "bending": {  # picking something up: legs straight, torso forward and down
        Keypoint.NOSE: (0.34, 0.40), Keypoint.LEFT_EYE: (0.34, 0.42),
        Keypoint.RIGHT_EYE: (0.34, 0.42), Keypoint.LEFT_EAR: (0.31, 0.43),
        Keypoint.RIGHT_EAR: (0.31, 0.43), Keypoint.LEFT_SHOULDER: (0.27, 0.47),
        Keypoint.RIGHT_SHOULDER: (0.27, 0.47), Keypoint.LEFT_ELBOW: (0.3, 0.3),
        Keypoint.RIGHT_ELBOW: (0.3, 0.3), Keypoint.LEFT_WRIST: (0.32, 0.12),
        Keypoint.RIGHT_WRIST: (0.32, 0.12), Keypoint.LEFT_HIP: (0.0, 0.52),
        Keypoint.RIGHT_HIP: (0.0, 0.52), Keypoint.LEFT_KNEE: (0.02, 0.28),
        Keypoint.RIGHT_KNEE: (0.02, 0.28), Keypoint.LEFT_ANKLE: (0.0, 0.04),
        Keypoint.RIGHT_ANKLE: (0.0, 0.04),
    },
    "lying": {  # on the side on the floor, head forward
        Keypoint.NOSE: (0.9, 0.1), Keypoint.LEFT_EYE: (0.92, 0.11),
        Keypoint.RIGHT_EYE: (0.92, 0.11), Keypoint.LEFT_EAR: (0.87, 0.12),
        Keypoint.RIGHT_EAR: (0.87, 0.12), Keypoint.LEFT_SHOULDER: (0.78, 0.1),
        Keypoint.RIGHT_SHOULDER: (0.78, 0.1), Keypoint.LEFT_ELBOW: (0.62, 0.06),
        Keypoint.RIGHT_ELBOW: (0.62, 0.06), Keypoint.LEFT_WRIST: (0.5, 0.05),
        Keypoint.RIGHT_WRIST: (0.5, 0.05), Keypoint.LEFT_HIP: (0.48, 0.09),
        Keypoint.RIGHT_HIP: (0.48, 0.09), Keypoint.LEFT_KNEE: (0.24, 0.07),
        Keypoint.RIGHT_KNEE: (0.24, 0.07), Keypoint.LEFT_ANKLE: (0.02, 0.05),
        Keypoint.RIGHT_ANKLE: (0.02, 0.05),
    },
}  # fmt: skip
# Box around each posture, from the ground up: (left, right, top) in heights.
_BOXES: dict[str, tuple[float, float, float]] = {
    "standing": (-0.13, 0.13, 1.0),
    "sitting_chair": (-0.12, 0.3, 0.76),
    "sitting_floor": (-0.1, 0.55, 0.54),
    "bending": (-0.08, 0.42, 0.6),
    "lying": (-0.03, 1.0, 0.2),
}
POSTURES = tuple(_POSTURES)


@dataclass(frozen=True, slots=True)
class Person:
    """A synthetic person on one frame.

    Attributes:
        xyxy: (4,) float32 box in pixels.
        keypoints: (17, 3) float32 (x, y, score) in pixels.
    """

    xyxy: npt.NDArray[np.float32]
    keypoints: npt.NDArray[np.float32]


def person(
    posture: str,
    *,
    x: float = 200.0,
    ground: float = 420.0,
    height: float = 300.0,
    score: float = 0.9,
) -> Person:
    """The person in `posture` ("standing", "sitting_chair", "sitting_floor",
    "bending", "lying") with the feet at (x, ground), `height` px tall."""
    points = _POSTURES[posture]
    keypoints = np.zeros((17, 3), dtype=np.float32)
    for keypoint, (fx, fy) in points.items():
        keypoints[keypoint] = (x + fx * height, ground - fy * height, score)
    left, right, top = _BOXES[posture]
    xyxy = np.array(
        [x + left * height, ground - top * height, x + right * height, ground],
        dtype=np.float32,
    )
    return Person(xyxy=xyxy, keypoints=keypoints)

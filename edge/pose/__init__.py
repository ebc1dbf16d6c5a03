"""Pose estimation for the fall rule: MoveNet on person crops, per-camera stage."""

from edge.pose.movenet import (
    DEFAULT_POSE_MODEL,
    MoveNetEstimator,
    PoseEstimator,
    PoseModels,
    square_crops,
)
from edge.pose.posture import (
    Baseline,
    Posture,
    PostureThresholds,
    Reading,
    Torso,
    read_posture,
    read_torso,
)
from edge.pose.stage import PoseSettings, PoseStage, keypoint_box
from edge.pose.types import (
    KEYPOINT_COUNT,
    Keypoint,
    PersonPoses,
    box_ious,
    empty_keypoints,
)

__all__ = [
    "DEFAULT_POSE_MODEL",
    "KEYPOINT_COUNT",
    "Baseline",
    "Keypoint",
    "MoveNetEstimator",
    "PersonPoses",
    "PoseEstimator",
    "PoseModels",
    "PoseSettings",
    "PoseStage",
    "Posture",
    "PostureThresholds",
    "Reading",
    "Torso",
    "box_ious",
    "empty_keypoints",
    "keypoint_box",
    "read_posture",
    "read_torso",
    "square_crops",
]

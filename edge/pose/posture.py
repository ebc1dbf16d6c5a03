"""Posture of one person on one frame, from their box and pose keypoints."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from edge.pose.types import Keypoint

_SHOULDERS = [Keypoint.LEFT_SHOULDER, Keypoint.RIGHT_SHOULDER]
_HIPS = [Keypoint.LEFT_HIP, Keypoint.RIGHT_HIP]
# Proportions of an upright person's box height (their "scale"):
_LOW_BOX = 0.6  # lying torso: the box is at most this tall...
_LOW_HIPS = 0.3  # ...and the hips at most this high above its bottom
_STANDING_HIPS = 0.35  # standing: hips at least this high above the box bottom
_LYING_BOX = 0.5  # lying box: at most this tall...
_LYING_ASPECT = 1.2  # ...and this many times as wide as tall...
_FLAT_ASPECT = 1.8  # ...or, whatever the height, this many times
_STANDING_BOX = 0.8  # standing box (no torso seen): at least this tall...
_STANDING_ASPECT = 2.0  # ...and this many times as tall as wide
_FORESHORTENED = 0.5  # torso shorter than this share of its upright length


@dataclass(frozen=True, slots=True)
class PostureThresholds:
    """Settings of the posture reading (the fall rule's config supplies them).

    Attributes:
        min_keypoint_score: Keypoints scoring lower are treated as not seen.
        upright_max_deg: A torso within this angle of vertical is upright.
        lying_min_deg: A torso at least this far from vertical (and low) is lying.
    """

    min_keypoint_score: float = 0.3
    upright_max_deg: float = 35.0
    lying_min_deg: float = 55.0


class Posture(StrEnum):
    UPRIGHT = "upright"  # torso near vertical at full length: standing or sitting
    LYING = "lying"
    OTHER = "other"  # bending, crouching, getting up, or not seen well enough


@dataclass(frozen=True, slots=True)
class Baseline:
    """A person's size when last seen upright (None fields: never seen so).

    Attributes:
        height_px: Box height, the person's "scale".
        torso_px: Shoulder-to-hip length.
    """

    height_px: float | None = None
    torso_px: float | None = None


@dataclass(frozen=True, slots=True)
class Torso:
    """What one frame's keypoints say about a person's torso.

    Attributes:
        angle_deg: Angle of the hip-to-shoulder line from vertical: 0 upright,
            90 horizontal, 180 head down.
        length_px: Shoulder-to-hip length in pixels.
        hip_y_px: Image row of the hips' midpoint.
        hip_height_px: Hips above the box bottom, in pixels.
        verdict: Lying (far from vertical or foreshortened, and low), upright
            (near vertical at full length) or other.
    """

    angle_deg: float
    length_px: float
    hip_y_px: float
    hip_height_px: float
    verdict: Posture


@dataclass(frozen=True, slots=True)
class Reading:
    """One person's posture on one frame.

    Attributes:
        posture: Upright, lying or other.
        torso: The torso it used; from an earlier frame when `is_fresh` is false.
        is_fresh: The torso was read on this frame.
        is_standing: Upright with the hips well above the box bottom.
    """

    posture: Posture
    torso: Torso | None = None
    is_fresh: bool = False
    is_standing: bool = False


def _midpoint(
    keypoints: npt.NDArray[np.float32], which: list[Keypoint], min_score: float
) -> npt.NDArray[np.float32] | None:
    points = keypoints[which]
    seen = points[:, 2] >= min_score
    if not np.any(seen):
        return None
    mid: npt.NDArray[np.float32] = points[seen, :2].mean(axis=0)
    return mid


def read_torso(
    xyxy: npt.NDArray[np.float32],
    keypoints: npt.NDArray[np.float32],
    *,
    baseline: Baseline,
    thresholds: PostureThresholds,
) -> Torso | None:
    """Read the torso from keypoints; None without a shoulder and a hip.

    Lying needs the torso far from vertical, or foreshortened (someone lying
    along the camera's line of sight), and, once the person's upright size is
    known, a box and hips low against it: a person bending to pick something
    up has a horizontal torso too, but the hips stay high.

    Args:
        xyxy: (4,) box in pixels.
        keypoints: (17, 3) keypoints (x, y, score).
        baseline: The person's upright size.
        thresholds: Angles and keypoint score.
    """
    shoulders = _midpoint(keypoints, _SHOULDERS, thresholds.min_keypoint_score)
    hips = _midpoint(keypoints, _HIPS, thresholds.min_keypoint_score)
    if shoulders is None or hips is None:
        return None
    dx, dy = (float(v) for v in shoulders - hips)
    angle = math.degrees(math.atan2(abs(dx), -dy))
    length = math.hypot(dx, dy)
    width, height = float(xyxy[2] - xyxy[0]), float(xyxy[3] - xyxy[1])
    hip_height = float(xyxy[3] - hips[1])
    up_torso, scale = baseline.torso_px, baseline.height_px
    short = up_torso is not None and length < _FORESHORTENED * up_torso
    if scale is None:
        is_low = width >= height
    else:
        is_low = height <= _LOW_BOX * scale and hip_height <= _LOW_HIPS * scale
    if (angle >= thresholds.lying_min_deg or short) and is_low:
        verdict = Posture.LYING
    elif angle <= thresholds.upright_max_deg and not short:
        verdict = Posture.UPRIGHT
    else:
        verdict = Posture.OTHER
    return Torso(angle, length, float(hips[1]), hip_height, verdict)


def read_posture(
    xyxy: npt.NDArray[np.float32],
    torso: Torso | None,
    *,
    baseline: Baseline,
    is_fresh: bool = True,
) -> Reading:
    """Combine a torso reading (if any) with the box shape.

    A box much wider than tall is lying whatever the keypoints say (pose models
    trained on upright people misread many lying ones), and so is a wider than
    tall box at most half the upright height unless the torso is upright
    (someone sitting on the floor with the legs stretched out).

    Args:
        xyxy: (4,) box in pixels.
        torso: This frame's torso reading, a recent one, or None.
        baseline: The person's upright size.
        is_fresh: `torso` was read on this frame.
    """
    width, height = float(xyxy[2] - xyxy[0]), float(xyxy[3] - xyxy[1])
    scale = baseline.height_px
    flat = width >= _FLAT_ASPECT * height
    low_wide = (
        width >= _LYING_ASPECT * height
        and scale is not None
        and height <= _LYING_BOX * scale
    )
    torso_upright = torso is not None and torso.verdict is Posture.UPRIGHT
    if (
        flat
        or (low_wide and not torso_upright)
        or (torso is not None and torso.verdict is Posture.LYING)
    ):
        return Reading(Posture.LYING, torso, is_fresh)
    if torso is None:
        standing = height >= _STANDING_ASPECT * width and (
            scale is None or height >= _STANDING_BOX * scale
        )
        posture = Posture.UPRIGHT if standing else Posture.OTHER
        return Reading(posture, None, is_fresh, is_standing=standing)
    if torso.verdict is not Posture.UPRIGHT:
        return Reading(Posture.OTHER, torso, is_fresh)
    standing_hips = _STANDING_HIPS * (scale if scale is not None else height)
    return Reading(
        Posture.UPRIGHT,
        torso,
        is_fresh,
        is_standing=torso.hip_height_px >= standing_hips,
    )

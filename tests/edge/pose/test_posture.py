"""Tests for edge/pose/posture.py on synthetic people."""

from __future__ import annotations

import numpy as np
import pytest

from edge.pose.posture import (
    Baseline,
    Posture,
    PostureThresholds,
    Torso,
    read_posture,
    read_torso,
)
from edge.pose.types import Keypoint
from tests.edge.pose.skeletons import person

THRESHOLDS = PostureThresholds()
KNOWN = Baseline(height_px=300.0, torso_px=90.0)  # seen standing, 300 px tall
UNKNOWN = Baseline()


@pytest.mark.parametrize(
    ("posture", "baseline", "verdict", "result", "is_standing"),
    [
        ("standing", KNOWN, Posture.UPRIGHT, Posture.UPRIGHT, True),
        ("standing", UNKNOWN, Posture.UPRIGHT, Posture.UPRIGHT, True),
        ("sitting_chair", KNOWN, Posture.UPRIGHT, Posture.UPRIGHT, False),
        ("sitting_floor", KNOWN, Posture.UPRIGHT, Posture.UPRIGHT, False),
        ("sitting_floor", UNKNOWN, Posture.UPRIGHT, Posture.UPRIGHT, False),
        ("bending", KNOWN, Posture.OTHER, Posture.OTHER, False),
        ("bending", UNKNOWN, Posture.OTHER, Posture.OTHER, False),
        ("lying", KNOWN, Posture.LYING, Posture.LYING, False),
        ("lying", UNKNOWN, Posture.LYING, Posture.LYING, False),
    ],
)
def test_read_given_posture_should_classify(
    posture: str,
    baseline: Baseline,
    verdict: Posture,
    result: Posture,
    is_standing: bool,
) -> None:
    body = person(posture)
    torso = read_torso(
        body.xyxy, body.keypoints, baseline=baseline, thresholds=THRESHOLDS
    )
    assert torso is not None
    assert torso.verdict is verdict
    reading = read_posture(body.xyxy, torso, baseline=baseline)
    assert reading.posture is result
    assert reading.is_standing is is_standing
    assert reading.torso is torso and reading.is_fresh


@pytest.mark.parametrize(
    ("posture", "angle"),
    [("standing", 0.0), ("lying", 88.0), ("bending", 100.0)],
)
def test_read_torso_given_posture_should_measure_angle(
    posture: str, angle: float
) -> None:
    body = person(posture)
    torso = read_torso(body.xyxy, body.keypoints, baseline=KNOWN, thresholds=THRESHOLDS)
    assert torso is not None
    assert torso.angle_deg == pytest.approx(angle, abs=1.0)


def test_read_torso_given_head_down_should_be_lying_at_180() -> None:
    body = person("standing")
    flipped = body.keypoints.copy()
    flipped[:, 1] = 2 * 270.0 - flipped[:, 1]  # mirrored about y = 270
    box = np.array([161.0, 120.0, 239.0, 420.0], dtype=np.float32)
    torso = read_torso(box, flipped, baseline=UNKNOWN, thresholds=THRESHOLDS)
    assert torso is not None
    assert torso.angle_deg == pytest.approx(180.0)


def test_read_torso_given_foreshortened_low_torso_should_be_lying() -> None:
    # Lying along the line of sight: the torso looks short and nearly upright.
    body = person("sitting_floor", height=300.0)
    keypoints = body.keypoints.copy()
    shoulders = [Keypoint.LEFT_SHOULDER, Keypoint.RIGHT_SHOULDER]
    keypoints[shoulders, 1] = keypoints[Keypoint.LEFT_HIP, 1] - 30.0  # 30 of 90 px
    box = np.array([170.0, 330.0, 365.0, 420.0], dtype=np.float32)
    torso = read_torso(box, keypoints, baseline=KNOWN, thresholds=THRESHOLDS)
    assert torso is not None
    assert torso.angle_deg < THRESHOLDS.upright_max_deg
    assert torso.verdict is Posture.LYING


def test_read_torso_given_unseen_hips_should_return_none() -> None:
    body = person("standing")
    keypoints = body.keypoints.copy()
    keypoints[[Keypoint.LEFT_HIP, Keypoint.RIGHT_HIP], 2] = 0.1
    assert (
        read_torso(body.xyxy, keypoints, baseline=KNOWN, thresholds=THRESHOLDS) is None
    )


@pytest.mark.parametrize(
    ("xyxy", "baseline", "torso", "expected"),
    [
        ((0, 0, 100, 300), KNOWN, None, Posture.UPRIGHT),  # standing shape
        ((0, 0, 100, 300), UNKNOWN, None, Posture.UPRIGHT),
        ((0, 100, 100, 300), KNOWN, None, Posture.OTHER),  # 2/3 height: crouch
        ((0, 0, 200, 100), UNKNOWN, None, Posture.LYING),  # flat: 2:1
        ((0, 0, 150, 100), UNKNOWN, None, Posture.OTHER),  # 1.5:1, size unknown
        ((0, 0, 150, 100), KNOWN, None, Posture.LYING),  # 1.5:1, a third high
        ((0, 0, 150, 100), KNOWN, Posture.UPRIGHT, Posture.UPRIGHT),  # sits
        ((0, 0, 200, 100), KNOWN, Posture.UPRIGHT, Posture.LYING),  # misread
    ],
)
def test_read_posture_given_box_should_combine_with_torso(
    xyxy: tuple[float, float, float, float],
    baseline: Baseline,
    torso: Posture | None,
    expected: Posture,
) -> None:
    reading = read_posture(
        np.asarray(xyxy, dtype=np.float32),
        None if torso is None else Torso(0.0, 90.0, 50.0, 50.0, torso),
        baseline=baseline,
        is_fresh=False,
    )
    assert reading.posture is expected
    assert not reading.is_fresh

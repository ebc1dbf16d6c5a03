"""Tests for edge/pose/movenet.py: the real MoveNet Lightning model, a real frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from edge.pose.movenet import MoveNetEstimator, PoseModels, square_crops
from edge.pose.types import Keypoint
from models.manifest import UnknownEntryError
from tests.edge.infer.real_frames import PERSON_FRAME, read_frame

MODEL_FILE = "movenet_singlepose_lightning_int8_4.onnx"


@pytest.fixture(scope="module")
def estimator(models_dir: Path) -> MoveNetEstimator:
    return MoveNetEstimator(model_path=models_dir / MODEL_FILE)


@pytest.fixture(scope="module")
def person_frame(videos_dir: Path) -> npt.NDArray[np.uint8]:
    return read_frame(videos_dir / PERSON_FRAME[0], PERSON_FRAME[1])


def test_estimate_given_standing_person_should_find_an_upright_skeleton(
    estimator: MoveNetEstimator, person_frame: npt.NDArray[np.uint8]
) -> None:
    # A man standing at a table, seen from above and in front; the table hides
    # his legs, so only the upper body is checked.
    box = np.asarray([PERSON_FRAME[2]], dtype=np.float32)
    (keypoints,) = estimator.estimate(
        person_frame, box, margins=np.array([0.2], dtype=np.float32)
    )
    upper = [
        Keypoint.NOSE,
        Keypoint.LEFT_SHOULDER,
        Keypoint.RIGHT_SHOULDER,
        Keypoint.LEFT_HIP,
        Keypoint.RIGHT_HIP,
    ]
    assert (keypoints[upper, 2] >= 0.3).all()
    x1, y1, x2, y2 = PERSON_FRAME[2]
    assert ((keypoints[upper, 0] >= x1) & (keypoints[upper, 0] <= x2)).all()
    assert ((keypoints[upper, 1] >= y1) & (keypoints[upper, 1] <= y2)).all()
    nose_y = keypoints[Keypoint.NOSE, 1]
    shoulders_y = keypoints[[Keypoint.LEFT_SHOULDER, Keypoint.RIGHT_SHOULDER], 1]
    hips_y = keypoints[[Keypoint.LEFT_HIP, Keypoint.RIGHT_HIP], 1]
    assert nose_y < shoulders_y.min() and shoulders_y.max() < hips_y.min()
    assert estimator.runs >= 1 and estimator.avg_ms > 0


def test_estimate_given_no_box_should_return_empty(
    estimator: MoveNetEstimator, person_frame: npt.NDArray[np.uint8]
) -> None:
    runs = estimator.runs
    keypoints = estimator.estimate(
        person_frame,
        np.zeros((0, 4), dtype=np.float32),
        margins=np.zeros(0, dtype=np.float32),
    )
    assert keypoints.shape == (0, 17, 3)
    assert estimator.runs == runs


def test_estimate_given_crop_past_the_frame_should_pad_it(
    estimator: MoveNetEstimator, person_frame: npt.NDArray[np.uint8]
) -> None:
    box = np.asarray([[-100.0, -100.0, 50.0, 50.0]], dtype=np.float32)
    keypoints = estimator.estimate(
        person_frame, box, margins=np.array([0.5], dtype=np.float32)
    )
    assert keypoints.shape == (1, 17, 3)
    assert np.isfinite(keypoints).all()


def test_estimator_given_detector_model_should_raise(models_dir: Path) -> None:
    with pytest.raises(ValueError, match="uint8"):
        MoveNetEstimator(model_path=models_dir / "yolox_nano.onnx")


def test_pose_models_should_load_each_model_once(models_dir: Path) -> None:
    models = PoseModels(models_dir=models_dir)
    first = models.get("movenet_lightning")
    assert models.get("movenet_lightning") is first
    assert first.input_size_px == 192
    with pytest.raises(UnknownEntryError, match="no-such-model"):
        models.get("no-such-model")


@pytest.mark.parametrize(
    ("box", "margin", "expected"),
    [
        ((10, 20, 30, 60), 0.0, (0, 20, 40)),  # tall: square on the height
        ((10, 20, 50, 40), 0.0, (10, 10, 40)),  # wide: square on the width
        ((10, 20, 30, 60), 0.25, (-10, 10, 60)),  # a quarter of 40 on each end
        ((5, 5, 5, 5), 0.0, (4.5, 4.5, 1)),  # empty box: 1 px
    ],
)
def test_square_crops_given_box_should_centre_a_square(
    box: tuple[float, ...], margin: float, expected: tuple[float, float, float]
) -> None:
    crops = square_crops(
        np.asarray([box], dtype=np.float32), np.asarray([margin], dtype=np.float32)
    )
    np.testing.assert_allclose(crops[0], expected)

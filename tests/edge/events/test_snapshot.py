"""Tests for edge/events/snapshot.py."""

from __future__ import annotations

import base64
import hashlib
import logging
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from edge.events.snapshot import (
    SnapshotSettings,
    Snapshotter,
    encode_jpeg,
    expand_boxes,
    head_boxes,
)
from edge.face_settings import FaceBlurSettings
from edge.media.faces import FaceBlur

FACE_MODEL = "face_detection_yunet_2026may.onnx"
GIF = "face-demographics-walking.gif"
VERIFY_SCORE = 0.3  # stricter than the 0.5 the node blurs at


def _decode(jpeg: bytes) -> npt.NDArray[np.uint8]:
    image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a decodable JPEG"
    return np.asarray(image, dtype=np.uint8)


def _grey_frame(h: int = 480, w: int = 640) -> npt.NDArray[np.uint8]:
    return np.full((h, w, 3), 128, dtype=np.uint8)


@pytest.fixture(scope="module")
def face_model(models_dir: Path) -> Path:
    return models_dir / FACE_MODEL


@pytest.fixture(scope="module")
def face_blur(face_model: Path) -> FaceBlur:
    return FaceBlur.from_model(face_model, FaceBlurSettings(), label="test")


@pytest.fixture(scope="module")
def yunet(face_model: Path) -> Any:
    return cv2.FaceDetectorYN.create(str(face_model), "", (320, 320), VERIFY_SCORE)


def _faces(yunet: Any, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    yunet.setInputSize((image.shape[1], image.shape[0]))
    _, faces = yunet.detect(image)
    if faces is None:
        return np.zeros((0, 4), dtype=np.float32)
    xywh = np.asarray(faces[:, :4], dtype=np.float32)
    return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)


@pytest.fixture(scope="module")
def face_frame(videos_dir: Path, yunet: Any) -> npt.NDArray[np.uint8]:
    """The first frame of the walking GIF where YuNet finds two faces."""
    capture = cv2.VideoCapture(str(videos_dir / GIF))
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if len(_faces(yunet, np.asarray(frame, dtype=np.uint8))) >= 2:
                return np.asarray(frame, dtype=np.uint8)
    finally:
        capture.release()
    raise AssertionError(f"no frame with faces in {GIF}")


def test_snapshotter_given_frame_should_encode_valid_jpeg_with_hash(
    face_blur: FaceBlur,
) -> None:
    snapshot = Snapshotter(camera_id="cam-1", face_blur=face_blur).render(
        _grey_frame(), boxes_xyxy=np.zeros((0, 4)), texts=()
    )
    assert snapshot.jpeg[:2] == b"\xff\xd8"
    assert _decode(snapshot.jpeg).shape == (480, 640, 3)
    assert snapshot.resolution_wh == (640, 480)
    ref = snapshot.to_ref()
    assert ref.content_type == "image/jpeg"
    assert ref.bytes_b64 is not None
    assert base64.b64decode(ref.bytes_b64) == snapshot.jpeg
    assert ref.sha256 == hashlib.sha256(snapshot.jpeg).hexdigest()


def test_snapshotter_given_box_should_draw_it_in_red_and_leave_input_alone(
    face_blur: FaceBlur,
) -> None:
    frame = _grey_frame()
    before = frame.copy()
    snapshot = Snapshotter(camera_id="cam-1", face_blur=face_blur).render(
        frame, boxes_xyxy=np.array([[200.0, 150.0, 400.0, 400.0]]), texts=["person #3"]
    )
    image = _decode(snapshot.jpeg).astype(int)
    b, g, r = image[300, 200]  # left edge, well below the label
    assert r > 180 and g < 80 and b < 80
    b, g, r = image[300, 300]  # inside the box: untouched grey
    assert abs(r - 128) < 10 and abs(g - 128) < 10
    np.testing.assert_array_equal(frame, before)


def test_snapshotter_given_faces_should_make_them_undetectable(
    face_blur: FaceBlur, face_frame: npt.NDArray[np.uint8], yunet: Any
) -> None:
    faces_before = _faces(yunet, face_frame)
    snapshot = Snapshotter(camera_id="cam-1", face_blur=face_blur).render(
        face_frame, boxes_xyxy=faces_before, texts=()
    )
    assert snapshot.faces_blurred >= len(faces_before)
    assert len(_faces(yunet, _decode(snapshot.jpeg))) == 0


def test_snapshotter_given_no_face_model_should_blur_heads_and_warn_once(
    tmp_path: Path,
    face_frame: npt.NDArray[np.uint8],
    yunet: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    faces = _faces(yunet, face_frame)
    w = faces[:, 2] - faces[:, 0]
    h = faces[:, 3] - faces[:, 1]
    persons = np.stack(
        [faces[:, 0] - w, faces[:, 1] - 0.4 * h, faces[:, 2] + w, faces[:, 3] + 5 * h],
        axis=1,
    )
    with caplog.at_level(logging.WARNING):
        snapshotter = Snapshotter(camera_id="cam-7", face_blur=None)
        for _ in range(2):
            snapshot = snapshotter.render(
                face_frame, boxes_xyxy=persons, person_xyxy=persons
            )
    assert not snapshotter.has_face_model
    assert snapshot.faces_blurred == len(persons)
    assert len(_faces(yunet, _decode(snapshot.jpeg))) == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "cam-7" in warnings[0].getMessage()


def test_snapshotter_given_large_noisy_frame_should_stay_under_max_bytes(
    face_blur: FaceBlur,
) -> None:
    rng = np.random.default_rng(7)
    frame = rng.integers(0, 256, size=(2160, 3840, 3), dtype=np.uint8)
    snapshot = Snapshotter(camera_id="cam-1", face_blur=face_blur).render(
        frame, boxes_xyxy=np.array([[100.0, 100.0, 900.0, 900.0]])
    )
    assert len(snapshot.jpeg) <= 200_000
    assert max(snapshot.resolution_wh) <= 1280
    _decode(snapshot.jpeg)


def test_encode_jpeg_given_impossible_budget_should_raise() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (400, 400, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="under 100 bytes"):
        encode_jpeg(noise, quality=80, max_bytes=100)


@pytest.mark.parametrize(
    ("boxes", "margin", "fraction", "expanded", "heads"),
    [
        ([], 0.5, 0.3, [], []),
        (
            [[10, 20, 30, 120]],
            0.5,
            0.3,
            [[0, -30, 40, 170]],
            [[10, 20, 30, 50]],
        ),
    ],
)
def test_box_helpers_given_boxes_should_expand_and_take_heads(
    boxes: list[list[float]],
    margin: float,
    fraction: float,
    expanded: list[list[float]],
    heads: list[list[float]],
) -> None:
    xyxy = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    np.testing.assert_allclose(
        expand_boxes(xyxy, margin), np.reshape(expanded, (-1, 4))
    )
    np.testing.assert_allclose(head_boxes(xyxy, fraction), np.reshape(heads, (-1, 4)))
    np.testing.assert_array_equal(
        xyxy, np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    )


@pytest.mark.parametrize(
    ("kwargs", "expectation"),
    [
        ({}, nullcontext()),
        ({"max_side_px": 32}, pytest.raises(ValueError, match="max_side_px")),
        ({"jpeg_quality": 101}, pytest.raises(ValueError, match="jpeg_quality")),
        ({"max_bytes": 10}, pytest.raises(ValueError, match="max_bytes")),
        ({"head_fraction": 0.0}, pytest.raises(ValueError, match="head_fraction")),
    ],
)
def test_snapshot_settings_given_values_should_validate(
    kwargs: dict[str, Any], expectation: AbstractContextManager[Any]
) -> None:
    with expectation:
        SnapshotSettings(**kwargs)


def test_snapshotter_given_grey_image_of_wrong_shape_should_raise(
    face_blur: FaceBlur,
) -> None:
    snapshotter = Snapshotter(camera_id="cam-1", face_blur=face_blur)
    with pytest.raises(ValueError, match="uint8"):
        snapshotter.render(
            np.zeros((10, 10), dtype=np.uint8), boxes_xyxy=np.zeros((0, 4))
        )


def test_contains_any_center_given_faces_should_mark_heads_that_hold_one() -> None:
    from edge.events.snapshot import _contains_any_center

    heads = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], dtype=np.float32)
    faces = np.array([[2, 2, 6, 6]], dtype=np.float32)
    assert _contains_any_center(heads, faces).tolist() == [True, False]
    assert _contains_any_center(heads, faces[:0]).tolist() == [False, False]
    assert _contains_any_center(heads[:0], faces).tolist() == []

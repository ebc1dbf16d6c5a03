"""Face blur: real faces from real frames must not be found again after blurring."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from edge.face_settings import FaceBlurSettings
from edge.media.clip import EncodeSettings, TimedImage, encode_mp4
from edge.media.faces import (
    FaceBlur,
    FaceDetector,
    FaceModelError,
    expand_boxes,
    load_face_detector,
)
from tests.edge.media.faces import FaceCounter, decode_jpeg, read_frames


def test_face_gif_given_raw_frames_should_show_faces(
    face_frames: list[npt.NDArray[np.uint8]], face_counter: FaceCounter
) -> None:
    # The test data must really hold faces, or the blur tests prove nothing.
    assert all(face_counter.count(frame) >= 1 for frame in face_frames)


def test_blur_given_frames_with_faces_should_leave_no_face_even_after_jpeg(
    blur: FaceBlur,
    face_frames: list[npt.NDArray[np.uint8]],
    face_counter: FaceCounter,
) -> None:
    for frame in face_frames:
        image = frame.copy()
        assert blur.blur(image) >= 2
        assert face_counter.count(image) == 0
        for quality in (40, 85):
            ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            assert ok and face_counter.count(decode_jpeg(jpeg.tobytes())) == 0


def test_blur_given_frames_should_leave_no_face_in_the_h264_clip(
    blur: FaceBlur,
    face_frames: list[npt.NDArray[np.uint8]],
    face_counter: FaceCounter,
    tmp_path: Path,
) -> None:
    images = []
    for index, frame in enumerate(face_frames):
        image = frame.copy()
        blur.blur(image)
        images.append(TimedImage(captured_at=index * 0.1, image=image))
    clip = encode_mp4(images, tmp_path / "c.mp4", EncodeSettings(crf=32))
    decoded = read_frames(clip.path)
    assert len(decoded) == len(face_frames)
    assert [face_counter.count(frame) for frame in decoded] == [0] * len(decoded)


def test_blur_given_face_free_frame_should_leave_it_untouched(blur: FaceBlur) -> None:
    image = np.full((240, 320, 3), 128, dtype=np.uint8)
    assert blur.blur(image) == 0
    assert np.all(image == 128)


class _StubbornDetector(FaceDetector):
    """Always finds the same face: as if blurring never removed it."""

    def __init__(self) -> None:
        pass

    def detect(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        return np.array([[10.0, 10.0, 30.0, 30.0]], dtype=np.float32)


class _BrokenDetector(FaceDetector):
    def __init__(self) -> None:
        pass

    def detect(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        raise cv2.error("network failed")


@pytest.mark.parametrize("detector", [_StubbornDetector(), _BrokenDetector()])
def test_blur_given_faces_that_stay_or_a_failing_detector_should_obscure_all(
    detector: FaceDetector,
) -> None:
    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    blur = FaceBlur(detector=detector, settings=FaceBlurSettings(max_passes=2))
    assert blur.blur(image) >= 1
    # 3x3 cells, then blurred: nothing of the noise is left.
    assert float(image.astype(np.float32).std()) < 40.0


def test_load_face_detector_given_missing_or_broken_file_should_refuse(
    tmp_path: Path,
) -> None:
    with pytest.raises(FaceModelError, match="not found: refusing"):
        load_face_detector(tmp_path / "missing.onnx", score_threshold=0.3)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    with pytest.raises(FaceModelError, match="cannot be loaded"):
        load_face_detector(broken, score_threshold=0.3)


def test_expand_boxes_given_margin_should_grow_each_side() -> None:
    grown = expand_boxes(np.array([[10.0, 20.0, 30.0, 60.0]]), 0.5)
    assert grown.tolist() == [[0.0, 0.0, 40.0, 80.0]]
    assert expand_boxes(np.zeros((0, 4)), 0.5).shape == (0, 4)

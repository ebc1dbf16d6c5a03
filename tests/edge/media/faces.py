"""Helpers for checking media for faces: YuNet at its usual threshold, frame readers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import numpy.typing as npt

FACE_MODEL = "face_detection_yunet_2026may.onnx"
FACE_GIF = "face-demographics-walking.gif"  # two people walk to the camera
CHECK_SCORE = 0.5  # YuNet's usual threshold: what someone looking for faces uses


class FaceCounter:
    """Counts the faces YuNet finds in an image."""

    def __init__(self, model: Path, score: float = CHECK_SCORE) -> None:
        self._detector: Any = cv2.FaceDetectorYN.create(
            str(model), "", (320, 320), score
        )

    def count(self, image: npt.NDArray[np.uint8]) -> int:
        self._detector.setInputSize((image.shape[1], image.shape[0]))
        _, faces = self._detector.detect(image)
        return 0 if faces is None else len(faces)


def read_frames(path: Path) -> list[npt.NDArray[np.uint8]]:
    """Every frame of a video or GIF, BGR, via OpenCV."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(np.asarray(frame, dtype=np.uint8))
    finally:
        capture.release()
    return frames


def decode_jpeg(data: bytes) -> npt.NDArray[np.uint8]:
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a decodable image"
    return np.asarray(image, dtype=np.uint8)


def probe_video(path: Path) -> tuple[str, str, tuple[int, int], list[float]]:
    """(codec, pixel format, (width, height), frame times in s) via PyAV."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        pix_fmt = (
            stream.codec_context.format.name if stream.codec_context.format else ""
        )
        size = (stream.codec_context.width, stream.codec_context.height)
        times = [float(f.time or 0.0) for f in container.decode(stream)]
    return codec, pix_fmt, size, times

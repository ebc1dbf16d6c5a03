"""RTSP and file sources read with OpenCV's FFmpeg back-end."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import cv2
import numpy as np

from edge.config import CameraConfig
from edge.ingest.base import FrameSource
from edge.ingest.sampler import FrameSampler
from edge.ingest.slot import FreshestFrameSlot
from edge.ingest.stream_url import redact_credentials

logger = logging.getLogger(__name__)

# RTSP over TCP: UDP loses packets (smeared frames) on busy hosts; no frame-rate
# probe (it makes each open take 1-2 s, serialised across cameras). OpenCV reads this
# variable when a capture opens, so it must be set before the first open.
os.environ.setdefault(
    "OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp|fpsprobesize;0"
)
# OpenCV and FFmpeg print a warning per failed open/read straight to stderr; the
# source logs each failure itself, with the camera id, so keep theirs to errors.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "16")  # AV_LOG_ERROR
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


class CaptureSource(FrameSource):
    """Reads an RTSP URL (kind rtsp) or a video file (kind file).

    Frames that are not due for analysis are grabbed but not converted
    (`grab` without `retrieve`), which saves the colour conversion per frame.
    """

    def __init__(self, camera: CameraConfig, slot: FreshestFrameSlot) -> None:
        super().__init__(camera, slot)
        self._capture: cv2.VideoCapture | None = None
        self._is_file = camera.kind == "file"
        self._sampler = FrameSampler(camera.analysis_fps)

    def _open(self) -> cv2.VideoCapture | None:
        url = self.camera.analysis_url
        if self._is_file and not Path(url).is_file():
            self.error = f"video file not found: {url}"
            return None
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(self.camera.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(self.camera.read_timeout_s * 1000),
        ]
        capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
        if not capture.isOpened():
            capture.release()
            self.error = f"cannot open {self._describe()}"
            return None
        return capture

    def _describe(self) -> str:
        url = self.camera.analysis_url
        return f"video file {url}" if self._is_file else redact_credentials(url)

    def _read_until_failure(self) -> bool:
        capture = self._open()
        if capture is None:
            return False
        self._capture = capture
        self._connected = True
        self.error = None
        logger.info("camera %s: opened %s", self.camera.id, self._describe())
        file_period_s = self._file_period(capture)
        return self._pump(capture, file_period_s)

    def _file_period(self, capture: cv2.VideoCapture) -> float:
        if not self._is_file:
            return 0.0
        fps = capture.get(cv2.CAP_PROP_FPS)
        return 1.0 / fps if fps and fps > 0 else 0.1

    def _pump(self, capture: cv2.VideoCapture, file_period_s: float) -> bool:
        had_frames = False
        self._sampler.reset()
        next_due = time.monotonic()
        while not self._stop.is_set():
            if not capture.grab():
                if self._is_file and self.camera.loop and had_frames:
                    capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    continue
                self.error = (
                    "end of file" if self._is_file else "read failed or timed out"
                )
                return had_frames
            now = time.monotonic()
            # A frame due while analysis still holds the previous one waits
            # for the next frame (the tick stays open), as before.
            due = self._sampler.is_due(now) and self.slot.peek_time() is None
            if due:
                ok, image = capture.retrieve()
                if ok and image is not None:
                    self._sampler.take(now)
                    self._emit(image.astype(np.uint8, copy=False))
            else:
                self._count_frame(time.time())
            had_frames = True
            if file_period_s:
                next_due += file_period_s
                self._stop.wait(max(0.0, next_due - time.monotonic()))
        return had_frames

    def _close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

"""Test helpers: read RTSP streams with OpenCV's FFmpeg backend.

The simulator itself is started with `harness.services.RtspSimulatorProcess`.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import numpy.typing as npt

# FFmpeg (OpenCV's backend) reads RTSP over TCP: no UDP port juggling in tests.
RTSP_CAPTURE_OPTIONS = "rtsp_transport;tcp"


def read_frames(
    url: str, *, duration_s: float, open_timeout_s: float = 10.0
) -> tuple[list[float], npt.NDArray[np.uint8] | None]:
    """Read an RTSP stream with OpenCV's FFmpeg backend for a while.

    Args:
        url: RTSP URL.
        duration_s: How long to read after the stream opened, in seconds.
        open_timeout_s: Longest wait for the stream to open.

    Returns:
        Monotonic arrival time of each frame, and the last frame (BGR) or
        None when nothing was read.
    """
    capture = open_capture(url, open_timeout_s=open_timeout_s)
    times: list[float] = []
    frame: npt.NDArray[np.uint8] | None = None
    try:
        if not capture.isOpened():
            return times, frame
        end = time.monotonic() + duration_s
        while time.monotonic() < end:
            ok, image = capture.read()
            if not ok:
                break
            times.append(time.monotonic())
            frame = np.asarray(image, dtype=np.uint8)
    finally:
        capture.release()
    return times, frame


def open_capture(url: str, *, open_timeout_s: float = 10.0) -> Any:
    """Open an RTSP URL with OpenCV's FFmpeg backend over TCP.

    Returns:
        A ``cv2.VideoCapture``; check ``isOpened()``.
    """
    os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", RTSP_CAPTURE_OPTIONS)
    import cv2

    return cv2.VideoCapture(
        url,
        cv2.CAP_FFMPEG,
        [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            5000,
        ],
    )

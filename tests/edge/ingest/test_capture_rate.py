"""CaptureSource on a real file: the analysed rate is analysis_fps, not a divisor."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np

from edge.config import CameraConfig
from edge.ingest.capture import CaptureSource
from edge.ingest.slot import FreshestFrameSlot
from edge.types import Frame


class _TakingSlot(FreshestFrameSlot):
    """A slot whose analyser takes every frame at once (never busy)."""

    def __init__(self) -> None:
        super().__init__("c1", threading.Condition())
        self.times: list[float] = []

    def put(self, frame: Frame) -> None:
        self.times.append(frame.captured_at)


def _clip(path: Path, *, fps: float, seconds: float) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (64, 48))
    for i in range(round(fps * seconds)):
        writer.write(np.full((48, 64, 3), i % 255, dtype=np.uint8))
    writer.release()
    return path


def test_capture_given_15_fps_file_and_10_fps_analysis_should_analyse_10_fps(
    tmp_path: Path,
) -> None:
    clip = _clip(tmp_path / "clip.avi", fps=15, seconds=4.0)  # 60 frames
    camera = CameraConfig.model_validate(
        {
            "id": "c1",
            "url": str(clip),
            "kind": "file",
            "location": {"lat": 1, "lon": 2},
            "analysis_fps": 10,
        }
    )
    slot = _TakingSlot()
    source = CaptureSource(camera, slot)
    source.start()
    deadline = time.monotonic() + 20.0
    while source.error != "end of file" and time.monotonic() < deadline:
        time.sleep(0.05)
    source.request_stop()
    source.join(5.0)

    assert source.frames_decoded >= 60
    # 40 at 10 fps over the first play; the old limiter ("an interval since
    # the last one") took every second frame of 15 fps: 30
    first_play = [t for t in slot.times if t - slot.times[0] < 4.0]
    assert 36 <= len(first_play) <= 41, len(first_play)


def test_capture_given_detect_url_should_read_it_instead_of_url(
    tmp_path: Path,
) -> None:
    clip = _clip(tmp_path / "sub.avi", fps=15, seconds=1.0)
    camera = CameraConfig.model_validate(
        {
            "id": "c1",
            "url": str(tmp_path / "main-not-read.avi"),
            "detect_url": str(clip),
            "kind": "file",
            "location": {"lat": 1, "lon": 2},
        }
    )
    slot = _TakingSlot()
    source = CaptureSource(camera, slot)
    source.start()
    deadline = time.monotonic() + 20.0
    while source.error != "end of file" and time.monotonic() < deadline:
        time.sleep(0.05)
    source.request_stop()
    source.join(5.0)

    assert source.frames_decoded >= 15
    assert slot.times

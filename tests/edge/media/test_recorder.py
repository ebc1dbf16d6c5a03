"""Clip recorder: pre/post selection, bounded work, drops counted, never blocking."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from edge.config import MediaConfig
from edge.media.faces import FaceBlur, FaceDetector
from edge.media.recorder import Clip, ClipRecorder, ClipRequest
from edge.media.store import LocalClipStore
from edge.metrics import NodeMetrics
from edge.types import Frame
from tests.edge.media.faces import probe_video

STEP_S = 0.2


class Recorded:
    """Collects finished clips; `wait` blocks until `n` arrived."""

    def __init__(self) -> None:
        self.clips: list[Clip] = []
        self._changed = threading.Condition()

    def __call__(self, clip: Clip) -> None:
        with self._changed:
            self.clips.append(clip)
            self._changed.notify_all()

    def wait(self, n: int, timeout_s: float = 20.0) -> list[Clip]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.clips) >= n, timeout_s)
            return list(self.clips)


def _recorder(
    tmp_path: Path, blur: FaceBlur, **media: Any
) -> tuple[ClipRecorder, Recorded, NodeMetrics]:
    config = MediaConfig(**{"pre_s": 2.0, "post_s": 2.0, "buffer_s": 4.0, **media})
    recorded = Recorded()
    metrics = NodeMetrics()
    recorder = ClipRecorder(
        cameras=["cam"],
        config=config,
        blur=blur,
        store=LocalClipStore(tmp_path, max_bytes=10**9),
        on_clip=recorded,
        metrics=metrics,
        node_id="n",
    )
    return recorder, recorded, metrics


def _frame(t: float, index: int = 0, camera_id: str = "cam") -> Frame:
    image = np.full((90, 160, 3), (index * 3) % 256, dtype=np.uint8)
    return Frame(camera_id=camera_id, index=index, captured_at=t, image=image)


def _dropped(metrics: NodeMetrics, reason: str) -> float:
    value = metrics.registry.get_sample_value(
        "gw_clips_dropped_total", {"camera": "cam", "reason": reason}
    )
    return value or 0.0


@pytest.fixture
def t0() -> float:
    # In the future: the recorder closes clips whose end passed on the wall clock.
    return time.time() + 1000.0


@pytest.mark.parametrize(
    ("start_index", "request_index", "expected_first", "expected_last"),
    [
        (25, 26, 3.0, 7.0),  # start at 5 s, request made one frame later (normal)
        (25, 50, 3.0, 7.0),  # request made after the post window: frames all there
        (5, 6, 0.0, 3.0),  # start at 1 s: only 1 s of pre-roll exists
    ],
)
def test_recorder_given_event_should_clip_pre_s_before_to_post_s_after(
    tmp_path: Path,
    blur: FaceBlur,
    t0: float,
    start_index: int,
    request_index: int,
    expected_first: float,
    expected_last: float,
) -> None:
    recorder, recorded, metrics = _recorder(tmp_path, blur, buffer_s=8.0)
    recorder.start()
    start_at = t0 + start_index * STEP_S
    for i in range(60):
        recorder.push(_frame(t0 + i * STEP_S, i))
        if i == request_index:
            assert recorder.request(ClipRequest("ev-00000001", "cam", start_at))
    (clip,) = recorded.wait(1)
    recorder.stop()
    span = expected_last - expected_first
    assert clip.file.frames == round(span / STEP_S) + 1
    assert clip.file.duration_s == pytest.approx(span + STEP_S, abs=0.01)
    assert clip.file.path == tmp_path / "ev-00000001.mp4"
    _, _, size, times = probe_video(clip.file.path)
    assert size == (160, 90)
    assert times[-1] == pytest.approx(span, abs=0.01)
    assert (
        metrics.registry.get_sample_value("gw_clips_written_total", {"camera": "cam"})
        == 1.0
    )


def test_recorder_given_ring_should_hold_only_buffer_s(
    tmp_path: Path, blur: FaceBlur, t0: float
) -> None:
    recorder, _, _ = _recorder(tmp_path, blur, buffer_s=2.0)
    for i in range(50):
        recorder.push(_frame(t0 + i * STEP_S, i))
    assert recorder.buffered("cam") == 11
    assert recorder.buffered("other") == 0


def test_recorder_given_more_clips_than_allowed_should_drop_and_count(
    tmp_path: Path, blur: FaceBlur, t0: float
) -> None:
    recorder, _, metrics = _recorder(tmp_path, blur, max_active=1, queue_size=1)
    recorder.push(_frame(t0))
    assert recorder.request(ClipRequest("ev-00000001", "cam", t0))
    assert recorder.request(ClipRequest("ev-00000001", "cam", t0)), "same event"
    assert not recorder.request(ClipRequest("ev-00000002", "cam", t0))
    assert _dropped(metrics, "busy") == 1
    recorder.push(_frame(t0 + 3.0))  # completes ev-1: queued (writer not started)
    assert recorder.request(ClipRequest("ev-00000003", "cam", t0 + 3.0))
    started = time.perf_counter()
    recorder.push(_frame(t0 + 6.0))  # completes ev-3: the queue is full
    assert time.perf_counter() - started < 0.5, "push must never block"
    assert _dropped(metrics, "queue_full") == 1


def test_recorder_given_camera_without_frames_should_drop_no_frames(
    tmp_path: Path, blur: FaceBlur
) -> None:
    recorder, recorded, metrics = _recorder(tmp_path, blur)
    recorder.start()
    assert recorder.request(ClipRequest("ev-00000001", "cam", time.time() - 10.0))
    deadline = time.monotonic() + 5.0
    while _dropped(metrics, "no_frames") < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    recorder.stop()
    assert _dropped(metrics, "no_frames") == 1
    assert recorded.clips == []


def test_recorder_given_unrecorded_camera_should_ignore_it(
    tmp_path: Path, blur: FaceBlur, t0: float
) -> None:
    recorder, _, _ = _recorder(tmp_path, blur)
    recorder.push(_frame(t0, camera_id="gate"))
    assert not recorder.request(ClipRequest("ev-00000001", "gate", t0))


def test_recorder_given_stop_should_write_collecting_clips_shortened(
    tmp_path: Path, blur: FaceBlur, t0: float
) -> None:
    recorder, recorded, _ = _recorder(tmp_path, blur)
    recorder.start()
    for i in range(6):
        recorder.push(_frame(t0 + i * STEP_S, i))
    assert recorder.request(ClipRequest("ev-00000001", "cam", t0 + 1.0))
    recorder.stop()
    (clip,) = recorded.clips
    assert clip.file.frames == 6
    assert not recorder.is_alive


def test_recorder_given_clip_that_fails_should_count_it_and_go_on(
    tmp_path: Path, blur: FaceBlur, t0: float
) -> None:
    recorder, recorded, metrics = _recorder(tmp_path, blur)
    recorder.start()
    recorder.push(_frame(t0))
    assert recorder.request(ClipRequest("../escape", "cam", t0))  # no file name
    assert recorder.request(ClipRequest("ev-00000002", "cam", t0))
    recorder.push(_frame(t0 + 2.2, 11))
    (clip,) = recorded.wait(1)
    recorder.stop()
    assert clip.event_id == "ev-00000002"
    assert _dropped(metrics, "error") == 1


def test_recorder_given_faces_found_in_every_encoding_should_not_keep_the_clip(
    tmp_path: Path, blur: FaceBlur, t0: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    def always_a_face(
        self: FaceDetector, image: npt.NDArray[np.uint8]
    ) -> npt.NDArray[np.float32]:
        return np.array([[10.0, 10.0, 40.0, 40.0]], dtype=np.float32)

    monkeypatch.setattr(FaceDetector, "detect", always_a_face)
    recorder, recorded, metrics = _recorder(tmp_path, blur)
    recorder.push(_frame(t0))
    assert recorder.request(ClipRequest("ev-00000001", "cam", t0))
    recorder.start()
    recorder.push(_frame(t0 + 2.2, 11))
    deadline = time.monotonic() + 10
    while _dropped(metrics, "faces_left") < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    recorder.stop()
    assert _dropped(metrics, "faces_left") == 1
    assert recorded.clips == []
    assert list(tmp_path.iterdir()) == [], "a clip with faces was left on disk"

"""The recording-stream reader keeps a camera's main stream's packets (never
decoding them), at the file's pace, and outlives a stream that fails."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from edge.config import CameraConfig
from edge.ingest.packet_ring import PacketRing
from edge.ingest.recording import RecordingStreamReader

MAIN = "bottle-detection.mp4"  # 29.83 fps


def _camera(url: str) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "c1", "url": url, "detect_url": url, "kind": "file",
            "location": {"lat": 1, "lon": 2}, "reconnect_min_s": 0.1,
            "reconnect_max_s": 0.2,
        }
    )  # fmt: skip


def _until(check: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_reader_should_keep_the_main_streams_packets_at_its_pace(
    videos_dir: Path,
) -> None:
    ring = PacketRing(max_age_s=60.0, max_bytes=64 * 2**20)
    reader = RecordingStreamReader(_camera(str(videos_dir / MAIN)), ring)
    reader.start()
    try:
        assert _until(lambda: reader.packets_read > 0)
        started = time.monotonic()
        first = reader.packets_read
        time.sleep(1.0)
        rate = (reader.packets_read - first) / (time.monotonic() - started)
    finally:
        reader.request_stop()
        reader.join(5)

    assert not reader.is_alive
    assert 20 < rate < 40  # the file's 29.83 fps, not as fast as it reads
    window = ring.window(time.time())
    assert window is not None and window.stream.codec == "h264"
    assert window.packets[0].is_key


def test_reader_given_a_missing_stream_should_retry_and_stop_cleanly(
    tmp_path: Path,
) -> None:
    ring = PacketRing(max_age_s=60.0, max_bytes=2**20)
    reader = RecordingStreamReader(_camera(str(tmp_path / "gone.mp4")), ring)
    reader.start()
    try:
        assert _until(lambda: reader.reconnects >= 2)
    finally:
        reader.request_stop()
        reader.join(5)

    assert not reader.is_alive
    assert reader.error == f"video file not found: {tmp_path / 'gone.mp4'}"
    assert len(ring) == 0

"""PyAvSource on the real RTSP simulator: a camera going dark and coming back."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.config import CameraConfig
from edge.ingest import PyAvSource, build_source
from edge.ingest.packet_ring import PacketRing
from edge.ingest.recording import RecordingStreamReader
from edge.ingest.slot import FreshestFrameSlot
from gridwatch.contract import CameraHealth
from harness.services import RtspSimulatorProcess

pytestmark = pytest.mark.integration


def _wait_until(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_pyav_source_given_camera_dark_then_back_should_reconnect(
    videos_dir: Path,
) -> None:
    with RtspSimulatorProcess(videos_dir, clips=["car-detection"]) as sim:
        mount = sim.mounts()[0]
        camera = CameraConfig.model_validate(
            {
                "id": "c1", "url": sim.url(mount), "decoder": "pyav",
                "location": {"lat": 1, "lon": 2}, "open_timeout_s": 2,
                "read_timeout_s": 2, "stall_after_s": 1,
            }
        )  # fmt: skip
        source = build_source(camera, FreshestFrameSlot("c1", threading.Condition()))
        assert isinstance(source, PyAvSource)
        source.start()
        try:
            assert _wait_until(lambda: source.frames_decoded >= 10, 15)
            assert source.state().health is CameraHealth.ONLINE

            sim.stop_mount(mount)
            assert _wait_until(
                lambda: source.state().health is CameraHealth.OFFLINE, 10
            )
            # the reconnect attempts are refused while the camera is dark
            assert _wait_until(lambda: "404" in (source.error or ""), 10)

            sim.start_mount(mount)
            before = source.frames_decoded
            assert _wait_until(lambda: source.frames_decoded > before + 10, 20)
            assert source.state().health is CameraHealth.ONLINE
            assert source.reconnects >= 1
        finally:
            source.request_stop()
            source.join(5)


def test_pyav_readers_given_a_frozen_camera_should_time_out_and_come_back(
    videos_dir: Path,
) -> None:
    """A camera that keeps the connection open but sends nothing (frozen): the
    reads fail after `read_timeout_s` (FFmpeg's socket timeout), the readers
    reconnect, and both read again once the camera thaws."""
    with RtspSimulatorProcess(videos_dir, clips=["car-detection"]) as sim:
        assert sim.pid is not None
        url = sim.url(sim.mounts()[0])
        camera = CameraConfig.model_validate(
            {
                "id": "c1", "url": url, "decoder": "pyav",
                "location": {"lat": 1, "lon": 2}, "open_timeout_s": 3,
                "read_timeout_s": 2, "stall_after_s": 1,
            }
        )  # fmt: skip
        source = build_source(camera, FreshestFrameSlot("c1", threading.Condition()))
        assert isinstance(source, PyAvSource)
        ring = PacketRing(max_age_s=8, max_bytes=8 * 2**20)
        recording = RecordingStreamReader(camera, ring)
        source.start()
        recording.start()
        try:
            assert _wait_until(lambda: source.frames_decoded >= 10, 15)
            assert _wait_until(lambda: recording.packets_read >= 10, 15)

            os.kill(sim.pid, signal.SIGSTOP)
            frozen_at = time.monotonic()
            try:
                assert _wait_until(lambda: source.error is not None, 10)
                timed_out_s = time.monotonic() - frozen_at
                assert "timed out" in (source.error or ""), source.error
                assert _wait_until(lambda: recording.reconnects >= 1, 10)
            finally:
                os.kill(sim.pid, signal.SIGCONT)
            assert 1.5 <= timed_out_s <= 6, timed_out_s

            decoded, kept = source.frames_decoded, recording.packets_read
            assert _wait_until(lambda: source.frames_decoded > decoded + 10, 30)
            assert _wait_until(lambda: recording.packets_read > kept + 10, 30)
            assert source.reconnects >= 1
        finally:
            source.request_stop()
            recording.request_stop()
            source.join(5)
            recording.join(5)

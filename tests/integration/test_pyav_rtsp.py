"""PyAvSource on the real RTSP simulator: a camera going dark and coming back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.config import CameraConfig
from edge.ingest import PyAvSource, build_source
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

"""RTSP replay: clients that hang up right after TEARDOWN, as FFmpeg does."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from simulators import rtsp_server
from simulators.rtsp_server import RtspReplayServer

pytestmark = pytest.mark.integration

SHORT_MP4 = "test_video"


def _read_frames_and_hang_up(url: str, frames: int) -> None:
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", url]
    cmd += ["-frames:v", str(frames), "-s", "32x18", "-pix_fmt", "gray"]
    cmd += ["-f", "rawvideo", "-"]
    done = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert len(done.stdout) == frames * 32 * 18


def test_rtsp_server_given_clients_hang_up_should_hold_each_a_while_then_release(
    videos_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # gst-rtsp-server 1.22 may close a client from an idle callback after the
    # client hung up; the server keeps each client object alive meanwhile
    # (a SIGSEGV otherwise) and must still let go of it afterwards.
    monkeypatch.setattr(rtsp_server, "_CLIENT_RELEASE_MS", 1500)
    with RtspReplayServer(
        videos_dir, port=0, cache_dir=tmp_path, clips=[SHORT_MP4]
    ) as server:
        url = server.url(SHORT_MP4)
        for _ in range(3):
            _read_frames_and_hang_up(url, frames=5)
        assert 1 <= server.held_clients <= 3

        deadline = time.monotonic() + 10
        while server.held_clients and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.held_clients == 0
        # and the mount still serves
        _read_frames_and_hang_up(url, frames=5)
        assert server.is_running

"""RTSP replay played once (no loop) and faster than real time, on a real clip."""

from __future__ import annotations

import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from simulators.gst_media import launch_line
from simulators.rtsp_server import RtspReplayServer
from simulators.transcode import PreparedClip
from tests.utils.rtsp import open_capture

pytestmark = pytest.mark.integration

SHORT_MP4 = "test_video"  # 1.52 s, 38 frames at 25 fps
CLIP_FRAMES = 38
CLIP_S = 1.52


def read_to_end(url: str, timeout_s: float = 15.0) -> list[float]:
    """Wall time of every frame until the stream ends (empty when refused)."""
    capture = open_capture(url, open_timeout_s=5)
    times: list[float] = []
    deadline = time.monotonic() + timeout_s
    try:
        while capture.isOpened() and time.monotonic() < deadline:
            if not capture.grab():
                break
            times.append(time.time())
    finally:
        capture.release()
    return times


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rtsp-cache")


@pytest.fixture
def once(videos_dir: Path, cache_dir: Path) -> Iterator[RtspReplayServer]:
    with RtspReplayServer(
        videos_dir, port=0, cache_dir=cache_dir, clips=[SHORT_MP4], play_once=True
    ) as server:
        yield server


def test_rtsp_once_given_client_should_play_every_frame_once_then_refuse(
    once: RtspReplayServer,
) -> None:
    url = once.url(SHORT_MP4)
    assert once.status()[0].plays == 0

    asked_at = time.time()
    times = read_to_end(url)

    status = once.status()[0]
    assert len(times) == CLIP_FRAMES
    assert status.plays_once and status.plays == 1
    assert status.started_at is not None and status.finished_at is not None
    assert status.finished_at - status.started_at == pytest.approx(CLIP_S, abs=0.3)
    # The play starts when the client asks, not before; the client's first
    # frame comes after that start and before the end. (How long after depends
    # on the client: OpenCV's FFmpeg probes ~1.1 s of this clip before its
    # first grab returns.)
    assert asked_at <= status.started_at <= times[0] <= status.finished_at
    assert not status.is_active
    assert read_to_end(url) == [], "a finished mount served a second play"


def test_rtsp_once_given_start_mount_should_arm_one_more_play(
    once: RtspReplayServer,
) -> None:
    url = once.url(SHORT_MP4)
    assert len(read_to_end(url)) == CLIP_FRAMES

    once.start_mount(SHORT_MP4)
    armed = once.status()[0]
    second = read_to_end(url)

    assert armed.is_active and armed.started_at is None
    assert len(second) == CLIP_FRAMES
    assert once.status()[0].started_at is not None


def test_rtsp_server_given_speed_2_should_play_in_half_the_time(
    videos_dir: Path, cache_dir: Path
) -> None:
    with RtspReplayServer(
        videos_dir,
        port=0,
        cache_dir=cache_dir,
        clips=[SHORT_MP4],
        play_once=True,
        speed=2.0,
    ) as server:
        times = read_to_end(server.url(SHORT_MP4))
        status = server.status()[0]

    assert len(times) == CLIP_FRAMES
    assert status.speed == 2.0
    assert status.started_at is not None and status.finished_at is not None
    assert status.finished_at - status.started_at == pytest.approx(CLIP_S / 2, abs=0.2)


@pytest.mark.parametrize("speed", [0.0, -1.0])
def test_rtsp_server_given_non_positive_speed_should_raise(
    videos_dir: Path, speed: float
) -> None:
    with pytest.raises(ValueError, match="speed must be positive"):
        RtspReplayServer(videos_dir, speed=speed)


@pytest.mark.parametrize(
    ("loop", "source"),
    [(True, "multifilesrc"), (False, "filesrc")],
)
def test_launch_line_given_loop_flag_should_pick_the_source(
    loop: bool, source: str
) -> None:
    clip = PreparedClip(
        name="c",
        source=Path("c.mp4"),
        h264_path=Path('/tmp/a "b".h264'),
        fps=Fraction(25),
        resolution_wh=(8, 8),
        is_transcoded=False,
    )

    line = launch_line(clip, loop=loop)

    assert line.startswith(f"( {source} ")
    assert ("loop=true" in line) is loop
    assert 'location="/tmp/a \\"b\\".h264"' in line
    assert "framerate=25/1" in line

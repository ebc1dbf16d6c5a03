"""RTSP replay simulator against a real gst-rtsp-server and real clips."""

from __future__ import annotations

import argparse
import logging
import socket
import subprocess
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.services import RtspSimulatorProcess
from simulators.rtsp_server import (
    MediaFolderError,
    RtspReplayServer,
    UnknownMountError,
    add_arguments,
    discover_clips,
    run_cli,
)
from tests.utils.rtsp import open_capture, read_frames

pytestmark = pytest.mark.integration

SHORT_MP4 = "test_video"  # 1.52 s, 25 fps, 1280x720, H.264 served as is
SHORT_GIF = "person-bicycle-car-detection"  # 3.41 s, 12 fps, 480x270, transcoded
REPLICAS = 8
CLIENT_FRAMES = 30


@pytest.fixture(scope="session")
def rtsp_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rtsp-cache")


@pytest.fixture(scope="module")
def simulator(videos_dir: Path, rtsp_cache_dir: Path) -> Iterator[RtspSimulatorProcess]:
    sim = RtspSimulatorProcess(
        videos_dir,
        clips=[SHORT_MP4, SHORT_GIF],
        replicate=REPLICAS,
        cache_dir=rtsp_cache_dir,
    )
    # The first start transcodes the GIF into the empty cache: allow for it.
    sim.start(timeout_s=120.0)
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture(autouse=True)
def simulator_still_running(request: pytest.FixtureRequest) -> Iterator[None]:
    # A simulator that dies in one test would fail every later test with a
    # bare "connection refused"; name the test it died in and show its log.
    yield
    if "simulator" not in request.fixturenames:
        return
    sim: RtspSimulatorProcess = request.getfixturevalue("simulator")
    status = sim.exit_status()
    assert status is None, f"RTSP simulator exited with {status}: {sim.log_tail(40)}"


def _start_ffmpeg_client(url: str) -> subprocess.Popen[bytes]:
    # Decodes CLIENT_FRAMES frames and writes them as tiny grey images.
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", url]
    cmd += ["-frames:v", str(CLIENT_FRAMES), "-s", "32x18", "-pix_fmt", "gray"]
    cmd += ["-f", "rawvideo", "-"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _steady_fps(times: list[float], *, skip_s: float) -> float:
    # Frames that arrived while the client was still opening come in a burst;
    # the rate is measured on the frames after that.
    late = [t for t in times if t >= times[0] + skip_s]
    assert len(late) >= 2, f"only {len(late)} frames after {skip_s} s"
    return (len(late) - 1) / (late[-1] - late[0])


def test_rtsp_server_given_replicate_8_of_2_clips_should_serve_16_readable_mounts(
    simulator: RtspSimulatorProcess,
) -> None:
    names = simulator.mounts()
    expected = sorted(
        f"{c}-{i}" for c in (SHORT_MP4, SHORT_GIF) for i in range(REPLICAS)
    )
    assert names == expected
    assert all(m["is_active"] for m in simulator.mount_status())

    # One FFmpeg process per mount, all connected at the same time (OpenCV
    # serialises opens inside one process, which would take ~2 s per mount).
    clients = {n: _start_ffmpeg_client(simulator.url(n)) for n in names}
    outputs = {n: c.communicate(timeout=60) for n, c in clients.items()}

    for name, (stdout, stderr) in outputs.items():
        assert clients[name].returncode == 0, f"{name}: {stderr.decode()}"
        assert len(stdout) == CLIENT_FRAMES * 32 * 18, f"{name}: short read"


@pytest.mark.parametrize(
    ("mount", "clip_frames", "fps", "read_s"),
    [(f"{SHORT_MP4}-0", 38, 25.0, 4.0), (f"{SHORT_GIF}-0", 41, 12.0, 5.0)],
)
def test_rtsp_server_given_short_clip_should_loop_at_real_fps(
    simulator: RtspSimulatorProcess,
    mount: str,
    clip_frames: int,
    fps: float,
    read_s: float,
) -> None:
    times, _frame = read_frames(simulator.url(mount), duration_s=read_s)

    assert len(times) > 1.2 * clip_frames, "stream stopped at the end of the clip"
    assert times[-1] > times[0] + read_s - 0.5, "frames stopped arriving"
    assert _steady_fps(times, skip_s=1.5) == pytest.approx(fps, rel=0.25)


def test_rtsp_server_given_second_client_mid_stream_should_serve_both(
    simulator: RtspSimulatorProcess,
) -> None:
    url = simulator.url(f"{SHORT_MP4}-3")
    first = open_capture(url)
    try:
        assert first.isOpened()
        second_times, second_frame = read_frames(url, duration_s=0.5)
        assert first.read()[0], "first client starved by the second"
    finally:
        first.release()

    assert len(second_times) >= 5
    assert second_frame is not None


def test_rtsp_server_given_stopped_mount_should_drop_clients_until_started(
    simulator: RtspSimulatorProcess,
) -> None:
    mount = f"{SHORT_MP4}-1"
    capture = open_capture(simulator.url(mount))
    try:
        assert capture.isOpened()
        assert capture.read()[0]

        assert simulator.stop_mount(mount)["is_active"] is False
        # Frames already in the client's buffers drain, then reading fails.
        reads = [capture.read()[0] for _ in range(200)]
        assert not all(reads), "reader kept getting frames from a stopped mount"
    finally:
        capture.release()

    refused = open_capture(simulator.url(mount), open_timeout_s=5)
    assert not refused.isOpened()
    refused.release()
    other, _ = read_frames(simulator.url(f"{SHORT_MP4}-2"), duration_s=0.3)
    assert other, "stopping one mount took another down"

    assert simulator.start_mount(mount)["is_active"] is True
    times, frame = read_frames(simulator.url(mount), duration_s=0.3)
    assert times
    assert frame is not None


def test_rtsp_server_given_unknown_mount_should_answer_404(
    simulator: RtspSimulatorProcess,
) -> None:
    with pytest.raises(urllib.error.HTTPError) as error:
        simulator.stop_mount("no-such-camera")
    assert error.value.code == 404


def test_rtsp_server_given_corrupt_clip_should_skip_it_and_serve_the_rest(
    videos_dir: Path,
    rtsp_cache_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "broken.mp4").write_bytes(b"\x00junk, not a video\xff" * 500)
    (tmp_path / f"{SHORT_MP4}.mp4").symlink_to(videos_dir / f"{SHORT_MP4}.mp4")
    caplog.set_level(logging.WARNING, logger="simulators.rtsp_server")

    with RtspReplayServer(tmp_path, port=0, cache_dir=rtsp_cache_dir) as server:
        assert server.mount_names == [SHORT_MP4]
        times, _ = read_frames(server.url(SHORT_MP4), duration_s=0.3)
        with pytest.raises(UnknownMountError):
            server.stop_mount("broken")

    assert times
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("broken.mp4" in w for w in warnings), warnings


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (None, "media folder not found"),
        ({}, "no clips"),
        ({"notes.txt": b"hello"}, "no clips"),
        ({"bad.gif": b"GIF89a garbage"}, "no usable clip"),
    ],
)
def test_rtsp_server_given_unusable_folder_should_raise_media_folder_error(
    tmp_path: Path, files: dict[str, bytes] | None, message: str
) -> None:
    media_dir = tmp_path / "media"
    if files is not None:
        media_dir.mkdir()
        for name, data in files.items():
            (media_dir / name).write_bytes(data)
    server = RtspReplayServer(media_dir, port=0, cache_dir=tmp_path / "cache")

    with pytest.raises(MediaFolderError, match=message) as error:
        server.start()
    assert str(media_dir) in str(error.value)


def test_discover_clips_given_unknown_clip_name_should_list_available(
    videos_dir: Path,
) -> None:
    with pytest.raises(MediaFolderError, match="nope") as error:
        discover_clips(videos_dir, clips=[SHORT_MP4, "nope"])
    assert SHORT_MP4 in str(error.value)


def test_run_cli_given_missing_folder_should_return_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--media-dir", str(tmp_path / "nope"), "--port", "0"])

    assert run_cli(args) == 2
    assert "media folder not found" in capsys.readouterr().err


def test_rtsp_server_given_port_in_use_should_raise_os_error(
    videos_dir: Path, rtsp_cache_dir: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        server = RtspReplayServer(
            videos_dir, port=port, cache_dir=rtsp_cache_dir, clips=[SHORT_MP4]
        )

        with pytest.raises(OSError, match=f"127.0.0.1:{port}"):
            server.start()

"""PyAvSource on real H.264 files: frames not analysed are not decoded where the
codec allows, and the analysed rate stays `analysis_fps`."""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from edge.config import CameraConfig
from edge.ingest import PyAvSource, build_source
from edge.ingest.slot import FreshestFrameSlot
from edge.types import Frame

FPS = 25
SECONDS = 2.0


class _TakingSlot(FreshestFrameSlot):
    """A slot whose analyser takes every frame at once (never busy)."""

    def __init__(self) -> None:
        super().__init__("c1", threading.Condition())
        self.frames: list[Frame] = []

    def put(self, frame: Frame) -> None:
        self.frames.append(frame)


def _h264(path: Path, *, b_frames: int, gop: int) -> Path:
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is needed to make the test clips"
    subprocess.run(
        [ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "lavfi",
         "-i", f"testsrc2=size=160x96:rate={FPS}:duration={SECONDS}",
         "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
         "-bf", str(b_frames), "-x264-params", "b-pyramid=none",
         "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pyav")
    return {
        "b_frames": _h264(folder / "b.mp4", b_frames=2, gop=FPS),
        "no_b_frames": _h264(folder / "p.mp4", b_frames=0, gop=5),
    }


def _camera(url: str, **changes: Any) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "c1",
            "url": url,
            "kind": "file",
            "decoder": "pyav",
            "location": {"lat": 1, "lon": 2},
            "analysis_fps": 5,
            **changes,
        }
    )


def _play(camera: CameraConfig) -> tuple[PyAvSource, _TakingSlot]:
    slot = _TakingSlot()
    source = build_source(camera, slot)
    assert isinstance(source, PyAvSource)
    source.start()
    deadline = time.monotonic() + 20.0
    while source.error is None and time.monotonic() < deadline:
        time.sleep(0.05)
    source.request_stop()
    source.join(5.0)
    return source, slot


def test_pyav_given_b_frames_and_5_of_25_fps_should_skip_them_and_analyse_5_fps(
    clips: dict[str, Path],
) -> None:
    source, slot = _play(_camera(str(clips["b_frames"])))

    assert source.error == "end of file"
    assert source.packets_read == FPS * SECONDS
    # the two B-frames of every three frames are left undecoded
    assert source.frames_skipped >= 0.5 * source.packets_read
    assert len(slot.frames) == pytest.approx(5 * SECONDS, abs=1)


def test_pyav_given_skip_frames_off_should_decode_every_frame(
    clips: dict[str, Path],
) -> None:
    source, slot = _play(_camera(str(clips["b_frames"]), skip_frames="off"))

    assert source.frames_decoded == source.packets_read == FPS * SECONDS
    assert source.frames_skipped == 0
    assert len(slot.frames) == pytest.approx(5 * SECONDS, abs=1)


def test_pyav_given_key_frames_at_the_analysis_rate_should_decode_only_them(
    clips: dict[str, Path],
) -> None:
    # a key frame every 5 frames (5 a second): once two gaps are seen, key
    # frames alone give the 5 fps wanted
    source, slot = _play(_camera(str(clips["no_b_frames"])))

    assert source.planner.level.value == "NONKEY"
    assert source.frames_decoded < 0.5 * source.packets_read
    assert len(slot.frames) == pytest.approx(5 * SECONDS, abs=1)


def test_pyav_given_detect_url_should_read_it_instead_of_url(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    camera = _camera(
        str(tmp_path / "main-not-read.mp4"), detect_url=str(clips["b_frames"])
    )
    source, slot = _play(camera)

    assert source.error == "end of file"
    assert slot.frames and slot.frames[0].image.shape == (96, 160, 3)


def test_pyav_given_loop_should_play_the_file_again(clips: dict[str, Path]) -> None:
    slot = _TakingSlot()
    source = build_source(_camera(str(clips["b_frames"]), loop=True), slot)
    assert isinstance(source, PyAvSource)
    source.start()
    deadline = time.monotonic() + 20.0
    while source.packets_read < 1.5 * FPS * SECONDS and time.monotonic() < deadline:
        time.sleep(0.05)
    source.request_stop()
    source.join(5.0)

    assert source.packets_read >= 1.5 * FPS * SECONDS
    assert source.error is None
    assert len(slot.frames) >= 1.4 * 5 * SECONDS


def test_pyav_given_missing_file_should_name_it(tmp_path: Path) -> None:
    missing = tmp_path / "gone.mp4"
    source, _slot = _play(_camera(str(missing)))

    assert source.error == f"video file not found: {missing}"
    assert source.frames_decoded == 0


def test_pyav_given_unreachable_camera_should_not_leak_its_password() -> None:
    camera = _camera(
        "rtsp://admin:s3cret-pw@127.0.0.1:9/stream", kind="rtsp", open_timeout_s=1
    )
    source, _slot = _play(camera)

    assert source.error is not None
    assert source.error.startswith("cannot open rtsp://***@127.0.0.1:9/stream")
    assert "s3cret" not in source.error


def test_pyav_given_a_device_that_cannot_open_should_decode_in_software_and_say_why(
    clips: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def no_device(device: str, **_: object) -> object:
        raise RuntimeError(f"no {device} device here")

    monkeypatch.setattr("edge.ingest.pyav_capture.HWAccel", no_device)
    with caplog.at_level(logging.WARNING, logger="edge.ingest.pyav_capture"):
        source, slot = _play(_camera(str(clips["b_frames"]), hwaccel="auto"))

    assert source.error == "end of file"
    assert len(slot.frames) == pytest.approx(5 * SECONDS, abs=1)
    assert source.decoding_on == "cpu"
    assert source.devices_failed == {"cuda", "vaapi", "qsv"}
    warned = [r.getMessage() for r in caplog.records]
    assert any("cuda unavailable (no cuda device here)" in m for m in warned), warned


def test_pyav_given_hwaccel_on_this_machine_should_decode_every_analysed_frame(
    clips: dict[str, Path],
) -> None:
    """The real FFmpeg device probe: on the device, or in software without one."""
    source, slot = _play(_camera(str(clips["b_frames"]), hwaccel="vaapi"))

    assert source.error == "end of file"
    assert source.decoding_on in {"cpu", "vaapi"}
    assert (source.decoding_on == "cpu") == (source.devices_failed == {"vaapi"})
    assert len(slot.frames) == pytest.approx(5 * SECONDS, abs=1)


def test_pyav_given_a_dead_camera_should_not_blame_the_device() -> None:
    camera = _camera(
        "rtsp://127.0.0.1:9/stream", kind="rtsp", open_timeout_s=1, hwaccel="cuda"
    )
    source, _slot = _play(camera)

    assert source.error is not None and source.error.startswith("cannot open")
    assert source.devices_failed == set()


def test_camera_given_hwaccel_without_pyav_should_refuse() -> None:
    with pytest.raises(ValueError, match="hwaccel 'cuda' needs decoder 'pyav'"):
        _camera("x.mp4", decoder="opencv", hwaccel="cuda")

"""Clip encoding: H.264 in MP4, yuv420p, index first, real frame times."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from edge.media.clip import (
    ClipEncodeError,
    EncodeSettings,
    TimedImage,
    encode_mp4,
    has_h264_encoder,
)
from tests.edge.media.faces import probe_video, read_frames


def _frames(
    n: int, *, step_s: float = 0.2, h: int = 90, w: int = 160
) -> list[TimedImage]:
    rng = np.random.default_rng(1)
    base: npt.NDArray[np.uint8] = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    return [
        TimedImage(captured_at=100.0 + i * step_s, image=np.roll(base, i * 4, axis=1))
        for i in range(n)
    ]


def test_has_h264_encoder_given_pyav_wheel_should_be_true() -> None:
    assert has_h264_encoder()


def test_encode_mp4_given_frames_should_write_h264_yuv420p_mp4_browsers_play(
    tmp_path: Path,
) -> None:
    clip = encode_mp4(_frames(20), tmp_path / "c.mp4", EncodeSettings(), frame_rate=5)
    data = clip.path.read_bytes()
    assert data[4:8] == b"ftyp"
    assert data.index(b"moov") < data.index(b"mdat"), "not faststart"
    assert clip.sha256 == hashlib.sha256(data).hexdigest()
    assert clip.size == len(data)
    codec, pix_fmt, size, times = probe_video(clip.path)
    assert (codec, pix_fmt, size) == ("h264", "yuv420p", (160, 90))
    assert len(times) == clip.frames == 20
    assert times[-1] == pytest.approx(19 * 0.2, abs=0.002)
    assert clip.duration_s == pytest.approx(4.0)
    assert len(read_frames(clip.path)) == 20, "OpenCV cannot read it back"
    assert not list(tmp_path.glob(".*partial")), "temporary file left behind"


def test_encode_mp4_given_uneven_times_should_keep_them(tmp_path: Path) -> None:
    frames = [
        TimedImage(captured_at=t, image=f.image)
        for t, f in zip([0.0, 0.1, 0.5, 0.5, 1.3], _frames(5), strict=True)
    ]
    clip = encode_mp4(frames, tmp_path / "c.mp4", EncodeSettings())
    _, _, _, times = probe_video(clip.path)
    assert times == pytest.approx([0.0, 0.1, 0.5, 0.501, 1.3], abs=0.002)


def test_encode_mp4_given_frame_of_other_size_should_scale_it(tmp_path: Path) -> None:
    smaller = _frames(1, h=60, w=80)[0].image
    frames = [*_frames(3), TimedImage(captured_at=200.0, image=smaller)]
    clip = encode_mp4(frames, tmp_path / "c.mp4", EncodeSettings())
    assert clip.resolution_wh == (160, 90) and clip.frames == 4


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([], "no frames"),
        (_frames(2, h=91), "even sides"),
        (
            [TimedImage(captured_at=0.0, image=np.zeros((4, 4), dtype=np.uint8))],
            "uint8",
        ),
    ],
)
def test_encode_mp4_given_no_or_bad_frames_should_raise(
    tmp_path: Path, frames: list[TimedImage], message: str
) -> None:
    with pytest.raises(ClipEncodeError, match=message):
        encode_mp4(frames, tmp_path / "c.mp4", EncodeSettings())
    assert not list(tmp_path.iterdir())


def test_encode_settings_given_bad_values_should_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="crf"):
        EncodeSettings(crf=52)
    with pytest.raises(ValueError, match="threads"):
        EncodeSettings(threads=0)
    with pytest.raises(ValueError, match="frame_rate"):
        encode_mp4(_frames(2), tmp_path / "c.mp4", EncodeSettings(), frame_rate=0)

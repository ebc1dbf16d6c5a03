"""Decode cost on real H.264: what one second of a stream costs to decode."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from edge.config import DecoderKind, SkipFrames
from harness.bench.decode_cost import measure_decode_cost


@pytest.fixture(scope="module")
def b_frame_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("decode") / "b.mp4"
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is needed to make the test clip"
    subprocess.run(
        [ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "lavfi",
         "-i", "testsrc2=size=320x180:rate=25:duration=4",
         "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
         "-bf", "2", "-x264-params", "b-pyramid=none", "-g", "50", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


@pytest.mark.parametrize(
    ("decoder", "skip", "share_below"),
    [
        (DecoderKind.PYAV, SkipFrames.AUTO, 0.6),  # B-frames left undecoded
        (DecoderKind.PYAV, SkipFrames.OFF, 1.01),
        (DecoderKind.OPENCV, SkipFrames.AUTO, 1.01),  # opencv never skips
    ],
)
def test_decode_cost_given_decoder_should_time_the_frames_it_decodes(
    b_frame_clip: Path, decoder: DecoderKind, skip: SkipFrames, share_below: float
) -> None:
    cost = measure_decode_cost(
        b_frame_clip, decoder=decoder, skip_frames=skip, analysis_fps=5, seconds=10
    )
    assert cost.stream_fps == pytest.approx(25)
    assert 0 < cost.decoded_share < share_below
    if share_below > 1:
        assert cost.decoded_share >= 0.98
    assert cost.cpu_ms_per_stream_s > 0
    assert cost.cores_per_stream == pytest.approx(cost.cpu_ms_per_stream_s / 1000)


def test_decode_cost_given_no_video_should_raise(tmp_path: Path) -> None:
    not_video = tmp_path / "x.mp4"
    not_video.write_bytes(b"not a video")
    with pytest.raises((ValueError, OSError)):
        measure_decode_cost(
            not_video,
            decoder=DecoderKind.OPENCV,
            skip_frames=SkipFrames.OFF,
            analysis_fps=5,
            seconds=1,
        )

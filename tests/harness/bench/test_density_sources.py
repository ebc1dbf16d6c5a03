"""bench density's camera-like streams, made from a shared clip."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from harness.bench.density_sources import make_sources


def test_make_sources_given_shared_clip_should_write_main_and_sub_streams(
    videos_dir: Path, tmp_path: Path
) -> None:
    sources = make_sources(
        videos_dir / "car-detection.mp4", main_height=720, seconds=1, cache_dir=tmp_path
    )
    expected = (
        (sources.main, (1280, 720), False),
        (sources.sub, (640, 360), False),
        (sources.main_b_frames, (1280, 720), True),
    )
    for path, size, has_b_frames in expected:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert (stream.width, stream.height) == size
            assert stream.average_rate == 25
            assert stream.codec_context.name == "h264"
            assert bool(stream.codec_context.has_b_frames) is has_b_frames
    # only the two served streams are in the folder the simulator reads
    assert sorted(p.name for p in sources.folder.glob("*.mp4")) == [
        "main720.mp4",
        "sub360.mp4",
    ]
    assert "1280x720 main + 640x360 sub-stream, 25 fps" in sources.describe()
    # the second call finds the cached files
    again = make_sources(
        videos_dir / "car-detection.mp4", main_height=720, seconds=1, cache_dir=tmp_path
    )
    assert again == sources


@pytest.mark.parametrize(
    ("height", "seconds", "named"),
    [(480, 1.0, "main_height must be 720 or 1080"), (720, 0.0, "seconds")],
)
def test_make_sources_given_bad_request_should_raise(
    videos_dir: Path, tmp_path: Path, height: int, seconds: float, named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        make_sources(
            videos_dir / "car-detection.mp4",
            main_height=height,
            seconds=seconds,
            cache_dir=tmp_path,
        )

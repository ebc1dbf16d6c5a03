"""Clip probing and the H.264 cache behind the RTSP replay simulator."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from simulators.transcode import ClipError, prepare_clip, probe_clip


def test_probe_clip_given_short_h264_mp4_should_allow_passthrough(
    videos_dir: Path,
) -> None:
    info = probe_clip(videos_dir / "test_video.mp4")

    assert info.codec == "h264"
    assert info.resolution_wh == (1280, 720)
    assert info.fps == Fraction(25)
    assert info.can_pass_through(max_gop_s=2.0)
    assert not info.can_pass_through(max_gop_s=0.5)


def test_probe_clip_given_gif_should_need_transcoding(videos_dir: Path) -> None:
    info = probe_clip(videos_dir / "person-bicycle-car-detection.gif")

    assert info.codec == "gif"
    assert info.fps == Fraction(12)
    assert not info.can_pass_through(max_gop_s=10.0)


def test_prepare_clip_given_gif_should_cache_h264_at_clip_rate(
    videos_dir: Path, tmp_path: Path
) -> None:
    clip = prepare_clip(
        videos_dir / "person-bicycle-car-detection.gif", cache_dir=tmp_path
    )
    cached = probe_clip(clip.h264_path)

    assert clip.is_transcoded
    assert cached.codec == "h264"
    assert not cached.has_b_frames
    assert cached.resolution_wh == (480, 270)
    assert clip.fps == Fraction(12)


def test_prepare_clip_given_cached_clip_should_reuse_entry(
    videos_dir: Path, tmp_path: Path
) -> None:
    first = prepare_clip(videos_dir / "test_video.mp4", cache_dir=tmp_path)
    written_ns = first.h264_path.stat().st_mtime_ns
    second = prepare_clip(videos_dir / "test_video.mp4", cache_dir=tmp_path)

    assert not first.is_transcoded
    assert second.h264_path == first.h264_path
    assert second.h264_path.stat().st_mtime_ns == written_ns
    assert [p.name for p in tmp_path.iterdir()] == [first.h264_path.name]


def test_prepare_clip_given_junk_file_should_raise_naming_it(tmp_path: Path) -> None:
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"RIFF but not really" * 100)

    with pytest.raises(ClipError, match=r"junk\.avi"):
        prepare_clip(junk, cache_dir=tmp_path / "cache")

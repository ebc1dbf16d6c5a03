"""Prepare clips for RTSP replay: probe once, cache an Annex-B H.264 stream."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# Bump when the ffmpeg recipe changes so that old cache entries are not reused.
RECIPE_VERSION = "1"
CLIP_SUFFIXES = frozenset({".mp4", ".avi", ".gif", ".mkv", ".mov", ".webm"})
MAX_FPS = Fraction(120)
FALLBACK_FPS = Fraction(25)
_FFPROBE_TIMEOUT_S = 60
_FFMPEG_TIMEOUT_S = 900


class ClipError(ValueError):
    """A clip cannot be probed or converted; the message names the file."""


@dataclass(frozen=True, slots=True)
class ClipInfo:
    """What ffprobe says about the first video stream of a clip.

    Attributes:
        path: The clip file.
        codec: FFmpeg codec name, e.g. ``h264`` or ``gif``.
        resolution_wh: Frame width and height in pixels.
        fps: Frame rate used for replay (frames per second).
        is_constant_rate: Whether the stream's nominal and average rates agree.
        has_b_frames: Whether frames are reordered (PTS differs from DTS).
        pix_fmt: FFmpeg pixel format, e.g. ``yuv420p``.
        max_keyframe_interval_s: Longest gap between key frames, in seconds.
    """

    path: Path
    codec: str
    resolution_wh: tuple[int, int]
    fps: Fraction
    is_constant_rate: bool
    has_b_frames: bool
    pix_fmt: str
    max_keyframe_interval_s: float

    def can_pass_through(self, *, max_gop_s: float) -> bool:
        """Whether the stream can be served as is, without re-encoding.

        Passthrough needs H.264 in 4:2:0 at a constant rate without B-frames
        (the server derives timestamps from the frame rate, so PTS must equal
        DTS) and key frames often enough for a client joining a running
        stream to start decoding quickly.

        Args:
            max_gop_s: Longest accepted key-frame interval in seconds.

        Returns:
            True when a stream copy is enough.
        """
        return (
            self.codec == "h264"
            and self.pix_fmt in {"yuv420p", "yuvj420p"}
            and self.is_constant_rate
            and not self.has_b_frames
            and self.max_keyframe_interval_s <= max_gop_s
        )


@dataclass(frozen=True, slots=True)
class PreparedClip:
    """A clip ready to be served: an Annex-B H.264 file and its frame rate.

    Attributes:
        name: Mount-friendly clip name (the file stem).
        source: The original clip file.
        h264_path: Cached Annex-B H.264 elementary stream.
        fps: Frame rate of the cached stream (frames per second).
        resolution_wh: Frame width and height in pixels.
        is_transcoded: False when the H.264 stream was copied unchanged.
    """

    name: str
    source: Path
    h264_path: Path
    fps: Fraction
    resolution_wh: tuple[int, int]
    is_transcoded: bool


def default_cache_dir() -> Path:
    """Return the cache folder: ``$GRIDWATCH_RTSP_CACHE`` or one under the tmp dir."""
    configured = os.environ.get("GRIDWATCH_RTSP_CACHE")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / "gridwatch" / "rtsp-cache"


def _require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found on PATH; install ffmpeg")
    return path


def _run(cmd: list[str], *, timeout_s: float, clip: Path) -> str:
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ClipError(f"{clip}: {Path(cmd[0]).name} timed out") from exc
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise ClipError(f"{clip}: {Path(cmd[0]).name} failed: {detail[0]}")
    return done.stdout


def _parse_rate(text: str | None) -> Fraction | None:
    if not text or text in {"0/0", "0/1"}:
        return None
    try:
        rate = Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None
    return rate if 0 < rate <= MAX_FPS else None


def _max_keyframe_interval_s(packets: list[dict[str, Any]]) -> float:
    key_times = [
        float(p["pts_time"])
        for p in packets
        if "K" in str(p.get("flags", "")) and p.get("pts_time") not in (None, "N/A")
    ]
    if not key_times:
        return float("inf")
    end = max(
        (
            float(p["pts_time"])
            for p in packets
            if p.get("pts_time") not in (None, "N/A")
        ),
        default=key_times[-1],
    )
    bounds = [*sorted(key_times), end]
    return max((b - a for a, b in itertools.pairwise(bounds)), default=0.0)


def probe_clip(path: Path) -> ClipInfo:
    """Read codec, size, rate and key-frame spacing of a clip with ffprobe.

    Args:
        path: The clip file.

    Returns:
        The clip's description.

    Raises:
        ClipError: ffprobe fails or finds no decodable video stream.
    """
    entries = (
        "stream=codec_name,width,height,pix_fmt,r_frame_rate,avg_frame_rate,"
        "has_b_frames:packet=pts_time,flags"
    )
    cmd = [
        _require_tool("ffprobe"),
        *("-v", "error", "-select_streams", "v:0", "-of", "json"),
        *("-show_entries", entries, str(path)),
    ]
    out = json.loads(_run(cmd, timeout_s=_FFPROBE_TIMEOUT_S, clip=path) or "{}")
    streams = out.get("streams") or []
    if not streams or not streams[0].get("width"):
        raise ClipError(f"{path}: no video stream found")
    stream = streams[0]
    nominal = _parse_rate(stream.get("r_frame_rate"))
    average = _parse_rate(stream.get("avg_frame_rate"))
    packets = out.get("packets") or []
    if not packets:
        raise ClipError(f"{path}: video stream has no frames")
    return ClipInfo(
        path=path,
        codec=str(stream.get("codec_name", "unknown")),
        resolution_wh=(int(stream["width"]), int(stream["height"])),
        fps=average or nominal or FALLBACK_FPS,
        is_constant_rate=nominal is not None and nominal == average,
        has_b_frames=int(stream.get("has_b_frames", 0)) > 0,
        pix_fmt=str(stream.get("pix_fmt", "unknown")),
        max_keyframe_interval_s=_max_keyframe_interval_s(packets),
    )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _ffmpeg_command(info: ClipInfo, *, out: Path, copy: bool) -> list[str]:
    head = [_require_tool("ffmpeg"), "-nostdin", "-v", "error", "-y", "-i"]
    head += [str(info.path), "-map", "0:v:0", "-an", "-sn", "-dn"]
    if copy:
        return [
            *head,
            "-c:v",
            "copy",
            "-bsf:v",
            "h264_mp4toannexb",
            "-f",
            "h264",
            str(out),
        ]
    gop = max(1, round(info.fps))
    video_filter = f"fps={info.fps},scale=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p"
    return [
        *head,
        *("-vf", video_filter, "-c:v", "libx264", "-preset", "veryfast"),
        *("-crf", "23", "-bf", "0", "-g", str(gop), "-keyint_min", str(gop)),
        *("-sc_threshold", "0", "-f", "h264", str(out)),
    ]


def prepare_clip(
    path: Path, *, cache_dir: Path, max_gop_s: float = 2.0
) -> PreparedClip:
    """Return a cached Annex-B H.264 stream for a clip, making it on first use.

    H.264 clips that can be served as they are (see `ClipInfo.can_pass_through`)
    are only re-wrapped; others (GIF, AVI, B-frames, long GOPs) are encoded once
    with libx264 at their own frame rate, one key frame a second, no B-frames.
    Entries are keyed by the clip's sha256 and the recipe version, so an edited
    clip gets a fresh entry.

    Args:
        path: The clip file.
        cache_dir: Folder for the cached streams; created when missing.
        max_gop_s: Longest key-frame interval served without re-encoding.

    Returns:
        The prepared clip.

    Raises:
        ClipError: the clip cannot be probed or converted.
    """
    info = probe_clip(path)
    copy = info.can_pass_through(max_gop_s=max_gop_s)
    key = hashlib.sha256(
        f"{_file_sha256(path)}:{RECIPE_VERSION}:{copy}:{max_gop_s}".encode()
    ).hexdigest()[:20]
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"{path.stem}-{key}.h264"
    prepared = PreparedClip(
        name=path.stem,
        source=path,
        h264_path=target,
        fps=info.fps,
        resolution_wh=info.resolution_wh,
        is_transcoded=not copy,
    )
    if target.is_file() and target.stat().st_size > 0:
        logger.debug("clip %s: cache hit %s", path.name, target)
        return prepared
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    logger.info(
        "clip %s: %s to %s", path.name, "re-wrapping" if copy else "transcoding", target
    )
    try:
        _run(
            _ffmpeg_command(info, out=partial, copy=copy),
            timeout_s=_FFMPEG_TIMEOUT_S,
            clip=path,
        )
        if not partial.is_file() or partial.stat().st_size == 0:
            raise ClipError(f"{path}: ffmpeg produced no video")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return prepared

"""Camera-like streams for `bench density`, made once from a shared clip.

A city camera sends an H.264 main stream (720p or 1080p) for recording and a
640x360 sub-stream for analysis, both at 25 fps, with a key frame every two
seconds and no B-frames (the usual IP-camera defaults). The shared clips are
10-12.5 fps and smaller, so frames are repeated up to 25 fps and temporal
noise is added: a real sensor never sends two identical frames, and a decoder
spends more on a noisy frame than on a copied one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from simulators.transcode import default_cache_dir

# Bump when the recipe changes so that old files are not reused.
_RECIPE_VERSION = "1"
STREAM_FPS = 25
SUB_RESOLUTION_WH = (640, 360)
MAIN_RESOLUTIONS_WH = {720: (1280, 720), 1080: (1920, 1080)}
# Typical camera bit rates (kbit/s) for these sizes at 25 fps.
_BITRATE_KBPS = {360: 512, 720: 2048, 1080: 4096}
_FFMPEG_TIMEOUT_S = 600


class SourceError(RuntimeError):
    """The streams could not be made; the message names the clip and the step."""


@dataclass(frozen=True, slots=True)
class DensitySources:
    """One clip's main stream and sub-stream, in a folder the simulator serves.

    Attributes:
        folder: The folder holding both files.
        main: The main stream file (mount name: its stem).
        sub: The 640x360 sub-stream file (mount name: its stem).
        main_resolution_wh: The main stream's size in pixels.
        main_b_frames: The main stream encoded with two B-frames between
            reference frames, as some cameras send it: only decoded to measure
            what skipping non-reference frames saves (the simulator serves
            streams without B-frames).
    """

    folder: Path
    main: Path
    sub: Path
    main_resolution_wh: tuple[int, int]
    main_b_frames: Path

    def describe(self) -> str:
        main_w, main_h = self.main_resolution_wh
        sub_w, sub_h = SUB_RESOLUTION_WH
        return (
            f"H.264 {main_w}x{main_h} main + {sub_w}x{sub_h} sub-stream, "
            f"{STREAM_FPS} fps, key frame every 2 s, no B-frames"
        )


def make_sources(
    clip: Path,
    *,
    main_height: int,
    seconds: float,
    cache_dir: Path | None = None,
) -> DensitySources:
    """The clip's main and sub-stream files, made on first use and cached.

    Args:
        clip: The source clip.
        main_height: 720 or 1080.
        seconds: Length of the streams (they loop when served).
        cache_dir: Parent folder; default the RTSP simulator's cache.

    Raises:
        ValueError: `main_height` is not 720 or 1080, or `seconds` <= 0.
        SourceError: ffmpeg is missing or fails.
    """
    if main_height not in MAIN_RESOLUTIONS_WH:
        raise ValueError(f"main_height must be 720 or 1080, got {main_height}")
    if seconds <= 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    key = hashlib.sha256(
        f"{clip.resolve()}:{clip.stat().st_size}:{seconds}:{_RECIPE_VERSION}".encode()
    ).hexdigest()[:12]
    folder = (cache_dir or default_cache_dir()) / "density" / f"{clip.stem}-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    main_wh = MAIN_RESOLUTIONS_WH[main_height]
    main = _encode(clip, folder / f"main{main_height}.mp4", main_wh, seconds)
    sub = _encode(clip, folder / "sub360.mp4", SUB_RESOLUTION_WH, seconds)
    # Not in the served folder: the simulator would re-encode it without B-frames.
    b_frames = _encode(
        clip,
        folder / "b-frames" / f"main{main_height}.mp4",
        main_wh,
        seconds,
        b_frames=2,
    )
    return DensitySources(
        folder=folder,
        main=main,
        sub=sub,
        main_resolution_wh=main_wh,
        main_b_frames=b_frames,
    )


def _encode(
    clip: Path,
    target: Path,
    resolution_wh: tuple[int, int],
    seconds: float,
    *,
    b_frames: int = 0,
) -> Path:
    if target.is_file() and target.stat().st_size > 0:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SourceError("ffmpeg not found on PATH; install ffmpeg")
    width, height = resolution_wh
    kbps = _BITRATE_KBPS[height]
    gop = 2 * STREAM_FPS
    video_filter = (
        f"fps={STREAM_FPS},scale={width}:{height},noise=alls=6:allf=t+u,format=yuv420p"
    )
    partial = target.with_name(f".{target.stem}.{os.getpid()}.partial.mp4")
    command = [
        ffmpeg, "-nostdin", "-v", "error", "-y", "-t", str(seconds),
        "-i", str(clip), "-an", "-vf", video_filter,
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main",
        "-b:v", f"{kbps}k", "-maxrate", f"{kbps * 3 // 2}k", "-bufsize", f"{kbps * 2}k",
        "-bf", str(b_frames), "-x264-params", "b-pyramid=none",
        "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", str(partial),
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=_FFMPEG_TIMEOUT_S
        )
        if done.returncode != 0 or not partial.is_file():
            detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise SourceError(f"{clip}: making {target.name} failed: {detail}")
        partial.replace(target)
    except subprocess.TimeoutExpired:
        raise SourceError(f"{clip}: making {target.name} timed out") from None
    finally:
        partial.unlink(missing_ok=True)
    return target

"""H.264 MP4 encoding of event clips (PyAV's bundled libx264, yuv420p, faststart)."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Final

import av
import cv2
import numpy as np
import numpy.typing as npt

CODEC: Final = "libx264"
CONTENT_TYPE: Final = "video/mp4"
_TIME_BASE: Final = Fraction(1, 1000)  # pts in milliseconds: frames keep their times
_CHUNK_BYTES: Final = 1 << 20


class ClipEncodeError(RuntimeError):
    """A clip could not be encoded; the message says why."""


@dataclass(frozen=True, slots=True)
class EncodeSettings:
    """x264 settings; the defaults favour a small CPU cost on an edge box.

    Attributes:
        crf: Constant rate factor (0 lossless .. 51 worst).
        preset: x264 speed preset.
        threads: Encoder threads (1 leaves the other cores to inference).
    """

    crf: int = 28
    preset: str = "veryfast"
    threads: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be in [0, 51], got {self.crf}")
        if self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")


@dataclass(frozen=True, slots=True)
class EncodedClip:
    """An MP4 file on disk.

    Attributes:
        path: The file.
        sha256: SHA-256 of its bytes (hex).
        size: Bytes.
        frames: Video frames in it.
        duration_s: Playing time in seconds.
        resolution_wh: Frame size in pixels.
    """

    path: Path
    sha256: str
    size: int
    frames: int
    duration_s: float
    resolution_wh: tuple[int, int]


@dataclass(frozen=True, slots=True)
class TimedImage:
    """A BGR frame and its capture time (UNIX seconds)."""

    captured_at: float
    image: npt.NDArray[np.uint8]


def has_h264_encoder() -> bool:
    """Whether this PyAV build can encode H.264 (its wheels bundle libx264)."""
    try:
        av.codec.Codec(CODEC, "w")
    except av.codec.codec.UnknownCodecError:
        return False
    return True


def encode_mp4(
    images: Iterable[TimedImage],
    path: Path,
    settings: EncodeSettings,
    *,
    frame_rate: float = 10.0,
) -> EncodedClip:
    """Encode BGR frames as an H.264 MP4 browsers play (yuv420p, moov first).

    Frames keep their capture times (variable frame rate, millisecond pts), so
    a clip plays at real speed whatever the analysis rate was. The file is
    written beside `path` and renamed into place: no reader sees half a clip.

    Args:
        images: Frames oldest first; all are scaled to the first one's size,
            which must have even sides.
        path: Where the MP4 goes (replaced if present).
        settings: x264 settings.
        frame_rate: Typical frames per second (rate control, and how long the
            last frame shows).

    Returns:
        What was written.

    Raises:
        ClipEncodeError: no frames, odd frame size, or the encoder failed.
        ValueError: `frame_rate` is not positive.
    """
    if not 0.0 < frame_rate <= 1000.0:
        raise ValueError(f"frame_rate must be in (0, 1000], got {frame_rate}")
    partial = path.with_name(f".{path.name}.partial")
    try:
        rate = Fraction(frame_rate).limit_denominator(1000)
        frames, duration_s, size_wh = _write(images, partial, settings, rate)
        os.replace(partial, path)
    except (av.error.FFmpegError, OSError) as error:
        raise ClipEncodeError(f"cannot encode clip {path}: {error}") from error
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    sha256, size = file_sha256(path)
    return EncodedClip(
        path=path,
        sha256=sha256,
        size=size,
        frames=frames,
        duration_s=duration_s,
        resolution_wh=size_wh,
    )


def _write(
    images: Iterable[TimedImage],
    path: Path,
    settings: EncodeSettings,
    rate: Fraction,
) -> tuple[int, float, tuple[int, int]]:
    """Encode into `path`: (frames, duration in s, (width, height))."""
    pending = iter(images)
    head = next(pending, None)
    if head is None:
        raise ClipEncodeError(f"no frames for clip {path}")
    size_wh = _check_size(head.image)
    first = last = head.captured_at
    last_pts = -1
    count = 0
    # movflags +faststart: the index goes first, so browsers start playing at once.
    with av.open(
        str(path), "w", format="mp4", options={"movflags": "+faststart"}
    ) as container:
        stream = _add_stream(container, size_wh, settings, rate)
        for item in itertools.chain([head], pending):
            pts = max(last_pts + 1, round((item.captured_at - first) * 1000))
            frame = av.VideoFrame.from_ndarray(_fit(item.image, size_wh), "bgr24")
            frame.pts = pts
            frame.time_base = _TIME_BASE
            container.mux(stream.encode(frame))
            last_pts, last, count = pts, item.captured_at, count + 1
        container.mux(stream.encode(None))
    return count, round(last - first + 1.0 / float(rate), 3), size_wh


def _add_stream(
    container: av.container.OutputContainer,
    size_wh: tuple[int, int],
    settings: EncodeSettings,
    rate: Fraction,
) -> av.video.stream.VideoStream:
    stream = container.add_stream(CODEC, rate=rate)
    stream.width, stream.height = size_wh
    stream.pix_fmt = "yuv420p"  # what browsers decode; needs even sides
    stream.time_base = _TIME_BASE
    context = stream.codec_context
    context.time_base = _TIME_BASE
    context.thread_count = settings.threads
    context.options = {"preset": settings.preset, "crf": str(settings.crf)}
    return stream


def _check_size(image: npt.NDArray[np.uint8]) -> tuple[int, int]:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ClipEncodeError(
            f"clip frames must be (H, W, 3) uint8, got {image.shape} {image.dtype}"
        )
    h, w = image.shape[:2]
    if h % 2 or w % 2:
        raise ClipEncodeError(f"clip frames need even sides for yuv420p, got {w}x{h}")
    return int(w), int(h)


def _fit(
    image: npt.NDArray[np.uint8], size_wh: tuple[int, int]
) -> npt.NDArray[np.uint8]:
    if (image.shape[1], image.shape[0]) == size_wh:
        return image
    # The camera changed resolution mid-clip (a reconnect): keep the first size.
    return np.asarray(
        cv2.resize(image, size_wh, interpolation=cv2.INTER_AREA), dtype=np.uint8
    )


def decode_bgr(path: Path) -> Iterator[npt.NDArray[np.uint8]]:
    """Every frame of a video file as BGR, in presentation order.

    Raises:
        ClipEncodeError: the file cannot be read as video.
    """
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                yield np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
    except av.error.FFmpegError as error:
        raise ClipEncodeError(f"cannot decode clip {path}: {error}") from error


def file_sha256(path: Path) -> tuple[str, int]:
    """(SHA-256 hex, size in bytes) of a file."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size

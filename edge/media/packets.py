"""Decoding a clip's window from a camera's kept packets (`PacketRing`), at the
camera's full frame rate, on the clip writer's thread."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import av
import av.video.codeccontext
import numpy as np
import numpy.typing as npt

from edge.ingest.packet_ring import PacketWindow


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """A decoded BGR picture and its time on the wall clock (UNIX seconds)."""

    at: float
    image: npt.NDArray[np.uint8]


def decode_window(
    window: PacketWindow, start: float, end: float, *, max_side_px: int
) -> Iterator[DecodedFrame]:
    """Decode the window's packets with a fresh decoder and yield the frames
    whose time falls in [start, end], downscaled to `max_side_px`; decoding
    stops at the first frame past `end`.

    A frame's time is its presentation timestamp placed on the wall clock by
    the packet that arrived with the least delay (arrival times jitter; the
    stream's timestamps do not).

    Raises:
        av.FFmpegError: the packets cannot be decoded.
    """
    offset = _clock_offset(window)
    context = av.CodecContext.create(window.stream.codec, "r")
    if not isinstance(context, av.video.codeccontext.VideoCodecContext):
        raise ValueError(f"{window.stream.codec} is not a video codec")
    if window.stream.extradata:
        context.extradata = window.stream.extradata
    context.thread_count = 1
    base = float(window.stream.time_base)
    for buffered in window.packets:
        packet = av.Packet(buffered.data)
        packet.pts = buffered.pts
        packet.dts = buffered.dts
        packet.time_base = window.stream.time_base
        for frame in context.decode(packet):
            # Frames come out in presentation order: past the end, done.
            if _wall_time(frame, offset, base) > end:
                return
            yield from _placed(frame, offset, base, start, end, max_side_px)
    for frame in context.decode(None):
        yield from _placed(frame, offset, base, start, end, max_side_px)


def _clock_offset(window: PacketWindow) -> float | None:
    """Wall time minus stream time, from the least-delayed packet."""
    base = float(window.stream.time_base)
    offsets = [p.arrived_at - p.pts * base for p in window.packets if p.pts is not None]
    return min(offsets) if offsets else None


def _wall_time(frame: av.VideoFrame, offset: float | None, base: float) -> float:
    if frame.pts is None or offset is None:
        return float("-inf")
    return offset + frame.pts * base


def _placed(
    frame: av.VideoFrame,
    offset: float | None,
    base: float,
    start: float,
    end: float,
    max_side_px: int,
) -> Iterator[DecodedFrame]:
    at = _wall_time(frame, offset, base)
    if not start <= at <= end:
        return
    scale = min(1.0, max_side_px / max(frame.width, frame.height))
    width = max(2, int(frame.width * scale) // 2 * 2)
    height = max(2, int(frame.height * scale) // 2 * 2)
    image = frame.to_ndarray(format="bgr24", width=width, height=height)
    yield DecodedFrame(at, np.asarray(image, dtype=np.uint8))

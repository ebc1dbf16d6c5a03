"""A camera's recent compressed packets, kept by its reader for clips.

The decoder only turns the frames due for analysis into pictures (and may not
decode the others at all), so a clip made of analysed frames plays at the
analysis rate. Keeping the stream's packets instead costs a copy of a few
kilobytes per frame and no decoding; `edge.media.packets` decodes a clip's
window from them on the clip writer's thread.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from fractions import Fraction

import av.video.codeccontext


@dataclass(frozen=True, slots=True)
class StreamParams:
    """What a fresh decoder needs to read the packets.

    Attributes:
        codec: FFmpeg decoder name (h264, hevc, ...).
        extradata: The codec's out-of-band header (SPS/PPS for H.264 in MP4).
        time_base: Seconds per packet timestamp unit.
    """

    codec: str
    extradata: bytes | None
    time_base: Fraction


@dataclass(frozen=True, slots=True)
class BufferedPacket:
    """One compressed packet as received.

    Attributes:
        arrived_at: When it was read, UNIX seconds.
        data: The packet's bytes.
        pts: Presentation timestamp in the stream's time base (None if unknown).
        dts: Decoding timestamp (None if unknown).
        is_key: A key frame: decoding can start here.
    """

    arrived_at: float
    data: bytes
    pts: int | None
    dts: int | None
    is_key: bool


@dataclass(frozen=True, slots=True)
class PacketWindow:
    """The packets covering a time window, starting at a key frame."""

    stream: StreamParams
    packets: tuple[BufferedPacket, ...]


class PacketRing:
    """A camera's recent packets, bounded by seconds and bytes, always starting
    at a key frame (a group of pictures goes whole). Thread-safe: the camera's
    reader pushes, the clip writer reads windows."""

    def __init__(self, *, max_age_s: float, max_bytes: int) -> None:
        if max_age_s <= 0 or max_bytes <= 0:
            raise ValueError("max_age_s and max_bytes must be positive")
        self.max_age_s = max_age_s
        self.max_bytes = max_bytes
        self._stream: StreamParams | None = None
        self._packets: deque[BufferedPacket] = deque()
        self._bytes = 0
        self._lock = threading.Lock()

    def open(self, stream: StreamParams) -> None:
        """A new connection: forget the old stream's packets (their timestamps
        and headers belong to it)."""
        with self._lock:
            self._stream = stream
            self._packets.clear()
            self._bytes = 0

    def push(self, packet: BufferedPacket) -> None:
        """Keep one packet; packets before the first key frame are useless."""
        with self._lock:
            if self._stream is None or (not self._packets and not packet.is_key):
                return
            self._packets.append(packet)
            self._bytes += len(packet.data)
            self._trim(packet.arrived_at)

    def _trim(self, now: float) -> None:
        """Drop whole groups of pictures from the front while the ring is over
        its bytes, or while the next group alone still reaches back
        `max_age_s` (so the ring always covers that much when it can)."""
        while self._packets:
            next_key = next(
                (i for i, p in enumerate(self._packets) if i and p.is_key), None
            )
            if next_key is None:
                return
            covered = now - self._packets[next_key].arrived_at >= self.max_age_s
            if not (covered or self._bytes > self.max_bytes):
                return
            for _ in range(next_key):
                self._bytes -= len(self._packets.popleft().data)

    def __len__(self) -> int:
        with self._lock:
            return len(self._packets)

    @property
    def bytes(self) -> int:
        with self._lock:
            return self._bytes

    def window(self, start: float) -> PacketWindow | None:
        """The packets from the last key frame arrived at or before `start` to
        the newest (the decoder stops past the clip's end; a packet's arrival
        can lag its place in the stream); None when the ring does not reach
        back to `start` (the clip falls back to the analysed frames)."""
        with self._lock:
            if self._stream is None or not self._packets:
                return None
            packets = list(self._packets)
            stream = self._stream
        first = None
        for index, packet in enumerate(packets):
            if packet.arrived_at > start:
                break
            if packet.is_key:
                first = index
        if first is None:
            return None
        return PacketWindow(stream, tuple(packets[first:]))


def stream_params(
    context: av.video.codeccontext.VideoCodecContext, time_base: Fraction | None
) -> StreamParams | None:
    """The decoder parameters of an open stream; None without a time base."""
    if time_base is None:
        return None
    extradata = context.extradata
    return StreamParams(
        codec=context.name,
        extradata=bytes(extradata) if extradata else None,
        time_base=time_base,
    )

"""The main (recording) stream of a camera that analyses its sub-stream: read
for its packets only, never decoded, so that clips show the main stream.

A camera with `detect_url` is analysed on the small sub-stream, the way NVRs
do it; its clips should still show the camera's main stream. This reader keeps
that stream's recent packets in the camera's `PacketRing` (demuxing costs a
copy per packet and no decoding) and reconnects with back-off when the stream
fails; while it has nothing, clips fall back to the analysed frames. It never
changes the camera's health, which follows the analysed stream.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import av
import av.container

from edge.config import CameraConfig, SourceKind
from edge.ingest.packet_ring import BufferedPacket, PacketRing, stream_params
from edge.ingest.stream_open import stream_open_arguments
from edge.ingest.stream_url import ffmpeg_reason, redact_credentials

logger = logging.getLogger(__name__)


class RecordingStreamReader:
    """Keeps the packets of a camera's `url` (its main stream) in `ring`."""

    def __init__(self, camera: CameraConfig, ring: PacketRing) -> None:
        self.camera = camera
        self.ring = ring
        self.packets_read = 0
        self.reconnects = 0
        self.error: str | None = None
        self._is_file = camera.kind == SourceKind.FILE
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"recording-{self.camera.id}", daemon=True
        )
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def join(self, timeout_s: float) -> None:
        if self._thread is not None:
            self._thread.join(max(0.0, timeout_s))

    @property
    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _describe(self) -> str:
        url = self.camera.url
        return f"video file {url}" if self._is_file else redact_credentials(url)

    def _run(self) -> None:
        delay = self.camera.reconnect_min_s
        while not self._stop.is_set():
            try:
                had_packets = self._read_once()
            except Exception:  # the reader must outlive any one stream's fault
                logger.exception("camera %s: recording stream failed", self.camera.id)
                self.error, had_packets = "unexpected error (logged)", False
            if self._stop.is_set():
                break
            if had_packets:
                delay = self.camera.reconnect_min_s
            logger.warning(
                "camera %s: recording stream %s: %s; clips use analysed frames "
                "until it is back (retry in %.1f s)",
                self.camera.id,
                self._describe(),
                self.error,
                delay,
            )
            self._stop.wait(delay)
            delay = min(self.camera.reconnect_max_s, delay * 2)
            self.reconnects += 1

    def _read_once(self) -> bool:
        """Open the stream and keep its packets until it fails or ends."""
        url = self.camera.url
        if self._is_file and not Path(url).is_file():
            self.error = f"video file not found: {url}"
            return False
        arguments = stream_open_arguments(
            url,
            is_file=self._is_file,
            open_timeout_s=self.camera.open_timeout_s,
            read_timeout_s=self.camera.read_timeout_s,
        )
        try:
            container = av.open(url, **arguments)
        except (av.FFmpegError, OSError) as error:
            self.error = f"cannot open: {ffmpeg_reason(error)}"
            return False
        try:
            return self._keep_packets(container)
        finally:
            container.close()

    def _keep_packets(self, container: av.container.InputContainer) -> bool:
        if not container.streams.video:
            self.error = "no video stream"
            return False
        stream = container.streams.video[0]
        params = stream_params(stream.codec_context, stream.time_base)
        if params is None or stream.time_base is None:
            self.error = "the stream has no time base"
            return False
        self.ring.open(params)
        logger.info(
            "camera %s: recording stream %s opened for clips",
            self.camera.id,
            self._describe(),
        )
        had_packets = False
        started = time.monotonic()
        first_s: float | None = None
        try:
            for packet in container.demux(stream):
                if self._stop.is_set():
                    return had_packets
                if packet.size == 0:
                    continue
                stamp_s = (
                    float(packet.pts * stream.time_base)
                    if packet.pts is not None
                    else None
                )
                if self._is_file and stamp_s is not None:
                    # A file plays at its own pace, as the analysed stream does.
                    first_s = stamp_s if first_s is None else first_s
                    self._stop.wait(
                        max(0.0, started + stamp_s - first_s - time.monotonic())
                    )
                self.ring.push(
                    BufferedPacket(
                        arrived_at=time.time(),
                        data=bytes(packet),
                        pts=packet.pts,
                        dts=packet.dts,
                        is_key=packet.is_keyframe,
                    )
                )
                self.packets_read += 1
                had_packets = True
        except (av.FFmpegError, OSError) as error:
            self.error = f"read failed or timed out: {ffmpeg_reason(error)}"
            return had_packets
        self.error = "end of file" if self._is_file else "stream ended"
        return had_packets

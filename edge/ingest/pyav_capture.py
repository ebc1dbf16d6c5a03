"""RTSP and file sources decoded with PyAV, leaving unanalysed frames undecoded
where the codec allows (see `SkipPlanner`)."""

from __future__ import annotations

import logging
import time
from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.video.codeccontext
import av.video.stream
import numpy as np
from av.codec.hwaccel import HWAccel

from edge.config import CameraConfig, HwAccel, SourceKind
from edge.ingest.base import FrameSource
from edge.ingest.packet_ring import BufferedPacket, PacketRing, stream_params
from edge.ingest.sampler import FrameSampler
from edge.ingest.skip_planner import SkipPlanner
from edge.ingest.slot import FreshestFrameSlot
from edge.ingest.stream_open import stream_open_arguments
from edge.ingest.stream_url import ffmpeg_reason, redact_credentials

logger = logging.getLogger(__name__)

# Many cameras share a few cores: one decoding thread per camera costs the
# least CPU per frame (measured: 0.41 against 0.59 ms per 640x360 frame with
# FFmpeg's automatic slice threads), and even 4K at 25 fps fits one thread.
_DECODER_THREADS = 1
_AUTO_DEVICES = ("cuda", "vaapi", "qsv")


class PyAvSource(FrameSource):
    """Reads an RTSP URL (kind rtsp) or a video file (kind file) with PyAV.

    Every packet is demuxed and counts as a frame received (health, `fps_in`);
    the decoder's `skip_frame` follows the camera's `SkipPlanner`, and only
    frames due for analysis are converted to BGR.
    """

    def __init__(self, camera: CameraConfig, slot: FreshestFrameSlot) -> None:
        super().__init__(camera, slot)
        self._is_file = camera.kind == SourceKind.FILE
        self._sampler = FrameSampler(camera.analysis_fps)
        self.planner = SkipPlanner(
            analysis_fps=camera.analysis_fps, mode=camera.skip_frames
        )
        self._container: av.container.InputContainer | None = None
        self.packets_read = 0
        # "cpu" or the hardware device the open stream is decoded on.
        self.decoding_on = "cpu"
        self._devices_failed: set[str] = set()
        # Set by the node when this camera's clips are cut from its packets.
        self.packet_ring: PacketRing | None = None

    @property
    def devices_failed(self) -> frozenset[str]:
        """Hardware decoders found unusable for this camera (not tried again)."""
        return frozenset(self._devices_failed)

    @property
    def frames_skipped(self) -> int:
        """Packets whose picture was never decoded."""
        return max(0, self.packets_read - self.frames_decoded)

    def _describe(self) -> str:
        url = self.camera.analysis_url
        return f"video file {url}" if self._is_file else redact_credentials(url)

    def _open(self) -> av.container.InputContainer | None:
        url = self.camera.analysis_url
        if self._is_file and not Path(url).is_file():
            self.error = f"video file not found: {url}"
            return None
        failures = []
        for device in self._devices_to_try():
            container, why = self._open_container(device)
            if container is not None:
                self.decoding_on = device
                return container
            failures.append((device, why))
        container, why = self._open_container(None)
        if container is None:
            self.error = f"cannot open {self._describe()}: {why}"
            return None
        # The camera opens without them: the devices, not the camera, failed.
        for device, device_why in failures:
            logger.warning(
                "camera %s: hardware decoding with %s unavailable (%s); "
                "decoding in software",
                self.camera.id,
                device,
                device_why,
            )
            self._devices_failed.add(device)
        self.decoding_on = "cpu"
        return container

    def _devices_to_try(self) -> list[str]:
        """The camera's hardware decoders not yet found unusable, in order."""
        wanted = self.camera.hwaccel
        if wanted is HwAccel.NONE:
            return []
        devices = _AUTO_DEVICES if wanted is HwAccel.AUTO else (wanted.value,)
        return [d for d in devices if d not in self._devices_failed]

    def _open_container(
        self, device: str | None
    ) -> tuple[av.container.InputContainer | None, str]:
        """The opened stream (None and the reason when it failed), decoded
        on `device` (None: in software)."""
        url = self.camera.analysis_url
        arguments = stream_open_arguments(
            url,
            is_file=self._is_file,
            open_timeout_s=self.camera.open_timeout_s,
            read_timeout_s=self.camera.read_timeout_s,
        )
        try:
            if device is None:
                container = av.open(url, **arguments)
            else:
                container = av.open(
                    url,
                    **arguments,
                    # Our fallback, not FFmpeg's silent one: the log says which.
                    hwaccel=HWAccel(device, allow_software_fallback=False),
                )
        except (av.FFmpegError, OSError, RuntimeError, ValueError) as error:
            return None, ffmpeg_reason(error)
        if not container.streams.video:
            container.close()
            return None, "no video stream"
        if (
            device is not None
            and not container.streams.video[0].codec_context.is_hwaccel
        ):
            container.close()
            return None, f"{device} cannot decode this stream"
        return container, ""

    def _read_until_failure(self) -> bool:
        container = self._open()
        if container is None:
            return False
        self._container = container
        stream = container.streams.video[0]
        stream.codec_context.thread_count = _DECODER_THREADS
        self._connected = True
        self.error = None
        self._open_packet_ring(stream)
        logger.info(
            "camera %s: opened %s (pyav on %s, skip_frames %s)",
            self.camera.id,
            self._describe(),
            self.decoding_on,
            self.camera.skip_frames.value,
        )
        return self._pump(container, stream)

    def _pump(
        self,
        container: av.container.InputContainer,
        stream: av.video.stream.VideoStream,
    ) -> bool:
        had_frames = False
        while not self._stop.is_set():
            self._sampler.reset()
            self.planner.reset()
            try:
                had_frames = self._play(container, stream) or had_frames
            except (av.FFmpegError, OSError) as error:
                self.error = f"read failed or timed out: {ffmpeg_reason(error)}"
                return had_frames
            if self._stop.is_set():
                break
            if not (self._is_file and self.camera.loop and had_frames):
                self.error = "end of file" if self._is_file else "stream ended"
                return had_frames
            container.seek(0)
            self._open_packet_ring(stream)  # timestamps start again
        return had_frames

    def _open_packet_ring(self, stream: av.video.stream.VideoStream) -> None:
        if self.packet_ring is None:
            return
        params = stream_params(stream.codec_context, stream.time_base)
        if params is None:
            logger.warning(
                "camera %s: the stream has no time base; clips use analysed frames",
                self.camera.id,
            )
            self.packet_ring = None
            return
        self.packet_ring.open(params)

    def _play(
        self,
        container: av.container.InputContainer,
        stream: av.video.stream.VideoStream,
    ) -> bool:
        """Demux and decode until the stream ends or stop is set."""
        had_frames = False
        rate = stream.average_rate or stream.guessed_rate
        file_period_s = 1.0 / float(rate) if self._is_file and rate else 0.0
        next_due = time.monotonic()
        time_base = stream.time_base
        context = stream.codec_context
        for packet in container.demux(stream):
            if self._stop.is_set():
                break
            if packet.size == 0:
                # The demuxer's end-of-stream packet drains the frames the
                # decoder still holds (B-frame reordering).
                for frame in packet.decode():
                    self._on_frame(frame)
                continue
            self._on_packet(packet, context, time_base)
            had_frames = True
            if file_period_s:
                next_due += file_period_s
                self._stop.wait(max(0.0, next_due - time.monotonic()))
        return had_frames

    def _on_packet(
        self,
        packet: av.Packet[av.video.stream.VideoStream],
        context: av.video.codeccontext.VideoCodecContext,
        time_base: Fraction | None,
    ) -> None:
        """Set the decoder's skip level for the packet, decode it, offer frames."""
        # Decode-order time: presentation times of B-frames run backwards.
        stamp = packet.dts if packet.dts is not None else packet.pts
        at_s = (
            float(stamp * time_base)
            if stamp is not None and time_base is not None
            else None
        )
        level = self.planner.observe_packet(at_s=at_s, is_key=packet.is_keyframe)
        if context.skip_frame != level.value:
            context.skip_frame = level.value
        self.packets_read += 1
        now = time.time()
        self._count_arrival(now)
        if self.packet_ring is not None:
            self.packet_ring.push(
                BufferedPacket(
                    arrived_at=now,
                    data=bytes(packet),
                    pts=packet.pts,
                    dts=packet.dts,
                    is_key=packet.is_keyframe,
                )
            )
        frames = packet.decode()
        self.planner.observe_decoded(len(frames))
        for frame in frames:
            self._on_frame(frame)

    def _on_frame(self, frame: av.VideoFrame) -> None:
        now = time.monotonic()
        self.frames_decoded += 1
        # A frame due while analysis still holds the previous one waits for
        # the next frame (the tick stays open), as in CaptureSource.
        if self._sampler.is_due(now) and self.slot.peek_time() is None:
            self._sampler.take(now)
            image = frame.to_ndarray(format="bgr24").astype(np.uint8, copy=False)
            self._offer(image, time.time())

    def _close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

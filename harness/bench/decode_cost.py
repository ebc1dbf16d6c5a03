"""CPU cost of decoding a stream as the node does, per second of video.

Measured on the cached file the simulator serves, in this process while nothing
else runs in it, so that the benchmarks can state what decoding alone takes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import av
import cv2

from edge.config import DecoderKind, SkipFrames
from edge.ingest.skip_planner import SkipPlanner


@dataclass(frozen=True, slots=True)
class DecodeCost:
    """What decoding one stream costs.

    Attributes:
        decoder: The decoding library.
        skip_frames: The skip mode (the opencv decoder never skips).
        stream_fps: Frames per second of the stream.
        decoded_share: Share of the stream's frames decoded (1.0: all).
        cpu_ms_per_stream_s: CPU milliseconds to decode one second of the
            stream, with the BGR conversion of the frames analysed.
    """

    decoder: DecoderKind
    skip_frames: SkipFrames
    stream_fps: float
    decoded_share: float
    cpu_ms_per_stream_s: float

    @property
    def cores_per_stream(self) -> float:
        """Cores one such stream keeps busy decoding."""
        return self.cpu_ms_per_stream_s / 1000.0


def measure_decode_cost(
    path: Path,
    *,
    decoder: DecoderKind,
    skip_frames: SkipFrames,
    analysis_fps: float,
    seconds: float,
) -> DecodeCost:
    """Decode `path` for about `seconds` of CPU time (or once through) and time it.

    Raises:
        ValueError: the file has no video or no frame rate.
    """
    if decoder is DecoderKind.OPENCV:
        return _measure_opencv(path, analysis_fps=analysis_fps, seconds=seconds)
    return _measure_pyav(
        path, skip_frames=skip_frames, analysis_fps=analysis_fps, seconds=seconds
    )


def _measure_pyav(
    path: Path, *, skip_frames: SkipFrames, analysis_fps: float, seconds: float
) -> DecodeCost:
    planner = SkipPlanner(analysis_fps=analysis_fps, mode=skip_frames)
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1  # as the node's PyAvSource
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise ValueError(f"{path}: no frame rate")
        time_base = stream.time_base
        packets = decoded = 0
        next_analysed_s = 0.0
        started = time.process_time()
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            stamp = packet.dts if packet.dts is not None else packet.pts
            at_s = float(stamp * time_base) if stamp is not None and time_base else None
            stream.codec_context.skip_frame = planner.observe_packet(
                at_s=at_s, is_key=packet.is_keyframe
            ).value
            frames = packet.decode()
            planner.observe_decoded(len(frames))
            packets += 1
            decoded += len(frames)
            for frame in frames:
                frame_s = packets / float(rate)
                if frame_s >= next_analysed_s:
                    frame.to_ndarray(format="bgr24")
                    next_analysed_s = frame_s + 1.0 / analysis_fps
            if time.process_time() - started >= seconds:
                break
        cpu_s = time.process_time() - started
    return _cost(DecoderKind.PYAV, skip_frames, float(rate), packets, decoded, cpu_s)


def _measure_opencv(path: Path, *, analysis_fps: float, seconds: float) -> DecodeCost:
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        fps = capture.get(cv2.CAP_PROP_FPS)
        if not capture.isOpened() or not fps or fps <= 0:
            raise ValueError(f"{path}: no video stream or no frame rate")
        frames = 0
        every = max(1, round(fps / analysis_fps))
        # OpenCV decodes with FFmpeg's own threads: count the whole process.
        started = time.process_time()
        while capture.grab():
            frames += 1
            if frames % every == 0:
                capture.retrieve()
            if time.process_time() - started >= seconds:
                break
        cpu_s = time.process_time() - started
    finally:
        capture.release()
    return _cost(DecoderKind.OPENCV, SkipFrames.OFF, fps, frames, frames, cpu_s)


def _cost(
    decoder: DecoderKind,
    skip_frames: SkipFrames,
    stream_fps: float,
    packets: int,
    decoded: int,
    cpu_s: float,
) -> DecodeCost:
    if packets == 0:
        raise ValueError("no frame could be read")
    stream_s = packets / stream_fps
    return DecodeCost(
        decoder=decoder,
        skip_frames=skip_frames,
        stream_fps=round(stream_fps, 3),
        decoded_share=round(decoded / packets, 3),
        cpu_ms_per_stream_s=round(cpu_s * 1000.0 / stream_s, 2),
    )

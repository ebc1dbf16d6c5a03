"""`gridwatch bench clips`: what a clip costs made of analysed frames and made
of the camera's packets (full frame rate), on one file, in one run.

The file's packets are fed to a `PacketRing` as a reader would (arrival = the
stream clock), its frames due at `--analysis-fps` to the recorder as the
analysis stage would; then `--clips` events are requested at evenly spread
times and each clip is written both ways by the node's own `ClipRecorder`
(YuNet blur on every frame, H.264, the encoded file checked for faces).
Figures per way: frames and seconds of work per clip (mean, max), bytes per
clip, and the memory each buffer holds per camera for the same span.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from edge.config import MediaConfig
from edge.face_settings import FaceBlurSettings
from edge.ingest.packet_ring import BufferedPacket, PacketRing, stream_params
from edge.media.faces import FaceBlur
from edge.media.recorder import Clip, ClipRecorder, ClipRequest
from edge.media.ring import BufferedFrame
from edge.media.store import LocalClipStore
from edge.metrics import NodeMetrics
from edge.types import Frame
from harness.bench.report import write_figures
from models.manifest import resolve_model, resolve_video

CAMERA = "bench"
DEFAULT_CLIP = "one-by-one-person-detection.mp4"
T0 = 2_000_000_000.0  # arrival of the file's first packet (far ahead of now)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--clip",
        type=Path,
        default=None,
        help="an H.264 video file (default: one-by-one-person-detection.mp4 "
        "of the shared videos)",
    )
    parser.add_argument("--clips", type=int, default=4, help="clips per way")
    parser.add_argument(
        "--analysis-fps", type=float, default=5.0, help="the camera's analysis rate"
    )
    parser.add_argument("--models-dir", type=Path, default=None, help="model folder")
    parser.add_argument("--json", action="store_true", help="print JSON only")


@dataclass(frozen=True, slots=True)
class _Source:
    frames: list[Frame]
    ring: PacketRing
    duration_s: float
    stream_fps: float


def run_cli(args: argparse.Namespace) -> int:
    clip = args.clip or resolve_video(DEFAULT_CLIP)
    if not clip.is_file() or args.clips < 1 or args.analysis_fps <= 0:
        sys.stderr.write(
            f"bench clips: need an existing --clip ({clip}), --clips >= 1 and "
            "--analysis-fps > 0\n"
        )
        return 2
    blur = FaceBlur.from_model(
        resolve_model("yunet_face", args.models_dir), FaceBlurSettings(), label="bench"
    )
    media = MediaConfig()
    source = _read(clip, media, args.analysis_fps)
    span = media.pre_s + media.post_s
    if source.duration_s < span + 2:
        sys.stderr.write(f"bench clips: {clip} is shorter than {span + 2:.0f} s\n")
        return 2
    starts = [
        T0
        + media.pre_s
        + 1
        + i * (source.duration_s - span - 2) / max(1, args.clips - 1)
        for i in range(args.clips)
    ]
    figures: dict[str, Any] = {
        "clip": clip.name,
        "stream_fps": round(source.stream_fps, 2),
        "analysis_fps": args.analysis_fps,
        "clip_s": span,
    }
    with tempfile.TemporaryDirectory(prefix="gw-bench-clips-") as tmp:
        for way, rings in (("analysed", {}), ("stream", {CAMERA: source.ring})):
            clips = _write(source, rings, starts, blur, media, Path(tmp) / way)
            figures[way] = _summary(clips)
    frame_bytes = _frame_ring_bytes(source, media, span)
    figures["buffer_mb_per_camera"] = {
        "analysed_frames": round(frame_bytes / 2**20, 2),
        "packets": round(_packet_bytes(source, span) / 2**20, 2),
        "span_s": span,
    }
    analysed, stream = figures["analysed"], figures["stream"]
    figures["work_ratio"] = round(stream["work_s_mean"] / analysed["work_s_mean"], 2)
    figures["frames_ratio"] = round(stream["frames_mean"] / analysed["frames_mean"], 2)
    write_figures(figures, as_json=args.json)
    return 0


def _read(path: Path, media: MediaConfig, analysis_fps: float) -> _Source:
    """The file's packets into a ring, its frames due for analysis as Frames."""
    ring = PacketRing(max_age_s=1e9, max_bytes=1 << 40)  # everything: bench only
    frames: list[Frame] = []
    next_due = 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        params = stream_params(stream.codec_context, stream.time_base)
        if params is None or stream.time_base is None:
            raise SystemExit(f"bench clips: {path} has no time base")
        ring.open(params)
        base = stream.time_base
        last = 0.0
        for packet in container.demux(stream):
            if packet.size == 0 or packet.pts is None:
                continue
            at = float(packet.pts * base)
            ring.push(
                BufferedPacket(
                    T0 + at, bytes(packet), packet.pts, packet.dts, packet.is_keyframe
                )
            )
            for frame in packet.decode():
                if frame.pts is None:
                    continue
                shown = float(frame.pts * base)
                last = max(last, shown)
                if shown + 1e-6 >= next_due:
                    next_due = shown + 1 / analysis_fps
                    image = frame.to_ndarray(format="bgr24")
                    frames.append(
                        Frame(CAMERA, len(frames), T0 + shown, image.astype("uint8"))
                    )
        fps = float(stream.average_rate or 0)
    return _Source(frames, ring, last, fps)


def _write(
    source: _Source,
    rings: dict[str, PacketRing],
    starts: list[float],
    blur: FaceBlur,
    media: MediaConfig,
    folder: Path,
) -> list[Clip]:
    done: list[Clip] = []
    finished = threading.Event()

    def keep(clip: Clip) -> None:
        done.append(clip)
        if len(done) == len(starts):
            finished.set()

    recorder = ClipRecorder(
        cameras=[CAMERA],
        config=media.model_copy(
            update={"buffer_s": 120.0, "queue_size": 64, "max_active": 64}
        ),
        blur=blur,
        store=LocalClipStore(folder, max_bytes=1 << 40),
        on_clip=keep,
        metrics=NodeMetrics(),
        node_id="bench",
        packet_rings=rings,
    )
    recorder.start()
    pending = sorted(starts)
    for frame in source.frames:
        recorder.push(frame)
        while pending and frame.captured_at >= pending[0]:
            recorder.request(
                ClipRequest(
                    f"ev-{len(starts) - len(pending):08d}", CAMERA, pending.pop(0)
                )
            )
    finished.wait(600)
    recorder.stop()
    return sorted(done, key=lambda c: c.event_id)


def _summary(clips: list[Clip]) -> dict[str, Any]:
    work = [c.work_s for c in clips]
    return {
        "clips": len(clips),
        "frames_from": sorted({c.frames_from for c in clips}),
        "frames_mean": round(statistics.fmean(c.file.frames for c in clips), 1),
        "work_s_mean": round(statistics.fmean(work), 3),
        "work_s_max": round(max(work), 3),
        "bytes_mean": round(statistics.fmean(c.file.size for c in clips)),
        "resolution_wh": list(clips[0].file.resolution_wh) if clips else None,
    }


def _frame_ring_bytes(source: _Source, media: MediaConfig, span: float) -> int:
    """I420 bytes the frame ring holds for `span` seconds at the analysis rate."""
    if not source.frames:
        return 0
    one = BufferedFrame.from_frame(source.frames[0], max_side_px=media.max_side_px)
    per_s = len(source.frames) / max(source.duration_s, 1e-6)
    return int(one.i420.nbytes * per_s * span)


def _packet_bytes(source: _Source, span: float) -> int:
    """Packet bytes the packet ring holds for `span` seconds of the stream."""
    return int(source.ring.bytes / max(source.duration_s, 1e-6) * span)

"""Event clips: collect frames around each event start, blur faces, encode H.264.

The analysis thread only copies each analysed frame (downscaled, as I420) into
its camera's ring and hands it to the clips still collecting; everything slow
(face detection on every frame, encoding) runs on the recorder's own thread
behind a bounded queue, so clips never stall analysis. When the queue is full,
or too many clips are collecting at once, a clip is dropped and counted.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

import av
import cv2
import numpy as np
import numpy.typing as npt

from edge.config import MediaConfig
from edge.ingest.packet_ring import PacketRing
from edge.media.clip import (
    ClipEncodeError,
    EncodedClip,
    EncodeSettings,
    TimedImage,
    decode_bgr,
    encode_mp4,
)
from edge.media.faces import FaceBlur
from edge.media.packets import decode_window
from edge.media.ring import BufferedFrame, FrameRing
from edge.media.store import LocalClipStore
from edge.metrics import NodeMetrics
from edge.types import Frame

logger = logging.getLogger(__name__)

# A clip whose camera sends no more frames is closed this long after its end.
EXPIRE_GRACE_S: Final = 3.0
STOP_DEADLINE_S: Final = 10.0
# Frame times are floats: a frame exactly `post_s` after the start belongs in.
_SLACK_S: Final = 1e-3
# Encode-and-check rounds before a clip that still shows faces is given up.
VERIFY_ROUNDS: Final = 3


class FacesLeftError(RuntimeError):
    """The encoded clip still showed faces after every round; it was deleted."""


@dataclass(frozen=True, slots=True)
class ClipRequest:
    """Record the clip of one event.

    Attributes:
        event_id: The event's id (names the file and the upload).
        camera_id: The camera that saw it.
        at: When the event started, UNIX seconds (a frame capture time).
    """

    event_id: str
    camera_id: str
    at: float


@dataclass(frozen=True, slots=True)
class Clip:
    """A finished clip.

    Attributes:
        event_id: The event.
        camera_id: The camera.
        file: The encoded MP4.
        faces_blurred: Face regions obscured over all frames.
        work_s: Seconds spent blurring and encoding it.
        frames_from: `stream` (decoded from the camera's packets, its full
            rate) or `analysed` (the analysed frames).
    """

    event_id: str
    camera_id: str
    file: EncodedClip
    faces_blurred: int
    work_s: float
    frames_from: str = "analysed"


@dataclass(slots=True, eq=False)  # identity: two captures are never equal
class _Capture:
    request: ClipRequest
    start: float
    end: float
    frames: list[BufferedFrame] = field(default_factory=list)


ClipSink = Callable[[Clip], None]


class ClipRecorder:
    """Rings of recent frames per camera and one thread that writes clips.

    Args:
        cameras: Ids of the cameras to record (others are ignored).
        config: Clip lengths, buffer bounds, sizes and queue bounds.
        blur: Face blur run on every clip frame.
        store: Where clip files go.
        on_clip: Called on the recorder thread with each finished clip.
        metrics: Clip counters.
        node_id: For log lines.
        packet_rings: Cameras whose clips are decoded from their stream's
            packets (full frame rate); the others use the analysed frames.
    """

    def __init__(
        self,
        *,
        cameras: Iterable[str],
        config: MediaConfig,
        blur: FaceBlur,
        store: LocalClipStore,
        on_clip: ClipSink,
        metrics: NodeMetrics,
        node_id: str,
        packet_rings: Mapping[str, PacketRing] | None = None,
    ) -> None:
        self._config = config
        self._packet_rings = dict(packet_rings or {})
        self._rings = {
            camera_id: FrameRing(
                max_age_s=config.buffer_s, max_bytes=int(config.buffer_mb * 2**20)
            )
            for camera_id in cameras
        }
        self._blur = blur
        self._store = store
        self._on_clip = on_clip
        self._metrics = metrics
        self._node_id = node_id
        self._encode = EncodeSettings(crf=config.crf)
        self._lock = threading.Lock()
        self._active: list[_Capture] = []
        self._ready: queue.Queue[_Capture] = queue.Queue(config.queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- any thread -----------------------------------------------------------

    def push(self, frame: Frame) -> None:
        """Buffer one analysed frame (called on the analysis thread; ~1 ms)."""
        ring = self._rings.get(frame.camera_id)
        if ring is None:
            return
        item = BufferedFrame.from_frame(frame, max_side_px=self._config.max_side_px)
        with self._lock:
            ring.push(item)
            done = []
            for capture in self._active:
                if capture.request.camera_id != frame.camera_id:
                    continue
                if capture.start <= item.captured_at <= capture.end:
                    capture.frames.append(item)
                if item.captured_at >= capture.end:
                    done.append(capture)
            self._active = [c for c in self._active if c not in done]
        for capture in done:
            self._enqueue(capture)

    def request(self, request: ClipRequest) -> bool:
        """Start collecting a clip; False when it is not recorded (and why is
        counted: camera not recorded, or too many clips collecting)."""
        ring = self._rings.get(request.camera_id)
        if ring is None:
            return False
        capture = _Capture(
            request=request,
            start=request.at - self._config.pre_s - _SLACK_S,
            end=request.at + self._config.post_s + _SLACK_S,
        )
        with self._lock:
            if any(c.request.event_id == request.event_id for c in self._active):
                return True
            if len(self._active) >= self._config.max_active:
                self._drop(capture, "busy")
                return False
            capture.frames = [
                f for f in ring.since(capture.start) if f.captured_at <= capture.end
            ]
            is_complete = bool(ring.since(capture.end + 1e-6))
            if not is_complete:
                self._active.append(capture)
        if is_complete:  # the event was built late: its frames are all here
            self._enqueue(capture)
        return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="clips", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = STOP_DEADLINE_S) -> None:
        """Finish the clips collected so far (shortened), then end the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s + 5.0)
            if self._thread.is_alive():
                logger.error("node %s: clip writer did not stop in time", self._node_id)

    @property
    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def packet_ring(self, camera_id: str) -> PacketRing | None:
        """The camera's packet ring, None when its clips use analysed frames."""
        return self._packet_rings.get(camera_id)

    def buffered(self, camera_id: str) -> int:
        """Frames in a camera's ring (0 for a camera not recorded)."""
        ring = self._rings.get(camera_id)
        return 0 if ring is None else len(ring)

    # --- recorder thread --------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._expire(time.time())
            try:
                capture = self._ready.get(timeout=0.25)
            except queue.Empty:
                continue
            self._write(capture)
        self._finish(time.monotonic() + STOP_DEADLINE_S)

    def _enqueue(self, capture: _Capture) -> None:
        try:
            self._ready.put_nowait(capture)
        except queue.Full:
            self._drop(capture, "queue_full")

    def _drop(self, capture: _Capture, reason: str) -> None:
        request = capture.request
        self._metrics.clips_dropped.labels(request.camera_id, reason).inc()
        logger.warning(
            "node %s: camera %s: clip of event %s dropped (%s)",
            self._node_id,
            request.camera_id,
            request.event_id,
            reason,
        )

    def _expire(self, now: float) -> None:
        """Close clips whose camera stopped sending frames."""
        with self._lock:
            late = [c for c in self._active if now > c.end + EXPIRE_GRACE_S]
            self._active = [c for c in self._active if c not in late]
        for capture in late:
            self._enqueue(capture)

    def _finish(self, deadline: float) -> None:
        with self._lock:
            pending, self._active = self._active, []
        while True:
            try:
                pending.insert(0, self._ready.get_nowait())
            except queue.Empty:
                break
        for capture in sorted(pending, key=lambda c: c.request.at):
            if time.monotonic() > deadline:
                self._drop(capture, "stopped")
                continue
            self._write(capture)

    def _write(self, capture: _Capture) -> None:
        request = capture.request
        if not capture.frames:
            self._drop(capture, "no_frames")
            return
        try:
            clip = self._encode_clip(capture)
        except FacesLeftError as error:
            logger.error(
                "node %s: camera %s: clip of event %s not kept: %s",
                self._node_id,
                request.camera_id,
                request.event_id,
                error,
            )
            self._drop(capture, "faces_left")
            return
        except Exception:  # one bad clip must not stop the writer
            logger.exception(
                "node %s: camera %s: clip of event %s failed",
                self._node_id,
                request.camera_id,
                request.event_id,
            )
            self._drop(capture, "error")
            return
        self._metrics.clips_written.labels(request.camera_id).inc()
        self._metrics.faces_blurred.labels(request.camera_id).inc(clip.faces_blurred)
        self._metrics.clip_seconds.observe(clip.work_s)
        logger.info(
            "node %s: camera %s: clip of event %s: %d %s frames, %.1fs, %d faces "
            "blurred, %d bytes, made in %.2fs",
            self._node_id,
            request.camera_id,
            request.event_id,
            clip.file.frames,
            clip.frames_from,
            clip.file.duration_s,
            clip.faces_blurred,
            clip.file.size,
            clip.work_s,
        )
        try:
            self._on_clip(clip)
        except Exception:
            logger.exception(
                "node %s: clip of event %s could not be handed on",
                self._node_id,
                request.event_id,
            )

    def _encode_clip(self, capture: _Capture) -> Clip:
        """Blur every frame, encode, then check the encoded file itself.

        The check decodes the MP4 and runs YuNet again (at the blur threshold):
        compression can turn a smooth patch (hair, the back of a head) into
        something the detector scores as a face. What it finds is obscured in
        the frames and the clip encoded again; the last round obscures such
        frames whole, and a clip still failing the check is not kept at all.
        """
        started = time.perf_counter()
        request = capture.request
        path = self._store.path_for(request.event_id)
        source = self._stream_frames(capture)
        frames_from = "analysed" if source is None else "stream"
        source = capture.frames if source is None else source
        rate = _frame_rate(source)
        frames, obscured = self._blurred(source)
        for round_ in range(VERIFY_ROUNDS + 1):
            encoded = encode_mp4(
                (TimedImage(f.captured_at, f.to_bgr()) for f in frames),
                path,
                self._encode,
                frame_rate=rate,
            )
            leaks = self._faces_in(encoded)
            if not leaks:
                return Clip(
                    event_id=request.event_id,
                    camera_id=request.camera_id,
                    file=encoded,
                    faces_blurred=obscured,
                    work_s=time.perf_counter() - started,
                    frames_from=frames_from,
                )
            if round_ < VERIFY_ROUNDS:
                obscured += self._cover(
                    frames, leaks, whole=round_ == VERIFY_ROUNDS - 1
                )
        self._store.remove(path)
        raise FacesLeftError(
            f"faces still found in {len(leaks)} frames of the encoded clip"
        )

    def _stream_frames(self, capture: _Capture) -> list[BufferedFrame] | None:
        """The clip's window decoded from the camera's packets (every frame the
        camera sent), or None to use the analysed frames: no packet ring, the
        ring no longer reaches back to the window's start (a long queue), or
        the packets do not decode to at least the analysed frames."""
        ring = self._packet_rings.get(capture.request.camera_id)
        if ring is None:
            return None
        window = ring.window(capture.start)
        reason = "the packet buffer does not reach back to its start"
        if window is not None:
            try:
                decoded = [
                    _rebuffered(f.at, f.image)
                    for f in decode_window(
                        window,
                        capture.start,
                        capture.end,
                        max_side_px=self._config.max_side_px,
                    )
                ]
            except (av.FFmpegError, ValueError) as error:
                reason = f"its packets did not decode ({error})"
            else:
                decoded = _thinned(decoded, self._config.clip_max_fps)
                if len(decoded) >= len(capture.frames):
                    return decoded
                reason = (
                    f"its packets gave {len(decoded)} frames, fewer than the "
                    f"{len(capture.frames)} analysed"
                )
        logger.warning(
            "node %s: camera %s: clip of event %s made of analysed frames: %s",
            self._node_id,
            capture.request.camera_id,
            capture.request.event_id,
            reason,
        )
        return None

    def _blurred(self, frames: list[BufferedFrame]) -> tuple[list[BufferedFrame], int]:
        """Face-blurred copies of the frames, and the regions obscured."""
        blurred = []
        obscured = 0
        for item in frames:
            image = item.to_bgr()
            obscured += self._blur.blur(image)
            blurred.append(_rebuffered(item.captured_at, image))
        return blurred, obscured

    def _faces_in(self, encoded: EncodedClip) -> dict[int, npt.NDArray[np.float32]]:
        """Frame index → face boxes YuNet finds in the encoded file."""
        leaks = {}
        count = 0
        for index, image in enumerate(decode_bgr(encoded.path)):
            found = self._blur.find(image)
            if len(found):
                leaks[index] = found
            count += 1
        if count != encoded.frames:
            raise ClipEncodeError(
                f"clip {encoded.path} decodes to {count} frames, not {encoded.frames}"
            )
        return leaks

    def _cover(
        self,
        frames: list[BufferedFrame],
        leaks: dict[int, npt.NDArray[np.float32]],
        *,
        whole: bool,
    ) -> int:
        obscured = 0
        for index, boxes in leaks.items():
            image = frames[index].to_bgr()
            if whole:
                obscured += self._blur.cover_all(image)
            else:
                obscured += self._blur.cover(image, boxes)
            frames[index] = _rebuffered(frames[index].captured_at, image)
        logger.info(
            "node %s: %d frames of a clip looked like faces after encoding; %s",
            self._node_id,
            len(leaks),
            "obscured whole" if whole else "blurred again",
        )
        return obscured


def _rebuffered(captured_at: float, image: npt.NDArray[np.uint8]) -> BufferedFrame:
    i420 = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)
    return BufferedFrame(captured_at=captured_at, i420=np.asarray(i420, np.uint8))


def _thinned(frames: list[BufferedFrame], max_fps: float) -> list[BufferedFrame]:
    """Frames at most `max_fps` a second (a frame at most 10 % early passes,
    so a 15 fps stream keeps every frame under a 15 fps cap)."""
    kept: list[BufferedFrame] = []
    gap_s = 0.9 / max_fps
    for frame in frames:
        if not kept or frame.captured_at - kept[-1].captured_at >= gap_s:
            kept.append(frame)
    return kept


def _frame_rate(frames: list[BufferedFrame]) -> float:
    """Average frames per second of a clip (10 when it cannot tell)."""
    if len(frames) < 2:
        return 10.0
    span_s = frames[-1].captured_at - frames[0].captured_at
    return (len(frames) - 1) / span_s if span_s > 0 else 10.0

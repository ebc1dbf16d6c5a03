"""The node's media stage: clip recorder, local clip folder and uploads to central.

How an event refers to its clip: the event's `start` is published at once,
before its clip exists (the clip needs `post_s` more seconds of video). The clip
goes to central by HTTP under the event's id (`PUT /api/v1/media/{event_id}/clip`)
and central links it to that event. The event's `end`, when the clip is made
by then, also names it in `media.clip` (sha256, central URL, duration).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

from edge.config import DecoderKind, MediaConfig, NodeConfig, SourceKind
from edge.ingest.packet_ring import PacketRing
from edge.media.clip import CONTENT_TYPE
from edge.media.faces import FaceBlur, FaceModelError
from edge.media.recorder import Clip, ClipRecorder, ClipRequest
from edge.media.store import LocalClipStore
from edge.media.uploader import MEDIA_PATH, MediaUploader, read_token
from edge.metrics import NodeMetrics
from edge.publish.uploads import UploadQueue, UploadQueueFullError
from edge.types import Frame
from gridwatch.contract import ClipRef, EventMessage, EventPhase, Media
from models.manifest import (
    ChecksumError,
    DownloadError,
    NotFoundError,
    resolve_model,
)

logger = logging.getLogger(__name__)

_REMEMBERED_CLIPS: Final = 512  # clip refs kept for the events' `end` messages


def require_face_model(name: str, models_dir: Path | None) -> Path:
    """Find the face model before anything starts (`FaceBlur.from_model` loads it).

    Raises:
        FaceModelError: it cannot be found: the node must not start, as its
            snapshots and clips would carry unblurred faces.
    """
    try:
        path = resolve_model(name, models_dir)
    except (NotFoundError, ChecksumError, DownloadError, OSError) as error:
        raise FaceModelError(
            f"face model {name} unavailable ({error}): refusing to start, no face "
            "may leave the node unblurred (get it with `gridwatch models fetch` "
            "or set models_dir)"
        ) from None
    return path


def clip_dir(config: NodeConfig) -> Path:
    """The local clip folder: `media.dir`, else `clips-<node>` beside the outbox."""
    if config.media.dir is not None:
        return config.media.dir
    return config.outbox.path.parent / f"clips-{config.node_id}"


@dataclass(frozen=True, slots=True)
class UploadChannel:
    """Where finished clips go when central is configured."""

    queue: UploadQueue
    uploader: MediaUploader
    central_url: str


class MediaPipeline:
    """Clips of event starts, kept locally and uploaded when central is set.

    Args:
        node_id: For log lines.
        config: The node's `media` section.
        cameras: Ids of the cameras to record.
        blur: Face blur for clip frames.
        store: The local clip folder.
        metrics: Clip and upload metrics.
        upload: Queue and uploader, or None to keep clips local only.
        packet_cameras: Cameras whose stream packets are kept, so that their
            clips play at the camera's full rate (the `pyav` source pushes its
            own; a camera with `detect_url` has its main stream read for them).
    """

    def __init__(
        self,
        *,
        node_id: str,
        config: MediaConfig,
        cameras: Iterable[str],
        blur: FaceBlur,
        store: LocalClipStore,
        metrics: NodeMetrics,
        upload: UploadChannel | None = None,
        packet_cameras: Iterable[str] = (),
    ) -> None:
        self._node_id = node_id
        self._store = store
        self._metrics = metrics
        self._upload = upload
        self._clips: OrderedDict[str, ClipRef] = OrderedDict()
        self._lock = threading.Lock()
        # A clip reaches back pre_s before its event and is written once post_s
        # passed; buffer_s covers the event's delay and the writer's queue.
        packet_age_s = config.pre_s + config.post_s + config.buffer_s
        self.recorder = ClipRecorder(
            cameras=cameras,
            config=config,
            blur=blur,
            store=store,
            on_clip=self._on_clip,
            metrics=metrics,
            node_id=node_id,
            packet_rings={
                camera_id: PacketRing(
                    max_age_s=packet_age_s,
                    max_bytes=int(config.packet_buffer_mb * 2**20),
                )
                for camera_id in packet_cameras
            },
        )

    @classmethod
    def from_config(
        cls,
        config: NodeConfig,
        *,
        metrics: NodeMetrics,
        face_blur: FaceBlur,
        client: httpx.Client | None = None,
    ) -> MediaPipeline | None:
        """The media stage of a node, or None when clips are off.

        Args:
            config: The node's config.
            metrics: The node's metrics.
            face_blur: The node's face blur (its detector is shared with the
                snapshots).
            client: HTTP client for uploads (tests); a new one when None.

        Raises:
            ConfigError: central's token cannot be read.
        """
        media = config.media
        if not media.clips:
            return None
        blur = face_blur.with_label(f"node {config.node_id} clips")
        central = config.central
        token = read_token(central) if central is not None else ""
        queue = (
            UploadQueue(
                config.outbox.path, media.max_pending_uploads, node_id=config.node_id
            )
            if central is not None
            else None
        )
        store = LocalClipStore(
            clip_dir(config),
            max_bytes=int(media.local_max_mb * 2**20),
            node_id=config.node_id,
            keep=queue.pending_paths if queue is not None else None,
        )
        upload = None
        if central is not None and queue is not None:
            uploader = MediaUploader(
                queue=queue,
                central=central,
                token=token,
                node_id=config.node_id,
                metrics=metrics,
                client=client,
                on_uploaded=lambda done: store.remove(done.path),
            )
            upload = UploadChannel(queue, uploader, central.url)
        return cls(
            node_id=config.node_id,
            config=media,
            cameras=[c.id for c in config.cameras if c.kind != SourceKind.SNAPSHOT],
            packet_cameras=[
                c.id
                for c in config.cameras
                if c.kind != SourceKind.SNAPSHOT
                and (c.decoder is DecoderKind.PYAV or c.detect_url is not None)
                and media.clip_frames == "stream"
            ],
            blur=blur,
            store=store,
            metrics=metrics,
            upload=upload,
        )

    @property
    def store(self) -> LocalClipStore:
        return self._store

    def start(self) -> None:
        if self._upload is not None:
            self._upload.uploader.start()
        self.recorder.start()

    def stop(self) -> None:
        """Finish collected clips, stop uploading (pending ones stay queued)."""
        self.recorder.stop()
        if self._upload is not None:
            self._upload.uploader.stop()
            self._upload.queue.close()

    @property
    def stages(self) -> dict[str, bool]:
        """Liveness of each thread, by name."""
        alive = {"clips": self.recorder.is_alive}
        if self._upload is not None:
            alive["media-upload"] = self._upload.uploader.is_alive
        return alive

    def packet_ring(self, camera_id: str) -> PacketRing | None:
        """Where the camera's source keeps its packets (None: not kept)."""
        return self.recorder.packet_ring(camera_id)

    def push(self, frame: Frame) -> None:
        """Buffer an analysed frame (analysis thread)."""
        self.recorder.push(frame)

    def on_event(self, event: EventMessage) -> EventMessage:
        """Start the clip of a `start`; name the finished clip in an `end`."""
        if event.phase is EventPhase.START:
            self.recorder.request(
                ClipRequest(
                    event_id=event.event_id,
                    camera_id=event.camera_id,
                    at=event.detected_at.timestamp(),
                )
            )
            return event
        if event.phase is EventPhase.END and event.media.clip is None:
            with self._lock:
                ref = self._clips.get(event.event_id)
            if ref is not None:
                media = Media(snapshot=event.media.snapshot, clip=ref)
                return event.model_copy(update={"media": media})
        return event

    def _on_clip(self, clip: Clip) -> None:
        """A clip is written: remember it, queue its upload, keep the folder small."""
        if self._upload is not None:
            self._remember(clip, self._upload.central_url)
            self._queue_upload(clip, self._upload)
        self._store.prune()

    def _remember(self, clip: Clip, central_url: str) -> None:
        ref = ClipRef(
            sha256=clip.file.sha256,
            url=f"{central_url.rstrip('/')}{MEDIA_PATH}/{clip.file.sha256}",
            duration_s=clip.file.duration_s,
        )
        with self._lock:
            self._clips[clip.event_id] = ref
            while len(self._clips) > _REMEMBERED_CLIPS:
                self._clips.popitem(last=False)

    def _queue_upload(self, clip: Clip, upload: UploadChannel) -> None:
        try:
            upload.queue.put(
                event_id=clip.event_id,
                kind="clip",
                path=clip.file.path,
                sha256=clip.file.sha256,
                size=clip.file.size,
                content_type=CONTENT_TYPE,
            )
        except UploadQueueFullError as error:
            self._metrics.uploads_failed.inc()
            logger.error("node %s: %s; the clip stays local", self._node_id, error)
            return
        self._metrics.uploads_pending.set(upload.queue.depth())
        upload.uploader.wake()

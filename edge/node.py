"""Edge node supervisor: starts stages in dependency order, stops them in reverse."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from edge.config import NodeConfig
from edge.http import (
    HttpServer,
    PushUnauthorizedError,
    UnknownCameraError,
    build_app,
    read_monitor_token,
)
from edge.infer.base import BatchDetector
from edge.ingest import (
    FrameSource,
    FreshestFrameSlot,
    PyAvSource,
    SnapshotSource,
    build_source,
)
from edge.ingest.base import RateMeter
from edge.ingest.recording import RecordingStreamReader
from edge.media.stage import MediaPipeline
from edge.metrics import NodeMetrics
from edge.pipeline.analysis import AnalysisStage, CameraAnalyser
from edge.pipeline.batcher import FrameBatcher
from edge.pipeline.event_stage import EventStage
from edge.pipeline.runner import DetectedFrame, InferenceRunner
from edge.publish.base import Publisher
from edge.verify_mqtt import CameraChecks
from edge.verify_state import WatchedPublisher, watch_analysers
from gridwatch.contract import (
    CameraHealth,
    CameraStatusMessage,
    OccupancyMessage,
    Topics,
)

logger = logging.getLogger(__name__)

ANALYSIS_QUEUE_SIZE = 64
SOURCE_STOP_S = 10.0
# /healthz says degraded for this long after the outbox refused an event.
REFUSALS_DEGRADE_S = 300.0


def _utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


class EdgeNode:
    """One process serving many cameras: sources → batcher → detector → analysis → MQTT.

    Args:
        config: Validated node config.
        detectors: One loaded detector per inference worker (each its own
            onnxruntime session); the first one names the model.
        publisher: Outbound channel (MQTT with a durable outbox in production).
        analysers: One analyser per camera id (tracking, rules, events).
        closers: Called after the publisher stopped (e.g. close its outbox).
        media: Event clips (ring buffers, writer, uploads), or None for none.
        metrics: The node's metrics (shared with `media`); new ones when None.
        camera_checks: Answers central's camera checks after a resolution
            (`edge.verify`), or None for none.
    """

    def __init__(
        self,
        *,
        config: NodeConfig,
        detectors: Sequence[BatchDetector],
        publisher: Publisher,
        analysers: dict[str, CameraAnalyser],
        closers: Sequence[Callable[[], None]] = (),
        media: MediaPipeline | None = None,
        metrics: NodeMetrics | None = None,
        camera_checks: CameraChecks | None = None,
    ) -> None:
        self.config = config
        self.camera_checks = camera_checks
        if camera_checks is not None:
            # The checks see every analysed frame and every event stored.
            analysers = watch_analysers(analysers, camera_checks.frames)
            publisher = WatchedPublisher(publisher, camera_checks.episodes)
        self.metrics = metrics or NodeMetrics()
        self.media = media
        self.topics = Topics(config.broker.topic_prefix)
        if not detectors:
            raise ValueError("an edge node needs at least one detector")
        self._detector = detectors[0]
        self._publisher = publisher
        self._closers = list(closers)
        self._stop = threading.Event()
        self._notify = threading.Condition()
        self.slots = {
            c.id: FreshestFrameSlot(c.id, self._notify) for c in config.cameras
        }
        self.sources: dict[str, FrameSource] = {
            c.id: build_source(c, self.slots[c.id]) for c in config.cameras
        }
        # Clips from packets: a camera analysed on its sub-stream has its main
        # stream read for them; a pyav camera keeps those of what it decodes.
        self.recordings: dict[str, RecordingStreamReader] = {}
        for camera in config.cameras:
            ring = media.packet_ring(camera.id) if media is not None else None
            if ring is None:
                continue
            source = self.sources[camera.id]
            if camera.detect_url is not None:
                self.recordings[camera.id] = RecordingStreamReader(camera, ring)
            elif isinstance(source, PyAvSource):
                source.packet_ring = ring
        self.fps_analysed = {c.id: RateMeter() for c in config.cameras}
        self._analysis_queue: queue.Queue[DetectedFrame] = queue.Queue(
            ANALYSIS_QUEUE_SIZE
        )
        self.batcher = FrameBatcher(
            slots=self.slots,
            analysis_interval_s={c.id: 1.0 / c.analysis_fps for c in config.cameras},
            notify=self._notify,
            max_batch=config.batch.max_batch,
            max_wait_ms=config.batch.max_wait_ms,
        )
        self.runners = [
            InferenceRunner(
                batcher=self.batcher,
                detector=worker_detector,
                output=self._analysis_queue,
                metrics=self.metrics,
                stop=self._stop,
            )
            for worker_detector in detectors
        ]
        self.events = EventStage(
            publisher=publisher,
            node_id=config.node_id,
            metrics=self.metrics,
            media=media,
        )
        self.analysis = AnalysisStage(
            analysers=analysers,
            inbox=self._analysis_queue,
            events=self.events,
            node_id=config.node_id,
            metrics=self.metrics,
            fps_analysed=self.fps_analysed,
            stop=self._stop,
            frame_sink=media.push if media is not None else None,
        )
        self._status_thread: threading.Thread | None = None
        self._last_health: dict[str, CameraHealth] = {}
        self.http: HttpServer | None = None
        # Read now: a missing or short token stops the node before anything runs.
        self._monitor_token = read_monitor_token(config.http)

    @property
    def registry(self) -> CollectorRegistry:
        return self.metrics.registry

    def start(self) -> None:
        """Start every stage; on failure, stop what started and re-raise."""
        logger.info(
            "node %s: starting %d cameras, model %s, max batch %d, %d workers",
            self.config.node_id,
            len(self.sources),
            self._detector.name,
            self.config.batch.max_batch,
            len(self.runners),
        )
        try:
            # Bind the port first: a port in use fails before anything runs.
            self.http = HttpServer(
                build_app(self, monitor_token=self._monitor_token),
                self.config.http.host,
                self.config.http.port,
                self.config.http.tls,
            )
            self._publisher.start()
            if self.media is not None:
                self.media.start()
            self.events.start()
            self.analysis.start()
            for index, runner in enumerate(self.runners):
                runner.start(name=f"inference-{index}")
            for source in self.sources.values():
                source.start()
            for recording in self.recordings.values():
                recording.start()
            self.http.start()
            if self.camera_checks is not None:
                self.camera_checks.start()
            self._status_thread = threading.Thread(
                target=self._status_loop, name="status", daemon=True
            )
            self._status_thread.start()
        except Exception:
            logger.exception("node %s: start failed", self.config.node_id)
            self.stop()
            raise

    def stop(self) -> None:
        """Stop in reverse order; open episodes end and are delivered if possible."""
        logger.info("node %s: stopping", self.config.node_id)
        deadline = time.monotonic() + SOURCE_STOP_S
        self._stop.set()
        for source in self.sources.values():
            source.request_stop()
        for recording in self.recordings.values():
            recording.request_stop()
        with self._notify:
            self._notify.notify_all()
        if self.http is not None:
            self.http.stop()
        if self.camera_checks is not None:
            self.camera_checks.stop()
        for runner in self.runners:
            runner.join()
        self.analysis.join()
        self.events.stop()
        if self.media is not None:
            self.media.stop()  # finishes collected clips; uploads stay queued
        if self._status_thread is not None:
            self._status_thread.join(5)
        self._publisher.stop()
        for close in self._closers:
            close()
        for source in self.sources.values():
            source.join(deadline - time.monotonic())
        for recording in self.recordings.values():
            recording.join(deadline - time.monotonic())
        logger.info("node %s: stopped", self.config.node_id)

    def request_stop(self) -> None:
        """Ask `wait` to return (safe from a signal handler)."""
        self._stop.set()

    @property
    def http_url(self) -> str:
        return self.http.url if self.http is not None else ""

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until stop() is called or the timeout passes; True if stopped."""
        return self._stop.wait(timeout_s)

    # --- status and occupancy -------------------------------------------------

    def _status_loop(self) -> None:
        next_status = 0.0
        next_occupancy = 0.0
        while not self._stop.wait(0.25):
            # Schedules on the monotonic clock: a wall-clock step must not stall them.
            tick = time.monotonic()
            try:
                changed = self._update_camera_health(time.time())
                if tick >= next_status or changed:
                    self._publish_camera_statuses(time.time())
                    next_status = tick + self.config.status_interval_s
                if tick >= next_occupancy:
                    self._publish_occupancy()
                    next_occupancy = tick + self.config.occupancy_interval_s
            except Exception:  # status must keep flowing whatever one round did
                logger.exception("node %s: status round failed", self.config.node_id)

    def _update_camera_health(self, now: float) -> bool:
        changed = False
        for camera_id, source in self.sources.items():
            health = source.state(now).health
            if self._last_health.get(camera_id) != health:
                if health == CameraHealth.OFFLINE and camera_id in self._last_health:
                    self.analysis.close_camera(camera_id)
                logger.info(
                    "node %s: camera %s is %s", self.config.node_id, camera_id, health
                )
                self._last_health[camera_id] = health
                if self.camera_checks is not None:
                    self.camera_checks.note_health(camera_id, health, now)
                changed = True
        return changed

    def _camera_status(self, camera_id: str, now: float) -> CameraStatusMessage:
        state = self.sources[camera_id].state(now)
        return CameraStatusMessage(
            node_id=self.config.node_id,
            camera_id=camera_id,
            health=state.health,
            fps_in=round(state.fps_in, 2),
            fps_analysed=round(self.fps_analysed[camera_id].rate(now), 2),
            last_frame_at=_utc(state.last_frame_at),
            reconnects=state.reconnects,
            error=state.error[:2000] if state.error else None,
        )

    def _publish_camera_statuses(self, now: float) -> None:
        for camera_id, source in self.sources.items():
            status = self._camera_status(camera_id, now)
            self._publisher.publish_state(
                self.topics.camera_status(self.config.node_id, camera_id),
                status.to_json().encode(),
            )
            self._export_camera_metrics(camera_id, source, status)
        stats = self._publisher.stats()
        self.metrics.outbox_depth.set(stats.outbox_depth)
        self.metrics.outbox_bytes.set(stats.outbox_bytes)
        self.metrics.events_refused.set(stats.refused)
        self.metrics.mqtt_reconnects.set(stats.reconnects)

    def _export_camera_metrics(
        self, camera_id: str, source: FrameSource, status: CameraStatusMessage
    ) -> None:
        m = self.metrics
        m.fps_in.labels(camera_id).set(status.fps_in)
        m.fps_analysed.labels(camera_id).set(status.fps_analysed)
        m.frames_dropped.labels(camera_id).set(
            source.frames_decoded - self.analysis.frames_analysed(camera_id)
        )
        m.reconnects.labels(camera_id).set(status.reconnects)
        m.camera_online.labels(camera_id).set(
            {CameraHealth.ONLINE: 1.0, CameraHealth.STALLED: 0.5}.get(
                status.health, 0.0
            )
        )

    def _publish_occupancy(self) -> None:
        for camera_id, (at, zones) in self.analysis.latest_occupancy().items():
            message = OccupancyMessage(
                node_id=self.config.node_id,
                camera_id=camera_id,
                at=datetime.fromtimestamp(at, UTC),
                zones=zones,
            )
            self._publisher.publish_transient(
                self.topics.occupancy(self.config.node_id, camera_id),
                message.to_json().encode(),
            )

    # --- NodeHttpApi ----------------------------------------------------------

    def health(self) -> tuple[bool, dict[str, Any]]:
        now = time.time()
        cameras = {
            cid: self._camera_status(cid, now).model_dump(mode="json", by_alias=True)
            for cid in self.sources
        }
        dead = self._dead_stages()
        publisher = self._publisher.stats()
        refused_lately = (
            publisher.last_refused_at is not None
            and now - publisher.last_refused_at < REFUSALS_DEGRADE_S
        )
        healthy = not self._stop.is_set() and not dead and not refused_lately
        if dead:
            status = f"stages down: {', '.join(dead)}"
        elif self._stop.is_set():
            status = "stopping"
        elif refused_lately:
            status = (
                f"degraded: outbox full, {publisher.refused} events not stored "
                "since start"
            )
        else:
            status = "ok"
        return healthy, {
            "node_id": self.config.node_id,
            "status": status,
            "model": self._detector.name,
            "outbox_depth": publisher.outbox_depth,
            "outbox_bytes": publisher.outbox_bytes,
            "events_refused": publisher.refused,
            "cameras": cameras,
        }

    def _dead_stages(self) -> list[str]:
        stages = {"analysis": self.analysis.is_alive, "events": self.events.is_alive}
        if self.media is not None:
            stages.update(self.media.stages)
        if self.camera_checks is not None:
            stages["camera-checks"] = self.camera_checks.checker.is_alive
        stages.update(
            {f"inference-{i}": r.is_alive for i, r in enumerate(self.runners)}
        )
        return [name for name, is_alive in stages.items() if not is_alive]

    def authorize_push(self, camera_id: str, authorization: str | None) -> None:
        source = self.sources.get(camera_id)
        if not isinstance(source, SnapshotSource):
            raise UnknownCameraError(camera_id)
        if not source.accepts(authorization):
            raise PushUnauthorizedError(camera_id)

    def push_snapshot(
        self,
        camera_id: str,
        jpeg: bytes,
        checkpoint_id: str | None,
        captured_at: datetime | None,
    ) -> None:
        source = self.sources.get(camera_id)
        if not isinstance(source, SnapshotSource):
            raise UnknownCameraError(camera_id)
        source.push(jpeg, checkpoint_id, captured_at)

"""Analysis stage: per camera, tracking → rules; events go on to the event stage."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from edge.ingest.base import RateMeter
from edge.metrics import NodeMetrics
from edge.pipeline.event_stage import EventStage, EventThunk
from edge.pipeline.runner import DetectedFrame
from edge.types import Detections, Frame
from gridwatch.contract import EventMessage

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AnalysisOutput:
    """What one analysed frame produced; events are built later, off this thread."""

    events: list[EventThunk] = field(default_factory=list)
    occupancy: dict[str, dict[str, int]] = field(default_factory=dict)


class CameraAnalyser(Protocol):
    """Turns one camera's detected frames into events (stateful, time-ordered)."""

    def analyse(self, frame: Frame, detections: Detections) -> AnalysisOutput: ...

    def close(self, timestamp: float) -> list[EventMessage]: ...


def _built(event: EventMessage) -> EventMessage:
    return event


class AnalysisStage:
    """One thread draining the detector's output through each camera's analyser."""

    def __init__(
        self,
        *,
        analysers: Mapping[str, CameraAnalyser],
        inbox: queue.Queue[DetectedFrame],
        events: EventStage,
        node_id: str,
        metrics: NodeMetrics,
        fps_analysed: Mapping[str, RateMeter],
        stop: threading.Event,
        frame_sink: Callable[[Frame], None] | None = None,
    ) -> None:
        self._analysers = dict(analysers)
        # Every analysed frame also goes here (the clip ring buffers); it must
        # be quick: it runs on this thread, shared by every camera.
        self._frame_sink = frame_sink
        self._inbox = inbox
        self._events = events
        self._node_id = node_id
        self._metrics = metrics
        self._fps_analysed = fps_analysed
        self._stop = stop
        self._thread: threading.Thread | None = None
        self._occupancy: dict[str, tuple[float, dict[str, dict[str, int]]]] = {}
        self._analysed: dict[str, int] = dict.fromkeys(analysers, 0)
        self._lock = threading.Lock()
        self._to_close: set[str] = set()
        self.latencies_ms: list[float] = []
        self.keep_latencies = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="analysis", daemon=True)
        self._thread.start()

    def join(self, timeout_s: float = 5.0) -> None:
        """Wait for the thread, then end every open episode (rules are not
        thread-safe, so only once the thread has really ended)."""
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                logger.error("node %s: analysis did not stop in time", self._node_id)
                return
        self._close_all()

    @property
    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def frames_analysed(self, camera_id: str) -> int:
        return self._analysed.get(camera_id, 0)

    def latest_occupancy(self) -> dict[str, tuple[float, dict[str, dict[str, int]]]]:
        with self._lock:
            return dict(self._occupancy)

    def close_camera(self, camera_id: str) -> None:
        """End the camera's open episodes (it went offline); runs on this thread."""
        with self._lock:
            self._to_close.add(camera_id)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._close_requested()
            try:
                item = self._inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self._analyse(item)
            except Exception:  # one bad frame must not stop the stage
                logger.exception(
                    "node %s: camera %s: analysis failed on frame %d",
                    self._node_id,
                    item.frame.camera_id,
                    item.frame.index,
                )

    def _analyse(self, item: DetectedFrame) -> None:
        frame = item.frame
        analyser = self._analysers[frame.camera_id]
        output = analyser.analyse(frame, item.detections)
        for build in output.events:
            self._events.submit(build)
        now = time.time()
        self._fps_analysed[frame.camera_id].tick(now)
        self._analysed[frame.camera_id] += 1
        latency_ms = (now - frame.captured_at) * 1000.0
        self._metrics.frame_latency_ms.observe(latency_ms)
        if self.keep_latencies:
            self.latencies_ms.append(latency_ms)
        if output.occupancy:
            with self._lock:
                self._occupancy[frame.camera_id] = (frame.captured_at, output.occupancy)
        self._sink(frame)

    def _sink(self, frame: Frame) -> None:
        if self._frame_sink is None:
            return
        try:
            self._frame_sink(frame)
        except Exception:  # clips are secondary: analysis goes on
            logger.exception(
                "node %s: camera %s: frame %d not buffered for clips",
                self._node_id,
                frame.camera_id,
                frame.index,
            )

    def _close_requested(self) -> None:
        with self._lock:
            cameras, self._to_close = self._to_close, set()
        for camera_id in cameras:
            self._close(camera_id, self._analysers[camera_id], time.time())

    def _close_all(self) -> None:
        now = time.time()
        for camera_id, analyser in self._analysers.items():
            self._close(camera_id, analyser, now)

    def _close(self, camera_id: str, analyser: CameraAnalyser, now: float) -> None:
        # Ends go through the event queue too, so they follow their starts.
        try:
            for event in analyser.close(now):
                self._events.submit(partial(_built, event))
        except Exception:
            logger.exception(
                "node %s: camera %s: close failed", self._node_id, camera_id
            )

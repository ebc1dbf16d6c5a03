"""Inference stage: one detector call per batch, results handed to analysis."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

from edge.infer.base import BatchDetector
from edge.metrics import NodeMetrics
from edge.pipeline.batcher import FrameBatcher
from edge.types import Detections, Frame

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DetectedFrame:
    """A frame with the detector's boxes, on its way to analysis."""

    frame: Frame
    detections: Detections


class InferenceRunner:
    """Loops: next batch → detector → bounded analysis queue (drops when full)."""

    def __init__(
        self,
        *,
        batcher: FrameBatcher,
        detector: BatchDetector,
        output: queue.Queue[DetectedFrame],
        metrics: NodeMetrics,
        stop: threading.Event,
    ) -> None:
        self._batcher = batcher
        self._detector = detector
        self._output = output
        self._metrics = metrics
        self._stop = stop
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.frames = 0
        self.busy_s = 0.0

    def start(self, name: str = "inference") -> None:
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout_s: float = 5.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._batcher.next_batch(self._stop)
            if not batch:
                continue
            try:
                self._infer(batch)
            except Exception:  # one bad batch must not stop the node
                logger.exception(
                    "inference failed for cameras %s", [f.camera_id for f in batch]
                )
            finally:
                self._batcher.release(batch)

    def _infer(self, batch: list[Frame]) -> None:
        started = time.perf_counter()
        results = self._detector.detect_batch([f.image for f in batch])
        elapsed_s = time.perf_counter() - started
        self.busy_s += elapsed_s
        self.batches += 1
        self.frames += len(batch)
        self._metrics.inference_ms.observe(elapsed_s * 1000.0)
        self._metrics.batch_size.observe(len(batch))
        for frame, detections in zip(batch, results, strict=True):
            try:
                self._output.put_nowait(
                    DetectedFrame(frame=frame, detections=detections)
                )
            except queue.Full:
                self._metrics.post_dropped.inc()

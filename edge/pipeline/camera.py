"""The per-camera analyser: tracker → rules → event messages."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from edge.events.builder import EventBuilder
from edge.pipeline.analysis import AnalysisOutput
from edge.pipeline.events import EventThunk
from edge.rules.engine import CameraRules
from edge.track.bytetrack import ObjectTracker
from edge.types import Detections, Frame
from gridwatch.contract import EventMessage


class TrackedRulesAnalyser:
    """Tracks one camera's detections and runs its zone rules.

    Not thread-safe: the analysis stage feeds each camera from one thread.
    """

    def __init__(
        self,
        *,
        tracker: ObjectTracker,
        rules: CameraRules,
        builder: EventBuilder,
        labels: Sequence[str],
    ) -> None:
        self._tracker = tracker
        self._rules = rules
        self._builder = builder
        self._labels = tuple(labels)

    def analyse(self, frame: Frame, detections: Detections) -> AnalysisOutput:
        tracked = self._tracker.update(detections, timestamp=frame.captured_at)
        result = self._rules.update(frame, tracked, self._labels)
        events: list[EventThunk] = [
            partial(
                self._builder.build,
                signal,
                frame=frame,
                detections=tracked,
                labels=self._labels,
            )
            for signal in result.signals
        ]
        return AnalysisOutput(events=events, occupancy=result.occupancy_zones())

    def close(self, timestamp: float) -> list[EventMessage]:
        self._tracker.reset()
        return [self._builder.build(signal) for signal in self._rules.close(timestamp)]

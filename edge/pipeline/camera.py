"""The per-camera analyser: tracker → pose (fall zones) → rules → event messages."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial

import numpy as np
from pydantic import BaseModel

from edge.config import CameraConfig, FallRuleConfig
from edge.events.builder import EventBuilder
from edge.pipeline.analysis import AnalysisOutput
from edge.pipeline.events import EventThunk
from edge.pose.movenet import PoseModels
from edge.pose.stage import PoseSettings, PoseStage
from edge.pose.types import PersonPoses
from edge.rules.engine import CameraRules
from edge.rules.zones import Zone
from edge.track.bytetrack import ObjectTracker
from edge.types import Detections, Frame
from gridwatch.contract import EventMessage

logger = logging.getLogger(__name__)


class TrackedRulesAnalyser:
    """Tracks one camera's detections, estimates poses and runs its zone rules.

    Not thread-safe: the analysis stage feeds each camera from one thread.
    """

    def __init__(
        self,
        *,
        tracker: ObjectTracker,
        rules: CameraRules,
        builder: EventBuilder,
        labels: Sequence[str],
        pose: PoseStage | None = None,
    ) -> None:
        """Wire the stages of one camera.

        Args:
            tracker: The camera's tracker.
            rules: The camera's zone rules.
            builder: Builds the camera's event messages.
            labels: Model label names indexed by `class_id`.
            pose: Pose stage, for cameras with a fall rule; None costs nothing.
        """
        self._tracker = tracker
        self._rules = rules
        self._builder = builder
        self._labels = tuple(labels)
        self._pose = pose

    def analyse(self, frame: Frame, detections: Detections) -> AnalysisOutput:
        tracked = self._tracker.update(detections, timestamp=frame.captured_at)
        poses = self._estimate_poses(frame, tracked)
        result = self._rules.update(frame, tracked, self._labels, poses=poses)
        events: list[EventThunk] = [
            partial(
                self._builder.build,
                signal,
                frame=frame,
                # Held persons (lost by the detector, found by pose) are in the
                # picture too: their heads must be blurred like everyone's.
                detections=_with_held(tracked, poses),
                labels=self._labels,
            )
            for signal in result.signals
        ]
        return AnalysisOutput(events=events, occupancy=result.occupancy_zones())

    def close(self, timestamp: float) -> list[EventMessage]:
        self._tracker.reset()
        if self._pose is not None:
            self._pose.reset()
        return [self._builder.build(signal) for signal in self._rules.close(timestamp)]

    def _estimate_poses(self, frame: Frame, tracked: Detections) -> PersonPoses | None:
        if self._pose is None:
            return None
        # A failing pose run must not stop the other rules: without poses the
        # fall rule falls back to box geometry for this frame.
        try:
            return self._pose.update(frame, tracked, self._labels)
        except Exception:
            logger.exception(
                "camera %s: pose estimation failed on frame %d",
                frame.camera_id,
                frame.index,
            )
            return None


def build_pose_stage(camera: CameraConfig, *, models: PoseModels) -> PoseStage | None:
    """The pose stage of a camera's fall zones; None when it has no fall rule.

    Raises:
        ValueError: The camera's fall rules name different pose models.
        LookupError, OSError: The pose model cannot be found (see `PoseModels`).
    """
    zones: list[Zone] = []
    falls: list[FallRuleConfig] = []
    for zone in camera.zones:
        configs: list[BaseModel] = list(zone.rules)
        rules = [rule for rule in configs if isinstance(rule, FallRuleConfig)]
        if rules:
            zones.append(Zone.from_points(zone.id, zone.polygon_norm))
            falls.extend(rules)
    if not falls:
        return None
    names = sorted({rule.pose_model for rule in falls})
    if len(names) > 1:
        raise ValueError(
            f"camera {camera.id!r}: its fall rules name different pose models "
            f"{names}; use one per camera"
        )
    return PoseStage(
        camera_id=camera.id,
        zones=zones,
        labels={label for rule in falls for label in rule.labels},
        estimator=models.get(names[0]),
        settings=PoseSettings(
            min_keypoint_score=min(rule.min_keypoint_score for rule in falls)
        ),
    )


def _with_held(tracked: Detections, poses: PersonPoses | None) -> Detections:
    if poses is None or not np.any(poses.is_held):
        return tracked
    held = poses.persons.filter(poses.is_held)
    return Detections(
        xyxy=np.concatenate([tracked.xyxy, held.xyxy]),
        confidence=np.concatenate([tracked.confidence, held.confidence]),
        class_id=np.concatenate([tracked.class_id, held.class_id]),
        tracker_id=np.concatenate([tracked.tracker_id, held.tracker_id]),
    )

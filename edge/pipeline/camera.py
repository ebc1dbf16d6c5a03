"""The per-camera analysis path (tracker → pose → rules) and the node's analyser,
which adds event building."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from edge.config import CameraConfig
from edge.events.builder import EventBuilder
from edge.pipeline.analysis import AnalysisOutput
from edge.pipeline.event_stage import EventThunk
from edge.pipeline.object_filter import ObjectFilter
from edge.pose.movenet import PoseModels
from edge.pose.stage import PoseSettings, PoseStage
from edge.pose.types import PersonPoses
from edge.rules.base import RuleSignal
from edge.rules.engine import CameraRules, RulesResult
from edge.rules.fall import FallRuleConfig
from edge.track.bytetrack import ObjectTracker
from edge.types import Detections, Frame
from edge.zones import Zone
from gridwatch.contract import EventMessage

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CameraStep:
    """What one frame did to a camera's analysis path.

    Attributes:
        tracked: The tracked detections.
        poses: Estimated poses (cameras with a fall rule), else None.
        rules: Signals and zone occupancy from the zone rules.
    """

    tracked: Detections
    poses: PersonPoses | None
    rules: RulesResult


class CameraAnalysis:
    """The node's analysis path of one camera: tracker → pose (fall zones) → rules.

    Event building is not part of it, so an in-process check can run exactly
    this path on a clip. Not thread-safe: one thread feeds each camera.
    """

    def __init__(
        self,
        *,
        tracker: ObjectTracker,
        rules: CameraRules,
        labels: Sequence[str],
        pose: PoseStage | None = None,
        object_filter: ObjectFilter | None = None,
    ) -> None:
        """Wire the stages of one camera.

        Args:
            tracker: The camera's tracker.
            rules: The camera's zone rules.
            labels: Model label names indexed by `class_id`.
            pose: Pose stage, for cameras with a fall rule; None costs nothing.
            object_filter: The camera's `objects.filters`, applied before
                tracking; None keeps every detection.
        """
        self._tracker = tracker
        self._rules = rules
        self.labels = tuple(labels)
        self._pose = pose
        self._filter = object_filter or ObjectFilter.none()

    @classmethod
    def from_camera(
        cls, camera: CameraConfig, *, labels: Sequence[str], pose_models: PoseModels
    ) -> CameraAnalysis:
        """The camera's tracker, zone rules and (with a fall rule) pose stage.

        Raises:
            ValueError: The camera's fall rules name different pose models;
                `ConfigError` (a ValueError) when an object filter names a
                label the model does not have.
            LookupError, OSError: The pose model cannot be found.
        """
        return cls(
            tracker=ObjectTracker.from_camera(camera),
            rules=CameraRules.from_config(camera),
            labels=labels,
            pose=build_pose_stage(camera, models=pose_models),
            object_filter=ObjectFilter.from_camera(camera, labels=labels),
        )

    def step(self, frame: Frame, detections: Detections) -> CameraStep:
        # Filtered boxes never reach the tracker: a masked "person" on a poster
        # must not open a track that pose, rules or snapshots would then see.
        detections = self._filter.apply(detections, frame.resolution_wh)
        tracked = self._tracker.update(detections, timestamp=frame.captured_at)
        poses = self._estimate_poses(frame, tracked)
        result = self._rules.update(frame, tracked, self.labels, poses=poses)
        return CameraStep(tracked=tracked, poses=poses, rules=result)

    def close(self, timestamp: float) -> list[RuleSignal]:
        """Forget the tracks and end every open episode."""
        self._tracker.reset()
        if self._pose is not None:
            self._pose.reset()
        return self._rules.close(timestamp)

    def _estimate_poses(self, frame: Frame, tracked: Detections) -> PersonPoses | None:
        if self._pose is None:
            return None
        # A failing pose run must not stop the other rules: without poses the
        # fall rule falls back to box geometry for this frame.
        try:
            return self._pose.update(frame, tracked, self.labels)
        except Exception:
            logger.exception(
                "camera %s: pose estimation failed on frame %d",
                frame.camera_id,
                frame.index,
            )
            return None


class TrackedRulesAnalyser:
    """A camera's analysis path plus its event builder: frames in, events out.

    Not thread-safe: the analysis stage feeds each camera from one thread.
    """

    def __init__(self, analysis: CameraAnalysis, builder: EventBuilder) -> None:
        self._analysis = analysis
        self._builder = builder

    def analyse(self, frame: Frame, detections: Detections) -> AnalysisOutput:
        step = self._analysis.step(frame, detections)
        labels = self._analysis.labels
        events: list[EventThunk] = [
            partial(
                self._builder.build,
                signal,
                frame=frame,
                # Held persons (lost by the detector, found by pose) are in the
                # picture too: their heads must be blurred like everyone's.
                detections=_with_held(step.tracked, step.poses),
                labels=labels,
            )
            for signal in step.rules.signals
        ]
        return AnalysisOutput(events=events, occupancy=step.rules.occupancy_zones())

    def close(self, timestamp: float) -> list[EventMessage]:
        return [
            self._builder.build(signal) for signal in self._analysis.close(timestamp)
        ]


def build_pose_stage(camera: CameraConfig, *, models: PoseModels) -> PoseStage | None:
    """The pose stage of a camera's fall zones; None when it has no fall rule.

    Raises:
        ValueError: The camera's fall rules name different pose models.
        LookupError, OSError: The pose model cannot be found (see `PoseModels`).
    """
    zones: list[Zone] = []
    falls: list[FallRuleConfig] = []
    for zone in camera.zones:
        rules = [rule for rule in zone.rules if isinstance(rule, FallRuleConfig)]
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

"""Per-camera rule engine: zone membership once per zone, then every rule of it."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edge.config import CameraConfig
from edge.rules.base import Rule, RuleScope, RuleSignal, ZoneObservation
from edge.rules.pixels import PixelsCache
from edge.rules.registry import build_rule
from edge.types import Detections, Frame
from edge.zones import Zone, anchors_norm

if TYPE_CHECKING:  # edge.pose imports edge.zones
    from edge.pose.types import PersonPoses

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, eq=False)
class RulesResult:
    """What the rules decided for one analysed frame.

    Attributes:
        timestamp: Capture time of the frame, UNIX seconds.
        signals: Event decisions (start/update/end), in zone then rule order.
        occupancy: Zone id -> label -> count, for zones with an occupancy rule;
            the shape of `OccupancyMessage.zones`.
    """

    timestamp: float
    signals: tuple[RuleSignal, ...]
    occupancy: Mapping[str, Mapping[str, int]]

    def occupancy_zones(self) -> dict[str, dict[str, int]]:
        """A plain copy of `occupancy` for `OccupancyMessage(zones=...)`."""
        return {zone: dict(counts) for zone, counts in self.occupancy.items()}


@dataclass(frozen=True, slots=True, eq=False)
class ZoneRules:
    """One zone and the rule instances evaluated on it."""

    zone: Zone
    rules: tuple[Rule, ...]


class CameraRules:
    """Evaluates all zones and rules of one camera per analysed frame.

    Not thread-safe: feed one camera's frames from one thread, in time order.
    """

    def __init__(self, camera_id: str, zones: Sequence[ZoneRules]) -> None:
        self.camera_id = camera_id
        self._zones = tuple(z for z in zones if z.rules)
        uses_pixels = any(r.uses_pixels for z in self._zones for r in z.rules)
        self._pixels = PixelsCache() if uses_pixels else None

    @classmethod
    def from_config(cls, camera: CameraConfig) -> CameraRules:
        """Build zones and rule plug-ins from a camera config.

        Raises:
            ValueError: A rule type has no plug-in.
        """
        zones = [
            ZoneRules(
                zone=Zone.from_points(zone.id, zone.polygon_norm),
                rules=tuple(
                    build_rule(rule, scope=RuleScope(camera.id, zone.id, index))
                    for index, rule in enumerate(zone.rules)
                ),
            )
            for zone in camera.zones
        ]
        logger.info(
            "camera %s: %d zones with %d rules",
            camera.id,
            len(zones),
            sum(len(z.rules) for z in zones),
        )
        return cls(camera.id, zones)

    @property
    def zone_ids(self) -> tuple[str, ...]:
        return tuple(z.zone.zone_id for z in self._zones)

    def update(
        self,
        frame: Frame,
        detections: Detections,
        labels: Sequence[str],
        *,
        poses: PersonPoses | None = None,
    ) -> RulesResult:
        """Evaluate every rule on one analysed frame.

        Args:
            frame: The analysed frame (its time and size; its pixels only when a
                rule models pixels).
            detections: Tracked detections of the frame, in pixels.
            labels: Model label names indexed by `class_id`.
            poses: The camera's pose estimates, when it runs a pose stage; each
                zone's observation gets the persons whose box is in the zone.

        Returns:
            Signals and current occupancy.

        Raises:
            ValueError: The frame belongs to another camera.
        """
        if frame.camera_id != self.camera_id:
            raise ValueError(
                f"frame of camera {frame.camera_id!r} given to the rules of "
                f"camera {self.camera_id!r}"
            )
        label_tuple = labels if isinstance(labels, tuple) else tuple(labels)
        signals: list[RuleSignal] = []
        occupancy: dict[str, dict[str, int]] = {}
        anchors = anchors_norm(detections, frame.resolution_wh)
        if self._pixels is not None:
            self._pixels.start_frame(frame.image)
        for zone_rules in self._zones:
            inside = zone_rules.zone.contains_anchors(anchors)
            obs = ZoneObservation(
                camera_id=self.camera_id,
                zone_id=zone_rules.zone.zone_id,
                timestamp=frame.captured_at,
                resolution_wh=frame.resolution_wh,
                detections=detections.filter(inside),
                labels=label_tuple,
                poses=_poses_in(zone_rules.zone, poses, frame.resolution_wh),
                pixels=(
                    self._pixels.for_zone(zone_rules.zone, detections)
                    if self._pixels is not None
                    else None
                ),
            )
            for rule in zone_rules.rules:
                signals.extend(self._run_rule(rule, obs, frame.index))
                counts = rule.occupancy()
                if counts is not None:
                    occupancy.setdefault(obs.zone_id, {}).update(counts)
        return RulesResult(
            timestamp=frame.captured_at, signals=tuple(signals), occupancy=occupancy
        )

    def close(self, timestamp: float) -> list[RuleSignal]:
        """End every open episode (camera offline or node stopping)."""
        return [
            signal
            for zone_rules in self._zones
            for rule in zone_rules.rules
            for signal in rule.close(timestamp)
        ]

    def _run_rule(
        self, rule: Rule, obs: ZoneObservation, frame_index: int
    ) -> list[RuleSignal]:
        # One faulty plug-in must not silence the other rules of the camera.
        try:
            return rule.update(obs)
        except Exception:
            logger.exception(
                "camera %s: rule %s (%s) failed on frame %d",
                self.camera_id,
                rule.scope.rule_key,
                type(rule).__name__,
                frame_index,
            )
            return []


def _poses_in(
    zone: Zone, poses: PersonPoses | None, resolution_wh: tuple[int, int]
) -> PersonPoses | None:
    if poses is None:
        return None
    return poses.filter(zone.contains(poses.persons, resolution_wh))

"""Rule plug-in interface: what a rule sees per zone, what it emits, episode state."""

from __future__ import annotations

import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from edge.rules.rule_config import RuleConfigBase
from edge.types import Detections
from gridwatch.contract import EVENT_TYPE_PATTERN, EventPhase

if TYPE_CHECKING:  # edge.pose imports edge.zones
    from edge.pose.types import PersonPoses

AttributeValue = float | int | str | bool | list[str]
BoxNorm = tuple[float, float, float, float]

_ConfigT = TypeVar("_ConfigT", bound=BaseModel)

_RULE_TYPES: dict[str, type[Rule]] = {}


@dataclass(frozen=True, slots=True)
class RuleScope:
    """Where a rule instance sits: camera, zone and position in the zone's list.

    Attributes:
        camera_id: Camera id.
        zone_id: Zone id within the camera.
        index: Position of the rule in the zone's `rules` list.
    """

    camera_id: str
    zone_id: str
    index: int

    @property
    def rule_key(self) -> str:
        """Stable key of this rule instance, unique within a node."""
        return f"{self.camera_id}/{self.zone_id}/{self.index}"


@dataclass(frozen=True, slots=True, eq=False)
class FramePixels:
    """A small copy of an analysed frame, for rules that model pixels.

    Colour, not grey: a red bag on a brown floor can have the same brightness.

    Attributes:
        bgr: The frame downscaled, shape (h, w, 3), uint8, BGR.
        scale: Small-frame pixels per frame pixel.
        zone_mask: Small-frame pixels inside the zone, shape (h, w), bool.
        detections: Every tracked detection of the frame, not only the zone's,
            in frame pixels: a person outside the zone still hides what is
            behind them.
    """

    bgr: npt.NDArray[np.uint8]
    scale: float
    zone_mask: npt.NDArray[np.bool_]
    detections: Detections


@dataclass(frozen=True, slots=True, eq=False)
class ZoneObservation:
    """What one rule sees of one analysed frame: the tracked objects in its zone.

    Attributes:
        camera_id: Camera id.
        zone_id: Zone id.
        timestamp: Capture time of the frame, UNIX seconds.
        resolution_wh: Frame (width, height) in pixels.
        detections: Tracked detections whose bottom-centre lies in the zone, in
            pixels; `tracker_id` is -1 for objects the tracker has not confirmed.
        labels: Model label names indexed by `class_id`.
        poses: Pose estimates of the persons in the zone, None when the camera
            runs no pose stage (it runs one only for zones with a fall rule).
        pixels: A small copy of the frame, None unless a rule of the
            camera models pixels (`Rule.uses_pixels`).
    """

    camera_id: str
    zone_id: str
    timestamp: float
    resolution_wh: tuple[int, int]
    detections: Detections
    labels: tuple[str, ...]
    poses: PersonPoses | None = None
    pixels: FramePixels | None = None

    def mask_for(self, wanted: Collection[str]) -> npt.NDArray[np.bool_]:
        """Boolean mask, shape (N,), of detections whose label is in `wanted`."""
        return label_mask(self.detections.class_id, self.labels, wanted)


def label_name(labels: tuple[str, ...], class_id: int) -> str:
    """Name of `class_id` in `labels`, or `class_<id>` when unknown."""
    return labels[class_id] if 0 <= class_id < len(labels) else f"class_{class_id}"


def label_mask(
    class_id: npt.NDArray[np.int64], labels: Sequence[str], wanted: Collection[str]
) -> npt.NDArray[np.bool_]:
    """Boolean mask, shape (N,), of the class ids whose name in `labels` is wanted.

    Args:
        class_id: Class index per detection, shape (N,), int64.
        labels: Model label names indexed by class id.
        wanted: Label names to keep.
    """
    ids = [i for i, name in enumerate(labels) if name in wanted]
    return np.isin(class_id, np.asarray(ids, dtype=np.int64))


@dataclass(frozen=True, slots=True, eq=False)
class Involved:
    """The boxes an event is about, in the form events and snapshots need.

    Attributes:
        detections: Involved boxes in pixels.
        box_labels: Text per box (label and track id), parallel to `detections`.
        confidence: Mean detector confidence of the boxes, 0 when there are none.
        box_norm: Union box, normalised (x1, y1, x2, y2), None when there are none.
    """

    detections: Detections
    box_labels: tuple[str, ...] = ()
    confidence: float = 0.0
    box_norm: BoxNorm | None = None

    @classmethod
    def none(cls) -> Involved:
        return cls(detections=Detections.empty())

    @classmethod
    def from_observation(
        cls, obs: ZoneObservation, mask: npt.NDArray[np.bool_]
    ) -> Involved:
        """Collect the detections of `obs` selected by `mask`."""
        selected = obs.detections.filter(mask)
        if len(selected) == 0:
            return cls.none()
        texts = tuple(
            _box_text(label_name(obs.labels, int(c)), int(t))
            for c, t in zip(selected.class_id, selected.tracker_id, strict=True)
        )
        return cls(
            detections=selected,
            box_labels=texts,
            confidence=float(np.clip(selected.confidence.mean(), 0.0, 1.0)),
            box_norm=union_box_norm(selected.xyxy, obs.resolution_wh),
        )

    def track_ids(self) -> list[str]:
        """Confirmed track ids as strings, sorted numerically."""
        ids = sorted({int(t) for t in self.detections.tracker_id if t >= 0})
        return [str(i) for i in ids]


def _box_text(label: str, tracker_id: int) -> str:
    return f"{label} #{tracker_id}" if tracker_id >= 0 else label


def union_box_norm(
    xyxy: npt.NDArray[np.float32], resolution_wh: tuple[int, int]
) -> BoxNorm | None:
    """Union of pixel boxes (N, 4) as a normalised, clipped (x1, y1, x2, y2)."""
    if xyxy.shape[0] == 0:
        return None
    w, h = resolution_wh
    scale = np.array([w, h, w, h], dtype=np.float64)
    box = np.concatenate([xyxy[:, :2].min(axis=0), xyxy[:, 2:].max(axis=0)]) / scale
    x1, y1, x2, y2 = (float(v) for v in np.clip(box, 0.0, 1.0))
    return (x1, y1, x2, y2)


@dataclass(frozen=True, slots=True, eq=False)
class RuleSignal:
    """One rule decision for the event builder: an event starts, updates or ends.

    Attributes:
        event_id: Id minted when the episode started; the same for its updates
            and its end.
        event_type: Contract event type (an `EventType` member for the
            built-in rules, any valid type name for a plug-in's).
        rule_type: `type_key` of the rule that decided.
        phase: start, update or end.
        camera_id: Camera id.
        zone_id: Zone id.
        rule_key: Key of the rule instance (see `RuleScope.rule_key`).
        timestamp: Time of the decision, UNIX seconds.
        started_at: Time the episode started, UNIX seconds.
        involved: Boxes the event is about (last known ones on `end`).
        attributes: Type-specific values (count, threshold, dwell_s, ...).
    """

    event_id: str
    event_type: str
    rule_type: str
    phase: EventPhase
    camera_id: str
    zone_id: str
    rule_key: str
    timestamp: float
    started_at: float
    involved: Involved
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)

    @property
    def confidence(self) -> float:
        return self.involved.confidence

    @property
    def box_norm(self) -> BoxNorm | None:
        return self.involved.box_norm


class Episode:
    """Start/update/end lifecycle of one rule's events, with a cooldown after end.

    Rules own one `Episode` each and decide *when*; the episode mints the event id
    once at start and stamps every signal consistently.
    """

    def __init__(
        self,
        *,
        scope: RuleScope,
        event_type: str,
        rule_type: str,
        cooldown_s: float,
    ) -> None:
        self._scope = scope
        self._event_type = event_type
        self._rule_type = rule_type
        self._cooldown_s = cooldown_s
        self._event_id: str | None = None
        self._started_at = 0.0
        self._last_signal_at = 0.0
        self._cooldown_until = float("-inf")
        self._last_involved = Involved.none()

    @property
    def is_active(self) -> bool:
        return self._event_id is not None

    @property
    def started_at(self) -> float:
        return self._started_at

    @property
    def last_involved(self) -> Involved:
        """Boxes of the latest signal that had any (empty when idle)."""
        return self._last_involved

    def can_start(self, timestamp: float) -> bool:
        """True when no episode is open and the cooldown has passed."""
        return not self.is_active and timestamp >= self._cooldown_until

    def is_update_due(self, timestamp: float, interval_s: float) -> bool:
        return self.is_active and timestamp - self._last_signal_at >= interval_s

    def start(
        self,
        timestamp: float,
        involved: Involved,
        attributes: Mapping[str, AttributeValue],
    ) -> RuleSignal:
        if self.is_active:
            raise RuntimeError(f"rule {self._scope.rule_key}: episode already open")
        self._event_id = uuid.uuid4().hex
        self._started_at = timestamp
        return self._signal(EventPhase.START, timestamp, involved, attributes)

    def update(
        self,
        timestamp: float,
        involved: Involved,
        attributes: Mapping[str, AttributeValue],
    ) -> RuleSignal:
        return self._signal(EventPhase.UPDATE, timestamp, involved, attributes)

    def end(
        self, timestamp: float, attributes: Mapping[str, AttributeValue]
    ) -> RuleSignal:
        signal = self._signal(
            EventPhase.END, timestamp, self._last_involved, attributes
        )
        self._event_id = None
        self._cooldown_until = timestamp + self._cooldown_s
        self._last_involved = Involved.none()
        return signal

    def _signal(
        self,
        phase: EventPhase,
        timestamp: float,
        involved: Involved,
        attributes: Mapping[str, AttributeValue],
    ) -> RuleSignal:
        if self._event_id is None:
            raise RuntimeError(f"rule {self._scope.rule_key}: no open episode")
        if len(involved.detections):  # else: the last known boxes
            self._last_involved = involved
        self._last_signal_at = timestamp
        return RuleSignal(
            event_id=self._event_id,
            event_type=self._event_type,
            rule_type=self._rule_type,
            phase=phase,
            camera_id=self._scope.camera_id,
            zone_id=self._scope.zone_id,
            rule_key=self._scope.rule_key,
            timestamp=timestamp,
            started_at=self._started_at,
            involved=self._last_involved,
            attributes=dict(attributes),
        )


class Rule(ABC):
    """A per-zone rule plug-in.

    A rule module says everything about its rule: the `Rule` subclass, its
    config class (`config_class`, whose `type` is the `type_key`) and the event
    type it raises (`event_type`). Defining the subclass registers it; the
    zone's `rules` list in the node config and the engine find it by its
    `type_key`, so a new rule needs no change anywhere else on the edge.
    """

    type_key: ClassVar[str]
    config_class: ClassVar[type[RuleConfigBase]]
    # The contract event type raised; left out by rules that only measure
    # (occupancy).
    event_type: ClassVar[str]
    # True for rules that need `ZoneObservation.pixels`; the engine downscales
    # a camera's frames only when one of its rules does.
    uses_pixels: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        key = cls.__dict__.get("type_key")
        if isinstance(key, str):
            _verify_plugin(cls, key)
            existing = _RULE_TYPES.get(key)
            if existing is not None and existing.__qualname__ != cls.__qualname__:
                raise TypeError(f"rule type {key!r} already registered by {existing}")
            _RULE_TYPES[key] = cls

    def __init__(self, scope: RuleScope) -> None:
        self.scope = scope

    @classmethod
    @abstractmethod
    def from_config(cls, config: RuleConfigBase, *, scope: RuleScope) -> Rule:
        """Build the rule from its config model.

        Raises:
            TypeError: `config` is not this rule's config class.
        """

    @abstractmethod
    def update(self, obs: ZoneObservation) -> list[RuleSignal]:
        """Feed one analysed frame's zone observation; return decisions (often none)."""

    def close(self, timestamp: float) -> list[RuleSignal]:
        """End any open episode (camera offline, node stopping). Default: nothing."""
        del timestamp
        return []

    def occupancy(self) -> Mapping[str, int] | None:
        """Counts by label from the last update, for rules that measure; else None."""
        return None


def _verify_plugin(rule: type[Rule], key: str) -> None:
    """Fail at class definition when a rule's parts do not fit together."""
    config_class = getattr(rule, "config_class", None)
    if not (
        isinstance(config_class, type) and issubclass(config_class, RuleConfigBase)
    ):
        raise TypeError(
            f"rule {rule.__qualname__}: config_class must be a RuleConfigBase subclass"
        )
    type_field = config_class.model_fields.get("type")
    if type_field is None or type_field.default != key:
        raise TypeError(
            f"rule {rule.__qualname__}: {config_class.__name__}.type must default "
            f"to its type_key {key!r}"
        )
    event_type = getattr(rule, "event_type", None)
    if event_type is not None and not (
        isinstance(event_type, str) and re.fullmatch(EVENT_TYPE_PATTERN, event_type)
    ):
        raise TypeError(
            f"rule {rule.__qualname__}: event_type {event_type!r} must match "
            f"{EVENT_TYPE_PATTERN}"
        )


def registered_rule_types() -> Mapping[str, type[Rule]]:
    """Rule classes registered so far, by `type_key` (see `registry` for loading)."""
    return dict(_RULE_TYPES)


def expect_config(config: BaseModel, kind: type[_ConfigT]) -> _ConfigT:
    """Narrow `config` to `kind`.

    Raises:
        TypeError: `config` is of another class.
    """
    if not isinstance(config, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(config).__name__}")
    return config

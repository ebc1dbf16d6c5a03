"""Littering and abandoned objects: something left on the ground by a person.

Both rules run the same machinery on their zone (a background model on the
camera's small colour frame, see `static_scene`, and the object ledger, see
`static_objects`) and differ in which objects are theirs: `littering` takes the
detector's litter labels and, by default, objects the detector gives no label;
`abandoned_object` takes luggage labels. An object the detector names with
another rule's label is not this rule's, so the two never report one object
twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from edge.rules.base import (
    AttributeValue,
    Episode,
    FramePixels,
    Involved,
    Rule,
    RuleScope,
    RuleSignal,
    ZoneObservation,
    expect_config,
    label_mask,
    union_box_norm,
)
from edge.rules.rule_config import RuleConfigBase, StaticObjectRuleConfig
from edge.rules.static_objects import (
    LedgerSettings,
    LeftObject,
    ObjectLedger,
    People,
    Sighting,
    StillTracks,
    still_detections,
)
from edge.rules.static_scene import BlobVerdict, Box, SceneSettings, StaticScene
from edge.types import Detections
from gridwatch.contract import EventType

logger = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class _Models:
    """A rule's pixel model, object ledger and still-detection clocks."""

    scene: StaticScene
    ledger: ObjectLedger
    still: StillTracks


UNKNOWN_LABEL = "unknown"
# COCO vehicles: parked, they are static objects that are neither litter nor
# luggage, whatever else the detector calls them now and then.
VEHICLES = ("bicycle", "motorcycle", "car", "bus", "truck")
_UNKNOWN_CONFIDENCE = 0.5  # no detector score: leave the call to a reviewer
# Share of an object's border where something moves from which someone stands
# beside it, detected or not (the share that makes a region a fragment).
_BESIDE_MOTION_FRAC = 0.1


class StaticObjectRule(Rule):
    """Fires once per object left on the ground whose owner went away.

    An object fires when it has been seen, unmoved and apart from people, for
    `static_s`, and its owner (the person nearest when it appeared) has been
    farther than `owner_away_frac` of the frame diagonal, or out of view, for
    `owner_away_s`. The event ends when the object is gone (picked up) for
    `clear_s`, or after `max_object_s`, when it becomes background.
    """

    uses_pixels: ClassVar[bool] = True

    def __init__(self, config: StaticObjectRuleConfig, *, scope: RuleScope) -> None:
        super().__init__(scope)
        self._config = config
        self._labels = frozenset(config.labels)
        self._excluded = frozenset(config.exclude_labels)
        self._people = frozenset(config.person_labels)
        self._models: _Models | None = None
        self._episodes: dict[int, Episode] = {}
        self._warned_no_pixels = False

    def update(self, obs: ZoneObservation) -> list[RuleSignal]:
        pixels = obs.pixels
        if pixels is None:
            self._warn_no_pixels()
            return []
        models = self._models_for(obs, pixels)
        people = People.from_detections(
            pixels.detections,
            timestamp=obs.timestamp,
            labels=obs.labels,
            person_labels=self._people,
        )
        sightings = self._pixel_sightings(models.scene, pixels, people, obs.timestamp)
        sightings += self._detector_sightings(obs, people, models.still)
        others = pixels.detections.filter(
            ~label_mask(pixels.detections.class_id, obs.labels, self._people)
        )
        result = models.ledger.update(
            sightings, people=people, others=others, labels=obs.labels
        )
        for box in result.relearn:
            models.scene.relearn(_to_small(box, pixels.scale))
        now = obs.timestamp
        signals = [self._end(obj, now) for obj in result.gone]
        signals += self._expire_old(models, pixels.scale, now)
        signals += self._start_due(models.ledger, obs)
        return [s for s in signals if s is not None]

    def close(self, timestamp: float) -> list[RuleSignal]:
        # The camera went away: end every event and start afresh when it is
        # back (what is on the ground then is learned as the scene).
        objects = self._models.ledger.objects if self._models is not None else []
        known = {obj.object_id: obj for obj in objects}
        signals = []
        for object_id in list(self._episodes):
            obj = known.get(object_id)
            if obj is not None:
                signals.append(self._end(obj, timestamp))
            else:
                episode = self._episodes.pop(object_id)
                signals.append(episode.end(timestamp, {"object_id": object_id}))
        self._models = None
        return [s for s in signals if s is not None]

    def _warn_no_pixels(self) -> None:
        if not self._warned_no_pixels:
            logger.warning(
                "camera %s: rule %s got no pixels; it needs the rule engine",
                self.scope.camera_id,
                self.scope.rule_key,
            )
            self._warned_no_pixels = True

    def _models_for(self, obs: ZoneObservation, pixels: FramePixels) -> _Models:
        # Built on the first frame: the pixel model's sizes follow the frame's.
        if self._models is None:
            config = self._config
            height, width = pixels.bgr.shape[:2]
            scene = SceneSettings(
                background_s=config.background_s,
                warmup_s=config.warmup_s,
                min_area_px=max(1, round(config.min_area_frac * width * height)),
            )
            ledger = LedgerSettings(
                owner_away_frac=config.owner_away_frac,
                owner_near_frac=config.owner_near_frac,
                min_area_frac=config.min_area_frac,
                max_area_frac=config.max_area_frac,
                clear_s=config.clear_s,
                cover_s=scene.cover_s,
                cover_margin=scene.cover_margin,
                person_labels=self._people,
            )
            self._models = _Models(
                scene=StaticScene(scene),
                ledger=ObjectLedger(ledger, resolution_wh=obs.resolution_wh),
                still=StillTracks(diag_px=float(np.hypot(*obs.resolution_wh))),
            )
        return self._models

    def _pixel_sightings(
        self, scene: StaticScene, pixels: FramePixels, people: People, now: float
    ) -> list[Sighting]:
        assert self._models is not None
        keep = [
            _to_small(obj.xyxy, pixels.scale)
            for obj in self._models.ledger.objects
            if obj.is_confirmed and not obj.is_person
        ]
        update = scene.update(
            pixels.bgr,
            timestamp=now,
            person_boxes=people.xyxy * pixels.scale,
            keep_boxes=keep,
            zone_mask=pixels.zone_mask,
        )
        return [
            Sighting(
                xyxy=np.asarray(blob.box, dtype=np.float32) / pixels.scale,
                appeared_at=blob.appeared_at,
                verdict=blob.verdict,
                is_fragment=blob.is_fragment,
                beside_motion=blob.astir_frac > _BESIDE_MOTION_FRAC,
            )
            for blob in update.blobs
        ]

    def _detector_sightings(
        self, obs: ZoneObservation, people: People, still: StillTracks
    ) -> list[Sighting]:
        wanted = obs.mask_for(self._labels)
        loose = still_detections(obs.detections, wanted=wanted, people=people)
        since = still.update(obs.detections.filter(loose), obs.timestamp)
        sightings = []
        for i in np.flatnonzero(loose):
            tid = int(obs.detections.tracker_id[i])
            if tid not in since:
                continue
            class_id = int(obs.detections.class_id[i])
            sightings.append(
                Sighting(
                    xyxy=obs.detections.xyxy[i].copy(),
                    appeared_at=since[tid],
                    verdict=BlobVerdict.OBJECT,
                    label=obs.labels[class_id],
                    confidence=float(obs.detections.confidence[i]),
                )
            )
        return sightings

    def _label(self, obj: LeftObject) -> str | None:
        return obj.label_among(self._labels | self._excluded)

    def _is_mine(self, obj: LeftObject) -> bool:
        label = self._label(obj)
        if label is None:
            return self._config.unknown_objects
        return label in self._labels

    def _is_due(self, obj: LeftObject, now: float) -> bool:
        config = self._config
        if not obj.is_confirmed or obj.is_person or obj.object_id in self._episodes:
            return False
        if obj.owner_id is None and config.require_owner:
            return False
        return (
            obj.static_for_s(now) >= config.static_s
            and obj.away_since is not None
            and obj.away_for_s(now) >= config.owner_away_s
            and self._is_mine(obj)
        )

    def _start_due(
        self, ledger: ObjectLedger, obs: ZoneObservation
    ) -> list[RuleSignal]:
        now = obs.timestamp
        signals = []
        for obj in ledger.objects:
            if not self._is_due(obj, now):
                continue
            episode = Episode(
                scope=self.scope,
                event_type=self.event_type,
                rule_type=self.type_key,
                cooldown_s=0.0,
            )
            self._episodes[obj.object_id] = episode
            involved = self._involved(obj, obs)
            signals.append(episode.start(now, involved, self._attributes(obj, now)))
            logger.info(
                "camera %s: %s object %d (%s) left by owner %s",
                self.scope.camera_id,
                self.type_key,
                obj.object_id,
                self._label(obj) or UNKNOWN_LABEL,
                obj.owner_id,
            )
        return signals

    def _end(self, obj: LeftObject, now: float) -> RuleSignal | None:
        episode = self._episodes.pop(obj.object_id, None)
        if episode is None:
            return None
        return episode.end(now, self._attributes(obj, now))

    def _expire_old(
        self, models: _Models, scale: float, now: float
    ) -> list[RuleSignal | None]:
        signals: list[RuleSignal | None] = []
        for obj in models.ledger.objects:
            if now - obj.first_seen < self._config.max_object_s:
                continue
            # Left for good: it is part of the scene now.
            models.ledger.forget(obj.object_id)
            models.scene.relearn(_to_small(obj.xyxy, scale), shelve=False)
            signals.append(self._end(obj, now))
        return signals

    def _involved(self, obj: LeftObject, obs: ZoneObservation) -> Involved:
        known = self._label(obj)
        label = known or UNKNOWN_LABEL
        score = obj.label_confidence(known) if known else _UNKNOWN_CONFIDENCE
        rows = [obj.xyxy]
        texts = [f"{label} (left)"]
        if obj.owner_xyxy is not None:
            rows.append(obj.owner_xyxy)
            texts.append(f"owner #{obj.owner_id}")
        class_id = obs.labels.index(label) if label in obs.labels else -1
        detections = Detections.from_lists(
            [[float(v) for v in row] for row in rows],
            confidence=[score] * len(rows),
            class_id=[class_id] * len(rows),
            tracker_id=[-1] * len(rows),
        )
        return Involved(
            detections=detections,
            box_labels=tuple(texts),
            confidence=score,
            box_norm=union_box_norm(obj.xyxy.reshape(1, 4), obs.resolution_wh),
        )

    def _attributes(self, obj: LeftObject, now: float) -> dict[str, AttributeValue]:
        gap = obj.owner_gap_frac
        return {
            "object_id": obj.object_id,
            "object_label": self._label(obj) or UNKNOWN_LABEL,
            "kind": self.type_key,
            "owner_track_id": "" if obj.owner_id is None else str(obj.owner_id),
            "static_s": round(obj.static_for_s(now), 3),
            "owner_away_s": round(obj.away_for_s(now), 3),
            "owner_distance_frac": -1.0 if gap is None else round(gap, 4),
            "track_ids": [] if obj.owner_id is None else [str(obj.owner_id)],
        }


class LitteringRuleConfig(StaticObjectRuleConfig):
    """Small items dropped and left: bottles, cups, bags of rubbish, unknown blobs."""

    type: Literal["littering"] = "littering"
    labels: list[str] = Field(
        default_factory=lambda: ["bottle", "cup", "wine glass"],
        min_length=1,
        description="Detector labels of litter.",
    )
    unknown_objects: bool = Field(
        default=True, description="Unlabelled static objects count as litter."
    )
    exclude_labels: list[str] = Field(
        default_factory=lambda: ["backpack", "handbag", "suitcase", *VEHICLES],
        description="Labels of luggage (left luggage is no litter) and of "
        "vehicles (a parked bicycle or car is neither).",
    )


class LitteringRule(StaticObjectRule):
    type_key = "littering"
    config_class = LitteringRuleConfig
    event_type = EventType.LITTERING

    @classmethod
    def from_config(cls, config: RuleConfigBase, *, scope: RuleScope) -> LitteringRule:
        return cls(expect_config(config, LitteringRuleConfig), scope=scope)


class AbandonedObjectRuleConfig(StaticObjectRuleConfig):
    """Bags and luggage left behind by their owner."""

    type: Literal["abandoned_object"] = "abandoned_object"
    labels: list[str] = Field(
        default_factory=lambda: ["backpack", "handbag", "suitcase"],
        min_length=1,
        description="Detector labels of luggage.",
    )
    unknown_objects: bool = Field(
        default=False,
        description="Unlabelled static objects count as abandoned objects (for a "
        "zone where anything left is luggage, e.g. a station hall).",
    )
    exclude_labels: list[str] = Field(
        default_factory=lambda: ["bottle", "cup", "wine glass", *VEHICLES],
        description="Labels of litter (a bottle left behind is no luggage) and "
        "of vehicles (a parked car is none either).",
    )
    static_s: float = Field(
        default=10.0, ge=0, description="The object stays unmoved at least this long."
    )
    owner_away_s: float = Field(
        default=30.0,
        ge=0,
        description="Its owner stays away (or out of view) at least this long.",
    )
    max_area_frac: float = Field(
        default=0.05, gt=0, le=1, description="Largest object, fraction of frame."
    )


class AbandonedObjectRule(StaticObjectRule):
    type_key = "abandoned_object"
    config_class = AbandonedObjectRuleConfig
    event_type = EventType.ABANDONED_OBJECT

    @classmethod
    def from_config(
        cls, config: RuleConfigBase, *, scope: RuleScope
    ) -> AbandonedObjectRule:
        return cls(expect_config(config, AbandonedObjectRuleConfig), scope=scope)


def _to_small(xyxy: npt.NDArray[np.float32], scale: float) -> Box:
    x1, y1, x2, y2 = (float(v) * scale for v in xyxy)
    return (int(np.floor(x1)), int(np.floor(y1)), int(np.ceil(x2)), int(np.ceil(y2)))

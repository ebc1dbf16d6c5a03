"""Occupancy: objects in a zone counted by label (published periodically, no events)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import Field

from edge.pose.types import box_ious
from edge.rules.base import (
    FramePixels,
    Rule,
    RuleScope,
    RuleSignal,
    ZoneObservation,
    expect_config,
    label_mask,
)
from edge.rules.rule_config import RuleConfigBase

logger = logging.getLogger(__name__)

_STILL_IOU = 0.8  # a box this close to where its stillness began has not moved
_CHANGE_GREY = 20  # grey levels (after a 5x5 blur, so sensor noise stays under)
_MIN_VISIBLE = 0.3  # share of the box not hidden by other boxes to judge pixels
_FORGET_S = 10.0  # a track unseen this long is forgotten


class OccupancyRuleConfig(RuleConfigBase):
    type: Literal["occupancy"] = "occupancy"
    labels: list[str] = Field(default_factory=lambda: ["person"], min_length=1)
    inert_after_s: float = Field(
        default=120.0,
        ge=0,
        title="Inert after",
        description="A tracked object of `inert_labels` whose box has not moved "
        "and whose pixels have not changed for this long is not counted (a "
        "statue, a poster, a coat on a hook read as a person); 0 counts every "
        "object. It counts again as soon as it moves or its pixels change.",
    )
    inert_labels: list[str] = Field(
        default_factory=lambda: ["person"],
        title="Inert labels",
        description="Labels that are never still for minutes down to the pixel "
        "(people); parked cars or bottles on a shelf are, so they are not here.",
    )
    inert_max_change: float = Field(
        default=0.02,
        ge=0,
        le=1,
        title="Inert change",
        description="Share of the box's visible pixels that may differ from "
        "when it stopped without counting as a movement.",
    )


def count_by_label(obs: ZoneObservation, labels: tuple[str, ...]) -> dict[str, int]:
    """Count the detections in the zone per wanted label, zeros included.

    Untracked detections (tracker_id -1) count too: occupancy is about what is
    there now, not about confirmed tracks.

    Args:
        obs: The zone observation.
        labels: Label names to count.

    Returns:
        Mapping label -> count, with every label in `labels` present.
    """
    return {label: int(np.count_nonzero(obs.mask_for((label,)))) for label in labels}


@dataclass(slots=True)
class _Still:
    """Where a track's box came to rest and what its pixels looked like then."""

    xyxy: npt.NDArray[np.float32]
    region: tuple[int, int, int, int]  # small-frame pixels x1 y1 x2 y2
    reference: npt.NDArray[np.uint8]
    since: float
    last_seen: float


class InertTracks:
    """Finds tracks that have neither moved nor changed a pixel for a while.

    Evidence is the pixels, not the box alone: a person standing still keeps a
    still box but breathes, shifts, turns their head; a statue does not. The
    box's pixels (small frame, grey, blurred against sensor noise) are compared
    with a reference taken when the box stopped; pixels hidden by other boxes
    do not count, so a crowd walking past a statue does not wake it up. Any
    movement of the box or change of more than `max_change` of its pixels
    restarts the clock. Without pixels (none handed to the rule) nothing is
    ever inert.
    """

    def __init__(self, *, after_s: float, max_change: float) -> None:
        self.after_s = after_s
        self.max_change = max_change
        self._still: dict[int, _Still] = {}

    def update(
        self, obs: ZoneObservation, rows: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.bool_]:
        """Which detections of `rows` are inert now, shape (N,)."""
        inert = np.zeros(len(obs.detections), dtype=np.bool_)
        pixels = obs.pixels
        if pixels is None or self.after_s <= 0:
            return inert
        grey = _grey(pixels.bgr)
        now = obs.timestamp
        for row in np.flatnonzero(rows & (obs.detections.tracker_id >= 0)):
            tid = int(obs.detections.tracker_id[row])
            box = obs.detections.xyxy[row]
            state = self._observe(tid, box, grey, pixels, now)
            if now - state.since >= self.after_s:
                if not inert[row]:
                    logger.debug("track %d inert for %.0f s", tid, now - state.since)
                inert[row] = True
        for tid in [t for t, s in self._still.items() if now - s.last_seen > _FORGET_S]:
            del self._still[tid]
        return inert

    def _observe(
        self,
        tid: int,
        box: npt.NDArray[np.float32],
        grey: npt.NDArray[np.uint8],
        pixels: FramePixels,
        now: float,
    ) -> _Still:
        state = self._still.get(tid)
        if state is None or box_ious(state.xyxy, box[None])[0] < _STILL_IOU:
            state = self._still[tid] = _rest(box, grey, pixels.scale, now)
            return state
        state.last_seen = now
        changed = self._changed(state, grey, pixels, tid)
        if changed is not None and changed > self.max_change:
            self._still[tid] = _rest(box, grey, pixels.scale, now)
            return self._still[tid]
        return state

    def _changed(
        self, state: _Still, grey: npt.NDArray[np.uint8], pixels: FramePixels, tid: int
    ) -> float | None:
        """Share of the visible box pixels that changed; None when mostly hidden."""
        x1, y1, x2, y2 = state.region
        crop = grey[y1:y2, x1:x2]
        if crop.size == 0 or crop.shape != state.reference.shape:
            return None
        visible = np.ones(crop.shape, dtype=np.bool_)
        others = pixels.detections.filter(pixels.detections.tracker_id != tid)
        for ox1, oy1, ox2, oy2 in others.xyxy * pixels.scale:
            visible[
                max(0, int(oy1) - y1) : max(0, int(np.ceil(oy2)) - y1),
                max(0, int(ox1) - x1) : max(0, int(np.ceil(ox2)) - x1),
            ] = False
        seen = int(np.count_nonzero(visible))
        if seen < _MIN_VISIBLE * crop.size:
            return None
        diff = cv2.absdiff(crop, state.reference) > _CHANGE_GREY
        return float(np.count_nonzero(diff & visible)) / seen


def _grey(bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    return np.asarray(cv2.GaussianBlur(grey, (5, 5), 0), dtype=np.uint8)


def _rest(
    box: npt.NDArray[np.float32], grey: npt.NDArray[np.uint8], scale: float, now: float
) -> _Still:
    h, w = grey.shape
    x1, y1 = max(0, int(box[0] * scale)), max(0, int(box[1] * scale))
    x2 = min(w, int(np.ceil(box[2] * scale)))
    y2 = min(h, int(np.ceil(box[3] * scale)))
    region = (x1, y1, max(x1, x2), max(y1, y2))
    reference = grey[region[1] : region[3], region[0] : region[2]].copy()
    return _Still(box.copy(), region, reference, since=now, last_seen=now)


class OccupancyRule(Rule):
    """Keeps the latest per-label counts of its zone; emits no signals.

    Objects of `inert_labels` that have been inert (see `InertTracks`) for
    `inert_after_s` are left out of the counts; every other rule still sees
    them (a fallen person lying still must still raise a fall).
    """

    type_key = "occupancy"
    config_class = OccupancyRuleConfig
    uses_pixels = True  # for the inert check; a 320 px copy, shared per frame

    def __init__(self, config: OccupancyRuleConfig, *, scope: RuleScope) -> None:
        super().__init__(scope)
        self._labels = tuple(dict.fromkeys(config.labels))
        self._inert_labels = tuple(config.inert_labels)
        self._counts: dict[str, int] = dict.fromkeys(self._labels, 0)
        self._inert = InertTracks(
            after_s=config.inert_after_s, max_change=config.inert_max_change
        )

    @classmethod
    def from_config(cls, config: RuleConfigBase, *, scope: RuleScope) -> OccupancyRule:
        return cls(expect_config(config, OccupancyRuleConfig), scope=scope)

    def update(self, obs: ZoneObservation) -> list[RuleSignal]:
        watched = label_mask(obs.detections.class_id, obs.labels, self._inert_labels)
        inert = self._inert.update(obs, watched)
        self._counts = {
            label: int(np.count_nonzero(obs.mask_for((label,)) & ~inert))
            for label in self._labels
        }
        return []

    def occupancy(self) -> Mapping[str, int]:
        return dict(self._counts)

"""Illegal parking: a vehicle stopped in a no-stopping zone for `min_s`.

A vehicle counts as stopped while its box centre stays within `max_move_frac` of
the frame diagonal of where it stopped; moving further restarts its clock, so
traffic driving through (or queueing and moving on) never fires.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from edge.config import IllegalParkingRuleConfig
from edge.rules.base import RuleScope, ZoneObservation, expect_config
from edge.rules.intrusion import IntrusionRule
from gridwatch.contract import EventType


class IllegalParkingRule(IntrusionRule):
    type_key = "illegal_parking"
    event_type = EventType.ILLEGAL_PARKING

    def __init__(self, config: IllegalParkingRuleConfig, *, scope: RuleScope) -> None:
        super().__init__(config, scope=scope)
        self._max_move_frac = config.max_move_frac
        self._anchor: dict[int, tuple[float, float]] = {}

    @classmethod
    def from_config(cls, config: BaseModel, *, scope: RuleScope) -> IllegalParkingRule:
        return cls(expect_config(config, IllegalParkingRuleConfig), scope=scope)

    def _remember_tracks(
        self, obs: ZoneObservation, mask: npt.NDArray[np.bool_]
    ) -> None:
        super()._remember_tracks(obs, mask)
        width, height = obs.resolution_wh
        limit = self._max_move_frac * math.hypot(width, height)
        xyxy = obs.detections.xyxy
        for i in np.flatnonzero(mask):
            tid = int(obs.detections.tracker_id[i])
            if tid < 0:
                continue
            centre = (
                float(xyxy[i, 0] + xyxy[i, 2]) / 2,
                float(xyxy[i, 1] + xyxy[i, 3]) / 2,
            )
            anchor = self._anchor.get(tid)
            if anchor is None or math.dist(anchor, centre) > limit:
                # Moving (or new): it stops, if at all, from here and now.
                self._anchor[tid] = centre
                self._entered_at[tid] = obs.timestamp
        for tid in set(self._anchor) - set(self._entered_at):
            del self._anchor[tid]

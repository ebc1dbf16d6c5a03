"""Illegal parking: a vehicle stopped in a no-stopping zone for `min_s`.

A vehicle counts as stopped while its box centre stays within `max_move_frac` of
the frame diagonal of where it stopped; moving further restarts its clock, so
traffic driving through (or queueing and moving on) never fires.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from edge.rules.base import RuleScope, ZoneObservation, expect_config
from edge.rules.intrusion import IntrusionRule
from edge.rules.rule_config import DwellRuleConfig, RuleConfigBase
from gridwatch.contract import EventType


class IllegalParkingRuleConfig(DwellRuleConfig):
    """A vehicle stopped in a no-stopping zone for `min_s`."""

    type: Literal["illegal_parking"] = "illegal_parking"
    labels: list[str] = Field(
        default_factory=lambda: ["car", "truck", "bus", "motorcycle"], min_length=1
    )
    min_s: float = Field(
        default=60.0, ge=0, description="Stopped in the zone at least this long."
    )
    max_move_frac: float = Field(
        default=0.02,
        gt=0,
        le=1,
        description="Moving more than this fraction of the frame diagonal from "
        "where it stopped restarts its clock (it was driving, not parked).",
    )
    cooldown_s: float = Field(default=300.0, ge=0)


class IllegalParkingRule(IntrusionRule):
    type_key = "illegal_parking"
    config_class = IllegalParkingRuleConfig
    event_type = EventType.ILLEGAL_PARKING

    def __init__(self, config: IllegalParkingRuleConfig, *, scope: RuleScope) -> None:
        super().__init__(config, scope=scope)
        self._max_move_frac = config.max_move_frac
        self._anchor: dict[int, tuple[float, float]] = {}

    @classmethod
    def from_config(
        cls, config: RuleConfigBase, *, scope: RuleScope
    ) -> IllegalParkingRule:
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

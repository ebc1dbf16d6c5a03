"""Occupancy: objects in a zone counted by label (published periodically, no events)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
from pydantic import Field

from edge.rules.base import Rule, RuleScope, RuleSignal, ZoneObservation, expect_config
from edge.rules.rule_config import RuleConfigBase


class OccupancyRuleConfig(RuleConfigBase):
    type: Literal["occupancy"] = "occupancy"
    labels: list[str] = Field(default_factory=lambda: ["person"], min_length=1)


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


class OccupancyRule(Rule):
    """Keeps the latest per-label counts of its zone; emits no signals."""

    type_key = "occupancy"
    config_class = OccupancyRuleConfig

    def __init__(self, config: OccupancyRuleConfig, *, scope: RuleScope) -> None:
        super().__init__(scope)
        self._labels = tuple(dict.fromkeys(config.labels))
        self._counts: dict[str, int] = dict.fromkeys(self._labels, 0)

    @classmethod
    def from_config(cls, config: RuleConfigBase, *, scope: RuleScope) -> OccupancyRule:
        return cls(expect_config(config, OccupancyRuleConfig), scope=scope)

    def update(self, obs: ZoneObservation) -> list[RuleSignal]:
        self._counts = count_by_label(obs, self._labels)
        return []

    def occupancy(self) -> Mapping[str, int]:
        return dict(self._counts)

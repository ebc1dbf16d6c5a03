"""Crowding: at least `threshold` objects of a label in a zone for `dwell_s`."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from edge.rules.base import (
    AttributeValue,
    Episode,
    Involved,
    Rule,
    RuleScope,
    RuleSignal,
    ZoneObservation,
    expect_config,
)
from edge.rules.occupancy import InertTracks
from edge.rules.rule_config import RuleConfigBase
from gridwatch.contract import EventType


class CrowdingRuleConfig(RuleConfigBase):
    type: Literal["crowding"] = "crowding"
    label: str = "person"
    threshold: int = Field(
        default=10, ge=1, description="Objects in zone to count as a crowd."
    )
    dwell_s: float = Field(
        default=10.0, ge=0, description="Sustained for at least this long."
    )
    clear_s: float = Field(
        default=5.0, ge=0, description="Below threshold this long ends it."
    )
    cooldown_s: float = Field(
        default=60.0, ge=0, description="No new event this long after an end."
    )
    update_interval_s: float = Field(default=30.0, gt=0)
    inert_after_s: float = Field(
        default=120.0,
        ge=0,
        title="Inert after",
        description="A tracked object whose box has not moved and whose pixels "
        "have not changed for this long is not counted (a statue or a poster "
        "read as a person); 0 counts every object. It counts again as soon as "
        "it moves or its pixels change.",
    )
    inert_max_change: float = Field(
        default=0.02,
        ge=0,
        le=1,
        title="Inert change",
        description="Share of the box's visible pixels that may differ from "
        "when it stopped without counting as a movement.",
    )


class CrowdingRule(Rule):
    """Starts when the count holds at or above the threshold for `dwell_s`.

    While the count stays at or above the threshold it sends an update every
    `update_interval_s` with the current count; it ends once the count stays
    below the threshold for `clear_s`, and no new episode starts for `cooldown_s`
    after an end. Every detection of the label counts, tracked or not, except
    tracks inert for `inert_after_s` (see `InertTracks`: a statue, a poster):
    they would hold a crowd one higher for ever.
    """

    type_key = "crowding"
    config_class = CrowdingRuleConfig
    event_type = EventType.CROWDING
    uses_pixels: ClassVar[bool] = True  # for the inert check, as occupancy

    def __init__(self, config: CrowdingRuleConfig, *, scope: RuleScope) -> None:
        super().__init__(scope)
        self._config = config
        self._labels = (config.label,)
        self._episode = Episode(
            scope=scope,
            event_type=self.event_type,
            rule_type=self.type_key,
            cooldown_s=config.cooldown_s,
        )
        self._above_since: float | None = None
        self._below_since: float | None = None
        self._count = 0
        self._peak = 0
        self._inert = InertTracks(
            after_s=config.inert_after_s, max_change=config.inert_max_change
        )

    @classmethod
    def from_config(cls, config: RuleConfigBase, *, scope: RuleScope) -> CrowdingRule:
        return cls(expect_config(config, CrowdingRuleConfig), scope=scope)

    def update(self, obs: ZoneObservation) -> list[RuleSignal]:
        mask = obs.mask_for(self._labels)
        mask &= ~self._inert.update(obs, mask)
        self._count = int(np.count_nonzero(mask))
        if self._episode.is_active:
            return self._while_active(obs, mask)
        return self._while_idle(obs, mask)

    def close(self, timestamp: float) -> list[RuleSignal]:
        if not self._episode.is_active:
            return []
        return [self._end(timestamp)]

    def _while_idle(
        self, obs: ZoneObservation, mask: npt.NDArray[np.bool_]
    ) -> list[RuleSignal]:
        now = obs.timestamp
        if self._count < self._config.threshold:
            self._above_since = None
            return []
        if self._above_since is None:
            self._above_since = now
        dwelt = now - self._above_since >= self._config.dwell_s
        if not dwelt or not self._episode.can_start(now):
            return []
        self._peak = self._count
        self._below_since = None
        involved = Involved.from_observation(obs, mask)
        return [self._episode.start(now, involved, self._attributes(now, involved))]

    def _while_active(
        self, obs: ZoneObservation, mask: npt.NDArray[np.bool_]
    ) -> list[RuleSignal]:
        now = obs.timestamp
        if self._count >= self._config.threshold:
            self._below_since = None
            self._peak = max(self._peak, self._count)
        elif self._below_since is None:
            self._below_since = now
        if (
            self._below_since is not None
            and now - self._below_since >= self._config.clear_s
        ):
            return [self._end(now)]
        # No updates while the crowd is thinning out: the end is pending.
        is_crowded = self._below_since is None
        if not is_crowded or not self._episode.is_update_due(
            now, self._config.update_interval_s
        ):
            return []
        involved = Involved.from_observation(obs, mask)
        return [self._episode.update(now, involved, self._attributes(now, involved))]

    def _end(self, now: float) -> RuleSignal:
        last = self._episode.last_involved
        signal = self._episode.end(now, self._attributes(now, last))
        self._above_since = None
        self._below_since = None
        return signal

    def _attributes(self, now: float, involved: Involved) -> dict[str, AttributeValue]:
        since = self._above_since if self._above_since is not None else now
        return {
            "label": self._config.label,
            "count": self._count,
            "peak_count": self._peak,
            "threshold": self._config.threshold,
            "dwell_s": self._config.dwell_s,
            "duration_s": round(now - since, 3),
            "track_ids": involved.track_ids(),
        }

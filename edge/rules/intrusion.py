"""Intrusion: a tracked object of given labels stays inside a zone for `min_s`."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt

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
from edge.rules.rule_config import DwellRuleConfig, RuleConfigBase
from gridwatch.contract import EventType


class IntrusionRuleConfig(DwellRuleConfig):
    type: Literal["intrusion"] = "intrusion"


class IntrusionRule(Rule):
    """Starts when a confirmed track has been inside the zone for `min_s`.

    Dwell is measured per track id; a track missing from the zone for longer than
    `clear_s` starts its dwell again when it returns. The episode ends once no
    object of the labels (tracked or not) has been inside for `clear_s`; no new
    episode starts for `cooldown_s` after an end.
    """

    type_key = "intrusion"
    # Wider than IntrusionRuleConfig: presence and parking bring their own.
    config_class: ClassVar[type[RuleConfigBase]] = IntrusionRuleConfig
    event_type = EventType.INTRUSION

    def __init__(self, config: DwellRuleConfig, *, scope: RuleScope) -> None:
        super().__init__(scope)
        self._config = config
        self._labels = frozenset(config.labels)
        self._episode = Episode(
            scope=scope,
            event_type=self.event_type,
            rule_type=self.type_key,
            cooldown_s=config.cooldown_s,
        )
        self._entered_at: dict[int, float] = {}
        self._last_seen: dict[int, float] = {}
        self._last_present = 0.0
        self._episode_track_ids: set[int] = set()

    @classmethod
    def from_config(cls, config: RuleConfigBase, *, scope: RuleScope) -> IntrusionRule:
        return cls(expect_config(config, IntrusionRuleConfig), scope=scope)

    def update(self, obs: ZoneObservation) -> list[RuleSignal]:
        now = obs.timestamp
        mask = obs.mask_for(self._labels)
        self._remember_tracks(obs, mask)
        if np.any(mask):
            self._last_present = now
        if self._episode.is_active:
            if now - self._last_present >= self._config.clear_s:
                return self.close(now)
            self._episode_track_ids.update(self._qualifying_ids(obs, mask))
            return []
        return self._maybe_start(obs, mask)

    def close(self, timestamp: float) -> list[RuleSignal]:
        if not self._episode.is_active:
            return []
        signal = self._episode.end(timestamp, self._attributes(timestamp))
        self._episode_track_ids.clear()
        return [signal]

    def _remember_tracks(
        self, obs: ZoneObservation, mask: npt.NDArray[np.bool_]
    ) -> None:
        now = obs.timestamp
        # Forget tracks away longer than clear_s first, so a return restarts dwell.
        gone = [
            t
            for t, seen in self._last_seen.items()
            if now - seen > self._config.clear_s
        ]
        for tid in gone:
            del self._last_seen[tid]
            del self._entered_at[tid]
        for tid in obs.detections.tracker_id[mask]:
            if tid >= 0:
                self._entered_at.setdefault(int(tid), now)
                self._last_seen[int(tid)] = now

    def _qualifying_mask(
        self, obs: ZoneObservation, mask: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.bool_]:
        now, min_s = obs.timestamp, self._config.min_s
        dwelt = np.array(
            [
                now - self._entered_at.get(int(t), now) >= min_s and t >= 0
                for t in obs.detections.tracker_id
            ],
            dtype=np.bool_,
        ).reshape(-1)
        return mask & dwelt

    def _qualifying_ids(
        self, obs: ZoneObservation, mask: npt.NDArray[np.bool_]
    ) -> set[int]:
        ids = obs.detections.tracker_id[self._qualifying_mask(obs, mask)]
        return {int(t) for t in ids}

    def _maybe_start(
        self, obs: ZoneObservation, mask: npt.NDArray[np.bool_]
    ) -> list[RuleSignal]:
        now = obs.timestamp
        qualifying = self._qualifying_mask(obs, mask)
        if not np.any(qualifying) or not self._episode.can_start(now):
            return []
        self._episode_track_ids = {
            int(t) for t in obs.detections.tracker_id[qualifying]
        }
        involved = Involved.from_observation(obs, qualifying)
        return [self._episode.start(now, involved, self._attributes(now))]

    def _attributes(self, now: float) -> dict[str, AttributeValue]:
        inside = [
            now - self._entered_at[t]
            for t in self._episode_track_ids
            if t in self._entered_at
        ]
        episode = self._episode
        duration_s = now - episode.started_at if episode.is_active else 0.0
        return {
            "labels": sorted(self._labels),
            "min_s": self._config.min_s,
            "count": len(self._episode_track_ids),
            "dwell_s": round(max(inside, default=0.0), 3),
            "duration_s": round(duration_s, 3),
            "track_ids": [str(t) for t in sorted(self._episode_track_ids)],
        }

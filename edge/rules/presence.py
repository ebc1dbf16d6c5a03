"""Presence: a label (fire, smoke, an overflowing bin, …) in a zone for `min_s`.

Meant for the classes of a city's own detector; with the node's COCO detector it
works for any of its labels too.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edge.rules.base import RuleScope, expect_config
from edge.rules.intrusion import IntrusionRule
from edge.rules.rule_config import DwellRuleConfig, RuleConfigBase
from gridwatch.contract import EventType


class PresenceRuleConfig(DwellRuleConfig):
    """A label (e.g. of a city's own fire/smoke or overflowing-bin model) in the
    zone for `min_s`: event type `presence`, the label in its attributes."""

    type: Literal["presence"] = "presence"
    labels: list[str] = Field(
        min_length=1, description="Labels whose presence is the event."
    )
    min_s: float = Field(
        default=5.0, ge=0, description="Present in the zone at least this long."
    )
    cooldown_s: float = Field(default=300.0, ge=0)


class PresenceRule(IntrusionRule):
    """An intrusion of the configured labels, raised as event type `presence`."""

    type_key = "presence"
    config_class = PresenceRuleConfig
    event_type = EventType.PRESENCE

    @classmethod
    def from_config(cls, config: RuleConfigBase, *, scope: RuleScope) -> PresenceRule:
        return cls(expect_config(config, PresenceRuleConfig), scope=scope)

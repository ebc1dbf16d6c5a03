"""Presence: a label (fire, smoke, an overflowing bin, …) in a zone for `min_s`.

Meant for the classes of a city's own detector; with the node's COCO detector it
works for any of its labels too.
"""

from __future__ import annotations

from pydantic import BaseModel

from edge.config import PresenceRuleConfig
from edge.rules.base import RuleScope, expect_config
from edge.rules.intrusion import IntrusionRule
from gridwatch.contract import EventType


class PresenceRule(IntrusionRule):
    """An intrusion of the configured labels, raised as event type `presence`."""

    type_key = "presence"
    event_type = EventType.PRESENCE

    @classmethod
    def from_config(cls, config: BaseModel, *, scope: RuleScope) -> PresenceRule:
        return cls(expect_config(config, PresenceRuleConfig), scope=scope)

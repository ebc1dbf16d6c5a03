"""Zone rules: plug-in interface, built-in rules and the per-camera engine."""

from edge.rules.base import (
    AttributeValue,
    BoxNorm,
    Episode,
    Involved,
    Rule,
    RuleScope,
    RuleSignal,
    ZoneObservation,
)
from edge.rules.crowding import CrowdingRule
from edge.rules.engine import CameraRules, RulesResult, ZoneRules
from edge.rules.fall import FallRule
from edge.rules.intrusion import IntrusionRule
from edge.rules.littering import AbandonedObjectRule, LitteringRule
from edge.rules.occupancy import OccupancyRule, count_by_label
from edge.rules.registry import build_rule, rule_types
from edge.zones import Zone, points_in_polygon

__all__ = [
    "AbandonedObjectRule",
    "AttributeValue",
    "BoxNorm",
    "CameraRules",
    "CrowdingRule",
    "Episode",
    "FallRule",
    "IntrusionRule",
    "Involved",
    "LitteringRule",
    "OccupancyRule",
    "Rule",
    "RuleScope",
    "RuleSignal",
    "RulesResult",
    "Zone",
    "ZoneObservation",
    "ZoneRules",
    "build_rule",
    "count_by_label",
    "points_in_polygon",
    "rule_types",
]

"""Zone rules: the plug-in interface and registry, one module per built-in rule.

This package re-exports what a rule plug-in needs. The built-in rules
(`edge.rules.crowding`, ...) are found by the registry and the per-camera engine
is `edge.rules.engine`; neither is imported here: `edge.config` validates rule
configs through the registry, and the engine (and, through the pose stage, the
fall rule) import `edge.config`.
"""

from edge.rules.base import (
    AttributeValue,
    BoxNorm,
    Episode,
    Involved,
    Rule,
    RuleScope,
    RuleSignal,
    ZoneObservation,
    expect_config,
)
from edge.rules.registry import (
    RulePluginError,
    build_rule,
    event_types,
    load_rule_plugin,
    rule_types,
)
from edge.rules.rule_config import (
    DwellRuleConfig,
    RuleConfigBase,
    StaticObjectRuleConfig,
)

__all__ = [
    "AttributeValue",
    "BoxNorm",
    "DwellRuleConfig",
    "Episode",
    "Involved",
    "Rule",
    "RuleConfigBase",
    "RulePluginError",
    "RuleScope",
    "RuleSignal",
    "StaticObjectRuleConfig",
    "ZoneObservation",
    "build_rule",
    "event_types",
    "expect_config",
    "load_rule_plugin",
    "rule_types",
]

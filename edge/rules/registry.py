"""Rule registry: finds rule plug-ins in `edge.rules` and builds them from config."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Mapping

from pydantic import BaseModel

import edge.rules
from edge.rules.base import Rule, RuleScope, registered_rule_types

logger = logging.getLogger(__name__)

# Modules of the package that hold no rule; skipping them avoids import cycles.
_NOT_PLUGINS = frozenset({"base", "engine", "registry", "zones"})
_loaded = False


def rule_types() -> Mapping[str, type[Rule]]:
    """All rule classes by `type_key`, importing every rule module once.

    Any module dropped into `edge/rules/` that defines a `Rule` subclass with a
    `type_key` is found here, so a new rule needs no change to the engine.
    """
    global _loaded
    if not _loaded:
        for module in pkgutil.iter_modules(edge.rules.__path__):
            if module.name not in _NOT_PLUGINS and not module.name.startswith("_"):
                importlib.import_module(f"{edge.rules.__name__}.{module.name}")
        _loaded = True
    return registered_rule_types()


def build_rule(config: BaseModel, *, scope: RuleScope) -> Rule:
    """Build the rule plug-in that handles `config.type`.

    Args:
        config: One rule config of a zone (a member of `edge.config.RuleConfig`).
        scope: Where the rule sits.

    Returns:
        A fresh rule instance with its own state.

    Raises:
        ValueError: No rule plug-in handles this config type.
    """
    type_key = getattr(config, "type", None)
    rule_class = rule_types().get(str(type_key))
    if rule_class is None:
        known = sorted(rule_types())
        raise ValueError(
            f"camera {scope.camera_id!r} zone {scope.zone_id!r}: no rule plug-in "
            f"for type {type_key!r} (known: {known})"
        )
    logger.debug(
        "camera %s: zone %s rule %d is %s",
        scope.camera_id,
        scope.zone_id,
        scope.index,
        type_key,
    )
    return rule_class.from_config(config, scope=scope)

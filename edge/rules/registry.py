"""Rule registry: finds rule plug-ins, validates their configs and builds them.

Built-in rules are the modules of `edge.rules`; a node config can name more
plug-in modules outside the package (`plugins:`), imported by
`load_rule_plugin`.
"""

from __future__ import annotations

import functools
import importlib
import logging
import pkgutil
from collections.abc import Mapping
from typing import Annotated, Union

from pydantic import Field, TypeAdapter

import edge.rules
from edge.rules.base import Rule, RuleScope, registered_rule_types
from edge.rules.rule_config import RuleConfigBase

logger = logging.getLogger(__name__)

# Modules of the package that hold no rule; skipping them avoids import cycles.
_NOT_PLUGINS = frozenset({"base", "engine", "registry", "rule_config"})
_loaded = False


class RulePluginError(ValueError):
    """A named plug-in module cannot be imported or defines no rule."""


def rule_types() -> Mapping[str, type[Rule]]:
    """All rule classes by `type_key`, importing every built-in rule module once.

    Any module dropped into `edge/rules/` that defines a `Rule` subclass with a
    `type_key` is found here, as is every rule of a loaded plug-in module, so a
    new rule needs no change to the engine or the node config.
    """
    global _loaded
    if not _loaded:
        for module in pkgutil.iter_modules(edge.rules.__path__):
            if module.name not in _NOT_PLUGINS and not module.name.startswith("_"):
                importlib.import_module(f"{edge.rules.__name__}.{module.name}")
        _loaded = True
    return registered_rule_types()


def event_types() -> dict[str, str]:
    """The event type each rule raises, by `type_key` (rules raising none left out)."""
    return {
        key: rule.event_type
        for key, rule in sorted(rule_types().items())
        if hasattr(rule, "event_type")
    }


def load_rule_plugin(module: str) -> tuple[type[Rule], ...]:
    """Import a rule plug-in module and return the rules it defines.

    Args:
        module: Dotted module name, importable from `sys.path`; its rules are
            the `Rule` subclasses with a `type_key` defined in it (or in its
            submodules).

    Raises:
        RulePluginError: The module cannot be imported (its error is named), or
            it defines no rule.
    """
    try:
        importlib.import_module(module)
    # A plug-in is foreign code: whatever its import raises (a missing module,
    # a syntax error, a rule whose parts do not fit) is reported against it.
    except Exception as error:
        raise RulePluginError(
            f"cannot import rule plug-in module {module!r}: "
            f"{type(error).__name__}: {error}"
        ) from error
    rules = rules_of_module(module)
    if not rules:
        raise RulePluginError(
            f"rule plug-in module {module!r} defines no rule (a Rule subclass "
            "with a type_key)"
        )
    logger.info("rule plug-in %s: rules %s", module, [r.type_key for r in rules])
    return rules


def rules_of_module(module: str) -> tuple[type[Rule], ...]:
    """The registered rules defined in `module` or its submodules."""
    return tuple(
        rule
        for _, rule in sorted(registered_rule_types().items())
        if rule.__module__ == module or rule.__module__.startswith(f"{module}.")
    )


def validate_rule_config(value: object) -> RuleConfigBase:
    """Validate one rule config of a zone against the registered rules' configs.

    The union is built from the plug-ins registered now, discriminated by
    `type` (as Frigate builds its detector config union from its plug-ins), so
    errors read as for any pydantic union: an unknown `type` names the known
    ones, a bad field its path under the rule's type.

    Raises:
        pydantic.ValidationError: `value` fits no registered rule's config.
    """
    configs = tuple(rule.config_class for _, rule in sorted(rule_types().items()))
    return _config_union(configs).validate_python(value)


@functools.cache
def _config_union(
    configs: tuple[type[RuleConfigBase], ...],
) -> TypeAdapter[RuleConfigBase]:
    # The members are only known at run time: static code sees RuleConfigBase.
    union = Union[configs]  # type: ignore[valid-type]  # noqa: UP007
    adapter: TypeAdapter[RuleConfigBase] = TypeAdapter(
        Annotated[union, Field(discriminator="type")]
    )
    return adapter


def build_rule(config: RuleConfigBase, *, scope: RuleScope) -> Rule:
    """Build the rule plug-in that handles `config.type`.

    Args:
        config: One rule config of a zone (see `edge.config.RuleConfig`).
        scope: Where the rule sits.

    Returns:
        A fresh rule instance with its own state.

    Raises:
        ValueError: No rule plug-in handles this config type.
    """
    rule_class = rule_types().get(config.type)
    if rule_class is None:
        known = sorted(rule_types())
        raise ValueError(
            f"camera {scope.camera_id!r} zone {scope.zone_id!r}: no rule plug-in "
            f"for type {config.type!r} (known: {known})"
        )
    logger.debug(
        "camera %s: zone %s rule %d is %s",
        scope.camera_id,
        scope.zone_id,
        scope.index,
        config.type,
    )
    return rule_class.from_config(config, scope=scope)

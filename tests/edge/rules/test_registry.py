"""Rule registry: plug-in modules outside the package, and the config union."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from edge.rules.crowding import CrowdingRuleConfig
from edge.rules.registry import (
    RulePluginError,
    event_types,
    load_rule_plugin,
    rules_of_module,
    validate_rule_config,
)
from gridwatch.contract import EventType
from tests.edge.rules.plugins import STAMP_PLUGIN, write_module


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_load_rule_plugin_given_a_rule_module_should_register_its_rule(
    plugin_dir: Path,
) -> None:
    module = write_module(plugin_dir, "gw_test_stamp_plugin", STAMP_PLUGIN)

    [rule] = load_rule_plugin(module)

    assert rule.type_key == "stamp_test"
    assert rules_of_module(module) == (rule,)
    assert event_types()["stamp_test"] == "stamp"
    config = validate_rule_config({"type": "stamp_test", "labels": ["car"]})
    assert isinstance(config, rule.config_class)


@pytest.mark.parametrize(
    ("name", "source", "message"),
    [
        ("gw_test_missing_plugin", None, "ModuleNotFoundError"),
        ("gw_test_empty_plugin", "X = 1\n", "defines no rule"),
        ("gw_test_broken_plugin", "raise RuntimeError('no licence')\n", "no licence"),
        (
            "gw_test_mismatched_plugin",
            STAMP_PLUGIN.replace('type_key = "stamp_test"', 'type_key = "other"'),
            "must default to its type_key 'other'",
        ),
        (
            "gw_test_configless_plugin",
            STAMP_PLUGIN.replace('"stamp_test"', '"stamp_configless"').replace(
                "    config_class = StampRuleConfig\n", ""
            ),
            "config_class must be a RuleConfigBase subclass",
        ),
        (
            "gw_test_bad_event_plugin",
            STAMP_PLUGIN.replace('"stamp_test"', '"stamp_bad"').replace(
                'event_type = "stamp"', 'event_type = "Stamp!"'
            ),
            "event_type 'Stamp!'",
        ),
    ],
)
def test_load_rule_plugin_given_a_bad_module_should_raise_naming_it(
    plugin_dir: Path, name: str, source: str | None, message: str
) -> None:
    if source is not None:
        write_module(plugin_dir, name, source)

    with pytest.raises(RulePluginError, match=f"'{name}'") as error:
        load_rule_plugin(name)

    assert message in str(error.value)


def test_event_types_should_give_each_built_in_rules_type() -> None:
    types = event_types()

    assert types["crowding"] is EventType.CROWDING
    assert types["illegal_parking"] is EventType.ILLEGAL_PARKING
    assert "occupancy" not in types  # it measures, it raises nothing


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"type": "teleport"}, "does not match any of the expected tags"),
        ({"threshold": 3}, "Unable to extract tag"),
        ({"type": "crowding", "threshold": 0}, "crowding.threshold"),
    ],
)
def test_validate_rule_config_given_bad_config_should_raise_naming_it(
    value: object, message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace(".", r"\.")):
        validate_rule_config(value)


def test_validate_rule_config_given_a_config_object_should_keep_it() -> None:
    config = CrowdingRuleConfig(threshold=3)

    assert validate_rule_config(config) is config

"""Node config validation: one minimal valid dict, one change per case."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.config import ConfigError, load_config, parse_config
from harness.cli import main
from tests.conftest import REPO_ROOT
from tests.edge.rules.plugins import STAMP_PLUGIN, write_module
from tests.utils.tls import with_local_tls_files

MINIMAL: dict[str, Any] = {
    "node_id": "n1",
    "cameras": [
        {
            "id": "c1",
            "url": "rtsp://127.0.0.1/x",
            "location": {"lat": 23.1, "lon": 113.2},
        }
    ],
}


def _with(path: list[str | int], value: object) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def test_parse_config_given_minimal_dict_should_fill_defaults() -> None:
    config = parse_config(MINIMAL)
    assert config.broker.port == 1883
    assert config.batch.max_batch == 1
    assert config.cameras[0].kind == "rtsp"


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (["cameras", 0, "analysis_fsp"], 5, "cameras.0.analysis_fsp"),
        (["cameras", 0, "analysis_fps"], 0, "cameras.0.analysis_fps"),
        (["cameras", 0, "kind"], "webcam", "cameras.0.kind"),
        (["cameras", 0, "location"], {"lat": 123, "lon": 0}, "cameras.0.location.lat"),
        (["cameras", 0, "zones"], [{"id": "z", "rules": [{"type": "x"}]}], "rules.0"),
        (["cameras", 0, "zones"], [{"id": "z", "polygon_norm": [[0, 0], [1, 1]]}],
         "polygon_norm"),
        (["cameras", 0, "zones"], [{"id": "z"}, {"id": "z"}], "duplicate zone ids"),
        (["broker", ], {"port": 0}, "broker.port"),
        (["cameras"], [], "cameras"),
        (["node_id"], "bad id/with slash", "node_id"),
    ],
)  # fmt: skip
def test_parse_config_given_one_bad_value_should_raise_naming_it(
    path: list[str | int], value: object, named: str
) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        parse_config(_with(path, value))


def test_parse_config_given_duplicate_camera_ids_should_raise() -> None:
    data = copy.deepcopy(MINIMAL)
    data["cameras"].append(copy.deepcopy(data["cameras"][0]))
    with pytest.raises(ConfigError, match="duplicate camera ids"):
        parse_config(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [("node_id: [unclosed", "not valid YAML"), ("- a\n- b\n", "mapping")],
)
def test_load_config_given_broken_file_should_raise_clear_error(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "node.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_load_config_given_missing_file_should_name_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read node config .*nope\.yaml"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    "example", ["config/node.example.yaml", "docker/node.compose.yaml"]
)
def test_load_config_given_shipped_examples_should_validate(
    example: str, tmp_path: Path
) -> None:
    path = REPO_ROOT / example
    if example.startswith("docker/"):  # its TLS files exist in the container
        path = with_local_tls_files(path, tmp_path)
    config = load_config(path)
    assert config.cameras


def _with_plugin_rule(plugins: list[str]) -> dict[str, Any]:
    zones = [{"id": "z", "rules": [{"type": "stamp_test"}]}]
    data = _with(["cameras", 0, "zones"], zones)
    data["plugins"] = plugins
    return data


def test_parse_config_given_a_plug_in_should_validate_its_rule_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    module = write_module(tmp_path, "gw_test_stamp_plugin", STAMP_PLUGIN)

    config = parse_config(_with_plugin_rule([module]))

    assert config.plugins == [module]
    [rule] = config.cameras[0].zones[0].rules
    assert rule.type == "stamp_test"
    assert type(rule).__module__ == module


@pytest.mark.parametrize(
    ("plugins", "named"),
    [
        (["gw_test_absent.rules"], "plugins.0: cannot import rule plug-in module "
         "'gw_test_absent.rules': ModuleNotFoundError"),
        (["json"], "plugins.0: rule plug-in module 'json' defines no rule"),
        (["not a module"], "plugins.0: String should match pattern"),
    ],
)  # fmt: skip
def test_parse_config_given_a_bad_plug_in_should_raise_naming_it(
    plugins: list[str], named: str
) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(_with_plugin_rule(plugins))

    assert named in str(error.value)


def test_check_config_given_a_plug_in_should_name_its_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    module = write_module(tmp_path, "gw_test_stamp_plugin", STAMP_PLUGIN)
    path = tmp_path / "node.yaml"
    path.write_text(yaml.safe_dump(_with_plugin_rule([module])), encoding="utf-8")

    assert main(["edge", "check-config", str(path)]) == 0

    out = capsys.readouterr().out
    assert ": ok: node n1, 1 cameras, 1 rules" in out
    assert f"plug-in {module}: rule stamp_test, event type stamp" in out

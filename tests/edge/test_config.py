"""Node config validation: one minimal valid dict, one change per case."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from edge.config import ConfigError, load_config, parse_config
from tests.conftest import REPO_ROOT

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
def test_load_config_given_shipped_examples_should_validate(example: str) -> None:
    config = load_config(REPO_ROOT / example)
    assert config.cameras

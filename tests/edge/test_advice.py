"""Advice on valid settings that work worse than the measured ones."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.advice import config_advice
from edge.config import parse_config
from harness.cli import main
from tests.edge.test_config import MINIMAL


def with_rules(fps: float, rules: list[dict[str, Any]]) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    data["cameras"][0]["analysis_fps"] = fps
    data["cameras"][0]["zones"] = [{"id": "ward", "rules": rules}]
    return data


@pytest.mark.parametrize(
    ("fps", "rules", "advised"),
    [
        (5, [{"type": "fall"}], True),
        (10, [{"type": "fall"}], False),
        (5, [{"type": "occupancy"}], False),
    ],
)
def test_config_advice_should_name_fall_cameras_below_the_measured_rate(
    fps: float, rules: list[dict[str, Any]], advised: bool
) -> None:
    lines = config_advice(parse_config(with_rules(fps, rules)))

    assert bool(lines) is advised
    if advised:
        assert lines == [
            "camera c1: a fall rule at analysis_fps 5: falls were measured at 10 "
            "analysed fps; below that short falls can be missed (docs/edge.md#falls)"
        ]


def test_check_config_should_print_the_advice_and_still_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "node.yaml"
    path.write_text(yaml.safe_dump(with_rules(5, [{"type": "fall"}])))

    assert main(["edge", "check-config", str(path)]) == 0

    out = capsys.readouterr().out
    assert ": ok: node n1, 1 cameras, 1 rules" in out
    assert "note: camera c1: a fall rule at analysis_fps 5" in out

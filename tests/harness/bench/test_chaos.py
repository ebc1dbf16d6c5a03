"""Options of `gridwatch bench chaos` (harness/bench/chaos.py)."""

from __future__ import annotations

import argparse
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pytest

from harness.bench.chaos import (
    DEFAULT_FAULTS,
    FAULTS,
    FULL,
    SMALL,
    add_arguments,
    parse_faults,
    timing_for,
)


@pytest.mark.parametrize(
    ("text", "expected", "raises"),
    [
        ("pg_freeze", ["pg_freeze"], nullcontext()),
        (" broker_kill , poison ", ["broker_kill", "poison"], nullcontext()),
        ("poison,replica_kill", ["poison", "replica_kill"], nullcontext()),
        ("", None, pytest.raises(ValueError, match="choose from")),
        (",", None, pytest.raises(ValueError, match="choose from")),
        ("pg_freeze,meteor", None, pytest.raises(ValueError, match="meteor")),
    ],
)
def test_parse_faults_given_names_should_keep_their_order_or_name_the_bad_one(
    text: str, expected: list[str] | None, raises: AbstractContextManager[Any]
) -> None:
    with raises:
        assert parse_faults(text) == expected


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults_given_no_options_should_leave_out_the_known_gap_and_real_node() -> (
    None
):
    args = _args()
    assert parse_faults(args.faults) == DEFAULT_FAULTS
    assert set(FAULTS) - set(DEFAULT_FAULTS) == {
        "broker_restart_central_late", "edge_node_kill", "edge_node_kill_backlog",
        "camera_dark",
    }  # fmt: skip
    assert parse_faults("edge_node_kill,camera_dark") == [
        "edge_node_kill", "camera_dark",
    ]  # fmt: skip
    assert timing_for(args) == FULL
    assert FULL.freeze_s == 60.0


def test_timing_for_given_small_and_overrides_should_change_only_those() -> None:
    timing = timing_for(_args("--small", "--freeze-s", "7", "--rate", "25"))
    assert (timing.freeze_s, timing.rate) == (7.0, 25.0)
    assert timing.hold_s == SMALL.hold_s and timing.poison == SMALL.poison
    assert SMALL.freeze_s < FULL.freeze_s and SMALL.hold_s < FULL.hold_s

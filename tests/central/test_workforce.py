"""Duty windows as an admin sends them: normalised, or refused naming the window."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pytest

from central.workforce import InvalidWorker, normalise_duty


@pytest.mark.parametrize(
    ("windows", "expected", "raises"),
    [
        ([], [], nullcontext()),
        (
            [{"days": [5, 1, 1], "start": "08:00", "end": "17:30"}],
            [{"days": [1, 5], "start": "08:00", "end": "17:30"}],
            nullcontext(),
        ),
        (
            [{"days": [7], "start": "22:00", "end": "06:00"}],  # overnight
            [{"days": [7], "start": "22:00", "end": "06:00"}],
            nullcontext(),
        ),
        (
            [{"start": "08:00:00", "end": "09:00"}],  # every day by default
            [{"days": [1, 2, 3, 4, 5, 6, 7], "start": "08:00", "end": "09:00"}],
            nullcontext(),
        ),
        (
            [{"days": [0], "start": "08:00", "end": "09:00"}],
            None,
            pytest.raises(InvalidWorker, match="window 1: duty days"),
        ),
        (
            [
                {"days": [1], "start": "08:00", "end": "09:00"},
                {"days": [1], "start": "24:00", "end": "09:00"},
            ],
            None,
            pytest.raises(InvalidWorker, match="window 2"),
        ),
        (
            [{"days": [1], "start": "08:00"}],
            None,
            pytest.raises(InvalidWorker, match="window 1: 'end'"),
        ),
        (
            [{"days": [1], "start": "08:00", "end": "08:00"}],
            None,
            pytest.raises(InvalidWorker, match="covers no time"),
        ),
    ],
)
def test_normalise_duty_given_windows_should_store_or_refuse(
    windows: list[dict[str, Any]],
    expected: list[dict[str, Any]] | None,
    raises: AbstractContextManager[Any],
) -> None:
    with raises:
        assert normalise_duty(windows) == expected

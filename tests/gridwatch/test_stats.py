"""Tests for gridwatch/stats.py."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import pytest

from gridwatch.stats import percentile


def test_percentile_interpolates_linearly() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([60.0, 120.0, 180.0], 0.5) == 120.0
    assert percentile([60.0, 120.0, 180.0], 0.9) == pytest.approx(168.0)
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5


@pytest.mark.parametrize("q", [0.0, 0.5, 0.9, 0.95, 0.99, 1.0])
def test_percentile_given_unsorted_values_should_match_numpy_linear(q: float) -> None:
    values = np.random.default_rng(5).exponential(40.0, size=1001).tolist()
    assert percentile(values, q) == pytest.approx(
        float(np.percentile(values, q * 100, method="linear"))
    )


@pytest.mark.parametrize(
    ("q", "expectation"),
    [
        (0.0, nullcontext()),
        (1.0, nullcontext()),
        (-0.1, pytest.raises(ValueError, match=r"-0\.1 is outside 0\.\.1")),
        (95.0, pytest.raises(ValueError, match=r"95\.0 is outside 0\.\.1")),
    ],
)
def test_percentile_given_quantile_outside_0_1_should_raise(
    q: float, expectation: AbstractContextManager[Any]
) -> None:
    with expectation:
        percentile([1.0, 2.0], q)

"""Tests for central/performance_combine.py: rows of several periods as one."""

from __future__ import annotations

from typing import Any

import pytest

from central.performance import EvaluationRow
from central.performance_combine import combine_periods


def _row(period_start: str, key: str | None, **values: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        name: None if info.annotation == (float | None) else 0
        for name, info in EvaluationRow.model_fields.items()
    }
    fields.update(period_start=period_start, key=key, name=None)
    fields.update(values)
    return vars(EvaluationRow.model_validate(fields))


def test_combine_given_two_months_should_sum_counts_and_recompute_rates() -> None:
    march = _row("2024-03-01", "g1", tickets=4, closed=2, on_time_closed=2)
    april = _row("2024-04-01", "g1", name="Grid 1", tickets=6, closed=2)
    combined = combine_periods([april, march])
    (row,) = combined.rows
    assert combined.total_rows == 1
    assert row.period_start == "2024-03-01"
    assert row.name == "Grid 1"
    assert (row.tickets, row.closed, row.on_time_closed) == (10, 4, 2)
    assert row.on_time_close_rate == 0.5  # 2 of 4, not the mean of 1.0 and 0.0
    assert row.rework_rate is None  # nothing resolved in either
    assert EvaluationRow.model_validate(row.model_dump()) == row


def test_combine_should_weight_time_statistics_by_their_tickets() -> None:
    few = _row("2024-03-01", "g1", dispatched=1, dispatch_s_p50=100.0)
    many = _row("2024-04-01", "g1", dispatched=3, dispatch_s_p50=20.0)
    empty = _row("2024-05-01", "g1", dispatched=0)
    (row,) = combine_periods([few, many, empty]).rows
    assert row.dispatch_s_p50 == pytest.approx((100 + 3 * 20) / 4)
    assert row.close_s_p50 is None


def test_combine_should_keep_keys_apart_most_tickets_first() -> None:
    rows = [
        _row("2024-03-01", "g2", tickets=1),
        _row("2024-03-01", None, tickets=2),
        _row("2024-04-01", "g2", tickets=5),
    ]
    combined = combine_periods(rows)
    assert [(r.key, r.tickets) for r in combined.rows] == [("g2", 6), (None, 2)]


def test_combine_limit_should_keep_most_tickets_ties_by_key() -> None:
    rows = [
        _row("2024-03-01", "b", tickets=3),
        _row("2024-03-01", "a", tickets=3),
        _row("2024-03-01", "c", tickets=9),
    ]
    combined = combine_periods(rows, limit=2)
    assert [r.key for r in combined.rows] == ["c", "a"]
    assert combined.total_rows == 3


def test_combine_given_no_rows_should_give_none() -> None:
    combined = combine_periods([])
    assert (combined.rows, combined.total_rows) == ([], 0)

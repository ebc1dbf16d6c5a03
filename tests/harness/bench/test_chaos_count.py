"""Counting of `gridwatch bench chaos` (harness/bench/chaos_count.py)."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pytest

from harness.bench.chaos_count import (
    FaultResult,
    PhaseLog,
    PoisonResult,
    count_fault,
    count_poison,
    grids_needed,
    recovery_s,
    report,
)

FAULT_KEYS = {"name", "published", "tickets", "lost", "duplicates", "recovery_s"}
POISON_KEYS = {"sent", "dead_lettered", "good_after_bad_ticketed"}


def _phase(published: dict[str, float], cleared_at: float | None = 10.0) -> PhaseLog:
    return PhaseLog("broker_kill", published=published, cleared_at=cleared_at)


@pytest.mark.parametrize(
    ("published", "ticketed", "cleared_at", "expected"),
    [
        ({}, {}, 10.0, 0.0),  # nothing published: caught up at once
        ({"a": 9.0}, {"a": 9.5}, 10.0, 0.0),  # ticketed before the clear
        ({"a": 9.0, "b": 9.9}, {"a": 12.0, "b": 11.0}, 10.0, 2.0),
        ({"a": 9.0, "late": 11.0}, {"a": 10.5}, 10.0, 0.5),  # after the clear: ignored
        ({"a": 9.0}, {}, 10.0, None),  # never ticketed
        ({"a": 9.0}, {"a": 9.5}, None, None),  # never cleared
    ],
)
def test_recovery_s_given_publish_and_ticket_times_should_measure_from_the_clear(
    published: dict[str, float],
    ticketed: dict[str, float],
    cleared_at: float | None,
    expected: float | None,
) -> None:
    assert recovery_s(published, ticketed, cleared_at) == expected


@pytest.mark.parametrize(
    ("published", "ticketed", "notices", "lost", "duplicates", "missing"),
    [
        ({}, {}, {}, 0, 0, 0),
        ({"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 3.0}, {"a": 1, "b": 1}, 0, 0, 0),
        ({"a": 1.0, "b": 2.0}, {"a": 3.0}, {"a": 1}, 1, 0, 0),  # b lost
        ({"a": 1.0}, {"a": 3.0}, {"a": 3}, 0, 2, 0),  # two extra notices
        ({"a": 1.0}, {"a": 3.0}, {}, 0, 0, 1),  # ticket without its push
        # tickets and notices of events from other phases do not count here
        ({"a": 1.0}, {"a": 3.0, "z": 3.0}, {"a": 1, "z": 5}, 0, 0, 0),
    ],
)
def test_count_fault_given_tickets_and_notices_should_count_lost_and_duplicates(
    published: dict[str, float],
    ticketed: dict[str, float],
    notices: dict[str, int],
    lost: int,
    duplicates: int,
    missing: int,
) -> None:
    result = count_fault(_phase(published), ticketed_at=ticketed, notices=notices)
    assert (result.published, result.lost) == (len(published), lost)
    assert result.tickets == len(published) - lost
    assert (result.duplicates, result.notices_missing) == (duplicates, missing)
    assert result.is_clean == (lost == 0 and duplicates == 0)


def test_count_fault_given_refusals_should_report_them_apart_from_published() -> None:
    phase = PhaseLog("edge_disk_full", {"a": 1.0}, refused=4, not_stored=2)
    phase.cleared_at = 2.0
    result = count_fault(phase, ticketed_at={"a": 1.5}, notices={"a": 1})
    assert (result.published, result.refused, result.not_stored) == (1, 4, 2)
    assert result.is_clean


def test_count_poison_given_good_events_after_the_batch_should_count_the_ticketed() -> (
    None
):
    result = count_poison(
        sent=13, dead_lettered=13, good_after=["a", "b"], ticketed_at={"a": 1.0}
    )
    assert result == PoisonResult(13, 13, 2, 1)
    assert not result.is_clean
    assert PoisonResult(13, 13, 2, 2).is_clean
    assert not PoisonResult(13, 12, 0, 0).is_clean


@pytest.mark.parametrize(
    ("events", "types", "expected", "raises"),
    [
        (0, 3, 12, nullcontext()),
        (3000, 3, 1250, nullcontext()),
        (1, 1, 12, nullcontext()),
        (-1, 3, None, pytest.raises(ValueError, match="events >= 0")),
        (10, 0, None, pytest.raises(ValueError, match="types >= 1")),
    ],
)
def test_grids_needed_given_events_should_leave_a_grid_per_event_and_type(
    events: int, types: int, expected: int | None, raises: AbstractContextManager[Any]
) -> None:
    with raises:
        assert grids_needed(events, types) == expected


def _fault(**changes: Any) -> FaultResult:
    values: dict[str, Any] = {
        "name": "pg_freeze", "published": 10, "tickets": 10, "lost": 0,
        "duplicates": 0, "recovery_s": 1.5,
    }  # fmt: skip
    return FaultResult(**{**values, **changes})


@pytest.mark.parametrize(
    ("faults", "poison", "ok"),
    [
        ([_fault()], PoisonResult(5, 5, 3, 3), True),
        ([_fault()], None, True),
        ([], None, False),  # nothing run proves nothing
        ([_fault(), _fault(lost=1, tickets=9)], None, False),
        ([_fault(duplicates=1)], None, False),
        ([_fault(recovery_s=None)], None, False),  # never caught up
        ([_fault()], PoisonResult(5, 4, 3, 3), False),
    ],
)
def test_report_given_faults_should_have_one_entry_each_and_ok_only_when_clean(
    faults: list[FaultResult], poison: PoisonResult | None, ok: bool
) -> None:
    figures = report(faults, poison, {"seed": 7})
    assert figures["ok"] is ok
    assert figures["seed"] == 7
    assert [f["name"] for f in figures["faults"]] == [f.name for f in faults]
    assert all(set(f) >= FAULT_KEYS for f in figures["faults"])
    if poison is None:
        assert figures["poison"] is None
    else:
        assert set(figures["poison"]) >= POISON_KEYS


def test_count_fault_given_events_held_up_by_the_fault_should_count_them_pending() -> (
    None
):
    # a: ticketed before the clear; b: after it; c: published after the clear
    phase = _phase({"a": 1.0, "b": 2.0, "c": 11.0}, cleared_at=10.0)
    phase.injected_at = 0.5
    result = count_fault(
        phase, ticketed_at={"a": 3.0, "b": 12.0, "c": 11.5}, notices={}
    )
    assert result.pending_at_clear == 1
    assert result.lost_window_s is None
    lost = count_fault(phase, ticketed_at={"a": 3.0}, notices={})
    assert lost.lost_window_s == (1.5, 10.5)

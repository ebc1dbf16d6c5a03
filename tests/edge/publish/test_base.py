"""Tests of the publisher interface helpers."""

from __future__ import annotations

import pytest

from edge.publish.base import event_dedupe_key
from gridwatch.contract import EventPhase
from tests.edge.publish.factories import build_event


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        (EventPhase.START, "ev-00000007:start"),
        (EventPhase.END, "ev-00000007:end"),
        (EventPhase.UPDATE, "ev-00000007:update:2025-01-01T08:00:07+00:00"),
    ],
)
def test_event_dedupe_key_given_phase_should_identify_that_message(
    phase: EventPhase, expected: str
) -> None:
    assert event_dedupe_key(build_event("n1", 7, phase)) == expected


def test_event_dedupe_key_given_two_updates_should_differ() -> None:
    first = build_event("n1", 7, EventPhase.UPDATE)
    later = first.model_copy(update={"detected_at": build_event("n1", 8).detected_at})

    assert event_dedupe_key(first) != event_dedupe_key(later)

"""bench density: the sustain bar and the stream-count search."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import pytest

from harness.bench.density_search import SustainBar, next_streams, sustained_streams


@pytest.mark.parametrize(
    ("share", "frame_ms", "event_ms", "met"),
    [
        (0.96, 300.0, 800.0, True),
        (0.96, 300.0, None, True),  # no event in the window: frames decide
        (0.94, 300.0, None, False),
        (0.99, 1200.0, None, False),
        (0.99, 300.0, 1001.0, False),
        (1.0, None, None, False),  # nothing analysed
    ],
)
def test_bar_given_trial_figures_should_judge_them(
    share: float, frame_ms: float | None, event_ms: float | None, met: bool
) -> None:
    assert (
        SustainBar().is_met(
            analysed_share=share,
            frame_latency_ms_p95=frame_ms,
            event_latency_ms_p95=event_ms,
        )
        is met
    )


@pytest.mark.parametrize(
    ("share", "latency_ms", "raises"),
    [
        (0.95, 1000.0, nullcontext()),
        (0.0, 1000.0, pytest.raises(ValueError, match="min_analysed_share")),
        (1.5, 1000.0, pytest.raises(ValueError, match="min_analysed_share")),
        (0.95, 0.0, pytest.raises(ValueError, match="max_latency_ms")),
    ],
)
def test_bar_given_bounds_should_accept_only_sane_ones(
    share: float, latency_ms: float, raises: AbstractContextManager[object]
) -> None:
    with raises:
        SustainBar(min_analysed_share=share, max_latency_ms=latency_ms)


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ({}, 4),
        ({4: True}, 8),
        ({4: True, 8: True}, 16),
        ({4: True, 8: True, 16: True}, 20),  # capped at the maximum
        ({4: True, 8: True, 16: True, 20: True}, None),
        ({4: True, 8: False}, 6),
        ({4: True, 8: False, 6: True}, 7),
        ({4: True, 8: False, 6: True, 7: False}, None),
        ({4: False}, 2),
        ({4: False, 2: False}, 1),
        ({4: False, 2: False, 1: False}, None),
        # a pass above a failure is noise: the failure bounds the search
        ({4: True, 8: False, 16: True}, 6),
    ],
)
def test_next_streams_given_outcomes_should_double_then_bisect(
    outcomes: dict[int, bool], expected: int | None
) -> None:
    assert next_streams(outcomes, start=4, maximum=20) == expected


def test_next_streams_given_resolution_should_stop_that_close() -> None:
    assert next_streams({8: True, 10: False}, start=4, maximum=32, resolution=2) is None
    assert next_streams({8: True, 12: False}, start=4, maximum=32, resolution=2) == 10


def test_next_streams_given_nothing_passed_should_go_down_to_one_stream() -> None:
    assert next_streams({4: False, 2: False}, start=4, maximum=32, resolution=2) == 1
    assert next_streams({1: False}, start=1, maximum=32, resolution=2) is None


@pytest.mark.parametrize(
    ("start", "maximum", "resolution"), [(0, 8, 1), (9, 8, 1), (1, 8, 0)]
)
def test_next_streams_given_bad_bounds_should_raise(
    start: int, maximum: int, resolution: int
) -> None:
    with pytest.raises(ValueError, match="need 1 <= start <= maximum"):
        next_streams({}, start=start, maximum=maximum, resolution=resolution)


@pytest.mark.parametrize(
    ("outcomes", "sustained"),
    [
        ({}, 0),
        ({4: False, 2: False}, 0),
        ({4: True, 8: False, 6: True}, 6),
        ({4: True, 8: False, 16: True}, 4),
    ],
)
def test_sustained_streams_given_outcomes_should_take_most_passed_below_failure(
    outcomes: dict[int, bool], sustained: int
) -> None:
    assert sustained_streams(outcomes) == sustained

"""Tests for edge/ingest/sampler.py: analysis_fps honoured on any stream rate."""

from __future__ import annotations

import itertools
import random

import pytest

from edge.ingest.sampler import FrameSampler


def _picked(
    stream_fps: float,
    analysis_fps: float,
    *,
    seconds: float = 10.0,
    jitter_s: float = 0.0,
    start_s: float = 0.0,
) -> list[float]:
    """Times of the frames a sampler takes from a steady stream."""
    sampler = FrameSampler(analysis_fps)
    rng = random.Random(7)
    taken = []
    n = round(seconds * stream_fps)
    for i in range(n):
        t = start_s + i / stream_fps + rng.uniform(-jitter_s, jitter_s)
        if sampler.is_due(t):
            sampler.take(t)
            taken.append(t)
    return taken


@pytest.mark.parametrize(
    ("stream_fps", "analysis_fps", "expected_fps"),
    [
        (15, 10, 10),  # the old limiter analysed 7.5 here
        (25, 10, 10),
        (30, 10, 10),
        (30, 5, 5),
        (15, 5, 5),
        (12.5, 5, 5),
        (10, 5, 5),
        (29.97, 15, 15),
        (25, 15, 15),
        (10, 15, 10),  # a slower stream: every frame
        (5, 10, 5),
    ],
)
def test_sampler_given_stream_rate_should_analyse_at_analysis_fps(
    stream_fps: float, analysis_fps: float, expected_fps: float
) -> None:
    taken = _picked(stream_fps, analysis_fps, seconds=20.0)
    rate = (len(taken) - 1) / (taken[-1] - taken[0])
    assert rate == pytest.approx(expected_fps, rel=0.02)


def test_sampler_given_15_fps_for_10_should_keep_gaps_within_one_frame() -> None:
    taken = _picked(15, 10, seconds=6.0)
    gaps = [b - a for a, b in itertools.pairwise(taken)]
    # two frames of three: gaps of one and two frame periods, never three
    assert max(gaps) < 2.5 / 15 and min(gaps) > 0.5 / 15


def test_sampler_given_jittery_arrival_should_still_hold_the_rate() -> None:
    taken = _picked(15, 10, seconds=30.0, jitter_s=0.01)
    rate = (len(taken) - 1) / (taken[-1] - taken[0])
    assert rate == pytest.approx(10, rel=0.03)


def test_sampler_given_gap_in_stream_should_not_catch_up_with_a_burst() -> None:
    sampler = FrameSampler(10)
    times = [i / 30 for i in range(30)] + [3.0 + i / 30 for i in range(30)]
    taken = []
    for t in times:
        if sampler.is_due(t):
            sampler.take(t)
            taken.append(t)
    after = [t for t in taken if t >= 3.0]
    assert len(after) == pytest.approx(10, abs=1)
    gaps = [b - a for a, b in itertools.pairwise(after)]
    assert min(gaps) > 0.08


def test_sampler_given_due_frame_not_taken_should_take_the_next_one() -> None:
    sampler = FrameSampler(10)
    assert sampler.is_due(0.0)
    sampler.take(0.0)
    assert not sampler.is_due(1 / 30)
    assert not sampler.is_due(2 / 30)
    assert sampler.is_due(3 / 30)  # due, but analysis was busy: not taken
    assert sampler.is_due(4 / 30)


def test_sampler_given_reset_should_start_with_the_next_frame() -> None:
    sampler = FrameSampler(5)
    sampler.take(100.0)
    sampler.reset()
    assert sampler.is_due(0.0)


def test_sampler_given_bad_rate_should_raise() -> None:
    with pytest.raises(ValueError, match="analysis_fps"):
        FrameSampler(0)

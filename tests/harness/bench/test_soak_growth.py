"""Growth of memory and file handles over a soak (`harness/bench/soak_growth.py`)."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import pytest

from harness.bench.soak_growth import (
    ProcessSample,
    fds_flat,
    fitted_growth,
    growth_pct,
    is_flat,
    second_half,
    summarise_process,
)

TIMES = [float(t) for t in range(0, 110, 10)]  # 0, 10, ..., 100 s


@pytest.mark.parametrize(
    ("values", "warmup_s", "expected"),
    [
        ([100.0] * 11, 0.0, 0.0),  # flat
        # 1 per 10 s: the second half after a 20 s warm-up runs 60 → 100 s,
        # from 106 to 110, which is 4/106
        ([100.0 + i for i in range(11)], 20.0, 100 * 4 / 106),
        # steep during the warm-up, flat after it
        ([10.0, 50.0, 90.0] + [100.0] * 8, 30.0, 0.0),
        # shrinking is negative growth
        ([200.0 - 10 * i for i in range(11)], 0.0, 100 * -50 / 150),
    ],
)
def test_growth_pct_given_a_series_should_fit_the_second_half(
    values: list[float], warmup_s: float, expected: float
) -> None:
    found = growth_pct(TIMES, values, warmup_s=warmup_s)
    assert found == pytest.approx(expected, abs=1e-9)


def test_growth_pct_given_one_spike_at_the_end_should_not_follow_it_alone() -> None:
    values = [100.0] * 10 + [130.0]  # one reading during a burst
    found = growth_pct(TIMES, values, warmup_s=0.0)
    assert found is not None and 0 < found < 30  # the endpoints alone say 30


@pytest.mark.parametrize(
    ("times", "values", "warmup_s"),
    [
        ([], [], 0.0),  # no samples
        ([0.0, 10.0, 20.0], [1.0, 2.0, 3.0], 0.0),  # 2 in the second half
        (TIMES, [100.0] * 11, 1000.0),  # all in the warm-up
        ([5.0, 5.0, 5.0, 5.0], [1.0, 2.0, 3.0, 4.0], 0.0),  # no time between
        (TIMES, [0.0] * 11, 0.0),  # starts at 0
    ],
)
def test_growth_pct_given_too_little_to_fit_should_be_none(
    times: list[float], values: list[float], warmup_s: float
) -> None:
    assert growth_pct(times, values, warmup_s=warmup_s) is None


@pytest.mark.parametrize(
    ("times", "values", "expectation"),
    [
        ([0.0, 1.0], [1.0, 2.0], nullcontext()),
        ([0.0, 1.0], [1.0], pytest.raises(ValueError, match="2 times but 1 values")),
    ],
)
def test_second_half_given_lengths_should_match_or_raise(
    times: list[float],
    values: list[float],
    expectation: AbstractContextManager[object],
) -> None:
    with expectation:
        second_half(times, values, warmup_s=0.0)


def test_second_half_should_start_at_the_middle_after_the_warm_up() -> None:
    times, values = second_half(TIMES, list(range(11)), warmup_s=40.0)
    assert times == [70.0, 80.0, 90.0, 100.0]
    assert values == [7, 8, 9, 10]


@pytest.mark.parametrize(
    ("growths", "flat"),
    [
        ((0.0, -3.0), True),
        ((4.99, 0.0), True),
        ((5.0, 0.0), False),
        ((0.0, 12.0), False),
        ((None, 0.0), False),
        ((), True),
    ],
)
def test_is_flat_given_growths_should_need_all_under_five_pct(
    growths: tuple[float | None, ...], flat: bool
) -> None:
    assert is_flat(*growths) is flat


@pytest.mark.parametrize(
    ("pct", "fitted", "flat"),
    [
        (4.0, (50.0, 2.0), True),  # under 5 %
        (20.0, (10.0, 2.0), True),  # 20 %, but 2 descriptors
        (12.0, (25.0, 3.0), False),  # 3 descriptors and 12 %
        (None, None, False),  # too few samples
    ],
)
def test_fds_flat_given_growth_should_allow_a_few_descriptors(
    pct: float | None, fitted: tuple[float, float] | None, flat: bool
) -> None:
    assert fds_flat(pct, fitted) is flat


def test_fitted_growth_should_give_start_and_growth_of_the_line() -> None:
    fitted = fitted_growth(TIMES, [20.0 + t / 10 for t in TIMES], warmup_s=0.0)
    assert fitted == pytest.approx((25.0, 5.0))


def test_summarise_process_given_a_leak_of_handles_should_not_be_flat() -> None:
    samples = [ProcessSample(t, 200.0, 40 + int(t)) for t in TIMES]
    summary = summarise_process(samples, warmup_s=20.0)
    assert summary["samples"] == 11
    assert (summary["fds_start"], summary["fds_end"], summary["fds_max"]) == (
        40,
        140,
        140,
    )
    assert summary["fds_after_warmup"] == 60
    assert summary["rss_mb_start"] == summary["rss_mb_end"] == 200.0
    assert summary["rss_growth_second_half_pct"] == 0.0
    assert summary["fds_growth_second_half_pct"] == pytest.approx(40 / 100 * 100)
    assert summary["fds_growth_second_half"] == pytest.approx(40)
    assert summary["flat"] is False


def test_summarise_process_given_two_more_descriptors_should_be_flat() -> None:
    samples = [ProcessSample(t, 200.0, 23 if t < 80 else 25) for t in TIMES]
    summary = summarise_process(samples, warmup_s=20.0)
    assert summary["fds_growth_second_half_pct"] > 5  # 2 of 23 is 8.7 %
    assert summary["flat"] is True


def test_summarise_process_given_steady_readings_should_be_flat() -> None:
    samples = [ProcessSample(t, 300.0 + (t % 20) / 10, 50) for t in TIMES]
    summary = summarise_process(samples, warmup_s=20.0)
    assert summary["rss_mb_max"] == 301.0
    assert summary["flat"] is True


def test_summarise_process_given_no_samples_should_not_be_flat() -> None:
    assert summarise_process([], warmup_s=0.0) == {"samples": 0, "flat": False}

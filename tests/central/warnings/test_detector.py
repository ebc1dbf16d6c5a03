"""The hotspot detector: a pure function over daily counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from central.config import WarningSettings
from central.warnings.detector import (
    SeriesCounts,
    assess,
    dispersion_of,
    negative_binomial_sf,
    required_days,
    weekday_profile,
)

SETTINGS = WarningSettings()
NEED = required_days(SETTINGS)


def series(daily: list[int], prior_rate: float = 0.05) -> SeriesCounts:
    return SeriesCounts(daily=daily, last_weekday=2, prior_rate=prior_rate)


def first_firing_day(counts: np.ndarray, start: int, prior_rate: float) -> int | None:
    """Days after `start` until the detector fires (judging each day)."""
    for day in range(start, len(counts)):
        window = counts[day + 1 - NEED : day + 1].tolist()
        if assess(series(window, prior_rate), SETTINGS).fired:
            return day - start
    return None


def test_a_sharp_rise_should_be_caught_within_a_few_days() -> None:
    rng = np.random.default_rng(7)
    base = rng.poisson(0.3, size=NEED + 28)  # about 2 a week
    rise_start = NEED
    base[rise_start:] = rng.poisson(0.3 * 5, size=28)  # five times as many
    delay = first_firing_day(base, rise_start, prior_rate=0.3)
    assert delay is not None and delay <= 4


def monthly_baseline() -> list[int]:
    daily = [0] * NEED
    for back in range(30, NEED, 30):  # once a month through the baseline
        daily[-back] = 1
    return daily


def test_rubbish_three_times_in_three_days_where_once_a_month_is_normal() -> None:
    daily = monthly_baseline()
    daily[-1] = daily[-2] = daily[-3] = 1
    verdict = assess(series(daily, prior_rate=1 / 30), SETTINGS)
    assert verdict.fired
    assert (verdict.window_days, verdict.observed) == (3, 3)


def test_rubbish_in_a_week_where_once_a_month_is_normal() -> None:
    """Four in a week fire at the default alpha; three spread over the week
    (p about 0.004) only with a looser one (docs/central.md: the trade-off)."""
    daily = monthly_baseline()
    daily[-1] = daily[-3] = daily[-6] = 1
    assert not assess(series(daily, prior_rate=1 / 30), SETTINGS).fired
    loose = WarningSettings(alpha=0.005)
    assert assess(series(daily, prior_rate=1 / 30), loose).fired
    daily[-5] = 1
    verdict = assess(series(daily, prior_rate=1 / 30), SETTINGS)
    assert verdict.fired
    assert verdict.observed == 4


def test_a_stable_series_should_not_fire() -> None:
    rng = np.random.default_rng(3)
    counts = rng.poisson(2.0, size=NEED + 120)
    assert first_firing_day(counts, NEED, prior_rate=2.0) is None


def test_a_sparse_grid_with_one_event_should_not_fire() -> None:
    daily = [0] * NEED
    daily[-1] = 1
    verdict = assess(series(daily, prior_rate=0.0), SETTINGS)
    assert not verdict.fired
    assert verdict.observed == 1


def test_a_sparse_grid_should_lean_on_the_city_rate() -> None:
    """Three tickets in a grid with an empty baseline: news in a quiet city,
    ordinary where the category is common everywhere."""
    daily = [0] * NEED
    daily[-1] = daily[-2] = daily[-3] = 1
    assert assess(series(daily, prior_rate=0.01), SETTINGS).fired
    assert not assess(series(daily, prior_rate=1.0), SETTINGS).fired


def test_a_busy_series_should_need_the_minimum_ratio() -> None:
    """A significant but small rise of a busy series is no hotspot."""
    daily = [20] * NEED
    daily[-7:] = [30] * 7  # 1.5 times: significant, below min_ratio
    verdict = assess(series(daily, prior_rate=20.0), SETTINGS)
    assert verdict.p_value < SETTINGS.alpha
    assert not verdict.fired


def test_back_to_normal_after_the_rise() -> None:
    daily = [1] * NEED
    assert assess(series(daily, prior_rate=1.0), SETTINGS).back_to_normal
    daily[-3:] = [8, 8, 8]
    assert not assess(series(daily, prior_rate=1.0), SETTINGS).back_to_normal


def test_the_weekday_profile_should_set_expectations() -> None:
    """Saturdays busy across the city: a busy Saturday is expected."""
    profile = weekday_profile([10, 10, 10, 10, 10, 100, 10])
    daily = [0] * NEED
    for back in range(NEED):
        if (5 - back) % 7 == 0:  # Saturdays, the last day being one
            daily[-1 - back] = 2
    daily[-1] = 4
    flat = SeriesCounts(daily=daily, last_weekday=5, prior_rate=0.3)
    weekly = SeriesCounts(
        daily=daily, last_weekday=5, prior_rate=0.3, weekday_profile=profile
    )
    assert assess(weekly, SETTINGS).expected > assess(flat, SETTINGS).expected


def test_the_negative_binomial_tail_should_approach_poisson() -> None:
    mean = 2.0
    shape = 1e6
    p_keep = shape / (shape + mean)
    poisson_sf = 1 - sum(
        math.exp(-mean) * mean**k / math.factorial(k) for k in range(5)
    )
    assert negative_binomial_sf(5, shape, p_keep) == pytest.approx(poisson_sf, rel=1e-3)
    assert negative_binomial_sf(0, 1.0, 0.5) == 1.0


def test_bad_input_should_be_refused() -> None:
    with pytest.raises(ValueError, match="daily counts"):
        assess(series([0] * (NEED - 1)), SETTINGS)
    with pytest.raises(ValueError, match="weekday_profile"):
        SeriesCounts(
            daily=[0] * NEED, last_weekday=0, prior_rate=0, weekday_profile=[1]
        )
    with pytest.raises(ValueError, match="windows_days"):
        WarningSettings(windows_days=[0])


def test_a_bursty_series_should_need_a_bigger_jump() -> None:
    """Quasi-Poisson: the same window fires on a steady baseline but not on a
    bursty one with the same mean."""
    steady = [4] * NEED
    bursty = [0, 8] * (NEED // 2) + [4] * (NEED % 2)
    for daily in (steady, bursty):
        daily[-3:] = [10, 10, 10]
    assert dispersion_of(steady[: NEED - 7]) == 1.0
    assert dispersion_of(bursty[: NEED - 7]) > 3
    assert assess(series(steady, prior_rate=4.0), SETTINGS).fired
    assert not assess(series(bursty, prior_rate=4.0), SETTINGS).fired

"""Is a grid × category series rising? A pure function over daily counts.

The method (docs/central.md, "Hotspot early warning"): the series' daily rate is
estimated from its baseline weeks with a Gamma prior centred on the category's
city-wide rate per grid (empirical Bayes shrinkage: a sparse grid leans on the
city, a busy one on itself); each recent window's count is then judged by the
posterior predictive, a negative binomial, whose upper tail is the chance of a
count at least this high if nothing changed. Expected counts follow the
category's weekday profile; a series burstier than Poisson in its baseline
(variance over mean above 1) has its counts scaled by that ratio first
(quasi-Poisson, as in Farrington's outbreak detection). A window fires when
that chance is below `alpha`,
its count is at least `min_count` and at least `min_ratio` times expected.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from central.config import WarningSettings

DAYS_PER_WEEK = 7
FLAT_WEEK = (1.0,) * DAYS_PER_WEEK
MIN_SHAPE = 0.5
MIN_DISPERSION_TOTAL = 20


@dataclass(frozen=True, slots=True)
class SeriesCounts:
    """One series' daily counts, oldest first, ending with the day judged.

    Attributes:
        daily: Counts per day: the baseline days, then the recent days (at least
            `baseline_weeks * 7 + max(windows_days)` values; older ones unused).
        last_weekday: Weekday (Monday 0) of the last day of `daily`.
        prior_rate: The category's city-wide mean count per grid and day.
        weekday_profile: The category's relative level per weekday (Monday
            first, mean 1); flat when unknown.
    """

    daily: Sequence[int]
    last_weekday: int
    prior_rate: float
    weekday_profile: Sequence[float] = FLAT_WEEK

    def __post_init__(self) -> None:
        if len(self.weekday_profile) != DAYS_PER_WEEK:
            raise ValueError(
                f"weekday_profile needs 7 values, got {len(self.weekday_profile)}"
            )
        if not 0 <= self.last_weekday < DAYS_PER_WEEK:
            raise ValueError(f"last_weekday must be 0..6, got {self.last_weekday}")
        if self.prior_rate < 0:
            raise ValueError(f"prior_rate must be >= 0, got {self.prior_rate}")


@dataclass(frozen=True, slots=True)
class Assessment:
    """The verdict on one series: its most surprising recent window.

    Attributes:
        fired: A window passed every test: the series is rising.
        back_to_normal: No window is even mildly surprising (p >= resolve_p).
        window_days: The window reported (the smallest p).
        observed: Its count.
        expected: Its expected count from the baseline.
        p_value: Chance of at least `observed` if nothing changed.
    """

    fired: bool
    back_to_normal: bool
    window_days: int
    observed: int
    expected: float
    p_value: float

    @property
    def ratio(self) -> float:
        return self.observed / self.expected if self.expected > 0 else math.inf


def required_days(settings: WarningSettings) -> int:
    """How many daily counts `assess` reads."""
    return settings.baseline_weeks * DAYS_PER_WEEK + max(settings.windows_days)


def negative_binomial_sf(count: int, shape: float, p_keep: float) -> float:
    """P(X >= count) for X ~ NB(shape, p_keep): the Gamma(shape, rate)-Poisson
    mixture with p_keep = rate / (rate + exposure).

    Summed from the pmf below `count` (counts here are small), in logs.
    """
    if count <= 0:
        return 1.0
    if shape <= 0 or p_keep >= 1.0:
        return 0.0
    log_keep = math.log(p_keep)
    log_other = math.log1p(-p_keep)
    base = math.lgamma(shape)
    below = 0.0
    for k in range(count):
        below += math.exp(
            math.lgamma(shape + k)
            - base
            - math.lgamma(k + 1)
            + shape * log_keep
            + k * log_other
        )
    return max(0.0, 1.0 - below)


def _exposure(
    profile: Sequence[float], last_weekday: int, days: int, skip: int
) -> float:
    """Sum of the weekday profile over `days` days ending `skip` days before
    the last day."""
    total = 0.0
    for back in range(skip, skip + days):
        total += profile[(last_weekday - back) % DAYS_PER_WEEK]
    return total


def assess(series: SeriesCounts, settings: WarningSettings) -> Assessment:
    """Judge the recent windows of one series against its own baseline.

    Raises:
        ValueError: fewer daily counts than `required_days(settings)`.
    """
    need = required_days(settings)
    daily = series.daily
    if len(daily) < need:
        raise ValueError(f"need {need} daily counts, got {len(daily)}")
    longest = max(settings.windows_days)
    baseline_days = settings.baseline_weeks * DAYS_PER_WEEK
    end = len(daily)
    baseline_daily = daily[end - longest - baseline_days : end - longest]
    baseline = sum(baseline_daily)
    dispersion = dispersion_of(baseline_daily)
    base_exposure = _exposure(
        series.weekday_profile, series.last_weekday, baseline_days, longest
    )
    shape = series.prior_rate * settings.prior_days + baseline
    rate = settings.prior_days + base_exposure
    # Nothing anywhere in the city yet: half an event over the prior days.
    shape = max(shape, MIN_SHAPE)
    best: Assessment | None = None
    for days in sorted(settings.windows_days):
        observed = sum(daily[end - days : end])
        exposure = _exposure(series.weekday_profile, series.last_weekday, days, 0)
        expected = shape / rate * exposure
        # Quasi-Poisson (as Farrington's method): counts and prior in units of
        # the dispersion, so a bursty series needs a bigger jump to be news.
        p_value = negative_binomial_sf(
            math.ceil(observed / dispersion),
            shape / dispersion,
            rate / (rate + exposure),
        )
        fired = (
            p_value < settings.alpha
            and observed >= settings.min_count
            and observed >= settings.min_ratio * expected
        )
        candidate = Assessment(fired, False, days, observed, expected, p_value)
        if best is None or (fired, -p_value) > (best.fired, -best.p_value):
            best = candidate
    assert best is not None  # windows_days is never empty
    calm = best.p_value >= settings.resolve_p
    return Assessment(
        best.fired, calm, best.window_days, best.observed, best.expected, best.p_value
    )


def dispersion_of(daily: Sequence[int], min_total: int = MIN_DISPERSION_TOTAL) -> float:
    """Variance over mean of daily counts, at least 1 (1 with fewer than
    `min_total` tickets, where the ratio is noise)."""
    total = sum(daily)
    if total < min_total or len(daily) < 2:
        return 1.0
    mean = total / len(daily)
    variance = sum((count - mean) ** 2 for count in daily) / (len(daily) - 1)
    return max(1.0, variance / mean)


def weekday_profile(
    counts_by_weekday: Sequence[float], pseudo: float = 10.0
) -> tuple[float, ...]:
    """Relative level per weekday (mean 1) from pooled counts, each shrunk
    towards flat by `pseudo` counts (a category with few tickets stays flat)."""
    if len(counts_by_weekday) != DAYS_PER_WEEK:
        raise ValueError(f"need 7 weekday counts, got {len(counts_by_weekday)}")
    smoothed = [count + pseudo for count in counts_by_weekday]
    mean = sum(smoothed) / DAYS_PER_WEEK
    return tuple(value / mean for value in smoothed)

"""`gridwatch bench warnings`: backtest the hotspot detector on generated history.

A synthetic city's grid × category series, each with its own base rate (the
category's city-wide rate times a log-normal grid factor), the category's
weekday profile and day-to-day overdispersion (a Gamma-distributed daily
rate), are counted day by day. Half of the series get one rise (the rate
multiplied by a size from `--sizes` for `--rise-days` days) at a random day of
the judged period; the other half are controls. Each day the detector of
`central.warnings.detector` judges every series as the job would (city-wide
prior rate and weekday profile pooled from the baseline weeks; a warning stays
open until the series is back to normal, never two at once). Prints (JSON with
--json):

- series, rise_series, control_series, weeks judged
- detection_rate: share of rises with a warning opened during the rise, per
  size (`by_size`: detected, rises, rate, delay median and p90)
- delay_days_median, delay_days_p90: days from a rise's start to its warning
  (detected rises, all sizes)
- by_base_per_week: detection rate by the series' usual tickets per week
- false_per_week_per_1000: warnings opened on control series, per week per
  1,000 series
- seconds: the run's wall time
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from central.config import WarningSettings
from central.warnings.detector import (
    DAYS_PER_WEEK,
    SeriesCounts,
    assess,
    required_days,
    weekday_profile,
)
from harness.bench.report import write_figures

CATEGORY_RATES = (0.02, 0.05, 0.1, 0.3, 1.0)  # mean tickets per grid and day
DEFAULT_SIZES = (1.5, 2.0, 3.0, 5.0, 10.0)
# Detection by the series' usual tickets per week (a rise of a rare matter is
# rare too: a few tickets more cannot be told from chance).
RATE_BANDS = (("<0.5", 0.5), ("0.5-2", 2.0), ("2-7", 7.0), (">=7", float("inf")))


@dataclass(frozen=True, slots=True)
class History:
    """Generated daily counts and the rises injected into them.

    Attributes:
        counts: (series, days) int64 tickets per day.
        category: (series,) int64 category index of each series.
        rise_start: (series,) int64 first day of the rise; -1 for controls.
        rise_size: (series,) float64 rate multiplier of the rise; 1 for controls.
        base_rate: (series,) float64 mean tickets per day before any rise.
        first_judged: First day judged (the days before are baseline only).
        first_weekday: Weekday (Monday 0) of day 0.
    """

    counts: npt.NDArray[np.int64]
    category: npt.NDArray[np.int64]
    rise_start: npt.NDArray[np.int64]
    rise_size: npt.NDArray[np.float64]
    base_rate: npt.NDArray[np.float64]
    first_judged: int
    first_weekday: int


def generate_history(
    *,
    series: int,
    weeks: int,
    settings: WarningSettings,
    sizes: tuple[float, ...] = DEFAULT_SIZES,
    rise_days: int = 28,
    overdispersion: float = 5.0,
    seed: int = 1,
) -> History:
    """Counts for `series` series over the baseline plus `weeks` judged weeks."""
    rng = np.random.default_rng(seed)
    first_judged = required_days(settings)
    days = first_judged + weeks * DAYS_PER_WEEK
    category = rng.integers(0, len(CATEGORY_RATES), size=series)
    grid_factor = rng.lognormal(mean=-0.32, sigma=0.8, size=series)  # mean ~1
    base = np.asarray(CATEGORY_RATES)[category] * grid_factor
    weekly = 1.0 + rng.uniform(-0.3, 0.3, size=(len(CATEGORY_RATES), DAYS_PER_WEEK))
    weekly /= weekly.mean(axis=1, keepdims=True)
    first_weekday = int(rng.integers(0, DAYS_PER_WEEK))
    weekday = (first_weekday + np.arange(days)) % DAYS_PER_WEEK
    rate = base[:, None] * weekly[category][:, weekday]
    rises = rng.random(series) < 0.5
    last_start = days - rise_days
    rise_start = np.where(
        rises, rng.integers(first_judged, max(first_judged + 1, last_start), series), -1
    )
    rise_size = np.where(rises, rng.choice(np.asarray(sizes), size=series), 1.0)
    day_index = np.arange(days)[None, :]
    in_rise = (day_index >= rise_start[:, None]) & (
        day_index < rise_start[:, None] + rise_days
    )
    rate = np.where(in_rise & rises[:, None], rate * rise_size[:, None], rate)
    noisy = rate * rng.gamma(overdispersion, 1.0 / overdispersion, size=rate.shape)
    counts = rng.poisson(noisy).astype(np.int64)
    return History(
        counts=counts,
        category=category.astype(np.int64),
        rise_start=rise_start.astype(np.int64),
        rise_size=rise_size.astype(np.float64),
        base_rate=base.astype(np.float64),
        first_judged=first_judged,
        first_weekday=first_weekday,
    )


def _city_baselines(
    history: History, day: int, settings: WarningSettings
) -> tuple[npt.NDArray[np.float64], list[tuple[float, ...]]]:
    """Per category: the prior rate per grid-day and the weekday profile,
    pooled from every series' baseline weeks before `day`'s windows."""
    longest = max(settings.windows_days)
    baseline_days = settings.baseline_weeks * DAYS_PER_WEEK
    stop = day + 1 - longest
    start = stop - baseline_days
    window = history.counts[:, start:stop]
    categories = len(CATEGORY_RATES)
    per_category = np.zeros((categories, baseline_days))
    np.add.at(per_category, history.category, window)
    sizes = np.bincount(history.category, minlength=categories).clip(min=1)
    prior = per_category.sum(axis=1) / (sizes * baseline_days)
    weekday = (history.first_weekday + np.arange(start, stop)) % DAYS_PER_WEEK
    profiles = []
    for cat in range(categories):
        by_day = np.bincount(weekday, weights=per_category[cat], minlength=7)
        profiles.append(weekday_profile(by_day.tolist()))
    return prior, profiles


def backtest(history: History, settings: WarningSettings) -> list[tuple[int, int]]:
    """Run the detector day by day: (series, day) of each warning opened."""
    need = required_days(settings)
    counts = history.counts
    days = counts.shape[1]
    active = np.zeros(counts.shape[0], dtype=bool)
    opened: list[tuple[int, int]] = []
    for day in range(history.first_judged, days):
        prior, profiles = _city_baselines(history, day, settings)
        recent = counts[:, day + 1 - max(settings.windows_days) : day + 1]
        # Only series with min_count in some window can fire (the job's filter).
        busy = recent.sum(axis=1) >= settings.min_count
        candidates = np.flatnonzero(busy | active)
        last_weekday = (history.first_weekday + day) % DAYS_PER_WEEK
        for index in candidates.tolist():
            cat = int(history.category[index])
            verdict = assess(
                SeriesCounts(
                    daily=counts[index, day + 1 - need : day + 1].tolist(),
                    last_weekday=last_weekday,
                    prior_rate=float(prior[cat]),
                    weekday_profile=profiles[cat],
                ),
                settings,
            )
            if active[index]:
                if verdict.back_to_normal:
                    active[index] = False
            elif verdict.fired:
                active[index] = True
                opened.append((index, day))
    return opened


def score(
    history: History, opened: list[tuple[int, int]], *, rise_days: int
) -> dict[str, Any]:
    """Detection rate and delay per rise size; false warnings on controls."""
    first_by_series: dict[int, list[int]] = {}
    for index, day in opened:
        first_by_series.setdefault(index, []).append(day)
    delays_by_size: dict[float, list[int]] = {}
    rises_by_size: dict[float, int] = {}
    bands: dict[str, list[int]] = {name: [0, 0] for name, _ in RATE_BANDS}
    false = 0
    controls = 0
    for index in range(history.counts.shape[0]):
        start = int(history.rise_start[index])
        days = first_by_series.get(index, [])
        if start < 0:
            controls += 1
            false += len(days)
            continue
        size = float(history.rise_size[index])
        rises_by_size[size] = rises_by_size.get(size, 0) + 1
        hit = [d - start for d in days if start <= d < start + rise_days]
        band = _band(float(history.base_rate[index]) * DAYS_PER_WEEK)
        bands[band][1] += 1
        if hit:
            delays_by_size.setdefault(size, []).append(min(hit))
            bands[band][0] += 1
    weeks = (history.counts.shape[1] - history.first_judged) / DAYS_PER_WEEK
    all_delays = [d for delays in delays_by_size.values() for d in delays]
    by_size = {
        f"x{size:g}": {
            "rises": rises,
            "detected": len(delays_by_size.get(size, [])),
            "rate": round(len(delays_by_size.get(size, [])) / rises, 3),
            **_delay_figures(delays_by_size.get(size, [])),
        }
        for size, rises in sorted(rises_by_size.items())
    }
    rises_total = sum(rises_by_size.values())
    return {
        "rise_series": rises_total,
        "control_series": controls,
        "weeks": round(weeks, 1),
        "detection_rate": round(len(all_delays) / max(1, rises_total), 3),
        **_delay_figures(all_delays),
        "by_size": by_size,
        "by_base_per_week": {
            name: {"rises": n, "rate": round(hit / max(1, n), 3)}
            for name, (hit, n) in bands.items()
        },
        "false_warnings": false,
        "false_per_week_per_1000": round(
            false / max(1.0, weeks) / max(1, controls) * 1000, 2
        ),
    }


def _band(per_week: float) -> str:
    return next(name for name, upper in RATE_BANDS if per_week < upper)


def _delay_figures(delays: list[int]) -> dict[str, float | None]:
    if not delays:
        return {"delay_days_median": None, "delay_days_p90": None}
    values = np.asarray(delays, dtype=np.float64)
    return {
        "delay_days_median": float(np.median(values)),
        "delay_days_p90": float(np.percentile(values, 90)),
    }


def run_backtest(
    *,
    series: int,
    weeks: int,
    seed: int,
    settings: WarningSettings | None = None,
    sizes: tuple[float, ...] = DEFAULT_SIZES,
    rise_days: int = 28,
) -> dict[str, Any]:
    """Generate, backtest and score; the figures `gridwatch bench warnings` prints."""
    chosen = settings or WarningSettings()
    started = time.perf_counter()
    history = generate_history(
        series=series,
        weeks=weeks,
        settings=chosen,
        sizes=sizes,
        rise_days=rise_days,
        seed=seed,
    )
    opened = backtest(history, chosen)
    figures: dict[str, Any] = {"series": series, "seed": seed}
    figures.update(score(history, opened, rise_days=rise_days))
    figures["settings"] = chosen.model_dump()
    figures["seconds"] = round(time.perf_counter() - started, 2)
    return figures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--series", type=int, default=2000, help="grid × category")
    parser.add_argument("--weeks", type=int, default=26, help="weeks judged")
    parser.add_argument(
        "--sizes",
        type=float,
        nargs="+",
        default=list(DEFAULT_SIZES),
        help="rate multipliers of the injected rises",
    )
    parser.add_argument("--rise-days", type=int, default=28, help="rise length")
    parser.add_argument("--alpha", type=float, default=None, help="override alpha")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generator")
    parser.add_argument("--json", action="store_true", help="print JSON only")


def run_cli(args: argparse.Namespace) -> int:
    settings = WarningSettings()
    if args.alpha is not None:
        settings = settings.model_copy(update={"alpha": args.alpha})
    figures = run_backtest(
        series=args.series,
        weeks=args.weeks,
        seed=args.seed,
        settings=settings,
        sizes=tuple(args.sizes),
        rise_days=args.rise_days,
    )
    write_figures(figures, as_json=args.json)
    return 0

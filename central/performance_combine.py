"""One evaluation row per key over a whole range, from the rows of its periods.

The console's statistics page shows a range of periods (the last six months, …)
as one row per grid, worker, …; asking for every period's rows and adding them
up in the browser moved eight times the rows it shows (160,000 for a city's
20,000 grids). The counts and the rates built from them add up exactly; the
time statistics of a combined row are the means of its periods' values weighted
by the tickets each describes, an approximation for the percentiles.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from central.performance import EvaluationRow

_COUNTS = (
    "tickets",
    "ai_tickets",
    "dispatched",
    "closed",
    "rejected",
    "ai_rejected",
    "open_now",
    "overdue",
    "on_time_closed",
    "resolves",
    "returns",
    "response_due",
    "responded_on_time",
    "resolution_due",
    "resolved_on_time",
    "rated",
    "satisfied",
)
# rate field -> (numerator, denominator)
_RATES = {
    "on_time_close_rate": ("on_time_closed", "closed"),
    "rework_rate": ("returns", "resolves"),
    "false_positive_rate": ("ai_rejected", "ai_tickets"),
    "response_rate": ("responded_on_time", "response_due"),
    "resolution_rate": ("resolved_on_time", "resolution_due"),
    "satisfaction_rate": ("satisfied", "rated"),
}
# time statistics -> the count of tickets each describes
_TIMES = {
    **{f"dispatch_s_{s}": "dispatched" for s in ("mean", "p50", "p90")},
    **{f"accept_s_{s}": "dispatched" for s in ("mean", "p50", "p90")},
    **{f"close_s_{s}": "closed" for s in ("mean", "p50", "p90")},
}
_NUMBERS = itemgetter(*_COUNTS, *_TIMES)
_KEY = itemgetter("key", "period_start", "name")

RowFields = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Combined:
    """Combined rows, most tickets first, and how many keys there were."""

    rows: list[EvaluationRow]
    total_rows: int


def combine_periods(rows: Sequence[RowFields], *, limit: int | None = None) -> Combined:
    """One row per key, most tickets first (ties by key), at most `limit`:
    counts summed, rates recomputed from the sums, time statistics weighted by
    their counts; `period_start` is the earliest period's.

    Column-wise with numpy, and models made only for the rows kept: a city's
    20,000 grids over eight periods are 160,000 rows.
    """
    if not rows:
        return Combined([], 0)
    index: dict[str | None, int] = {}
    starts: list[str] = []
    names: list[str | None] = []
    slots = []
    for row in rows:
        key, start, name = _KEY(row)
        at = index.get(key)
        if at is None:
            at = index[key] = len(starts)
            starts.append(start)
            names.append(name)
        else:
            starts[at] = min(starts[at], start)
            names[at] = names[at] if names[at] is not None else name
        slots.append(at)
    slot = np.asarray(slots, dtype=np.intp)
    size = len(starts)
    # One pass over the rows for every number (None becomes NaN).
    table = np.array([_NUMBERS(r) for r in rows], dtype=np.float64)
    column = {field: table[:, i] for i, field in enumerate((*_COUNTS, *_TIMES))}
    sums = {
        field: np.bincount(slot, weights=column[field], minlength=size)
        for field in _COUNTS
    }
    keys = list(index)
    order = sorted(range(size), key=lambda at: (-sums["tickets"][at], keys[at] or ""))
    kept = order if limit is None else order[:limit]
    times = {
        field: _weighted(column[field], column[weight], slot, size)
        for field, weight in _TIMES.items()
    }
    combined = []
    for at in kept:
        values: dict[str, Any] = {
            "period_start": starts[at],
            "key": keys[at],
            "name": names[at],
        }
        counts = {field: int(sums[field][at]) for field in _COUNTS}
        values.update(counts)
        for field, (numerator, denominator) in _RATES.items():
            den = counts[denominator]
            values[field] = counts[numerator] / den if den else None
        for field, means in times.items():
            value = float(means[at])
            values[field] = None if math.isnan(value) else value
        # Every value comes from validated rows: no second validation.
        combined.append(EvaluationRow.model_construct(**values))
    return Combined(combined, size)


def _weighted(
    values: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
    slot: npt.NDArray[np.intp],
    size: int,
) -> npt.NDArray[np.float64]:
    """Per key, the mean of `values` weighted by `weights`; NaN where no row
    has both."""
    usable = ~np.isnan(values) & (weights > 0)
    num = np.bincount(
        slot[usable], weights=values[usable] * weights[usable], minlength=size
    )
    den = np.bincount(slot[usable], weights=weights[usable], minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        means: npt.NDArray[np.float64] = np.where(
            den > 0, num / np.where(den > 0, den, 1.0), np.nan
        )
    return means

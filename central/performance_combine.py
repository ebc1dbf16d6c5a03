"""One evaluation row per key over a whole range, from the rows of its periods.

The console's statistics page shows a range of periods (the last six months, …)
as one row per grid, worker, …; asking for every period's rows and adding them
up in the browser moved eight times the rows it shows (160,000 for a city's
20,000 grids). The counts and the rates built from them add up exactly; the
time statistics of a combined row are the means of its periods' values weighted
by the tickets each describes, an approximation for the percentiles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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


def combine_periods(rows: Iterable[EvaluationRow]) -> list[EvaluationRow]:
    """One row per key: counts summed, rates recomputed from the sums, time
    statistics weighted by their counts. `period_start` is the earliest period's;
    rows keep the order in which their keys first appear."""
    by_key: dict[str | None, list[EvaluationRow]] = {}
    for row in rows:
        by_key.setdefault(row.key, []).append(row)
    return [_combine(group) for group in by_key.values()]


def most_tickets(rows: Sequence[EvaluationRow], limit: int) -> list[EvaluationRow]:
    """The `limit` rows with the most tickets (ties by key), most first."""
    ranked = sorted(rows, key=lambda r: (-r.tickets, r.key or ""))
    return ranked[:limit]


def _combine(group: list[EvaluationRow]) -> EvaluationRow:
    first = min(group, key=lambda r: r.period_start)
    named = next((r.name for r in group if r.name is not None), None)
    counts = {field: sum(getattr(r, field) for r in group) for field in _COUNTS}
    values: dict[str, object] = {
        "period_start": first.period_start,
        "key": first.key,
        "name": named,
        **counts,
    }
    for field, (numerator, denominator) in _RATES.items():
        den = counts[denominator]
        values[field] = counts[numerator] / den if den else None
    for field, weight in _TIMES.items():
        values[field] = _weighted(group, field, weight)
    return EvaluationRow.model_validate(values)


def _weighted(group: list[EvaluationRow], field: str, weight: str) -> float | None:
    num, den = 0.0, 0
    for row in group:
        value = getattr(row, field)
        count = getattr(row, weight)
        if value is None or not count:
            continue
        num += value * count
        den += count
    return num / den if den else None

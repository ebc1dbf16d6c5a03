"""Summary statistics shared by central's evaluation and the benchmarks."""

from __future__ import annotations

from collections.abc import Iterable


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-quantile of `values`, q a fraction (0.95 for the 95th percentile).

    One convention everywhere: linear interpolation between the closest ranks,
    as numpy's default (`method="linear"`) and PostgreSQL's `percentile_cont`.

    Args:
        values: Samples in any order.
        q: Quantile in [0, 1].

    Returns:
        The interpolated value, or None without values.

    Raises:
        ValueError: `q` is outside [0, 1].
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} is outside 0..1")
    ordered = sorted(values)
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

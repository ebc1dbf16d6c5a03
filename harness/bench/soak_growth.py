"""Growth of a process's memory and open files over a soak (`gridwatch bench soak`).

A process is flat when, after the warm-up, the second half of the run grew by
less than `FLAT_GROWTH_PCT` in resident memory and in open file descriptors.
Growth is read off a least-squares line through the second half's samples, not
off its first and last sample, so that one sample taken during a garbage
collection or a burst of requests does not decide it. Descriptors are few (20–30
for central or an edge node) and a few come and go with connections (a live
stream a page closed stays open at the server until its next keep-alive write),
so descriptor growth below `FD_SLACK` descriptors also counts as flat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

FLAT_GROWTH_PCT = 5.0
FD_SLACK = 3.0  # descriptors: growth below this is flat whatever its share
MIN_SAMPLES = 3  # in the second half; fewer give no growth figure (None)


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """One reading of one process: seconds since the soak started, resident
    memory in MiB and open file descriptors."""

    t_s: float
    rss_mb: float
    fds: int


def second_half(
    times_s: Sequence[float], values: Sequence[float], *, warmup_s: float
) -> tuple[list[float], list[float]]:
    """The samples in the second half of the time after `warmup_s`.

    Raises:
        ValueError: `times_s` and `values` differ in length.
    """
    if len(times_s) != len(values):
        raise ValueError(f"{len(times_s)} times but {len(values)} values")
    kept = [(t, v) for t, v in zip(times_s, values, strict=True) if t >= warmup_s]
    if not kept:
        return [], []
    middle = (kept[0][0] + kept[-1][0]) / 2
    half = [(t, v) for t, v in kept if t >= middle]
    return [t for t, _ in half], [v for _, v in half]


def fitted_growth(
    times_s: Sequence[float], values: Sequence[float], *, warmup_s: float
) -> tuple[float, float] | None:
    """(start, growth) of the least-squares line through the second half after
    `warmup_s`, from its first to its last sample time. None with fewer than
    `MIN_SAMPLES` samples there or no time between them.

    Raises:
        ValueError: `times_s` and `values` differ in length.
    """
    times, kept = second_half(times_s, values, warmup_s=warmup_s)
    if len(times) < MIN_SAMPLES or times[-1] == times[0]:
        return None
    n = len(times)
    mean_t = sum(times) / n
    mean_v = sum(kept) / n
    spread = sum((t - mean_t) ** 2 for t in times)
    slope = sum((t - mean_t) * (v - mean_v) for t, v in zip(times, kept, strict=True))
    slope /= spread
    start = mean_v + slope * (times[0] - mean_t)
    return start, slope * (times[-1] - times[0])


def growth_pct(
    times_s: Sequence[float], values: Sequence[float], *, warmup_s: float
) -> float | None:
    """Growth over the second half after `warmup_s`, in % of its fitted start
    (`fitted_growth`): 100 × growth / start. None where `fitted_growth` is, or
    with a start ≤ 0.

    Raises:
        ValueError: `times_s` and `values` differ in length.
    """
    fitted = fitted_growth(times_s, values, warmup_s=warmup_s)
    if fitted is None or fitted[0] <= 0:
        return None
    start, growth = fitted
    return 100.0 * growth / start


def is_flat(*growths: float | None) -> bool:
    """Every growth is known and under `FLAT_GROWTH_PCT` (shrinking is flat)."""
    return all(g is not None and g < FLAT_GROWTH_PCT for g in growths)


def fds_flat(pct: float | None, fitted: tuple[float, float] | None) -> bool:
    """Descriptors grew under `FLAT_GROWTH_PCT`, or by fewer than `FD_SLACK`."""
    return is_flat(pct) or (fitted is not None and fitted[1] < FD_SLACK)


def summarise_process(
    samples: Sequence[ProcessSample], *, warmup_s: float
) -> dict[str, Any]:
    """The figures of one process: start, end and max of RSS and file
    descriptors, their growth over the second half after `warmup_s` (in %, and
    for descriptors also in descriptors), and the `flat` verdict. Empty samples
    give no figures and `flat` False."""
    if not samples:
        return {"samples": 0, "flat": False}
    times = [s.t_s for s in samples]
    rss = [s.rss_mb for s in samples]
    fds = [float(s.fds) for s in samples]
    rss_growth = growth_pct(times, rss, warmup_s=warmup_s)
    fds_growth = growth_pct(times, fds, warmup_s=warmup_s)
    fds_fitted = fitted_growth(times, fds, warmup_s=warmup_s)
    warm = next((s for s in samples if s.t_s >= warmup_s), samples[-1])
    return {
        "samples": len(samples),
        "rss_mb_start": round(rss[0], 1),
        "rss_mb_end": round(rss[-1], 1),
        "rss_mb_max": round(max(rss), 1),
        "fds_start": samples[0].fds,
        "fds_end": samples[-1].fds,
        "fds_max": max(s.fds for s in samples),
        "rss_mb_after_warmup": round(warm.rss_mb, 1),
        "fds_after_warmup": warm.fds,
        "rss_growth_second_half_pct": _round(rss_growth),
        "fds_growth_second_half_pct": _round(fds_growth),
        "fds_growth_second_half": _round(fds_fitted[1] if fds_fitted else None),
        "flat": is_flat(rss_growth) and fds_flat(fds_growth, fds_fitted),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)

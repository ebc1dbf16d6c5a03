"""When a trial counts as sustained, and which stream count to try next."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SustainBar:
    """What "sustained" means.

    Attributes:
        min_analysed_share: Least share of the due frames analysed.
        max_latency_ms: Longest frame → event (p95) latency.
    """

    min_analysed_share: float = 0.95
    max_latency_ms: float = 1000.0

    def __post_init__(self) -> None:
        if not 0 < self.min_analysed_share <= 1:
            raise ValueError(
                f"min_analysed_share must be in (0, 1], got {self.min_analysed_share}"
            )
        if self.max_latency_ms <= 0:
            raise ValueError(f"max_latency_ms must be > 0, got {self.max_latency_ms}")

    def is_met(
        self,
        *,
        analysed_share: float,
        frame_latency_ms_p95: float | None,
        event_latency_ms_p95: float | None,
    ) -> bool:
        """Whether a trial met the bar.

        The frame latency (capture → analysed) must be within the bar, and so
        must the event latency (capture → event at the broker) when the trial
        had events; a trial that analysed nothing is never sustained.
        """
        if frame_latency_ms_p95 is None:
            return False
        latencies = [frame_latency_ms_p95]
        if event_latency_ms_p95 is not None:
            latencies.append(event_latency_ms_p95)
        return analysed_share >= self.min_analysed_share and all(
            latency <= self.max_latency_ms for latency in latencies
        )


def next_streams(
    outcomes: Mapping[int, bool], *, start: int, maximum: int, resolution: int = 1
) -> int | None:
    """The next stream count to try, or None when the search is done.

    Doubles from `start` while trials pass (up to `maximum`), then bisects
    between the most streams that passed and the fewest that failed, until
    they are `resolution` apart (or, when none passed, until one failed).

    Args:
        outcomes: Stream count → whether that trial was sustained.
        start: The first count.
        maximum: The most streams to try.
        resolution: Stop once passing and failing counts are this close.

    Raises:
        ValueError: `start`, `maximum` or `resolution` below 1, or
            `start` above `maximum`.
    """
    if start < 1 or resolution < 1 or maximum < start:
        raise ValueError(
            f"need 1 <= start <= maximum and resolution >= 1, got start={start}, "
            f"maximum={maximum}, resolution={resolution}"
        )
    if not outcomes:
        return start
    most_passed, fewest_failed = _bounds(outcomes)
    if fewest_failed is None:
        if most_passed >= maximum:
            return None
        return min(most_passed * 2, maximum)
    if fewest_failed == 1 or (
        most_passed > 0 and fewest_failed - most_passed <= resolution
    ):
        return None
    return (most_passed + fewest_failed) // 2


def sustained_streams(outcomes: Mapping[int, bool]) -> int:
    """The most streams sustained below the fewest that failed (0 if none)."""
    return _bounds(outcomes)[0]


def _bounds(outcomes: Mapping[int, bool]) -> tuple[int, int | None]:
    """(most streams passed below the fewest failed, fewest failed or None).

    A pass above a failure (noise) does not count: the lower failure stands.
    """
    failed = [n for n, ok in outcomes.items() if not ok]
    fewest_failed = min(failed) if failed else None
    passed = [
        n
        for n, ok in outcomes.items()
        if ok and (fewest_failed is None or n < fewest_failed)
    ]
    return max(passed, default=0), fewest_failed

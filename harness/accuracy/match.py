"""Matching raised events to expected ones, and the metrics (pure functions)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.accuracy.scenario import ALL_ZONES, BoxNorm, ExpectedCount, ExpectedEvent

# An occupancy message further than this (clip seconds) from a count's time
# does not answer it; the node publishes one every 0.25 s of wall time.
COUNT_MAX_GAP_S = 1.0


@dataclass(frozen=True, slots=True)
class ObservedEvent:
    """An event the pipeline raised (its `start` phase), in clip time.

    Attributes:
        event_id: The event's id.
        type: Event type (`crowding`, `intrusion`, ...).
        t_s: Clip seconds at which it was raised (`detected_at` mapped).
        image_box: Normalised x1 y1 x2 y2 of the boxes involved, if any.
        zone_id: Zone the rule watched.
        confidence: The event's confidence.
        snapshot_jpeg: The inline snapshot, when the event carried one.
    """

    event_id: str
    type: str
    t_s: float
    image_box: BoxNorm | None = None
    zone_id: str | None = None
    confidence: float = 0.0
    snapshot_jpeg: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class OccupancySample:
    """One occupancy message: zone id -> label -> count at clip time `t_s`."""

    t_s: float
    zones: Mapping[str, Mapping[str, int]]


@dataclass(frozen=True, slots=True)
class EventMatch:
    """An expected event and the raised event that found it."""

    expected_index: int
    expected: ExpectedEvent
    event: ObservedEvent

    @property
    def latency_s(self) -> float:
        """Raised time minus window start, clip seconds."""
        return self.event.t_s - self.expected.window[0]


@dataclass(frozen=True, slots=True)
class Miss:
    """An expected event no raised event found, with the nearest candidate."""

    expected_index: int
    expected: ExpectedEvent
    reason: str
    nearest: ObservedEvent | None = None


@dataclass(frozen=True, slots=True)
class EventMatching:
    """The outcome of matching one scenario's events."""

    matches: tuple[EventMatch, ...] = ()
    misses: tuple[Miss, ...] = ()
    false_alarms: tuple[ObservedEvent, ...] = ()


def region_overlaps(box: BoxNorm, region: BoxNorm) -> bool:
    """Whether `box` overlaps `region` (positive area) or has its centre in it."""
    width = min(box[2], region[2]) - max(box[0], region[0])
    height = min(box[3], region[3]) - max(box[1], region[1])
    if width > 0 and height > 0:
        return True
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region[0] <= cx <= region[2] and region[1] <= cy <= region[3]


def is_in_window(expected: ExpectedEvent, event: ObservedEvent) -> bool:
    start, end = expected.window
    return start <= event.t_s <= end


def is_in_region(expected: ExpectedEvent, event: ObservedEvent) -> bool:
    if expected.region is None:
        return True
    return event.image_box is not None and region_overlaps(
        event.image_box, expected.region
    )


def can_match(expected: ExpectedEvent, event: ObservedEvent) -> bool:
    """Same type, raised inside the window, and in the region when one is given."""
    return (
        event.type == expected.type
        and is_in_window(expected, event)
        and is_in_region(expected, event)
    )


def match_events(
    expected: Sequence[ExpectedEvent], observed: Sequence[ObservedEvent]
) -> EventMatching:
    """Pair expected and raised events one to one, as many pairs as possible.

    A maximum bipartite matching (augmenting paths): an early event that
    could serve two expected ones goes to the one that has no other
    candidate. Expected events are tried in window order and their candidates
    earliest first, so latencies stay short.

    Args:
        expected: The scenario's expected events.
        observed: The start events the pipeline raised.

    Returns:
        Matches, misses (with a reason) and false alarms (unmatched raised
        events, in time order).
    """
    by_time = sorted(range(len(observed)), key=lambda j: observed[j].t_s)
    candidates = [
        [j for j in by_time if can_match(item, observed[j])] for item in expected
    ]
    owner: dict[int, int] = {}  # observed index -> expected index

    def assign(i: int, seen: set[int]) -> bool:
        for j in candidates[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or assign(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in sorted(range(len(expected)), key=lambda i: expected[i].window):
        assign(i, set())
    matched = {i: j for j, i in owner.items()}
    matches = tuple(
        EventMatch(i, expected[i], observed[matched[i]]) for i in sorted(matched)
    )
    misses = tuple(
        _miss(i, expected[i], observed)
        for i in range(len(expected))
        if i not in matched
    )
    false_alarms = tuple(observed[j] for j in by_time if j not in owner)
    return EventMatching(matches=matches, misses=misses, false_alarms=false_alarms)


def _window_distance_s(expected: ExpectedEvent, event: ObservedEvent) -> float:
    start, end = expected.window
    return max(0.0, start - event.t_s, event.t_s - end)


def _miss(
    index: int, expected: ExpectedEvent, observed: Sequence[ObservedEvent]
) -> Miss:
    kind = expected.type
    same = [e for e in observed if e.type == kind]
    if not same:
        return Miss(index, expected, f"no {kind} event raised")
    nearest = min(same, key=lambda e: (_window_distance_s(expected, e), e.t_s))
    distance = _window_distance_s(expected, nearest)
    if distance > 0:
        side = "before" if nearest.t_s < expected.window[0] else "after"
        reason = (
            f"nearest {kind} event at {nearest.t_s:.1f} s, "
            f"{distance:.1f} s {side} the window"
        )
    elif not is_in_region(expected, nearest):
        reason = f"{kind} event at {nearest.t_s:.1f} s has its box outside the region"
    else:
        reason = f"{kind} event at {nearest.t_s:.1f} s matched another expected event"
    return Miss(index, expected, reason, nearest)


@dataclass(frozen=True, slots=True)
class TypeTally:
    """True/false positives, misses and latencies of one event type.

    Attributes:
        tp: Expected events found.
        fp: Raised start events that found nothing.
        fn: Expected events not found.
        latencies_s: Raised minus window start of each match, clip seconds.
    """

    tp: int = 0
    fp: int = 0
    fn: int = 0
    latencies_s: tuple[float, ...] = ()

    def __add__(self, other: TypeTally) -> TypeTally:
        return TypeTally(
            tp=self.tp + other.tp,
            fp=self.fp + other.fp,
            fn=self.fn + other.fn,
            latencies_s=self.latencies_s + other.latencies_s,
        )

    @property
    def precision(self) -> float | None:
        """TP / (TP + FP); None when nothing was raised."""
        raised = self.tp + self.fp
        return self.tp / raised if raised else None

    @property
    def recall(self) -> float | None:
        """TP / (TP + FN); None when nothing was expected."""
        wanted = self.tp + self.fn
        return self.tp / wanted if wanted else None

    @property
    def f1(self) -> float | None:
        """2TP / (2TP + FP + FN); None when nothing was expected nor raised."""
        total = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / total if total else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: counts, rates and latency mean/p50/max (3 decimals)."""
        latencies = self.latencies_s
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": _round(self.precision),
            "recall": _round(self.recall),
            "f1": _round(self.f1),
            "latency_s_mean": _round(
                statistics.fmean(latencies) if latencies else None
            ),
            "latency_s_p50": _round(
                statistics.median(latencies) if latencies else None
            ),
            "latency_s_max": _round(max(latencies) if latencies else None),
        }


def tally(matching: EventMatching) -> dict[str, TypeTally]:
    """Per event type: TP, FP, FN and latencies of one scenario's matching."""
    out: dict[str, TypeTally] = {}

    def add(kind: str, item: TypeTally) -> None:
        out[kind] = out.get(kind, TypeTally()) + item

    for match in matching.matches:
        add(match.event.type, TypeTally(tp=1, latencies_s=(match.latency_s,)))
    for miss in matching.misses:
        add(miss.expected.type, TypeTally(fn=1))
    for event in matching.false_alarms:
        add(event.type, TypeTally(fp=1))
    return dict(sorted(out.items()))


def merge_tallies(tallies: Iterable[Mapping[str, TypeTally]]) -> dict[str, TypeTally]:
    """Sum per-type tallies over scenarios."""
    out: dict[str, TypeTally] = {}
    for per_type in tallies:
        for kind, item in per_type.items():
            out[kind] = out.get(kind, TypeTally()) + item
    return dict(sorted(out.items()))


def total(tallies: Mapping[str, TypeTally]) -> TypeTally:
    """All types together (micro-averaged rates)."""
    return sum(tallies.values(), TypeTally())


@dataclass(frozen=True, slots=True)
class CountCheck:
    """One expected count against the occupancy message nearest its time.

    Attributes:
        expected: The expected count.
        observed: The reported count, None when no message was near enough.
        at_s: Clip time of the message used.
    """

    expected: ExpectedCount
    observed: int | None
    at_s: float | None

    @property
    def error(self) -> int | None:
        """Observed minus expected: positive when the node counted too many."""
        if self.observed is None:
            return None
        return self.observed - self.expected.count

    @property
    def abs_error(self) -> int | None:
        error = self.error
        return None if error is None else abs(error)

    @property
    def is_within_tolerance(self) -> bool:
        error = self.abs_error
        return error is not None and error <= self.expected.tolerance

    def to_dict(self) -> dict[str, Any]:
        return {
            "t": self.expected.t,
            "zone": self.expected.zone,
            "label": self.expected.label,
            "expected": self.expected.count,
            "tolerance": self.expected.tolerance,
            "observed": self.observed,
            "at_s": _round(self.at_s),
            "error": self.error,
            "abs_error": self.abs_error,
            "ok": self.is_within_tolerance,
        }


def zone_count(sample: OccupancySample, *, zone: str, label: str) -> int:
    """A zone's count of `label`; zone `all` sums every zone of the message."""
    if zone == ALL_ZONES:
        return sum(counts.get(label, 0) for counts in sample.zones.values())
    return sample.zones.get(zone, {}).get(label, 0)


def check_counts(
    expected: Sequence[ExpectedCount],
    samples: Sequence[OccupancySample],
    *,
    max_gap_s: float,
) -> list[CountCheck]:
    """Compare each expected count with the occupancy message nearest its time.

    Args:
        expected: Expected counts.
        samples: Occupancy messages in clip time (any order).
        max_gap_s: A message further than this from `t` does not count; the
            check then has no observed value.
    """
    checks = []
    for item in expected:
        nearest = min(samples, key=lambda s: abs(s.t_s - item.t), default=None)
        if nearest is None or abs(nearest.t_s - item.t) > max_gap_s:
            checks.append(CountCheck(item, observed=None, at_s=None))
            continue
        observed = zone_count(nearest, zone=item.zone, label=item.label)
        checks.append(CountCheck(item, observed=observed, at_s=nearest.t_s))
    return checks


def count_mae(checks: Iterable[CountCheck]) -> float | None:
    """Mean absolute count error over the checks that had a message; None if none."""
    errors = [c.abs_error for c in checks if c.abs_error is not None]
    return statistics.fmean(errors) if errors else None


def count_bias(checks: Iterable[CountCheck]) -> float | None:
    """Mean signed count error (observed − expected) over the checks that had a
    message; None if none. MAE says how far off, bias which way: a false person
    that never goes away shows as a bias near +MAE, misses near −MAE."""
    errors = [c.error for c in checks if c.error is not None]
    return statistics.fmean(errors) if errors else None


def _by_label(checks: Iterable[CountCheck]) -> dict[str, list[CountCheck]]:
    by_label: dict[str, list[CountCheck]] = {}
    for check in checks:
        by_label.setdefault(check.expected.label, []).append(check)
    return {label: by_label[label] for label in sorted(by_label)}


def count_mae_by_label(checks: Iterable[CountCheck]) -> dict[str, float | None]:
    """`count_mae` per counted label (persons, cars, bottles), labels sorted."""
    return {label: count_mae(items) for label, items in _by_label(checks).items()}


def count_bias_by_label(checks: Iterable[CountCheck]) -> dict[str, float | None]:
    """`count_bias` per counted label, labels sorted."""
    return {label: count_bias(items) for label, items in _by_label(checks).items()}


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)

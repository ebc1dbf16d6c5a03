"""What ingest has done and whether it keeps up: counters for `/metrics`, a verdict
for `/healthz`. The ingest thread writes them; readers only read."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector


@dataclass
class IngestStats:
    """Counts since the process started (monotonic seconds for the times)."""

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    deadlettered: int = 0
    tickets_created: int = 0
    merged: int = 0
    batches: int = 0
    failed_batches: int = 0  # any failed try: storage or a message
    storage_retries: int = 0  # tries repeated because the database failed
    split_batches: int = 0  # failed batches split to find the culprit
    unstorable: int = 0  # messages dead-lettered because storing them failed
    retrying_since: float | None = None  # a storage failure not yet overcome
    last_error: str | None = None
    lag_probe: Callable[[], float] | None = field(default=None, repr=False)
    queue_probe: Callable[[], int] | None = field(default=None, repr=False)

    def lag_s(self) -> float:
        """Age of the oldest event received and not yet stored (0 when none)."""
        return self.lag_probe() if self.lag_probe is not None else 0.0

    def queued(self) -> int:
        return self.queue_probe() if self.queue_probe is not None else 0

    def storage_failing_for_s(self, now: float | None = None) -> float:
        if self.retrying_since is None:
            return 0.0
        return (time.monotonic() if now is None else now) - self.retrying_since


@dataclass(frozen=True, slots=True)
class IngestVerdict:
    """`ok`, or `degraded` with the reasons, for `/healthz`."""

    status: str
    reasons: tuple[str, ...]
    details: dict[str, Any]


def judge(
    stats: IngestStats, *, stuck_after_s: float, lag_after_s: float
) -> IngestVerdict:
    """Degraded when storing has failed for `stuck_after_s` or the oldest waiting
    event is older than `lag_after_s`."""
    failing_s = stats.storage_failing_for_s()
    lag_s = stats.lag_s()
    reasons = []
    if failing_s >= stuck_after_s:
        reasons.append(
            f"ingest stuck: events not stored for {failing_s:.0f} s "
            f"({stats.last_error})"
        )
    if lag_s >= lag_after_s:
        reasons.append(f"ingest lagging: oldest waiting event {lag_s:.0f} s old")
    details = {
        "lag_s": round(lag_s, 3),
        "queued": stats.queued(),
        "received": stats.received,
        "stored": stats.accepted,
        "deadlettered": stats.deadlettered,
        "failed_batches": stats.failed_batches,
        "storage_retries": stats.storage_retries,
    }
    return IngestVerdict("degraded" if reasons else "ok", tuple(reasons), details)


class IngestCollector(Collector):
    """Exposes `IngestStats` to Prometheus, read at scrape time."""

    def __init__(self, stats: IngestStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        s = self._stats
        counters = (
            (
                "gw_central_events_received",
                "Event messages taken from the broker.",
                s.received,
            ),
            (
                "gw_central_events_stored",
                "Event messages stored (new, not duplicates).",
                s.accepted,
            ),
            (
                "gw_central_events_duplicate",
                "Event messages already stored.",
                s.duplicates,
            ),
            (
                "gw_central_deadletters",
                "Messages refused to the dead-letter topic.",
                s.deadlettered,
            ),
            (
                "gw_central_events_unstorable",
                "Messages dead-lettered because storing them failed.",
                s.unstorable,
            ),
            (
                "gw_central_tickets_created",
                "Tickets opened by ingest.",
                s.tickets_created,
            ),
            (
                "gw_central_events_merged",
                "Events merged into an open ticket.",
                s.merged,
            ),
            ("gw_central_batches", "Batches stored.", s.batches),
            (
                "gw_central_batch_failures",
                "Failed tries to store a batch.",
                s.failed_batches,
            ),
            (
                "gw_central_storage_retries",
                "Tries repeated after a database failure.",
                s.storage_retries,
            ),
            (
                "gw_central_batch_splits",
                "Failed batches split to find the bad message.",
                s.split_batches,
            ),
        )
        for name, text, value in counters:
            family = CounterMetricFamily(name, text)
            family.add_metric([], value)
            yield family
        yield GaugeMetricFamily(
            "gw_central_ingest_lag_seconds",
            "Age of the oldest event received and not yet stored.",
            value=s.lag_s(),
        )
        yield GaugeMetricFamily(
            "gw_central_ingest_queued", "Events waiting for a batch.", value=s.queued()
        )
        yield GaugeMetricFamily(
            "gw_central_ingest_storage_failing_seconds",
            "How long storing has been failing (0 when it works).",
            value=s.storage_failing_for_s(),
        )

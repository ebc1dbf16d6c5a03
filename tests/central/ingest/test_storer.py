"""BatchStorer: one bad message costs itself; a failing database costs nothing."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from central.ingest.processor import BatchResult, InboundMessage
from central.ingest.stats import IngestStats, judge
from central.ingest.storer import BatchStorer, is_storage_failure

TOPIC = "gw/v1/edge/node-01/events"


def _messages(n: int) -> list[InboundMessage]:
    return [InboundMessage(TOPIC, f"m{i}".encode(), token=i) for i in range(n)]


class FakeProcessor:
    """Stores a batch (all or nothing, like one transaction) unless it holds a
    poisoned payload or the database is 'down' for the next `outages` calls."""

    def __init__(
        self, poisoned: frozenset[bytes] = frozenset(), outages: int = 0
    ) -> None:
        self.poisoned = set(poisoned)
        self.outages = outages
        self.stored: list[bytes] = []
        self.calls = 0

    def process(self, batch: Sequence[InboundMessage]) -> BatchResult:
        self.calls += 1
        if self.outages > 0:
            self.outages -= 1
            raise OperationalError(
                "INSERT", {}, Exception("server closed the connection")
            )
        if any(m.payload in self.poisoned for m in batch):
            raise ValueError("cannot adapt type")
        self.stored += [m.payload for m in batch]
        return BatchResult(accepted=len(batch), tickets_created=len(batch))


def _storer(
    processor: FakeProcessor, stats: IngestStats, stop: threading.Event | None = None
) -> BatchStorer:
    return BatchStorer(
        processor.process,
        stats=stats,
        stop=stop or threading.Event(),
        retry_s=0.001,
        tries_per_message=3,
    )


def test_a_poisoned_message_is_dead_lettered_and_every_other_one_stored() -> None:
    batch = _messages(8)
    processor = FakeProcessor(poisoned=frozenset({b"m5"}))
    stats = IngestStats()
    result = _storer(processor, stats).store(batch)
    assert result is not None
    assert sorted(processor.stored) == sorted(
        m.payload for m in batch if m.payload != b"m5"
    )
    assert result.accepted == 7 and result.tickets_created == 7
    [letter] = result.deadletters
    assert letter.payload == "m5" and letter.topic == TOPIC
    assert (
        "not storable after 3 tries" in letter.reason and "ValueError" in letter.reason
    )
    assert stats.unstorable == 1 and stats.split_batches >= 3


def test_two_poisoned_messages_in_one_batch_cost_only_themselves() -> None:
    processor = FakeProcessor(poisoned=frozenset({b"m0", b"m9"}))
    result = _storer(processor, IngestStats()).store(_messages(10))
    assert result is not None
    assert sorted(letter.payload for letter in result.deadletters) == ["m0", "m9"]
    assert len(processor.stored) == 8


def test_a_database_outage_is_retried_until_stored_and_nothing_dead_lettered() -> None:
    processor = FakeProcessor(outages=4)
    stats = IngestStats()
    result = _storer(processor, stats).store(_messages(5))
    assert result is not None and result.deadletters == []
    assert len(processor.stored) == 5
    assert stats.storage_retries == 4 and stats.retrying_since is None


def test_stop_during_an_outage_returns_none_and_stores_nothing() -> None:
    stop = threading.Event()
    processor = FakeProcessor(outages=10**6)

    def stop_soon(batch: Sequence[InboundMessage]) -> BatchResult:
        if processor.calls >= 3:
            stop.set()
        return processor.process(batch)

    stats = IngestStats()
    storer = BatchStorer(stop_soon, stats=stats, stop=stop, retry_s=0.001)
    assert storer.store(_messages(3)) is None
    assert processor.stored == []
    assert stats.retrying_since is not None  # still failing: /healthz will say so


def test_a_long_outage_makes_health_degraded_and_recovery_clears_it() -> None:
    stats = IngestStats(retrying_since=0.0, last_error="OperationalError: down")
    verdict = judge(stats, stuck_after_s=60, lag_after_s=30)
    assert verdict.status == "degraded" and "stuck" in verdict.reasons[0]
    stats.retrying_since = None
    stats.lag_probe = lambda: 45.0
    verdict = judge(stats, stuck_after_s=60, lag_after_s=30)
    assert verdict.status == "degraded" and "lagging" in verdict.reasons[0]
    stats.lag_probe = lambda: 1.0
    assert judge(stats, stuck_after_s=60, lag_after_s=30).status == "ok"


@pytest.mark.parametrize(
    ("error", "storage"),
    [
        (OperationalError("SELECT 1", {}, Exception("database or disk is full")), True),
        (OSError(28, "No space left on device"), True),
        (IntegrityError("INSERT", {}, Exception("duplicate key")), False),
        (ValueError("NaN is not JSON"), False),
    ],
)
def test_storage_failures_are_told_from_message_failures(
    error: Exception, storage: bool
) -> None:
    assert is_storage_failure(error) is storage

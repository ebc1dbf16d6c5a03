"""`bench central`'s notice log counts only the bench's own events."""

from __future__ import annotations

from harness.bench.central import NoticeLog


def test_notice_log_should_record_expected_events_and_count_the_rest() -> None:
    log = NoticeLog()
    log.expect("a")
    log.expect("b")
    log.record(["a", "old-ticket-event"], at=1.0)
    log.record(["a", "b"], at=2.0)  # a merged ticket names "a" again

    assert log.count() == 2
    assert log.received == {"a": [1.0, 2.0], "b": [2.0]}
    assert log.foreign == 1

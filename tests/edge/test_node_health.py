"""The node says it is degraded while its outbox refuses events."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from edge.factory import build_node
from edge.publish.base import PublisherStats
from tests.edge.publish.factories import NullPublisher
from tests.edge.test_factory import _config, _NoDetector


class _RefusingPublisher(NullPublisher):
    def __init__(self, last_refused_at: float | None) -> None:
        self.last_refused_at = last_refused_at

    def stats(self) -> PublisherStats:
        refused = 0 if self.last_refused_at is None else 4
        return PublisherStats(
            refused=refused,
            last_refused_at=self.last_refused_at,
            outbox_depth=10,
            outbox_bytes=4096,
        )


@pytest.mark.parametrize(
    ("refused_s_ago", "healthy", "status"),
    [
        (None, True, "ok"),
        (5.0, False, "degraded: outbox full, 4 events not stored since start"),
        (3600.0, True, "ok"),
    ],
)
def test_health_given_recent_outbox_refusals_should_say_degraded(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    refused_s_ago: float | None,
    healthy: bool,
    status: str,
) -> None:
    refused_at = None if refused_s_ago is None else time.time() - refused_s_ago
    config = _config(outbox={"path": str(tmp_path / "outbox.db")})
    node = build_node(
        config, detectors=[_NoDetector()], publisher=_RefusingPublisher(refused_at)
    )
    monkeypatch.setattr(node, "_dead_stages", list)  # as if every stage ran
    ok, body = node.health()
    assert (ok, body["status"]) == (healthy, status)
    assert body["outbox_bytes"] == 4096
    assert body["events_refused"] == (0 if refused_at is None else 4)

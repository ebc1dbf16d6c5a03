"""GET /api/v1/system/ingest: this process's ingest health for the console (staff)."""

from __future__ import annotations

import time
from datetime import timedelta

from central.ingest.replicas import ReplicaRoster, SlotPresence, SlotState
from tests.central.api.conftest import Api

PATH = "/api/v1/system/ingest"


def test_ingest_health_is_for_staff_only(api: Api) -> None:
    assert api.client.get(PATH).status_code == 401
    assert api.get("worker1", PATH).status_code == 403
    assert api.get("node01", PATH).status_code == 403
    assert api.get("admin", PATH).status_code == 200


def test_a_process_without_ingest_says_so(api: Api) -> None:
    answer = api.get("operator", PATH)
    assert answer.status_code == 200
    body = answer.json()
    assert body["runs_ingest"] is False
    assert body["status"] is None and body["lag_s"] is None and body["reasons"] == []


def test_ok_then_degraded_with_the_reasons_of_healthz(api: Api) -> None:
    api.context.runs_ingest = True
    stats = api.context.ingest_stats
    stats.received, stats.accepted, stats.deadlettered = 10, 7, 3
    stats.queue_probe = lambda: 4
    assert api.get("operator", PATH).json() == {
        "runs_ingest": True,
        "status": "ok",
        "reasons": [],
        "lag_s": 0.0,
        "queued": 4,
        "received": 10,
        "stored": 7,
        "deadlettered": 3,
        "failed_batches": 0,
        "storage_retries": 0,
        "replica_slots": [],
        "warnings": [],
    }
    stats.retrying_since = time.monotonic() - 120
    stats.last_error = "OperationalError: disk I/O error"
    stats.lag_probe = lambda: 95.0
    answer = api.get("operator", PATH)
    assert answer.status_code == 200  # a report; /healthz is the probe
    body = answer.json()
    assert body["status"] == "degraded" and body["lag_s"] == 95.0
    stuck, lagging = body["reasons"]
    assert "stuck" in stuck and "disk I/O error" in stuck
    assert "lagging" in lagging and "95 s" in lagging
    assert body["reasons"] == api.client.get("/healthz").json()["reasons"]


def test_a_replica_slot_away_should_be_a_warning_not_a_failed_probe(api: Api) -> None:
    roster = ReplicaRoster(api.context.clock)
    api.context.replicas = roster
    topics = api.context.topics
    roster.record(
        topics.replica_slot("central-1"),
        SlotPresence(client_id="central-1", state=SlotState.ONLINE).to_json(),
    )
    roster.record(
        topics.replica_slot("central-2"),
        SlotPresence(client_id="central-2", state=SlotState.OFFLINE).to_json(),
    )
    body = api.get("operator", PATH).json()
    assert [(s["client_id"], s["state"]) for s in body["replica_slots"]] == [
        ("central-1", "online"),
        ("central-2", "offline"),
    ]
    assert body["warnings"] == []  # not away long enough yet
    alert_s = api.context.settings.ingest.slot_offline_alert_s
    api.context.clock.advance(timedelta(seconds=alert_s))  # type: ignore[attr-defined]
    [warning] = api.get("operator", PATH).json()["warnings"]
    assert "central-2 offline for 5 min" in warning
    health = api.client.get("/healthz")
    assert health.status_code == 200  # the healthy replicas stay in service
    assert health.json()["warnings"] == [warning]

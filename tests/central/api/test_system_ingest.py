"""GET /api/v1/system/ingest: this process's ingest health for the console (staff)."""

from __future__ import annotations

import time

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

"""/healthz says when ingest is stuck or lagging; /metrics is for staff only."""

from __future__ import annotations

import time

from tests.central.api.conftest import Api


def test_healthz_without_ingest_in_this_process_says_nothing_of_it(api: Api) -> None:
    assert "ingest" not in api.client.get("/healthz").json()


def test_healthz_is_degraded_while_storing_fails_and_ok_again_after(api: Api) -> None:
    api.context.runs_ingest = True
    stats = api.context.ingest_stats
    assert api.client.get("/healthz").json()["ingest"]["status"] == "ok"
    stats.retrying_since = time.monotonic() - 120
    stats.last_error = "OperationalError: connection refused"
    stuck = api.client.get("/healthz")
    assert stuck.status_code == 503
    body = stuck.json()
    assert body["status"] == "degraded" and body["ingest"]["status"] == "degraded"
    assert "stuck" in body["reasons"][0] and "OperationalError" in body["reasons"][0]
    stats.retrying_since = None
    stats.lag_probe = lambda: 300.0
    lagging = api.client.get("/healthz")
    assert lagging.status_code == 503 and "lagging" in lagging.json()["reasons"][0]
    stats.lag_probe = lambda: 0.2
    assert api.client.get("/healthz").status_code == 200


def test_metrics_need_a_staff_login(api: Api) -> None:
    assert api.client.get("/metrics").status_code == 401
    assert api.get("worker1", "/metrics").status_code == 403
    assert api.get("node01", "/metrics").status_code == 403
    api.context.ingest_stats.received = 7
    api.context.ingest_stats.unstorable = 1
    scraped = api.get("operator", "/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    lines = scraped.text.splitlines()
    assert "gw_central_events_received_total 7.0" in lines
    assert "gw_central_events_unstorable_total 1.0" in lines
    assert any(line.startswith("gw_central_ingest_lag_seconds ") for line in lines)
    assert any(line.startswith("process_open_fds ") for line in lines)

"""The real edge node of `gridwatch bench chaos`: its config, how its messages of a
phase are gathered and counted, and how its outbox is read
(harness/bench/chaos_node.py, chaos_node_watch.py, chaos_count.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from edge.config import parse_config
from edge.publish import Outbox
from harness.bench.chaos_count import (
    FaultResult,
    PhaseLog,
    count_node_fault,
    health_changes,
    node_messages,
    open_events,
    report,
)
from harness.bench.chaos_node import CAMERA_ID, NODE_ID, node_config
from harness.bench.chaos_node_watch import read_outbox
from harness.services import MosquittoBroker

OFFSET = 1000.0  # wall clock = monotonic + OFFSET in these tests


def test_node_messages_given_broker_and_outbox_should_keep_the_phase_window() -> None:
    seen = {"early": 4.0, "a": 5.0, "b": 9.5, "late": 10.0, "waited": 12.0}
    pending = {
        "stuck": 6.0 + OFFSET,  # committed in the window, never passed on
        "waited": 7.0 + OFFSET,  # committed in the window, passed on after it
        "before": 1.0 + OFFSET,  # committed before the window
    }
    delivered = {"acked-unseen": 8.0 + OFFSET, "a": 5.1 + OFFSET}
    messages = node_messages(
        seen, pending=pending, delivered=delivered, start=5.0, end=10.0,
        wall_offset=OFFSET,
    )  # fmt: skip
    # "waited" was passed on after the window: it belongs to the next phase.
    assert messages == pytest.approx({"a": 5.0, "b": 9.5, "stuck": 6.0,
                                      "acked-unseen": 8.0})  # fmt: skip


def _load(lost: int = 0) -> FaultResult:
    return FaultResult("edge_node_kill", 10, 10 - lost, lost, 0, 1.0)


def test_count_node_fault_given_messages_should_count_each_and_notices_per_event() -> (
    None
):
    phase = PhaseLog(
        "edge_node_kill",
        published={"e1:start": 1.0, "e1:update:t1": 2.0, "e2:start": 12.0,
                    "e2:end": 13.0},
        cleared_at=10.0,
    )  # fmt: skip
    stored = {"e1:start": 1.5, "e1:update:t1": 11.0, "e2:start": 12.5}
    result = count_node_fault(
        phase, stored_at=stored, notices={"e1": 2, "e2": 1}, load=_load(),
        details={"restart_s": 6.2},
    )  # fmt: skip
    assert (result.published, result.tickets, result.lost) == (4, 3, 1)
    assert result.duplicates == 1  # e1's ticket was pushed twice
    assert result.notices_missing == 0  # not counted: events join open tickets
    assert result.recovery_s == 1.0
    entry = result.to_json()
    assert entry["node"] == {"events": 2, "restart_s": 6.2}
    assert entry["load"]["published"] == 10
    assert not result.is_clean


@pytest.mark.parametrize(("load_lost", "ok"), [(0, True), (1, False)])
def test_report_given_a_node_fault_should_be_ok_only_when_its_load_is_clean(
    load_lost: int, ok: bool
) -> None:
    phase = PhaseLog("camera_dark", published={"e:start": 1.0}, cleared_at=2.0)
    result = count_node_fault(
        phase, stored_at={"e:start": 1.2}, notices={}, load=_load(load_lost),
        details={},
    )  # fmt: skip
    figures = report([result], None, {})
    assert figures["ok"] is ok
    assert figures["faults"][0]["load"]["lost"] == load_lost


def test_health_changes_given_samples_should_list_changes_from_the_one_in_force() -> (
    None
):
    samples = [(1.0, "online"), (5.0, "offline"), (7.0, "online"), (9.0, "offline")]
    assert health_changes(samples, since=4.0) == ["online", "offline", "online",
                                                  "offline"]  # fmt: skip
    assert health_changes(samples, since=6.0) == ["offline", "online", "offline"]
    assert health_changes([], since=0.0) == []
    assert health_changes([(3.0, "online")], since=1.0) == ["online"]


def test_node_config_given_the_chaos_broker_should_be_a_valid_node_at_the_point(
    tmp_path: Path,
) -> None:
    broker = MosquittoBroker(tmp_path / "broker")  # not started: logins only
    document = node_config(
        broker, url="rtsp://127.0.0.1:8554/clip", outbox=tmp_path / "o.sqlite",
        point=(23.1, 113.3),
    )  # fmt: skip
    config = parse_config(document)
    assert config.node_id == NODE_ID
    camera = config.cameras[0]
    assert (camera.id, camera.location.lat, camera.location.lon) == (
        CAMERA_ID, 23.1, 113.3,
    )  # fmt: skip
    rule = camera.zones[0].rules[1]
    assert rule.type == "crowding"
    assert config.broker.username == NODE_ID
    assert not config.media.clips


def test_read_outbox_given_waiting_and_acked_rows_should_list_event_keys(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.sqlite"
    assert read_outbox(path).pending == {}  # before the node made it
    before = time.time()
    with Outbox(path, 100) as outbox:
        events = "gw/v1/edge/n/events"
        outbox.put(topic=events, payload=b"{}", dedupe_key="e1:start")
        outbox.put(topic=events, payload=b"{}", dedupe_key="e1:end")
        outbox.put(topic="gw/v1/edge/n/cameras/c/status", payload=b"{}", retain=True)
        first = outbox.peek(1)[0]
        assert outbox.ack(first.row_id)
        keys = read_outbox(path)
    assert set(keys.pending) == {"e1:end"}
    assert set(keys.delivered) == {"e1:start"}
    assert keys.pending["e1:end"] >= before


def test_open_events_given_messages_before_a_moment_should_list_unended_episodes() -> (
    None
):
    seen = {
        "done:start": 1.0, "done:end": 2.0,
        "cut:start": 3.0, "cut:update:2026-12-07T04:00:00+00:00": 4.0,
        "late:start": 4.0, "late:end": 6.0,  # its end came after the moment
        "after:start": 7.0,
    }  # fmt: skip
    assert open_events(seen, 5.0) == {"cut", "late"}
    assert open_events(seen, 0.5) == set()

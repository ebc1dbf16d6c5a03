"""`gridwatch bench chaos --small --faults edge_node_kill,edge_node_kill_backlog,
camera_dark`: a real edge node (`gridwatch edge run`, yolox_nano on a clip the RTSP
simulator replays) killed mid-stream, killed again while its messages wait in its
outbox (the broker frozen), and its camera gone dark, under the chaos stack
(PostgreSQL, Mosquitto, two central replicas, the bench's own load), costs nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

NODE_FAULTS = ["edge_node_kill", "edge_node_kill_backlog", "camera_dark"]


@pytest.mark.timeout(480)
def test_chaos_given_a_real_node_killed_and_its_camera_dark_should_lose_nothing(
    models_dir: Path, videos_dir: Path
) -> None:
    result = subprocess.run(
        [
            sys.executable, "-m", "harness", "--log-level", "WARNING",
            "bench", "chaos", "--small", "--json", "--seed", "5", "--rate", "10",
            "--faults", ",".join(NODE_FAULTS),
        ],
        capture_output=True,
        text=True,
        timeout=450,
    )  # fmt: skip
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr[-3000:]
    figures: dict[str, Any] = json.loads(lines[-1])
    faults = {f["name"]: f for f in figures["faults"]}
    assert list(faults) == NODE_FAULTS, result.stderr[-3000:]
    for name, fault in faults.items():
        assert fault["published"] > 0, fault  # the node's messages of the phase
        assert fault["lost"] == 0 and fault["duplicates"] == 0, fault
        assert fault["tickets"] == fault["published"], fault
        assert fault["recovery_s"] is not None, fault
        load = fault["load"]  # the bench's own load ran alongside
        assert load["published"] > 0 and load["lost"] == 0, fault
        assert f"chaos: {name}: published" in result.stderr
        assert "real node:" in result.stderr
    killed = faults["edge_node_kill"]["node"]
    assert killed["mid_stream"] is True
    assert killed["restart_s"] > 0
    assert killed["first_event_after_restart_s"] is not None  # detecting again
    # the episodes it left open got their end from the restarted node
    assert killed["ended_after_restart"] == killed["events_open_at_kill"], killed
    backlog = faults["edge_node_kill_backlog"]["node"]
    assert backlog["backlog_built"] is True, backlog
    assert backlog["outbox_waiting_at_kill"] >= 3, backlog  # killed while they waited
    assert backlog["outbox_drained"] is True, backlog  # sent after the restart
    assert backlog["ended_after_restart"] == backlog["events_open_at_kill"], backlog
    dark = faults["camera_dark"]["node"]
    assert dark["camera_status_at_central"] == ["online", "offline", "online"]
    assert dark["node_reconnect_s"] is not None
    assert dark["central_offline_after_s"] is not None
    assert dark["first_event_after_back_s"] is not None
    totals = figures["node"]
    assert totals["messages_at_broker"] >= sum(f["published"] for f in faults.values())
    assert totals["never_stored"] == 0, totals
    assert figures["ok"] is True and result.returncode == 0

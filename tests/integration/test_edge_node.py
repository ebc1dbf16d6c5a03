"""The edge node against real services: RTSP simulator, Mosquitto, ONNX model, video.

Everything here is real: gst-rtsp-server replays the shared clips, the node
decodes them with FFmpeg, runs yolox_nano, tracks, applies rules and publishes
through its SQLite outbox to a real Mosquitto, where a subscriber checks what
arrived.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from harness.services import MosquittoBroker, RtspSimulatorProcess
from simulators.checkpoint import CheckpointFeeder, FeedConfig
from tests.integration.conftest import (
    EMPTY_CLIP,
    PERSON_CLIP,
    NodeFactory,
    camera,
    crowding_zone,
    payloads,
    wait_until,
)
from tests.utils.broker import MqttCollector

pytestmark = pytest.mark.integration

CORNER = [
    [0.0, 0.0],
    [0.12, 0.0],
    [0.12, 0.12],
    [0.0, 0.12],
]  # ceiling: nobody stands there


def test_node_given_people_and_empty_scenes_should_raise_crowding_only_with_people(
    mosquitto: MosquittoBroker,
    rtsp_sim: RtspSimulatorProcess,
    make_node: NodeFactory,
    videos_dir: Path,
    tmp_path: Path,
) -> None:
    gate_secret = tmp_path / "gate.secret"
    gate_secret.write_text("gate-3-push-secret-0123456789\n")
    monitor_token = "it-node-monitor-token-0123456789"
    monitor_file = tmp_path / "monitor.token"
    monitor_file.write_text(monitor_token + "\n")
    monitor = {"Authorization": f"Bearer {monitor_token}"}
    with MqttCollector.for_broker(mosquitto, "gw/v1/#") as collector:
        node, publisher = make_node(
            mosquitto,
            [
                camera("lobby", rtsp_sim.url(f"{PERSON_CLIP}-0"), [crowding_zone()]),
                camera("lobby-ceiling", rtsp_sim.url(f"{PERSON_CLIP}-0"),
                       [crowding_zone("ceiling", CORNER)]),
                camera("parking", rtsp_sim.url(f"{EMPTY_CLIP}-0"), [crowding_zone()]),
                camera("dead", "rtsp://127.0.0.1:9/no-such-camera", [crowding_zone()]),
                camera("gate", "gate", [crowding_zone()], kind="snapshot",
                       push_secret_file=str(gate_secret)),
            ],
            # Two inference workers with their own sessions, as on a CPU box.
            batch={"workers": 2},
            model={"intra_op_threads": 1},
            http={"port": 0, "monitor_token_file": str(monitor_file)},
        )  # fmt: skip
        feed = FeedConfig(
            clip=videos_dir / f"{PERSON_CLIP}.mp4",
            url=f"{node.http_url}/snapshots/gate",
            checkpoint_id="gate-3",
            fps=2,
            max_seconds=60,
            loop=True,
            secret="gate-3-push-secret-0123456789",
        )
        stop_feed = threading.Event()
        feeder = threading.Thread(
            target=lambda: CheckpointFeeder(feed).run(stop_feed), daemon=True
        )
        feeder.start()
        try:
            messages = collector.wait_for(
                lambda ms: any(
                    b["camera_id"] == "lobby" and b["phase"] == "start"
                    for b in payloads(ms, "/events")
                ),
                timeout_s=60,
            )
            time.sleep(3)  # let the other cameras publish a few more rounds
            messages = collector.messages
        finally:
            stop_feed.set()

    events = payloads(messages, "/events")
    occupancy = payloads(messages, "/occupancy")
    by_camera = Counter(e["camera_id"] for e in events)
    assert by_camera["lobby"] >= 1
    assert by_camera["lobby-ceiling"] == 0, "an empty zone raised crowding"
    assert by_camera["parking"] == 0, "a scene without people raised crowding"
    start = next(e for e in events if e["camera_id"] == "lobby")
    assert start["type"] == "crowding" and start["attributes"]["count"] >= 1
    assert start["media"]["snapshot"]["sha256"]
    assert start["location"]["source"] == "camera"

    def counts(camera_id: str) -> list[int]:
        return [
            o["zones"].get(zone, {}).get("person", 0)
            for o in occupancy
            if o["camera_id"] == camera_id
            for zone in o["zones"]
        ]

    assert max(counts("lobby")) >= 1
    assert counts("lobby-ceiling") and max(counts("lobby-ceiling")) == 0
    assert counts("parking") and max(counts("parking")) == 0
    assert counts("gate"), "the snapshot camera published no occupancy"

    statuses = {
        s["camera_id"]: s for s in payloads(messages, "/status") if "camera_id" in s
    }
    assert statuses["dead"]["health"] == "offline"
    assert "rtsp://127.0.0.1:9/no-such-camera" in statuses["dead"]["error"]
    assert statuses["lobby"]["health"] == "online"
    assert statuses["gate"]["health"] == "online"

    health = httpx.get(f"{node.http_url}/healthz", headers=monitor, timeout=5).json()
    assert health["cameras"]["dead"]["health"] == "offline"
    anonymous = httpx.get(f"{node.http_url}/healthz", timeout=5)
    assert set(anonymous.json()) == {"status"}  # liveness probes see no details
    assert httpx.get(f"{node.http_url}/metrics", timeout=5).status_code == 401
    metrics = httpx.get(f"{node.http_url}/metrics", headers=monitor, timeout=5).text
    assert 'gw_camera_fps_in{camera="lobby"}' in metrics
    assert "gw_inference_ms_count" in metrics
    assert len(publisher.events) >= by_camera["lobby"]


def test_node_given_mount_stopped_and_restarted_should_report_offline_then_online(
    mosquitto: MosquittoBroker,
    rtsp_sim: RtspSimulatorProcess,
    make_node: NodeFactory,
) -> None:
    mount = f"{PERSON_CLIP}-1"
    # clear_s is long: only the camera going offline can end the episode here.
    zone = crowding_zone(clear_s=120)
    with MqttCollector.for_broker(mosquitto, "gw/v1/edge/it-node/#") as collector:
        node, _ = make_node(mosquitto, [camera("door", rtsp_sim.url(mount), [zone])])

        def healths() -> list[str]:
            return [b["health"] for b in payloads(collector.messages, "/door/status")]

        def phases() -> list[str]:
            return [b["phase"] for b in payloads(collector.messages, "/events")]

        wait_until(lambda: "start" in phases(), 60, "a crowding episode")
        rtsp_sim.stop_mount(mount)
        try:
            wait_until(lambda: healths()[-1] == "offline", 30, "camera offline")
            wait_until(lambda: "end" in phases(), 10, "episode ended by the outage")
        finally:
            rtsp_sim.start_mount(mount)
        wait_until(lambda: healths()[-1] == "online", 30, "camera back online")
    assert node.sources["door"].reconnects >= 1
    sequence = healths()
    first_offline = sequence.index("offline")
    assert "online" in sequence[first_offline:]
    events = payloads(collector.messages, "/events")
    start = next(e for e in events if e["phase"] == "start")
    end = next(e for e in events if e["phase"] == "end")
    assert end["event_id"] == start["event_id"]


def test_node_given_broker_outage_should_deliver_every_event_once_after_it_returns(
    mosquitto: MosquittoBroker,
    rtsp_sim: RtspSimulatorProcess,
    make_node: NodeFactory,
) -> None:
    zone = crowding_zone(dwell_s=0, update_interval_s=1, clear_s=1, cooldown_s=0)
    with MqttCollector.for_broker(mosquitto, "gw/v1/edge/+/events") as collector:
        node, publisher = make_node(
            mosquitto, [camera("hall", rtsp_sim.url(f"{PERSON_CLIP}-2"), [zone])]
        )
        collector.wait_for(lambda ms: len(ms) >= 1, timeout_s=60)
        mosquitto.stop()
        produced_before = len(publisher.events)
        wait_until(
            lambda: len(publisher.events) >= produced_before + 3, 30, "events in outage"
        )
        assert node.health()[1]["outbox_depth"] >= 1, "events should wait on disk"
        mosquitto.start()
        produced = {_key(e.model_dump(mode="json")) for e in list(publisher.events)}
        collector.wait_for(
            lambda ms: produced <= {_key(b) for b in payloads(ms, "/events")},
            timeout_s=30,
        )
        time.sleep(1)  # a late duplicate would show up now
        received = [_key(b) for b in payloads(collector.messages, "/events")]
    duplicates = [k for k, n in Counter(received).items() if n > 1]
    assert not duplicates
    assert produced <= set(received)


def _key(body: dict[str, object]) -> tuple[object, object, object]:
    return body["event_id"], body["phase"], body["detected_at"]


def test_edge_run_given_malformed_config_should_exit_with_error_naming_the_field(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "node.yaml"
    bad.write_text(
        "node_id: n1\ncameras:\n  - id: c1\n    url: rtsp://x/y\n"
        "    location: {lat: 23.1, lon: 113.2}\n    analysis_fsp: 5\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "edge", "run", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "cameras.0.analysis_fsp" in done.stderr
    assert "Traceback" not in done.stderr

"""Fixtures for edge integration tests: the real RTSP simulator and node builders."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.config import NodeConfig, parse_config
from edge.factory import build_node, build_publisher
from edge.node import EdgeNode
from gridwatch.contract import EventMessage
from harness.services import MosquittoBroker, RtspSimulatorProcess
from tests.utils.broker import ReceivedMessage

PERSON_CLIP = "one-by-one-person-detection"
EMPTY_CLIP = "car-detection"  # a parking lot seen from above, no person in any frame


@pytest.fixture(scope="session")
def rtsp_sim(videos_dir: Path) -> Iterator[RtspSimulatorProcess]:
    """Real gst-rtsp-server replaying the clips; mounts `<clip>-0..3`."""
    with RtspSimulatorProcess(
        videos_dir, clips=[PERSON_CLIP, EMPTY_CLIP], replicate=4
    ) as sim:
        yield sim


def camera(
    camera_id: str, url: str, zones: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {
        "id": camera_id,
        "url": url,
        "location": {"lat": 23.1291, "lon": 113.2644},
        "analysis_fps": 5,
        "open_timeout_s": 3,
        "read_timeout_s": 3,
        "stall_after_s": 2,
        "reconnect_min_s": 0.3,
        "reconnect_max_s": 1.0,
        "zones": zones,
        **extra,
    }


def crowding_zone(
    zone_id: str = "floor",
    polygon: list[list[float]] | None = None,
    **rule: Any,
) -> dict[str, Any]:
    crowding = {
        "type": "crowding", "label": "person", "threshold": 1, "dwell_s": 1,
        "clear_s": 2, "cooldown_s": 3, "update_interval_s": 2, **rule,
    }  # fmt: skip
    zone: dict[str, Any] = {
        "id": zone_id,
        "rules": [{"type": "occupancy", "labels": ["person"]}, crowding],
    }
    if polygon is not None:
        zone["polygon_norm"] = polygon
    return zone


class RecordingPublisher:
    """Wraps the real MQTT publisher and remembers every event handed to it."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.events: list[EventMessage] = []
        self._lock = threading.Lock()

    def publish_event(self, event: EventMessage) -> bool:
        with self._lock:
            self.events.append(event)
        result: bool = self._inner.publish_event(event)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


NodeFactory = Callable[..., tuple[EdgeNode, RecordingPublisher]]


@pytest.fixture
def make_node(tmp_path: Path, models_dir: Path) -> Iterator[NodeFactory]:
    """Builds (and finally stops) nodes against a broker, recording events."""
    nodes: list[EdgeNode] = []

    def _make(
        broker: MosquittoBroker, cameras: list[dict[str, Any]], **extra: Any
    ) -> tuple[EdgeNode, RecordingPublisher]:
        node_id = extra.pop("node_id", "it-node")
        config: NodeConfig = parse_config(
            {
                "node_id": node_id,
                "broker": broker.node_config(node_id),
                "http": {"port": 0},
                "outbox": {"path": str(tmp_path / f"outbox-{len(nodes)}.sqlite")},
                "models_dir": str(models_dir),
                "status_interval_s": 1,
                "occupancy_interval_s": 1,
                "cameras": cameras,
                **extra,
            }
        )
        publisher = RecordingPublisher(build_publisher(config, model_name="yolox_nano"))
        node = build_node(config, publisher=publisher)
        nodes.append(node)
        node.start()
        return node, publisher

    yield _make
    for node in nodes:
        node.stop()


def payloads(messages: list[ReceivedMessage], suffix: str) -> list[dict[str, Any]]:
    """Decoded bodies of the messages whose topic ends with `suffix`."""
    return [json.loads(m.payload) for m in messages if m.topic.endswith(suffix)]


def wait_until(
    predicate: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")

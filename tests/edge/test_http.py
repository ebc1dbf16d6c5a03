"""The node's HTTP face with a small fake node: health, metrics, snapshot pushes."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter

from edge.config import CameraConfig, GeoPoint, SourceKind
from edge.http import UnknownCameraError, build_app
from edge.ingest import FreshestFrameSlot, SnapshotSource


class FakeNode:
    def __init__(self) -> None:
        self._registry = CollectorRegistry()
        Counter("gw_test_total", "test", registry=self._registry).inc()
        camera = CameraConfig(
            id="gate",
            url="gate",
            kind=SourceKind.SNAPSHOT,
            location=GeoPoint(lat=23.1, lon=113.2),
        )
        self.slot = FreshestFrameSlot("gate", threading.Condition())
        self.source = SnapshotSource(camera, self.slot)
        self.healthy = True

    @property
    def registry(self) -> CollectorRegistry:
        return self._registry

    def health(self) -> tuple[bool, dict[str, Any]]:
        return self.healthy, {"status": "ok" if self.healthy else "stopping"}

    def push_snapshot(
        self,
        camera_id: str,
        jpeg: bytes,
        checkpoint_id: str | None,
        captured_at: datetime | None,
    ) -> None:
        if camera_id != "gate":
            raise UnknownCameraError(camera_id)
        self.source.push(jpeg, checkpoint_id, captured_at)


@pytest.fixture
def node() -> FakeNode:
    return FakeNode()


@pytest.fixture
def client(node: FakeNode) -> TestClient:
    return TestClient(build_app(node))


def _jpeg() -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((48, 64, 3), 127, dtype=np.uint8))
    assert ok
    return bytes(data)


def test_healthz_given_states_should_answer_200_then_503(
    client: TestClient, node: FakeNode
) -> None:
    assert client.get("/healthz").status_code == 200
    node.healthy = False
    assert client.get("/healthz").status_code == 503


def test_metrics_given_registry_should_expose_prometheus_text(
    client: TestClient,
) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "gw_test_total 1.0" in response.text


def test_snapshot_given_jpeg_should_reach_the_camera_slot(
    client: TestClient, node: FakeNode
) -> None:
    response = client.post(
        "/snapshots/gate",
        content=_jpeg(),
        headers={"X-Checkpoint-Id": "gate-3", "X-Captured-At": "2026-01-01T00:00:00Z"},
    )
    assert response.status_code == 202
    frame = node.slot.take()
    assert frame is not None and frame.image.shape == (48, 64, 3)
    assert node.source.checkpoint_id == "gate-3"


def test_snapshot_given_plausible_capture_time_should_stamp_the_frame_with_it(
    client: TestClient, node: FakeNode
) -> None:
    taken = datetime.now(UTC) - timedelta(seconds=2)
    client.post(
        "/snapshots/gate",
        content=_jpeg(),
        headers={"X-Captured-At": taken.isoformat().replace("+00:00", "Z")},
    )
    frame = node.slot.take()
    assert frame is not None
    assert frame.captured_at == pytest.approx(taken.timestamp(), abs=0.01)


def test_snapshot_given_capture_time_far_off_should_use_arrival_time(
    client: TestClient, node: FakeNode
) -> None:
    client.post(
        "/snapshots/gate",
        content=_jpeg(),
        headers={"X-Captured-At": "2001-01-01T00:00:00Z"},
    )
    frame = node.slot.take()
    assert frame is not None
    assert abs(frame.captured_at - time.time()) < 5


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "detail"),
    [
        ("/snapshots/nope", _jpeg(), {}, 404, "no snapshot camera 'nope'"),
        ("/snapshots/gate", b"", {}, 422, "empty body"),
        ("/snapshots/gate", b"not an image", {}, 422, "not a decodable"),
        ("/snapshots/gate", _jpeg(), {"X-Captured-At": "yesterday"}, 400, "RFC 3339"),
        ("/snapshots/gate", b"x", {"Content-Length": str(10**9)}, 413, "bytes"),
    ],
)
def test_snapshot_given_bad_push_should_refuse_with_reason(
    client: TestClient,
    node: FakeNode,
    path: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    detail: str,
) -> None:
    response = client.post(path, content=body, headers=headers)
    assert response.status_code == status
    assert detail in response.json()["detail"]
    assert node.slot.take() is None

"""The node's HTTP face with a small fake node: health, metrics, snapshot pushes."""

from __future__ import annotations

import gc
import ssl
import struct
import threading
import time
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter
from pydantic import ValidationError

from edge.config import CameraConfig, ConfigError, GeoPoint, HttpConfig, SourceKind
from edge.http import (
    HttpServer,
    PushUnauthorizedError,
    UnknownCameraError,
    build_app,
    read_monitor_token,
)
from edge.ingest import FreshestFrameSlot, SnapshotSource
from edge.ingest.image_header import ImageHeaderError, image_size

SECRET = "checkpoint-gate-secret-0123456789"
AUTH = {"Authorization": f"Bearer {SECRET}"}
MONITOR_TOKEN = "monitor-token-0123456789abcdef"
MONITOR = {"Authorization": f"Bearer {MONITOR_TOKEN}"}


class FakeNode:
    def __init__(self, secret_file: Path) -> None:
        self._registry = CollectorRegistry()
        Counter("gw_test_total", "test", registry=self._registry).inc()
        camera = CameraConfig(
            id="gate",
            url="gate",
            kind=SourceKind.SNAPSHOT,
            location=GeoPoint(lat=23.1, lon=113.2),
            push_secret_file=secret_file,
        )
        self.slot = FreshestFrameSlot("gate", threading.Condition())
        self.source = SnapshotSource(camera, self.slot)
        self.healthy = True

    @property
    def registry(self) -> CollectorRegistry:
        return self._registry

    def health(self) -> tuple[bool, dict[str, Any]]:
        return self.healthy, {
            "status": "ok" if self.healthy else "stopping",
            "cameras": {"gate": {"health": "online"}},
        }

    def authorize_push(self, camera_id: str, authorization: str | None) -> None:
        if camera_id != "gate":
            raise UnknownCameraError(camera_id)
        if not self.source.accepts(authorization):
            raise PushUnauthorizedError(camera_id)

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
def node(tmp_path: Path) -> FakeNode:
    secret_file = tmp_path / "gate.secret"
    secret_file.write_text(SECRET + "\n")
    return FakeNode(secret_file)


@pytest.fixture
def client(node: FakeNode) -> TestClient:
    return TestClient(build_app(node), headers=AUTH)


def _jpeg() -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((48, 64, 3), 127, dtype=np.uint8))
    assert ok
    return bytes(data)


@pytest.fixture
def monitored(node: FakeNode) -> TestClient:
    """A client of an app with a monitoring token, sending no header by itself."""
    return TestClient(build_app(node, monitor_token=MONITOR_TOKEN))


def test_healthz_given_states_should_answer_200_then_503(
    monitored: TestClient, node: FakeNode
) -> None:
    assert monitored.get("/healthz").status_code == 200
    assert monitored.get("/healthz", headers=MONITOR).status_code == 200
    node.healthy = False
    assert monitored.get("/healthz").status_code == 503
    assert monitored.get("/healthz", headers=MONITOR).status_code == 503


@pytest.mark.parametrize("token", [MONITOR_TOKEN, None])
def test_healthz_given_no_token_should_answer_only_the_status(
    node: FakeNode, token: str | None
) -> None:
    anonymous = TestClient(build_app(node, monitor_token=token))
    response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_given_the_monitor_token_should_answer_the_details(
    monitored: TestClient,
) -> None:
    response = monitored.get("/healthz", headers=MONITOR)
    assert response.status_code == 200
    assert response.json()["cameras"] == {"gate": {"health": "online"}}


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {MONITOR_TOKEN}x",
        f"Bearer {MONITOR_TOKEN[:-1]}",
        f"Basic {MONITOR_TOKEN}",
        "Bearer",
        f"Bearer {SECRET}",  # the checkpoint's push secret is not the token
    ],
)
@pytest.mark.parametrize("path", ["/healthz", "/metrics"])
def test_monitoring_given_a_wrong_token_should_answer_401(
    monitored: TestClient, path: str, authorization: str
) -> None:
    response = monitored.get(path, headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "gw_test_total" not in response.text and "cameras" not in response.text


def test_metrics_given_the_monitor_token_should_expose_prometheus_text(
    monitored: TestClient,
) -> None:
    response = monitored.get("/metrics", headers=MONITOR)
    assert response.status_code == 200
    assert "gw_test_total 1.0" in response.text
    assert monitored.get("/metrics").status_code == 401


def test_metrics_given_no_configured_token_should_answer_403_saying_how(
    client: TestClient,
) -> None:
    # `client` sends the push secret: without a configured token nothing passes.
    for headers in ({}, MONITOR):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 403
        assert "http.monitor_token_file" in response.json()["detail"]
        assert "gw_test_total" not in response.text


def test_read_monitor_token_given_file_or_env_should_read_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "monitor.token"
    token_file.write_text(MONITOR_TOKEN + "\nignored\n")
    assert read_monitor_token(HttpConfig(monitor_token_file=token_file)) == (
        MONITOR_TOKEN
    )
    monkeypatch.setenv("GW_MONITOR", f" {MONITOR_TOKEN} ")
    assert read_monitor_token(HttpConfig(monitor_token_env="GW_MONITOR")) == (
        MONITOR_TOKEN
    )
    assert read_monitor_token(HttpConfig()) is None


@pytest.mark.parametrize(
    ("text", "where"),
    [(None, "No such file"), ("", "empty"), ("short-token\n", "shorter than 16")],
)
def test_read_monitor_token_given_a_bad_file_should_raise_naming_it(
    tmp_path: Path, text: str | None, where: str
) -> None:
    token_file = tmp_path / "monitor.token"
    if text is not None:
        token_file.write_text(text)
    with pytest.raises(ConfigError, match=where) as raised:
        read_monitor_token(HttpConfig(monitor_token_file=token_file))
    assert str(token_file) in str(raised.value)
    assert "short-token" not in str(raised.value)


def test_http_config_given_both_token_sources_should_raise(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not both"):
        HttpConfig(monitor_token_file=tmp_path / "t", monitor_token_env="GW_MONITOR")


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


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-secret-0123456789"},
        {"Authorization": f"Basic {SECRET}"},
        # Refused for who it is before the size of what it sends is looked at.
        {"Content-Length": str(10**9)},
    ],
)
def test_snapshot_without_the_checkpoint_secret_should_be_refused(
    node: FakeNode, headers: dict[str, str]
) -> None:
    anonymous = TestClient(build_app(node))
    response = anonymous.post("/snapshots/gate", content=_jpeg(), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert node.slot.take() is None


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A JPEG start whose frame header declares width x height (no pixel data)."""
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + sof + b"\xff\xd9"


def test_snapshot_declaring_a_huge_image_is_refused_before_decoding(
    client: TestClient, node: FakeNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_decode(*_: object) -> None:
        raise AssertionError("decoded")

    monkeypatch.setattr("edge.ingest.jpeg_push.cv2.imdecode", no_decode)
    response = client.post("/snapshots/gate", content=_jpeg_declaring(30000, 20000))
    assert response.status_code == 422
    assert "30000x20000" in response.json()["detail"]
    assert node.slot.take() is None


def test_snapshot_streamed_without_length_over_the_limit_is_refused(
    client: TestClient, node: FakeNode
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(9):
            yield b"\xff" * (1024 * 1024)

    response = client.post("/snapshots/gate", content=chunks())
    assert response.status_code == 413
    assert node.slot.take() is None


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_image_size_reads_the_header_of_real_images(ext: str) -> None:
    ok, data = cv2.imencode(ext, np.zeros((37, 91, 3), dtype=np.uint8))
    assert ok
    assert image_size(bytes(data)) == (91, 37)


@pytest.mark.parametrize(
    "data", [b"", b"GIF89a", b"\xff\xd8\xff\xda\x00\x02", b"\x89PNG\r\n\x1a\n"]
)
def test_image_size_refuses_what_it_cannot_read(data: bytes) -> None:
    with pytest.raises(ImageHeaderError):
        image_size(data)


def test_http_server_given_tls_should_serve_https_that_the_ca_verifies(
    node: FakeNode, tmp_path: Path
) -> None:
    # A checkpoint's push secret and the monitoring token never cross in clear.
    from central.pki import init_ca, issue

    init_ca(tmp_path)
    issue(tmp_path, tmp_path, "edge", hostnames=["127.0.0.1"])
    tls = HttpConfig.model_validate(
        {"tls": {"cert_file": tmp_path / "edge.crt", "key_file": tmp_path / "edge.key"}}
    ).tls
    trusted = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    server = HttpServer(build_app(node), "127.0.0.1", 0, tls)
    server.start()
    try:
        assert server.url.startswith("https://127.0.0.1:")
        deadline = time.monotonic() + 10
        while True:
            try:
                response = httpx.get(f"{server.url}/healthz", verify=trusted, timeout=5)
                break
            except httpx.ConnectError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert response.status_code == 200
        with pytest.raises(httpx.ConnectError):  # the system's CAs never signed it
            httpx.get(f"{server.url}/healthz", timeout=5)
        with pytest.raises(httpx.RemoteProtocolError):  # no plain HTTP on the port
            httpx.get(server.url.replace("https", "http") + "/healthz", timeout=5)
    finally:
        server.stop()


def test_http_config_given_a_missing_certificate_should_name_it(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"nope\.crt"):
        HttpConfig.model_validate(
            {"tls": {"cert_file": tmp_path / "nope.crt", "key_file": tmp_path / "k"}}
        )


def test_app_once_dropped_should_let_its_node_go(tmp_path: Path) -> None:
    # FastAPI caches endpoint functions process-wide; endpoints that closed over
    # the node kept every stopped node (and its cameras' buffers) alive.
    secret_file = tmp_path / "gate.secret"
    secret_file.write_text(SECRET + "\n")
    node = FakeNode(secret_file)
    gone = weakref.ref(node)
    with TestClient(build_app(node, monitor_token=MONITOR_TOKEN)) as client:
        bearer = {"Authorization": f"Bearer {MONITOR_TOKEN}"}
        assert client.get("/healthz", headers=bearer).status_code == 200
        assert client.get("/metrics", headers=bearer).status_code == 200
        pushed = client.post("/snapshots/gate", content=_jpeg(), headers=AUTH)
        assert pushed.status_code == 202
    del node, client
    gc.collect()
    assert gone() is None

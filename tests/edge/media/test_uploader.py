"""Uploader: retries 5xx, 408, 429 and connection errors with back-off; drops
other 4xx with the reason; waits for central to know the event; restart-safe."""

from __future__ import annotations

import hashlib
import http.server
import json
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from central.pki import init_ca, issue
from edge.config import CentralConfig, ConfigError
from edge.media.uploader import (
    MediaUploader,
    UploadOutcome,
    backoff_s,
    build_client,
    media_url,
    read_token,
)
from edge.metrics import NodeMetrics
from edge.publish.uploads import PendingUpload, UploadQueue

CLIP = b"\x00\x00\x00\x18ftypisom fake mp4 body"
TOKEN = "node-token-123"


class FakeCentral:
    """Answers PUTs from a script of (status, body) pairs, the last repeating."""

    def __init__(self, script: list[tuple[int, dict[str, Any]] | Exception]) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, Exception):
            raise step
        status, body = step
        return httpx.Response(status, json=body)


def _central(**extra: Any) -> CentralConfig:
    return CentralConfig.model_validate(
        {"url": "http://central.test:8080", "token_env": "GW_TOKEN",
         "allow_plain_http": True,
         "retry_min_s": 0.01, "retry_max_s": 0.02, **extra}
    )  # fmt: skip


def _ok(event_known: bool = True) -> tuple[int, dict[str, Any]]:
    return 200, {"sha256": hashlib.sha256(CLIP).hexdigest(), "event_known": event_known}


def _setup(
    tmp_path: Path,
    central: FakeCentral,
    **config: Any,
) -> tuple[MediaUploader, UploadQueue, NodeMetrics, list[PendingUpload]]:
    clip = tmp_path / "ev-00000001.mp4"
    clip.write_bytes(CLIP)
    queue = UploadQueue(tmp_path / "outbox.sqlite", 10)
    queue.put(
        event_id="ev-00000001",
        kind="clip",
        path=clip,
        sha256=hashlib.sha256(CLIP).hexdigest(),
        size=len(CLIP),
        content_type="video/mp4",
    )
    metrics = NodeMetrics()
    uploaded: list[PendingUpload] = []
    uploader = MediaUploader(
        queue=queue,
        central=_central(**config),
        token=TOKEN,
        node_id="n",
        metrics=metrics,
        client=httpx.Client(transport=httpx.MockTransport(central)),
        on_uploaded=uploaded.append,
    )
    return uploader, queue, metrics, uploaded


def _drain(uploader: MediaUploader, queue: UploadQueue, tries: int = 10) -> int:
    """Run due tries until the queue is empty; how many tries it took."""
    for n in range(1, tries + 1):
        while queue.next_due(time.time()) is None and queue.depth():
            time.sleep(0.005)
        uploader.run_once()
        if not queue.depth():
            return n
    return tries


def _metric(metrics: NodeMetrics, name: str) -> float:
    return metrics.registry.get_sample_value(name) or 0.0


def test_uploader_given_503_then_200_should_retry_then_finish(tmp_path: Path) -> None:
    central = FakeCentral([(503, {"detail": "busy"}), (503, {}), _ok()])
    uploader, queue, metrics, uploaded = _setup(tmp_path, central)
    assert _drain(uploader, queue) == 3
    request = central.requests[-1]
    assert request.method == "PUT"
    assert str(request.url) == "http://central.test:8080/api/v1/media/ev-00000001/clip"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "video/mp4"
    assert request.content == CLIP
    assert [u.event_id for u in uploaded] == ["ev-00000001"]
    assert _metric(metrics, "gw_media_upload_retries_total") == 2
    assert _metric(metrics, "gw_media_uploads_done_total") == 1
    assert _metric(metrics, "gw_media_uploads_pending") == 0


@pytest.mark.parametrize(
    "failure",
    [
        (408, {}),
        (429, {}),
        (500, {}),
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
    ],
)
def test_uploader_given_transient_failure_should_retry(
    tmp_path: Path, failure: tuple[int, dict[str, Any]] | Exception
) -> None:
    uploader, queue, _, uploaded = _setup(tmp_path, FakeCentral([failure, _ok()]))
    before = time.time()
    assert uploader.run_once()
    (pending,) = queue.pending()
    assert pending.attempts == 1 and pending.last_error
    # Scheduled at least the shortest back-off (0.01 s with 0.75 jitter) after
    # the failure, measured from before the attempt: no race with a busy clock.
    assert pending.next_attempt_at >= before + 0.0075 - 1e-6
    assert _drain(uploader, queue) == 1 and len(uploaded) == 1


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        (403, "event ev-00000001 belongs to node node-02"),
        (409, "conflict"),
        (413, "a clip may be at most 10 bytes"),
        (415, "a clip must be an MP4/MOV (ftyp) or WebM video; got plain text"),
        (401, "not authenticated"),
    ],
)
def test_uploader_given_permanent_refusal_should_drop_with_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, status: int, detail: str
) -> None:
    central = FakeCentral([(status, {"detail": detail})])
    uploader, queue, metrics, uploaded = _setup(tmp_path, central)
    assert uploader.run_once()
    assert queue.depth() == 0 and uploaded == []
    assert len(central.requests) == 1
    assert _metric(metrics, "gw_media_uploads_failed_total") == 1
    assert f"HTTP {status}: {detail}" in caplog.text
    assert TOKEN not in caplog.text


def test_uploader_given_unknown_event_should_upload_again_until_known(
    tmp_path: Path,
) -> None:
    central = FakeCentral([_ok(event_known=False), _ok(event_known=False), _ok()])
    uploader, queue, _, uploaded = _setup(tmp_path, central)
    assert _drain(uploader, queue) == 3
    assert len(uploaded) == 1


def test_uploader_given_event_never_known_should_stop_after_link_wait(
    tmp_path: Path,
) -> None:
    central = FakeCentral([_ok(event_known=False)])
    uploader, queue, _, uploaded = _setup(tmp_path, central, link_wait_s=0)
    assert _drain(uploader, queue) == 1
    assert len(uploaded) == 1


def test_uploader_given_missing_or_changed_file_should_drop(tmp_path: Path) -> None:
    uploader, queue, metrics, _ = _setup(tmp_path, FakeCentral([_ok()]))
    (tmp_path / "ev-00000001.mp4").write_bytes(b"other bytes")
    uploader.run_once()
    assert queue.depth() == 0
    assert _metric(metrics, "gw_media_uploads_failed_total") == 1


def test_uploader_given_restart_should_resume_pending_uploads(tmp_path: Path) -> None:
    down = FakeCentral([httpx.ConnectError("connection refused")])
    uploader, queue, _, _ = _setup(tmp_path, down)
    uploader.start()
    deadline = time.monotonic() + 5
    while len(down.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    uploader.stop()
    queue.close()
    assert len(down.requests) >= 2, "the uploader did not retry"

    up = FakeCentral([_ok()])
    reopened = UploadQueue(tmp_path / "outbox.sqlite", 10)
    assert reopened.depth() == 1
    uploaded: list[PendingUpload] = []
    restarted = MediaUploader(
        queue=reopened,
        central=_central(),
        token=TOKEN,
        node_id="n",
        metrics=NodeMetrics(),
        client=httpx.Client(transport=httpx.MockTransport(up)),
        on_uploaded=uploaded.append,
    )
    restarted.start()
    deadline = time.monotonic() + 5
    while not uploaded and time.monotonic() < deadline:
        time.sleep(0.01)
    restarted.stop()
    assert [u.event_id for u in uploaded] == ["ev-00000001"]
    assert reopened.depth() == 0
    reopened.close()


@pytest.mark.parametrize(
    ("attempts", "low", "high"), [(0, 0.75, 1.25), (3, 6, 10), (20, 45, 60)]
)
def test_backoff_given_attempts_should_double_up_to_the_cap(
    attempts: int, low: float, high: float
) -> None:
    for _ in range(20):
        assert low <= backoff_s(attempts, min_s=1.0, max_s=60.0) <= high


def test_media_url_given_event_id_should_quote_it() -> None:
    assert media_url("http://c:1/", "ev 1/x", "clip") == (
        "http://c:1/api/v1/media/ev%201%2Fx/clip"
    )


def test_read_token_given_file_or_env_should_read_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}\n", encoding="utf-8")
    assert read_token(_central(token_env=None, token_file=str(token_file))) == TOKEN
    monkeypatch.setenv("GW_TOKEN", f"  {TOKEN} ")
    assert read_token(_central()) == TOKEN


@pytest.mark.parametrize(
    ("config", "env", "message"),
    [
        ({}, None, "token_env variable GW_TOKEN holds no token"),
        ({}, "  ", "holds no token"),
        ({"token_env": None, "token_file": "/no/such/token"}, None, "No such file"),
    ],
)
def test_read_token_given_nothing_there_should_raise(
    monkeypatch: pytest.MonkeyPatch,
    config: dict[str, Any],
    env: str | None,
    message: str,
) -> None:
    monkeypatch.delenv("GW_TOKEN", raising=False)
    if env is not None:
        monkeypatch.setenv("GW_TOKEN", env)
    with pytest.raises(ConfigError, match=message):
        read_token(_central(**config))


def test_upload_outcome_values_should_be_stable() -> None:
    assert [o.value for o in UploadOutcome] == ["done", "retry", "failed"]
    assert json.dumps(UploadOutcome.DONE) == '"done"'


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def https_central(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Path, Path]]:
    """An https server with a certificate from a private CA: its URL, that
    CA's certificate and another CA's certificate."""
    # The client must not find the private CA through the environment.
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    ca = init_ca(tmp_path / "ca").cert
    other = init_ca(tmp_path / "other-ca").cert
    served = issue(
        tmp_path / "ca", tmp_path / "srv", "central", hostnames=["127.0.0.1"]
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(served.cert), str(served.key))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", ca, other
    finally:
        server.shutdown()
        server.server_close()


def test_build_client_given_ca_file_should_trust_central_signed_by_it(
    https_central: tuple[str, Path, Path],
) -> None:
    url, ca, _ = https_central
    central = CentralConfig(url=url, token_env="GW_TOKEN", ca_file=ca)
    with build_client(central) as client:
        assert client.get(url).text == "ok"


@pytest.mark.parametrize("trust", ["other", "system"])
def test_build_client_given_another_or_no_ca_should_refuse_central(
    https_central: tuple[str, Path, Path], trust: str
) -> None:
    url, _, other = https_central
    ca_file = other if trust == "other" else None
    central = CentralConfig(url=url, token_env="GW_TOKEN", ca_file=ca_file)
    with build_client(central) as client, pytest.raises(httpx.ConnectError) as raised:
        client.get(url)
    assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value)


@pytest.mark.parametrize(
    ("url", "ca_text", "message"),
    [
        ("https://central.test", None, "file not found"),
        ("https://central.test", "not a certificate\n", "not a PEM CA certificate"),
        ("http://127.0.0.1:8080", "", "central.ca_file is for https"),
    ],
)
def test_central_config_given_a_bad_ca_file_should_raise_naming_it(
    tmp_path: Path, url: str, ca_text: str | None, message: str
) -> None:
    ca_file = tmp_path / "ca.crt"
    if ca_text is not None:
        ca_file.write_text(ca_text or _valid_ca(tmp_path))
    with pytest.raises(ValidationError, match=message) as raised:
        CentralConfig(url=url, token_env="GW_TOKEN", ca_file=ca_file)
    if "for https" not in message:
        assert str(ca_file) in str(raised.value)


def _valid_ca(tmp_path: Path) -> str:
    return init_ca(tmp_path / "valid-ca").cert.read_text()

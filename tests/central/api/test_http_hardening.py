"""Body-size limits before authentication, and the security headers on every
response."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from central.api.body_limit import limit_for, upload_limit_bytes
from central.api.headers import CONTENT_SECURITY_POLICY
from central.config import BodyLimitSettings, HttpSettings, MediaSettings
from tests.central.api.conftest import Api, open_api, tiny_jpeg

API_LIMIT = 2048
UPLOAD_LIMIT = 8192


@pytest.fixture
def limited(tmp_path: Path, password_hash: str) -> Iterator[Api]:
    body = BodyLimitSettings(max_api_bytes=API_LIMIT, max_upload_bytes=UPLOAD_LIMIT)
    with open_api(tmp_path, password_hash, http=HttpSettings(body=body)) as api:
        yield api


def chunks(total: int, size: int = 512) -> Iterator[bytes]:
    """A body sent chunked (no Content-Length)."""
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


def test_an_over_limit_json_body_without_a_token_gets_413_not_401(
    limited: Api,
) -> None:
    big = {"title": "x" * (API_LIMIT * 2)}
    response = limited.client.post("/api/v1/tickets", json=big)
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_an_over_limit_chunked_body_without_a_token_gets_413(limited: Api) -> None:
    response = limited.client.post(
        "/api/v1/tickets",
        content=chunks(API_LIMIT * 3),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


def test_an_over_limit_login_form_gets_413(limited: Api) -> None:
    response = limited.client.post(
        "/api/v1/auth/token",
        data={"username": "admin", "password": "p" * (API_LIMIT * 2)},
    )
    assert response.status_code == 413


def test_an_under_limit_body_still_reaches_authentication(limited: Api) -> None:
    response = limited.client.post("/api/v1/tickets", json={"title": "small"})
    assert response.status_code == 401


def test_uploads_get_the_larger_limit_and_keep_their_own(limited: Api) -> None:
    jpeg = tiny_jpeg()
    padded = jpeg + b"\0" * (API_LIMIT * 2)  # over the API limit, under the upload
    response = limited.put(
        "node01", "/api/v1/media/evt-0000000001/snapshot", content=padded
    )
    assert response.status_code != 413, response.text
    over = limited.put(
        "node01",
        "/api/v1/media/evt-0000000001/snapshot",
        content=chunks(UPLOAD_LIMIT * 2),
    )
    assert over.status_code == 413


def test_the_default_upload_limit_covers_the_largest_media_kind() -> None:
    media = MediaSettings(max_clip_bytes=64 * 1024 * 1024)
    limit = upload_limit_bytes(BodyLimitSettings(), media)
    assert limit > media.max_clip_bytes
    assert limit_for("PUT", "/api/v1/media/e1/clip", api_bytes=1, upload_bytes=9) == 9
    assert (
        limit_for("POST", "/api/v1/tickets/7/resolve", api_bytes=1, upload_bytes=9) == 9
    )
    assert limit_for("POST", "/api/v1/tickets", api_bytes=1, upload_bytes=9) == 1
    assert limit_for("GET", "/api/v1/media/e1/clip", api_bytes=1, upload_bytes=9) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/console/",
        "/worker/",
        "/vendor/leaflet/leaflet.js",
        "/api/v1/me",
        "/healthz",
        "/api/v1/openapi.json",
        "/no-such-page",
    ],
)
def test_every_response_carries_the_security_headers(api: Api, path: str) -> None:
    response = api.client.get(path)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_a_413_carries_the_security_headers(limited: Api) -> None:
    response = limited.client.post("/api/v1/tickets", content=b"x" * API_LIMIT * 2)
    assert response.status_code == 413
    assert response.headers["x-content-type-options"] == "nosniff"


def test_only_the_api_docs_page_may_load_swagger_from_its_cdn(api: Api) -> None:
    docs = api.client.get("/api/docs").headers["content-security-policy"]
    assert "cdn.jsdelivr.net" in docs
    assert "frame-ancestors 'none'" in docs
    assert "cdn.jsdelivr.net" not in CONTENT_SECURITY_POLICY

"""Account lifecycle over the API: /api/v1/admin/users... (admin only) and the
user's own /api/v1/me/tokens and /api/v1/me/password."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from central.auth.tokens import token_digest
from central.config import HttpSettings
from tests.central.api.conftest import PASSWORD, Api

TOKEN_URL = "/api/v1/auth/token"
NEW_PASSWORD = "a-new-password-42"

# (method, url, json body, admin's status) of every admin endpoint, on worker2
ADMIN_CALLS: list[tuple[str, str, dict[str, Any] | None, int]] = [
    ("GET", "/api/v1/admin/users", None, 200),
    ("GET", "/api/v1/admin/users/worker2", None, 200),
    ("POST", "/api/v1/admin/users/worker2/disable", None, 200),
    ("POST", "/api/v1/admin/users/worker2/enable", None, 200),
    ("GET", "/api/v1/admin/users/worker2/tokens", None, 200),
    ("DELETE", "/api/v1/admin/users/worker2/tokens/0000000000000000", None, 404),
    (
        "POST",
        "/api/v1/admin/users/worker2/password",
        {"new_password": NEW_PASSWORD},
        204,
    ),
]


def call(
    api: Api, user: str | None, method: str, url: str, body: dict[str, Any] | None
) -> httpx.Response:
    headers = api.auth(user) if user is not None else {}
    response: httpx.Response = api.client.request(
        method, url, headers=headers, json=body
    )
    return response


def login(api: Api, username: str, password: str) -> httpx.Response:
    response: httpx.Response = api.client.post(
        TOKEN_URL, data={"username": username, "password": password}
    )
    return response


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_ids(api: Api, username: str) -> list[str]:
    response = api.get("admin", f"/api/v1/admin/users/{username}/tokens")
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()["data"]]


@pytest.mark.parametrize(("method", "url", "body", "admin_status"), ADMIN_CALLS)
@pytest.mark.parametrize(
    ("user", "expected"),
    [("operator", 403), ("worker1", 403), ("node01", 403), (None, 401)],
)
def test_admin_endpoints_given_a_non_admin_should_refuse(
    api: Api,
    method: str,
    url: str,
    body: dict[str, Any] | None,
    admin_status: int,
    user: str | None,
    expected: int,
) -> None:
    assert call(api, user, method, url, body).status_code == expected
    assert api.get("worker2", "/api/v1/me").status_code == 200  # nothing changed


@pytest.mark.parametrize(("method", "url", "body", "admin_status"), ADMIN_CALLS)
def test_admin_endpoints_given_an_admin_should_answer(
    api: Api, method: str, url: str, body: dict[str, Any] | None, admin_status: int
) -> None:
    response = call(api, "admin", method, url, body)
    assert response.status_code == admin_status, response.text


def test_list_users_should_show_state_and_token_counts(api: Api) -> None:
    body = api.get("admin", "/api/v1/admin/users").json()
    by_name = {u["username"]: u for u in body["data"]}
    assert body["count"] == len(by_name) == 7
    assert by_name["worker1"]["active"] is True
    assert by_name["worker1"]["tokens"] == 1
    assert by_name["worker1"]["has_password"] is True
    assert "password_hash" not in by_name["worker1"]
    assert api.get("admin", "/api/v1/admin/users/ghost").status_code == 404


def test_disable_should_end_login_and_tokens_at_once_and_enable_should_not_revive_them(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    assert api.get("worker2", "/api/v1/me").status_code == 200
    with caplog.at_level(logging.INFO, logger="central.auth.accounts"):
        disabled = api.post("admin", "/api/v1/admin/users/worker2/disable")
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["active"] is False and disabled.json()["tokens"] == 0
    assert "user worker2 disabled by admin" in caplog.text
    assert api.get("worker2", "/api/v1/me").status_code == 401
    assert login(api, "worker2", PASSWORD).status_code == 401
    assert api.post("admin", "/api/v1/admin/users/node02/disable").status_code == 200
    node = api.post("admin", "/api/v1/users/node02/tokens")
    assert node.status_code == 409 and "disabled" in node.json()["detail"]

    enabled = api.post("admin", "/api/v1/admin/users/worker2/enable")
    assert enabled.status_code == 200 and enabled.json()["active"] is True
    assert api.get("worker2", "/api/v1/me").status_code == 401  # still revoked
    assert login(api, "worker2", PASSWORD).status_code == 200


def test_disable_given_yourself_should_be_409_and_a_stranger_404(api: Api) -> None:
    me = api.post("admin", "/api/v1/admin/users/admin/disable")
    assert me.status_code == 409
    assert "own account" in me.json()["detail"]
    assert api.post("admin", "/api/v1/admin/users/ghost/disable").status_code == 404


def test_token_list_should_never_show_the_token_or_its_digest(api: Api) -> None:
    second = login(api, "operator", PASSWORD).json()["access_token"]
    response = api.get("admin", "/api/v1/admin/users/operator/tokens")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert {t["label"] for t in body["data"]} == {"", "login"}
    assert set(body["data"][0]) == {
        "id",
        "label",
        "created_at",
        "expires_at",
        "expired",
        "current",
    }
    for secret in (api.tokens["operator"], second):
        assert secret not in response.text
        assert token_digest(secret) not in response.text


def test_admin_should_revoke_any_token_by_id(api: Api) -> None:
    (token_id,) = token_ids(api, "operator")
    revoked = api.client.delete(
        f"/api/v1/admin/users/operator/tokens/{token_id}", headers=api.auth("admin")
    )
    assert revoked.status_code == 204
    assert api.get("operator", "/api/v1/me").status_code == 401
    again = api.client.delete(
        f"/api/v1/admin/users/operator/tokens/{token_id}", headers=api.auth("admin")
    )
    assert again.status_code == 404
    # an id names a token of that user only
    (node_token,) = token_ids(api, "node01")
    other = api.client.delete(
        f"/api/v1/admin/users/operator/tokens/{node_token}", headers=api.auth("admin")
    )
    assert other.status_code == 404


def test_admin_reset_password_should_revoke_tokens_and_not_apply_to_self(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    url = "/api/v1/admin/users/worker1/password"
    weak = api.post("admin", url, json={"new_password": "short"})
    assert weak.status_code == 422
    with caplog.at_level(logging.INFO, logger="central.auth.accounts"):
        reset = api.post("admin", url, json={"new_password": NEW_PASSWORD})
    assert reset.status_code == 204
    assert "password of user worker1 reset by admin" in caplog.text
    assert NEW_PASSWORD not in caplog.text
    assert api.get("worker1", "/api/v1/me").status_code == 401
    assert login(api, "worker1", PASSWORD).status_code == 401
    assert login(api, "worker1", NEW_PASSWORD).status_code == 200
    own = api.post(
        "admin",
        "/api/v1/admin/users/admin/password",
        json={"new_password": NEW_PASSWORD},
    )
    assert own.status_code == 409 and "/api/v1/me/password" in own.json()["detail"]


def test_admin_should_not_take_a_token_for_another_person(api: Api) -> None:
    other = api.post("admin", "/api/v1/users/operator/tokens", json={"ttl_h": 1})
    assert other.status_code == 403
    assert "someone else" in other.json()["detail"]
    node = api.post("admin", "/api/v1/users/node01/tokens")
    assert node.status_code == 201 and node.json()["expires_at"] is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [({"ttl_h": 1}, 201), ({}, 422), ({"ttl_h": 24 * 30 + 1}, 422)],
)
def test_a_persons_token_given_no_or_too_long_a_lifetime_should_be_422(
    api: Api, body: dict[str, Any], expected: int
) -> None:
    response = api.post("admin", "/api/v1/users/admin/tokens", json=body)
    assert response.status_code == expected, response.text


def test_my_tokens_should_mark_the_current_one_and_revoke_mine_only(api: Api) -> None:
    assert api.client.get("/api/v1/me/tokens").status_code == 401
    second = login(api, "worker1", PASSWORD).json()["access_token"]
    mine = api.get("worker1", "/api/v1/me/tokens").json()
    assert mine["count"] == 2
    current = [t for t in mine["data"] if t["current"]]
    assert len(current) == 1 and current[0]["label"] == ""
    (other,) = [t["id"] for t in mine["data"] if not t["current"]]
    revoked = api.client.delete(
        f"/api/v1/me/tokens/{other}", headers=api.auth("worker1")
    )
    assert revoked.status_code == 204
    assert api.client.get("/api/v1/me", headers=bearer(second)).status_code == 401
    (worker2_token,) = token_ids(api, "worker2")
    foreign = api.client.delete(
        f"/api/v1/me/tokens/{worker2_token}", headers=api.auth("worker1")
    )
    assert foreign.status_code == 404
    assert api.get("worker2", "/api/v1/me").status_code == 200


def test_change_my_password_should_need_the_old_one_and_keep_this_token(
    api: Api,
) -> None:
    url = "/api/v1/me/password"
    assert api.client.post(url, json={}).status_code == 401
    other = login(api, "operator", PASSWORD).json()["access_token"]
    wrong = api.post(
        "operator", url, json={"old_password": "nope", "new_password": NEW_PASSWORD}
    )
    assert wrong.status_code == 403
    weak = api.post(
        "operator", url, json={"old_password": PASSWORD, "new_password": "short"}
    )
    assert weak.status_code == 422
    changed = api.post(
        "operator", url, json={"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 204
    assert api.get("operator", "/api/v1/me").status_code == 200
    assert api.client.get("/api/v1/me", headers=bearer(other)).status_code == 401
    assert login(api, "operator", NEW_PASSWORD).status_code == 200


def test_change_my_password_given_a_token_only_node_should_be_409(api: Api) -> None:
    created = api.post(
        "admin",
        "/api/v1/users",
        json={"username": "node03", "role": "edge_node", "node_id": "node-03"},
    )
    assert created.status_code == 201
    token = api.post("admin", "/api/v1/users/node03/tokens").json()["token"]
    response = api.client.post(
        "/api/v1/me/password",
        json={"old_password": "", "new_password": NEW_PASSWORD},
        headers=bearer(token),
    )
    assert response.status_code == 409
    assert "tokens only" in response.json()["detail"]


def test_wrong_old_passwords_should_lock_out_like_failed_logins(api: Api) -> None:
    body = {"old_password": "nope", "new_password": NEW_PASSWORD}
    limit = api.context.settings.http.login.max_failures_per_user
    for _ in range(limit):
        assert api.post("worker1", "/api/v1/me/password", json=body).status_code == 403
    locked = api.post("worker1", "/api/v1/me/password", json=body)
    assert locked.status_code == 429 and "retry-after" in locked.headers


@pytest.mark.parametrize(
    ("http", "error"),
    [
        ({"token_ttl_h": 800}, "longer than max_token_ttl_h"),
        ({"max_token_ttl_h": 6}, "longer than max_token_ttl_h"),
        ({"max_token_ttl_h": 0}, "greater than 0"),
        ({"max_token_ttl_h": 48, "token_ttl_h": 24}, None),
    ],
)
def test_http_settings_given_token_lifetimes_should_check_their_order(
    http: dict[str, float], error: str | None
) -> None:
    if error is None:
        HttpSettings.model_validate(http)
        return
    with pytest.raises(ValidationError, match=error):
        HttpSettings.model_validate(http)

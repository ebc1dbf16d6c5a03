"""Login, tokens (expiry, revocation, never from the URL), /me and role checks."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.central.api.conftest import COMMUNITY, GRID_1, PASSWORD, START, Api

TOKEN_URL = "/api/v1/auth/token"


def login(api: Api, username: str, password: str) -> httpx.Response:
    response: httpx.Response = api.client.post(
        TOKEN_URL, data={"username": username, "password": password}
    )
    return response


def test_login_should_issue_a_bearer_token_that_opens_me(api: Api) -> None:
    response = login(api, "worker1", PASSWORD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["role"] == "worker"
    assert body["username"] == "worker1"
    assert body["worker_id"] == "w1"
    expires = START + timedelta(hours=api.context.settings.http.token_ttl_h)
    assert body["expires_at"].startswith(expires.strftime("%Y-%m-%dT%H:%M:%S"))

    me = api.client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["worker_id"] == "w1"
    assert me.json()["worker_name"] == "Li Wei"
    assert me.json()["areas"] == [GRID_1]


def test_login_should_refuse_a_wrong_password_and_an_unknown_user_alike(
    api: Api,
) -> None:
    wrong = login(api, "worker1", "not-the-password")
    unknown = login(api, "nobody", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json() == unknown.json() == {"detail": "incorrect username or password"}
    )
    assert wrong.headers["www-authenticate"] == "Bearer"


def test_login_should_refuse_a_disabled_user(api: Api) -> None:
    from central.db.models import User

    with api.context.sessions.begin() as session:
        user = session.query(User).filter_by(username="worker2").one()
        user.active = False
    assert login(api, "worker2", PASSWORD).status_code == 401
    # and the tokens it already has stop working
    assert api.get("worker2", "/api/v1/me").status_code == 401


def test_requests_without_a_token_should_get_401(api: Api) -> None:
    for url in ("/api/v1/me", "/api/v1/tickets", "/api/v1/me/tickets", "/api/v1/grids"):
        response = api.client.get(url)
        assert response.status_code == 401, url
        assert "not authenticated" in response.json()["detail"]
    bogus = api.client.get("/api/v1/me", headers={"Authorization": "Bearer gw_nope"})
    assert bogus.status_code == 401
    assert bogus.json()["detail"] == "unknown or revoked token"


def test_an_expired_token_should_get_401(api: Api) -> None:
    assert api.get("operator", "/api/v1/me").status_code == 200
    api.clock.advance(timedelta(hours=12, seconds=1))
    response = api.get("operator", "/api/v1/me")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_token_in_the_query_string_should_not_authenticate(api: Api) -> None:
    token = api.tokens["admin"]
    for url in (
        f"/api/v1/me?access_token={token}",
        f"/api/v1/tickets/stream?access_token={token}",
        f"/api/v1/review?access_token={token}",
    ):
        response = api.client.get(url)
        assert response.status_code == 401, url
        assert (
            "access_token query parameter is not accepted"
            in (response.json()["detail"])
        )


def test_logout_should_revoke_the_token_used(api: Api) -> None:
    token = login(api, "operator", PASSWORD).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert api.client.get("/api/v1/me", headers=headers).status_code == 401
    # other tokens of the same user keep working
    assert api.get("operator", "/api/v1/me").status_code == 200


def test_me_should_describe_leaders_and_edge_nodes(api: Api) -> None:
    leader = api.get("leader", "/api/v1/me").json()
    assert leader["worker_role"] == "grid_leader"
    assert leader["areas"] == [COMMUNITY]
    node = api.get("node01", "/api/v1/me").json()
    assert node["role"] == "edge_node"
    assert node["node_id"] == "node-01"
    assert node["worker_id"] is None


def test_a_worker_should_get_403_from_staff_endpoints(api: Api) -> None:
    ticket = api.create_ticket()
    staff_gets = [
        "/api/v1/tickets",
        "/api/v1/review",
        "/api/v1/cameras",
        "/api/v1/workers",
    ]
    for url in staff_gets:
        response = api.get("worker1", url)
        assert response.status_code == 403, url
        assert "a worker may not do this" in response.json()["detail"]
    for action, body in (
        ("confirm", None),
        ("reject", {"reason": "x"}),
        ("close", None),
        ("return", {"reason": "x"}),
        ("reassign", {"worker_id": "w2"}),
        ("escalate", {"level": 1, "note": "x"}),
    ):
        response = api.act("worker1", ticket["id"], action, json=body)
        assert response.status_code == 403, action
    created = api.post(
        "worker1",
        "/api/v1/tickets",
        json={"matter_key": "littering", "title": "x", "grid_code": GRID_1},
    )
    assert created.status_code == 403
    assert api.post("worker1", "/api/v1/users", json={}).status_code == 403


def test_an_edge_node_should_not_read_tickets(api: Api) -> None:
    ticket = api.create_ticket()
    assert api.get("node01", "/api/v1/tickets").status_code == 403
    assert api.get("node01", f"/api/v1/tickets/{ticket['id']}").status_code == 403
    assert api.get("node01", "/api/v1/me/tickets").status_code == 403

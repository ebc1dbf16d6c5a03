"""Parameters that used to answer 500 answer 422 with a clear message."""

from __future__ import annotations

import pytest

from central.api.routes_reference import MAX_TOKEN_TTL_H
from tests.central.api.conftest import Api


def test_a_since_without_a_time_zone_is_422(api: Api) -> None:
    response = api.get("operator", "/api/v1/events?since=2026-01-01T00:00:00")
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["query", "since"]
    assert "timezone" in problem["msg"]
    aware = api.get("operator", "/api/v1/events?since=2026-01-01T00:00:00Z")
    assert aware.status_code == 200


@pytest.mark.parametrize("ttl_h", [1e12, 1e300, "inf", MAX_TOKEN_TTL_H + 1])
def test_a_huge_token_lifetime_is_422(api: Api, ttl_h: float | str) -> None:
    response = api.post("admin", "/api/v1/users/node01/tokens", json={"ttl_h": ttl_h})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "ttl_h"]


def test_the_longest_token_lifetime_is_accepted(api: Api) -> None:
    response = api.post(
        "admin", "/api/v1/users/node01/tokens", json={"ttl_h": MAX_TOKEN_TTL_H}
    )
    assert response.status_code == 201, response.text

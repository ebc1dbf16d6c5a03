"""Login throttling: lockout per username and per address, back-off, the cap on
concurrent password checks, and the log of failed logins."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from central.api.login_throttle import HashingBusy, LoginThrottle, PasswordCheckSlots
from central.config import HttpSettings, LoginLimitSettings
from tests.central.api.conftest import PASSWORD, Api, open_api

SMALL = LoginLimitSettings(
    window_s=60,
    max_failures_per_user=3,
    max_failures_per_address=5,
    lockout_s=10,
    max_lockout_s=25,
    max_concurrent_hashes=1,
    hash_wait_s=0,
    max_tracked=100,
)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def monotonic() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def throttled(
    tmp_path: Path, password_hash: str, monotonic: FakeMonotonic
) -> Iterator[Api]:
    with open_api(tmp_path, password_hash, http=HttpSettings(login=SMALL)) as api:
        api.client.app.state.login_throttle = LoginThrottle(  # type: ignore[attr-defined]
            SMALL, monotonic=monotonic
        )
        yield api


def login(api: Api, username: str, password: str) -> httpx.Response:
    response: httpx.Response = api.client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )
    return response


def test_a_username_is_locked_after_repeated_failures_with_retry_after(
    throttled: Api,
) -> None:
    for _ in range(SMALL.max_failures_per_user):
        assert login(throttled, "worker1", "wrong-password").status_code == 401
    locked = login(throttled, "worker1", PASSWORD)  # even the right password
    assert locked.status_code == 429
    assert locked.headers["retry-after"] == "10"
    assert login(throttled, "worker2", PASSWORD).status_code == 200


def test_the_lockout_ends_and_doubles_the_next_time_up_to_the_cap(
    throttled: Api, monotonic: FakeMonotonic
) -> None:
    per_user_only = SMALL.model_copy(update={"max_failures_per_address": 100})
    throttled.client.app.state.login_throttle = LoginThrottle(  # type: ignore[attr-defined]
        per_user_only, monotonic=monotonic
    )
    expected_lockouts = ("10", "20", "25")
    for expected in expected_lockouts:
        for _ in range(SMALL.max_failures_per_user):
            login(throttled, "operator", "wrong-password")
        assert login(throttled, "operator", PASSWORD).headers["retry-after"] == (
            expected
        )
        monotonic.now += float(expected)
    assert login(throttled, "operator", PASSWORD).status_code == 200


def test_an_address_guessing_many_usernames_is_locked(throttled: Api) -> None:
    for number in range(SMALL.max_failures_per_address):
        assert login(throttled, f"user{number}", "wrong-password").status_code == 401
    locked = login(throttled, "admin", PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0


def test_successful_logins_do_not_count_and_reset_the_username(
    throttled: Api,
) -> None:
    for _ in range(10):
        assert login(throttled, "admin", PASSWORD).status_code == 200
    for _ in range(SMALL.max_failures_per_user - 1):
        login(throttled, "worker1", "wrong-password")
    assert login(throttled, "worker1", PASSWORD).status_code == 200
    assert login(throttled, "worker1", "wrong-password").status_code == 401


def test_failures_outside_the_window_are_forgotten(
    throttled: Api, monotonic: FakeMonotonic
) -> None:
    for _ in range(SMALL.max_failures_per_user - 1):
        login(throttled, "worker1", "wrong-password")
    monotonic.now += SMALL.window_s + 1
    assert login(throttled, "worker1", "wrong-password").status_code == 401
    assert login(throttled, "worker1", PASSWORD).status_code == 200


def test_a_full_set_of_password_checks_answers_503_at_once(throttled: Api) -> None:
    slots: PasswordCheckSlots = throttled.client.app.state.password_check_slots  # type: ignore[attr-defined]
    with slots:
        busy = login(throttled, "admin", PASSWORD)
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert login(throttled, "admin", PASSWORD).status_code == 200


def test_password_check_slots_refuse_when_taken() -> None:
    slots = PasswordCheckSlots(slots=1, wait_s=0)
    with slots, pytest.raises(HashingBusy), slots:
        pass


def test_failed_logins_are_logged_with_user_and_address_never_the_password(
    throttled: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="central.api.routes_auth"):
        login(throttled, "worker1", "s3cret-guess")
    messages = [record.getMessage() for record in caplog.records]
    assert any("'worker1'" in m and "testclient" in m for m in messages), messages
    assert not any("s3cret-guess" in m for m in messages)


def test_the_tracked_keys_are_bounded(monotonic: FakeMonotonic) -> None:
    throttle = LoginThrottle(SMALL, monotonic=monotonic)
    for number in range(SMALL.max_tracked * 3):
        throttle.record_failure(address=f"10.0.0.{number}", username=f"u{number}")
    assert len(throttle._records) <= SMALL.max_tracked

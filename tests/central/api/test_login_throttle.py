"""Login throttling: lockout per username and per address, back-off, the cap on
concurrent password checks, the log of failed logins, lockout refusals audited,
and the counts shared by two API replicas on one database (SQLite, PostgreSQL)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from central.api.app import create_app
from central.api.login_throttle import HashingBusy, LoginThrottle, PasswordCheckSlots
from central.clock import ManualClock
from central.config import (
    CentralSettings,
    HttpSettings,
    LoginLimitSettings,
    MediaSettings,
)
from central.context import CentralContext, build_context
from central.db.models import AuditEntry, LoginThrottleEntry
from central.notify import RecordingNotifier
from tests.central.api.conftest import PASSWORD, START, Api, open_api, seed

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


class FakeClock:
    """Epoch seconds that move only when a test moves them."""

    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def monotonic() -> FakeClock:
    return FakeClock()


def _throttle(
    sessions: sessionmaker[Session],
    clock: FakeClock,
    settings: LoginLimitSettings = SMALL,
) -> LoginThrottle:
    return LoginThrottle(settings, sessions=sessions, clock=clock)


@pytest.fixture
def throttled(
    tmp_path: Path, password_hash: str, monotonic: FakeClock
) -> Iterator[Api]:
    with open_api(tmp_path, password_hash, http=HttpSettings(login=SMALL)) as api:
        api.client.app.state.login_throttle = _throttle(  # type: ignore[attr-defined]
            api.context.sessions, monotonic
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
    throttled: Api, monotonic: FakeClock
) -> None:
    per_user_only = SMALL.model_copy(update={"max_failures_per_address": 100})
    throttled.client.app.state.login_throttle = _throttle(  # type: ignore[attr-defined]
        throttled.context.sessions, monotonic, per_user_only
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
    throttled: Api, monotonic: FakeClock
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


def test_the_lockouts_kept_in_memory_are_bounded(
    throttled: Api, monotonic: FakeClock
) -> None:
    throttle = _throttle(throttled.context.sessions, monotonic)
    for number in range(SMALL.max_tracked * 2):
        for _ in range(SMALL.max_failures_per_user):
            throttle.record_failure(address=f"10.0.{number}.1", username=f"u{number}")
    assert len(throttle._known) <= SMALL.max_tracked
    # Forgotten in memory, still locked in the database.
    assert throttle.retry_after_s(address="10.9.9.9", username="u0") == 10


def test_idle_rows_are_pruned_after_a_window_and_the_longest_lockout(
    throttled: Api, monotonic: FakeClock
) -> None:
    throttle = _throttle(throttled.context.sessions, monotonic)
    throttle.record_failure(address="10.0.0.1", username="old")
    monotonic.now += SMALL.window_s + SMALL.max_lockout_s + 1
    throttle.record_failure(address="10.0.0.2", username="new")
    with throttled.context.sessions() as session:
        keys = set(session.scalars(select(LoginThrottleEntry.key)))
    assert keys == {"user:new", "address:10.0.0.2"}


def test_a_huge_username_is_counted_under_a_digest(
    throttled: Api, monotonic: FakeClock
) -> None:
    throttle = _throttle(throttled.context.sessions, monotonic)
    for _ in range(SMALL.max_failures_per_user):
        throttle.record_failure(address="10.0.0.1", username="x" * 5000)
    assert throttle.retry_after_s(address="10.0.0.9", username="X" * 5000) == 10
    assert throttle.retry_after_s(address="10.0.0.9", username="x" * 4999) is None


def _audited(context: CentralContext, action: str) -> list[AuditEntry]:
    with context.sessions() as session:
        return list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == action)
                .order_by(AuditEntry.id)
            )
        )


def test_a_lockout_refusal_is_audited_once_per_lockout(
    throttled: Api, monotonic: FakeClock
) -> None:
    per_user_only = SMALL.model_copy(update={"max_failures_per_address": 100})
    throttled.client.app.state.login_throttle = _throttle(  # type: ignore[attr-defined]
        throttled.context.sessions, monotonic, per_user_only
    )
    for _ in range(SMALL.max_failures_per_user):
        login(throttled, "worker1", "wrong-password")
    for _ in range(3):
        assert login(throttled, "worker1", PASSWORD).status_code == 429
    (refused,) = _audited(throttled.context, "login_locked")
    assert (refused.actor, refused.target, refused.address) == (
        "anonymous",
        "worker1",
        "testclient",
    )
    assert refused.detail == {
        "refused": "login",
        "locked_by": "username",
        "retry_after_s": 10,
    }
    monotonic.now += 10  # the next lockout (20 s) is audited again
    for _ in range(SMALL.max_failures_per_user):
        login(throttled, "worker1", "wrong-password")
    assert login(throttled, "worker1", PASSWORD).status_code == 429
    audited = _audited(throttled.context, "login_locked")
    assert [a.detail["retry_after_s"] for a in audited] == [10, 20]
    assert PASSWORD not in str([a.detail for a in audited])


@dataclass
class Replicas:
    """Two API apps (as two central replicas) on one database."""

    contexts: tuple[CentralContext, CentralContext]
    clients: tuple[TestClient, TestClient]
    clock: FakeClock


@pytest.fixture
def replicas(
    database_url: str, password_hash: str, tmp_path: Path, monotonic: FakeClock
) -> Iterator[Replicas]:
    settings = CentralSettings(
        database_url=database_url,
        media=MediaSettings(dir=tmp_path / "media"),
        http=HttpSettings(login=SMALL),
    )
    contexts = tuple(
        build_context(settings, clock=ManualClock(START), notifier=RecordingNotifier())
        for _ in range(2)
    )
    first, second = contexts
    seed(first, password_hash, START)
    clients = (TestClient(create_app(first)), TestClient(create_app(second)))
    for client, context in zip(clients, contexts, strict=True):
        client.app.state.login_throttle = _throttle(  # type: ignore[attr-defined]
            context.sessions, monotonic
        )
    try:
        yield Replicas((first, second), clients, monotonic)
    finally:
        for client in clients:
            client.close()
        for context in contexts:
            context.engine.dispose()


def _login_at(client: TestClient, username: str, password: str) -> httpx.Response:
    response: httpx.Response = client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )
    return response


def test_two_replicas_should_share_failures_and_lockouts(replicas: Replicas) -> None:
    first, second = replicas.clients
    # Alternating replicas: the failures add up, the third locks the username.
    for index in range(SMALL.max_failures_per_user):
        client = (first, second)[index % 2]
        assert _login_at(client, "worker1", "wrong-password").status_code == 401
    for client in (first, second):
        locked = _login_at(client, "worker1", PASSWORD)
        assert locked.status_code == 429
        assert locked.headers["retry-after"] == "10"
    # Each replica audits its own first refusal: at most one row per replica.
    assert len(_audited(replicas.contexts[0], "login_locked")) == 2
    replicas.clock.now += 10
    assert _login_at(second, "worker1", PASSWORD).status_code == 200
    assert _login_at(first, "worker2", PASSWORD).status_code == 200


def test_concurrent_failures_on_two_replicas_should_each_count(
    replicas: Replicas,
) -> None:
    """Four threads on two replicas, ten failures each, on one username: with a
    lost update some failures would not count and fewer lockouts would start."""
    per_user = SMALL.model_copy(
        update={"max_failures_per_user": 5, "max_failures_per_address": 1000}
    )
    throttles = [
        _throttle(context.sessions, replicas.clock, per_user)
        for context in replicas.contexts
    ]
    started: list[int | None] = []

    def fail(throttle: LoginThrottle) -> None:
        for _ in range(10):
            started.append(
                throttle.record_failure(address="10.0.0.1", username="victim")
            )

    threads = [
        threading.Thread(target=fail, args=(throttles[i % 2],)) for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(started) == 40
    assert sum(1 for s in started if s is not None) == 40 // 5
    with replicas.contexts[0].sessions() as session:
        row = session.get(LoginThrottleEntry, "user:victim")
        assert row is not None and row.lockouts == 8 and row.failures_s == []

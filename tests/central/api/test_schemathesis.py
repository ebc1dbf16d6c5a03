"""Schemathesis over the whole API, in process, with each role's token: whatever
the schema allows a client to send, central never answers 5xx.

Cases come from the OpenAPI document (`schemathesis.openapi.from_asgi`), a
bounded number per operation and role, derandomised so that CI sees the same
cases every run. A generated logout or password change must not decide the
next case: the role's token is made again after any 401 and after the
operations that can spend it. The two event streams are left out: an allowed
caller's stream never ends (`test_role_matrix.py` calls them).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core.result import Ok
from sqlalchemy import event, select

from central.auth.users import issue_token
from central.db.models import User, UserRole
from tests.central.api.conftest import Api, add_ai_ticket, open_api

ROLES = ("admin", "operator", "supervisor", "worker1", "node01")
STREAMS = frozenset({"/api/v1/me/tickets/stream", "/api/v1/tickets/stream"})
# Operations after which the token may be gone (a logout, a password change).
SPENDS_TOKEN = frozenset(
    {"/api/v1/auth/logout", "/api/v1/me/password", "/api/v1/me/tokens/{token_id}"}
)
EXAMPLES_PER_OPERATION = 10


@pytest.fixture(scope="module")
def fuzz_api(
    tmp_path_factory: pytest.TempPathFactory, password_hash: str
) -> Iterator[Api]:
    """The tiny city with a supervisor and tickets in every working state, so
    that generated ids sometimes hit real rows."""
    with open_api(tmp_path_factory.mktemp("fuzz"), password_hash) as opened:
        # Thousands of small commits: without an fsync each (central runs
        # synchronous=FULL for durability, which this throw-away file needs not).
        event.listen(opened.context.engine, "connect", _no_fsync)
        opened.context.engine.dispose()
        with opened.context.sessions.begin() as session:
            session.add(
                User(
                    username="supervisor",
                    password_hash=password_hash,
                    role=UserRole.SUPERVISOR.value,
                    created_at=opened.clock.now(),
                )
            )
        for number, state in enumerate(
            ("pending_review", "dispatched", "accepted", "resolved", "closed")
        ):
            add_ai_ticket(
                opened.context,
                state=state,
                assignee_id=None if state == "pending_review" else "w1",
                event_id=f"evt-fuzz-{number}",
            )
        yield opened


def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def fresh_token(api: Api, username: str) -> str:
    with api.context.sessions.begin() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        return issue_token(
            session, user, now=api.clock.now(), ttl=timedelta(hours=1), label="fuzz"
        )


def describe(case: Any) -> str:
    return (
        f"{case.method} {case.formatted_path} query={case.query!r} body={case.body!r}"
    )


@pytest.mark.parametrize("username", ROLES)
def test_no_generated_request_should_get_a_server_error(
    fuzz_api: Api, username: str
) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzz_api.client.app)
    results = list(schema.get_all_operations())
    broken = [result for result in results if not isinstance(result, Ok)]
    assert not broken, f"operations schemathesis cannot read: {broken}"
    operations = [
        result.ok()
        for result in results
        if isinstance(result, Ok) and result.ok().path not in STREAMS
    ]
    assert len(operations) >= 40, "the schema lost its operations"

    tokens: list[str] = []  # this role's token, made again once spent

    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def call(case: Any) -> None:
            if not tokens:
                tokens.append(fresh_token(fuzz_api, username))
            response = case.call(headers={"Authorization": f"Bearer {tokens[0]}"})
            if response.status_code == 401 or case.path in SPENDS_TOKEN:
                tokens.clear()  # logged out, or its password changed
            assert response.status_code < 500, (
                f"{username}: {describe(case)} answered {response.status_code}: "
                f"{response.text[:500]}"
            )

        call()
